"""Smoke tests inside a bare container of another Linux system (a debootstrap minbase rootfs).

The image has no Python and nothing from the build image; the installation and the smoke
script go in as a tar stream and the results come back the same way (linux/containers.py), so the
distribution can only use what it ships and what that system's base packages provide.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError
from ..linux.containers import ContainerRun, run_in_container
from ..linux.engine import Engine
from ..linux.images.build import ensure_rootfs_image, runtime_rootfs_spec
from ..options import BuildOptions
from ..targets import Target
from .musl_root import MUSL_SYSTEMS, ensure_musl_root_image, musl_root_for
from .musl_runtime import recorded_artifact
from .results import CaseResult
from .smoke import SMOKE_SCRIPT, parse_smoke_results

# Inside the container; the space is deliberate (see the smoke check runs_from_path_with_space).
DIST_DIR = "opt/test dist/python"
SMOKE_DIR = "/smoke"
RESULTS = "/out/smoke-results.json"


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


def _tree_tar(install_dir: Path, dest: Path) -> Path:
    """A tar of the installation below ``DIST_DIR`` (with its parent directories)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        parts = Path(DIST_DIR).parts
        for depth in range(1, len(parts)):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(install_dir, arcname=DIST_DIR)
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
