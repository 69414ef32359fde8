"""Bootstrap: give the entry scripts a virtual environment made from hash-pinned requirements.

This module must only use the standard library: it runs under whatever ``python3`` the user has,
before any dependency is installed.  The entry scripts (``build-linux.py``, ``run-tests``) call
:func:`ensure_venv`, which re-executes the current command inside ``build/venv-<name>`` once the
environment matches the requirements file (a stamp holds the file's hash, so an edited
requirements file makes a fresh environment).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
_ACTIVE_MARKER = "STANDALONE_PYTHON_BOOTSTRAPPED"


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def venv_dir(name: str) -> Path:
    return ROOT / "build" / f"venv-{name}"


def ensure_venv(requirements: str, name: str) -> None:
    """Re-exec ``sys.argv`` inside a venv built from ``requirements`` (a file under ROOT).

    Returns only when already running inside that venv.
    """
    if sys.version_info < MIN_PYTHON:
        _fail(
            f"Python {'.'.join(map(str, MIN_PYTHON))}+ is needed to run the build driver; "
            f"this is {sys.version.split()[0]}. Run the script with a newer python3."
        )
    target = venv_dir(name)
    if os.environ.get(_ACTIVE_MARKER) == str(target):
        return
    req_path = ROOT / requirements
    digest = hashlib.sha256(req_path.read_bytes()).hexdigest()
    stamp = target / "requirements.sha256"
    python = target / "bin" / "python"
    if not (python.exists() and stamp.exists() and stamp.read_text().strip() == digest):
        _create(target, req_path, digest)
    env = dict(os.environ)
    env[_ACTIVE_MARKER] = str(target)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    os.execve(str(python), [str(python), *sys.argv], env)


def _create(target: Path, requirements: Path, digest: str) -> None:
    print(f"bootstrap: creating {target.relative_to(ROOT)} from {requirements.name}", flush=True)
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(staging)
    except Exception as exc:  # ensurepip missing on some distro pythons
        shutil.rmtree(staging, ignore_errors=True)
        _fail(f"could not create a virtual environment ({exc}); install python3-venv and retry")
    pip = [str(staging / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    result = subprocess.run(
        [
            *pip,
            "install",
            "--quiet",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "-r",
            str(requirements),
        ],
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        _fail(
            f"installing {requirements.name} failed (exit {result.returncode}); "
            "check that PyPI is reachable, then rerun"
        )
    (staging / "requirements.sha256").write_text(digest + "\n")
    shutil.rmtree(target, ignore_errors=True)
    # A venv's scripts record its absolute path, so build it in place under its final name.
    staging.rename(target)
    _fix_moved_venv(staging, target)


def _fix_moved_venv(old: Path, new: Path) -> None:
    """Point the moved venv's activation scripts and pyvenv.cfg at the new directory."""
    for path in [new / "pyvenv.cfg", *(new / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink():
            try:
                text = path.read_text()
            except (UnicodeDecodeError, PermissionError):
                continue
            if str(old) in text:
                path.write_text(text.replace(str(old), str(new)))
