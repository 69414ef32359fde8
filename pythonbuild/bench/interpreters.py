"""The interpreters of a bench run: this project's distributions and reference pythons.

A ``--dist`` is an archive (extracted into the work dir, once) or an extracted directory; a
``--python`` is any interpreter path, optionally run inside a chroot (``--chroot``). Each one is
checked and asked about itself (``sys.version``, implementation, configure arguments) before
anything slow starts, so a wrong path fails in seconds, not after half a benchmark run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..distribution.archive import PUBLISHED_OPTIMIZATION
from ..errors import BuildError, UsageError
from ..options import parse_options

LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
ARCHIVE_SUFFIXES = (".tar.zst", ".tar.gz", ".tgz")
_ARCHIVE_NAME = re.compile(r"cpython-(?P<version>[0-9][0-9a-z.]*)(?:\+[^-]+)?-(?P<rest>.+)")
# Where the interpreter is in an extracted distribution: full archives hold python/install/,
# install_only archives hold python/ (and a user may point at either level).
_INTERPRETER_PLACES = ("python/install/bin/python3", "install/bin/python3", "python/bin/python3",
                       "bin/python3")  # fmt: skip
_EXTRACT_STAMP = ".bench-extracted.json"

# Printed as JSON by every interpreter before it is used; runs on Python 3.6+.
_PROBE = """
import json, platform, re, sys, sysconfig
# The prefix is long and says nothing about the build (relocatable builds report where they
# are now), so it goes before the 200-character summary is cut.
args = sysconfig.get_config_var("CONFIG_ARGS") or ""
args = re.sub(r"'--prefix=[^']*' ?|--prefix=\\S+ ?", "", args)
print(json.dumps({
    "sys_version": sys.version,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": platform.python_implementation(),
    "executable": sys.executable,
    "config_args": args[:200],
    "platform": platform.platform(),
}))
"""


@dataclass(frozen=True)
class InterpreterRequest:
    """One ``--dist`` or ``--python`` as given on the command line."""

    kind: str  # "dist" or "python"
    label: str | None
    path: Path


@dataclass
class Interpreter:
    label: str
    kind: str
    source: Path  # what the user named: archive, directory or interpreter path
    python: Path  # the executable; inside ``chroot`` when that is set
    chroot: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # A command prefix that makes the programs of a distribution for another C library start
    # here: a private mount namespace with its musl at the loader path (testdist.emulated).
    launcher: tuple[str, ...] = ()
    environ: dict[str, str] = field(default_factory=dict)  # --env: set for it and its workers

    def command(self, executable: Path | str, *args: str) -> list[str]:
        """A command running ``executable`` (a path as this interpreter sees it) with ``args``."""
        environ = [f"{k}={v}" for k, v in sorted(self.environ.items())]
        prefix = ["env", *environ] if environ else []
        prefix += list(self.launcher)
        prefix += ["chroot", str(self.chroot)] if self.chroot else []
        return [*prefix, str(executable), *args]

    @property
    def version(self) -> str:
        return str(self.info.get("version", ""))

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "source": str(self.source),
            "python": str(self.python),
            "chroot": str(self.chroot) if self.chroot else None,
            "environ": dict(sorted(self.environ.items())),
            "runs_in_namespace": bool(self.launcher),
            **self.info,
        }


def split_label(value: str) -> tuple[str | None, str]:
    """``LABEL=PATH`` -> (LABEL, PATH); a plain path (even one containing '=') -> (None, PATH)."""
    label, sep, rest = value.partition("=")
    if sep and LABEL_PATTERN.fullmatch(label):
        return label, rest
    return None, value


def check_label(label: str, option: str) -> str:
    if not LABEL_PATTERN.fullmatch(label):
        raise UsageError(
            f"{option}: label {label!r} may only use letters, digits and . _ + - "
            "(and must start with a letter or digit)"
        )
    return label


def is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def label_from_archive_name(name: str) -> str | None:
    """``cpython-3.13.15+20261121-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst`` -> ``3.13.15-pgo+lto``.

    The options are the part between the target triple and ``-full`` (they never contain '-');
    install_only archives are labelled with the options they were built with, too.
    """
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        return None
    match = _ARCHIVE_NAME.fullmatch(name)
    if not match:
        return None
    version, rest = match["version"], match["rest"]
    if rest.endswith("-full"):
        return f"{version}-{rest.removesuffix('-full').rsplit('-', 1)[-1]}"
    for flavour in ("install_only_stripped", "install_only"):
        if rest.endswith("-" + flavour):
            return f"{version}-{_install_only_options(rest.removesuffix('-' + flavour))}"
    return None


def _install_only_options(head: str) -> str:
    """The build options of an install_only archive, from the name part before the flavour.

    ``...-gnu-noopt`` names its options; ``...-gnu-freethreaded`` and a bare triple are PBS's
    names for the pgo+lto builds (see pythonbuild.distribution.archive.archive_name).
    """
    last = head.rsplit("-", 1)[-1]
    try:
        parse_options(last, implemented_only=False)
    except UsageError:
        return PUBLISHED_OPTIMIZATION
    if last == "freethreaded":
        return f"freethreaded+{PUBLISHED_OPTIMIZATION}"
    return last


def read_distribution_metadata(root: Path) -> tuple[dict, Path] | None:
    """PYTHON.json of a distribution extracted at ``root`` (a full archive's, at either level)
    and the directory holding it; None when there is none (install_only archives)."""
    for candidate in (root / "python" / "PYTHON.json", root / "PYTHON.json"):
        try:
            meta = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            return meta, candidate.parent
    return None


def label_from_directory(path: Path) -> str:
    """From PYTHON.json (version and build options) when there is one, else the directory name."""
    found = read_distribution_metadata(path)
    if found is not None and {"python_version", "build_options"} <= found[0].keys():
        return f"{found[0]['python_version']}-{found[0]['build_options']}"
    return path.name


def find_distribution_python(root: Path) -> Path | None:
    for place in _INTERPRETER_PLACES:
        candidate = root / place
        if candidate.is_file() or candidate.is_symlink():
            return candidate
    return None


def check_request(request: InterpreterRequest, chroot: Path | None) -> None:
    """Fail fast, with the fix, on a path that cannot be what was asked for."""
    path = request.path
    if request.kind == "dist":
        if not path.exists():
            raise UsageError(f"--dist {path}: no such file or directory; give a distribution "
                             "archive from dist/ or the directory it was extracted to")  # fmt: skip
        if path.is_dir():
            if find_distribution_python(path) is None:
                raise UsageError(
                    f"--dist {path}: not an extracted distribution (no python/install/bin/python3 "
                    "or python/bin/python3 in it); give the archive or the directory holding python/"
                )
        elif not is_archive(path):
            raise UsageError(
                f"--dist {path}: not a distribution archive (expected *-full.tar.zst or "
                "*install_only*.tar.gz from dist/)"
            )
        return
    if chroot is not None:
        if not path.is_absolute():
            raise UsageError(f"--python {path}: a path inside a chroot must be absolute")
        if not chroot.is_dir():
            raise UsageError(
                f"--chroot {chroot}: no such directory; make it with "
                f"`python -m pythonbuild debian-python --dest {chroot}`"
            )
        inside = chroot / path.relative_to("/")
        if not os.path.lexists(inside):
            raise UsageError(
                f"--chroot {chroot} has no {path}; install that python in the chroot (or make it "
                f"with `python -m pythonbuild debian-python --dest {chroot}`) or fix the path"
            )
        return
    if not path.exists():
        hint = "" if path.is_absolute() else " (give an absolute path or a command on PATH)"
        raise UsageError(f"--python {path}: no such interpreter{hint}")
    if not os.access(path, os.X_OK) or path.is_dir():
        raise UsageError(f"--python {path}: not an executable file")


def resolve_python_path(value: str) -> Path:
    """An interpreter given as a bare command name (``python3.13``) is looked up on PATH."""
    if "/" not in value:
        found = shutil.which(value)
        if found:
            return Path(found)
    return Path(value)


def check_distribution_archive(path: Path) -> None:
    """The archive's first member must be under ``python/``, as in this project's archives."""
    from ..distribution.archive import open_distribution

    try:
        with open_distribution(path, verify=False) as tar:
            first = next(iter(tar), None)
    except UsageError:
        raise
    except BuildError as exc:  # damaged, or not a tar at all
        raise UsageError(f"--dist {exc}; give an archive made by build-linux.py") from None
    if first is None or first.name.split("/", 1)[0] != "python":
        found = f"its first member is {first.name!r}" if first else "it is empty"
        raise UsageError(
            f"--dist {path}: not a distribution of this project ({found}, expected python/...); "
            "give an archive made by build-linux.py"
        )


def extract_distribution(archive: Path, dists_dir: Path) -> Path:
    """Extract ``archive`` once into ``dists_dir``; later runs reuse it while it is unchanged."""
    from ..distribution.archive import extract_archive

    name = archive.name
    for suffix in ARCHIVE_SUFFIXES:
        name = name.removesuffix(suffix)
    # Two builds' archives often share a name (the same version, tag and options from two
    # dist/ directories, e.g. with and without BOLT): the path keeps their trees apart.
    where = hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:12]
    dest = dists_dir / f"{name}-{where}"
    stat = archive.stat()
    identity = {
        "archive": str(archive.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    stamp = dest / _EXTRACT_STAMP
    try:
        if json.loads(stamp.read_text()) == identity:
            return dest
    except (OSError, ValueError):
        pass
    check_distribution_archive(archive)
    shutil.rmtree(dest, ignore_errors=True)
    extract_archive(archive, dest)
    stamp.write_text(json.dumps(identity) + "\n")
    return dest


def probe(interpreter: Interpreter, env: dict[str, str]) -> dict[str, Any]:
    """Ask the interpreter what it is; a BuildError naming it if it does not run."""
    cmd = interpreter.command(interpreter.python, "-I", "-c", _PROBE)
    where = f" in chroot {interpreter.chroot}" if interpreter.chroot else ""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                                check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(
            f"{interpreter.label}: cannot run {interpreter.python}{where}: {exc}"
        ) from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(
            f"{interpreter.label}: {interpreter.python}{where} failed to start "
            f"(exit {result.returncode}: {last}); check that it is a working Python 3"
        )
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BuildError(
            f"{interpreter.label}: {interpreter.python}{where} did not answer like CPython 3 does; "
            "give a Python 3.9 or newer"
        ) from None
