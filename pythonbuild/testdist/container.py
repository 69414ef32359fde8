"""Smoke tests, and the regression suite, inside a bare container of another Linux system (a
debootstrap minbase rootfs, or a musl root).

The image has no Python and nothing from the build image; the installation and the smoke
script go in as a tar stream and the results come back the same way (linux/containers.py), so the
distribution can only use what it ships and what that system's base packages provide.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import replace
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError
from ..linux.containers import ContainerRun, run_in_container
from ..linux.engine import Engine
from ..linux.images.build import ensure_rootfs_image, runtime_rootfs_spec
from ..options import BuildOptions
from ..targets import Target
from .exclusions import Exclusion, regrtest_arguments
from .musl_root import MUSL_SYSTEMS, ensure_musl_root_image, musl_root_for
from .musl_runtime import recorded_artifact
from .regrtest import RegrtestSettings, regrtest_cases, regrtest_command
from .results import CaseResult
from .smoke import SMOKE_SCRIPT, parse_smoke_results

# Inside the container; the space is deliberate (see the smoke check runs_from_path_with_space).
DIST_DIR = "opt/test dist/python"
SMOKE_DIR = "/smoke"
RESULTS = "/out/smoke-results.json"
# The suite runs from a plain path: its own tests of quoting are not what is tested there.
REGRTEST_DIST_DIR = "opt/python"
REGRTEST_DIR = "/regrtest"
REGRTEST_JUNIT = "/out/regrtest-junit.xml"
REGRTEST_STATUS = "/out/regrtest-status"
# regrtest exits non-zero when a test fails; its results are wanted all the same, so a shell
# runs it and keeps its status in a file (the container itself then exits 0).
_KEEP_STATUS = f'cd /tmp && "$@"; echo $? > {REGRTEST_STATUS}'


def check_suite_name(suite: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", suite):
        raise UsageError(
            f"--in-container {suite!r}: give a Debian suite name such as bullseye, or "
            "musl, musl-newest or scratch for a musl distribution"
        )
    return suite


def system_image(
    engine: Engine,
    system: str,
    target: Target,
    options: BuildOptions,
    work: Path,
    logs: Path,
    inputs_json: Path | None = None,
) -> str:
    """The image of ``--in-container system``: a musl system (``musl_root``) or a bare Debian
    ``system`` of the target's architecture. ``inputs_json``: a full archive's build record,
    which names the musl its build made."""
    if system in MUSL_SYSTEMS:
        root = musl_root_for(system, target, options)
        recorded = None
        if inputs_json is not None and root.libc_package is not None:
            recorded = recorded_artifact(inputs_json, root.libc_package)
        return ensure_musl_root_image(engine, root, target, work, logs, recorded)
    if target.libc != "glibc":
        raise UsageError(
            f"--in-container {system}: a Debian system has no musl; give "
            f"{', '.join(MUSL_SYSTEMS)} for this {target.triple} distribution"
        )
    return ensure_rootfs_image(engine, runtime_rootfs_spec(system, arch=target.debian_arch), logs)


def _tree_tar(install_dir: Path, dest: Path, where: str = DIST_DIR) -> Path:
    """A tar of the installation below ``where`` (with its parent directories)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        parts = Path(where).parts
        for depth in range(1, len(parts)):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(install_dir, arcname=where)
    return dest


def run_smoke_in_container(
    engine: Engine,
    suite: str,
    image: str,
    install_dir: Path,
    metadata_file: Path,
    work: Path,
    logs: Path,
) -> list[CaseResult]:
    """The smoke tests in the bare system ``suite`` of image ``image`` (another CPU's runs under
    the host's qemu-user, which the caller has registered)."""
    python = f"/{DIST_DIR}/bin/python3"
    run = ContainerRun(
        image=image,
        command=[
            python,
            f"{SMOKE_DIR}/smoke.py",
            "--python-json",
            f"{SMOKE_DIR}/PYTHON.json",
            "--results",
            RESULTS,
            "--isolated",
            "--exit-zero",
        ],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/root"},
        files={
            f"{SMOKE_DIR}/smoke.py": SMOKE_SCRIPT,
            f"{SMOKE_DIR}/PYTHON.json": metadata_file,
            "/out/.keep": b"",
        },
        tarballs=[_tree_tar(install_dir, work / f"dist-{suite}.tar")],
    )
    out_tar = work / f"out-{suite}.tar"
    logfile = logs / f"smoke-{suite}.log"
    with log.step(f"smoke tests in a {suite} container ({image})"):
        run_in_container(engine, run, logfile, f"smoke tests in {suite}", out_tar)
    try:
        with tarfile.open(out_tar) as tar:
            member = tar.extractfile("out/" + Path(RESULTS).name)
            text = member.read().decode() if member else ""
    except (KeyError, tarfile.TarError):
        raise BuildError(f"the smoke script in {suite} wrote no results; see {logfile}") from None
    for line in log.tail(logfile, 100).splitlines():
        if line.split(" ", 1)[0] in ("passed", "failed", "skipped"):
            print("  " + line)
    return parse_smoke_results(text, f"smoke-{suite}", f"{suite} container")


def run_regrtest_in_container(
    engine: Engine,
    suite: str,
    image: str,
    install_dir: Path,
    exclusions: list[Exclusion],
    settings: RegrtestSettings,
    work: Path,
    logs: Path,
) -> list[CaseResult]:
    """CPython's regression suite (``settings.selection``, else all of it) in the system
    ``suite``; one case per test, as on this machine (``regrtest.run_regrtest``)."""
    ignore = work / f"ignore-{suite}.txt"
    arguments = regrtest_arguments(
        exclusions, ignore, settings.selection, ignore_file_as=f"{REGRTEST_DIR}/ignore.txt"
    )
    python = Path("/", REGRTEST_DIST_DIR, "bin", "python3")
    # No nice(1): a minimal system may not have it (Debian's static busybox does not), and
    # the container is the only thing running there.
    command = regrtest_command(python, replace(settings, nice=0), Path(REGRTEST_JUNIT), arguments)
    files: dict[str, Path | bytes] = {"/out/.keep": b""}
    if ignore.exists():
        files[f"{REGRTEST_DIR}/ignore.txt"] = ignore
    run = ContainerRun(
        image=image,
        command=["/bin/sh", "-c", _KEEP_STATUS, "regrtest", *command],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/root", "TMPDIR": "/tmp"},
        files=files,
        tarballs=[_tree_tar(install_dir, work / f"regrtest-{suite}.tar", REGRTEST_DIST_DIR)],
    )
    out_tar = work / f"regrtest-out-{suite}.tar"
    logfile = logs / f"regrtest-{suite}.log"
    with log.step(f"regression suite in a {suite} container ({image}); log: {logfile}"):
        run_in_container(engine, run, logfile, f"the regression suite in {suite}", out_tar)
    junit = work / f"regrtest-junit-{suite}.xml"
    status = None
    with tarfile.open(out_tar) as tar:
        for name, dest in (("out/regrtest-junit.xml", junit), ("out/regrtest-status", None)):
            try:
                member = tar.extractfile(name)
            except KeyError:
                continue
            data = member.read() if member else b""
            if dest is not None:
                dest.write_bytes(data)
            else:
                status = int(data.decode().strip() or "1")
    output = logfile.read_text(errors="replace")
    return regrtest_cases(junit, output, status, logfile, f"regrtest-{suite}")
