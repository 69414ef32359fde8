"""One venv per interpreter, holding pyperf and what the chosen benchmarks need.

The venv is made by the interpreter itself (``-m venv``; inside its chroot when it has one) in
the work dir and reused on later runs while its stamp matches: same interpreter, same build,
same pins. Benchmark requirement files are installed on demand and remembered in the stamp, so a
run with more benchmarks adds to the venv instead of remaking it. A requirement file that fails
to install makes only its benchmarks unavailable for that interpreter.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import log
from .interpreters import Interpreter

STAMP_NAME = "bench-venv.json"
PIP_TIMEOUT = 1800  # seconds; a cold pip with a slow mirror can be slow, a hung one is not


@dataclass
class BenchVenv:
    python: Path
    # requirements file -> why it could not be installed
    failed_requirements: dict[Path, str] = field(default_factory=dict)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def venv_identity(interpreter: Interpreter, pins: list[str]) -> dict[str, object]:
    """What must not change for a venv to be reused."""
    return {
        "python": str(interpreter.python),
        "chroot": str(interpreter.chroot) if interpreter.chroot else None,
        "sys_version": interpreter.info.get("sys_version"),
        "config_args": interpreter.info.get("config_args"),
        "pins": sorted(pins),
    }


def _run_logged(cmd: list[str], logfile: Path, env: dict[str, str]) -> int:
    with logfile.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  timeout=PIP_TIMEOUT, check=False).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            out.write(f"timed out after {PIP_TIMEOUT} s\n")
            return -1


def ensure_bench_venv(
    interpreter: Interpreter,
    venv_dir: Path,
    pins: list[str],
    requirement_files: list[Path],
    logfile: Path,
    env: dict[str, str],
) -> BenchVenv:
    """Make or reuse ``venv_dir`` for ``interpreter``; raises LoggedFailure if pyperf won't install."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    python = venv_dir / "bin" / "python"
    stamp_path = venv_dir / STAMP_NAME
    identity = venv_identity(interpreter, pins)
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    # bin/python of a chrooted interpreter's venv links to a path that exists only inside the
    # chroot: the link itself is what must be there.
    if stamp.get("identity") != identity or not os.path.lexists(python):
        stamp = {"identity": identity, "requirements": []}
        _create(interpreter, venv_dir, pins, logfile, env)
        stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    venv = BenchVenv(python)
    installed = set(stamp["requirements"])
    wanted = {path: _digest(path) for path in requirement_files}
    missing = [path for path, digest in wanted.items() if digest not in installed]
    if missing:
        pip = interpreter.command(python, "-m", "pip", "install", "--disable-pip-version-check")
        together = [arg for path in missing for arg in ("-r", str(path))]
        if _run_logged([*pip, *together], logfile, env) == 0:
            installed.update(wanted[path] for path in missing)
        else:  # find the culprits: one file at a time
            for path in missing:
                if _run_logged([*pip, "-r", str(path)], logfile, env) == 0:
                    installed.add(wanted[path])
                else:
                    venv.failed_requirements[path] = f"pip could not install {path.name}"
        stamp["requirements"] = sorted(installed)
        stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    return venv


def _create(
    interpreter: Interpreter, venv_dir: Path, pins: list[str], logfile: Path, env: dict[str, str]
) -> None:
    shutil.rmtree(venv_dir, ignore_errors=True)
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    logfile.write_text("")
    make = interpreter.command(interpreter.python, "-m", "venv", str(venv_dir))
    if _run_logged(make, logfile, env) != 0:
        shutil.rmtree(venv_dir, ignore_errors=True)
        hint = (
            "install its venv module (Debian: python3.X-venv) and rerun"
            if interpreter.chroot or str(interpreter.python).startswith("/usr/")
            else "check that it is a complete installation"
        )
        raise log.LoggedFailure(f"{interpreter.label}: `python -m venv` failed; {hint}", logfile)
    python = venv_dir / "bin" / "python"
    pip = interpreter.command(python, "-m", "pip", "install", "--disable-pip-version-check")
    if _run_logged([*pip, *pins], logfile, env) != 0:
        shutil.rmtree(venv_dir, ignore_errors=True)
        raise log.LoggedFailure(
            f"{interpreter.label}: installing {' '.join(pins)} from PyPI failed; "
            "check the network and the log, then rerun",
            logfile,
        )
