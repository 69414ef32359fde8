"""Run a relink: in the target's build image, against the C library tree the archive's build
linked against, with the archive's own objects (docs/relinking.md)."""

from __future__ import annotations

import os
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError
from ..fetch import default_mirrors, fetch_source
from ..linux import engine as engine_mod
from ..linux.containers import ContainerRun, run_in_container
from ..linux.images import LLVM_VERSION, images_for
from ..linux.plan import BuildRequest, make_plan
from ..linux.steps import Workspace, default_jobs, run_step
from ..options import parse_options
from ..paths import ROOT
from ..registry import load_registry
from ..targets import get_target
from ..testdist.distribution import read_metadata_from_full
from .frozen_app import FrozenApp
from .plan import CONFIG_SOURCE, DEFAULT_MAIN, MAIN_SOURCE, RelinkPlan

ARCHIVE_IN_CONTAINER = "/relink/archive.tar.zst"
WORK_IN_CONTAINER = "/relink/python"
OUTPUT_NAME = "python-relinked"


@dataclass(frozen=True)
class RelinkRequest:
    archive: Path
    output: Path
    document: dict  # the archive's PYTHON.json
    plan: RelinkPlan
    main_source: Path | None
    cache_dir: Path
    app: FrozenApp | None = None
    allow_private_engine: bool = True
    keep_engine: bool = False


def read_full_document(archive: Path) -> dict:
    """PYTHON.json of a full archive that can be relinked; UsageError (exit 2) when it cannot."""
    try:
        document = read_metadata_from_full(archive)
    except BuildError as exc:  # missing, not zstd, damaged, not a full archive: says which
        raise UsageError(f"{exc} (relinking needs a full archive: *-full.tar.zst)") from None
    if not document.get("build_info", {}).get("core", {}).get("objs"):
        raise UsageError(
            f"{archive}: PYTHON.json names no object files (build_info): it has no python/build "
            "to relink; use a full archive"
        )
    return document


def check_toolchain(document: dict) -> None:
    """LLVM bitcode objects link only with the LLVM that wrote them (the build image's)."""
    fmt = document["build_info"]["object_file_format"]
    if fmt.startswith("llvm-bitcode:") and fmt.split(":", 1)[1] != LLVM_VERSION:
        raise UsageError(
            f"the archive's objects are LLVM {fmt.split(':', 1)[1]} bitcode, and this "
            f"checkout's build images have LLVM {LLVM_VERSION}: relink with the project's "
            "checkout that built the archive (python/build/inputs.json names its commit)"
        )


def _container_script(plan: RelinkPlan) -> str:
    """Unpack the archive's python/ (without its installation's library tree: only the
    headers are needed) beside the sources already placed there, compile and link."""
    return "\n".join([
        "set -euo pipefail",
        f"mkdir -p {WORK_IN_CONTAINER} /out",
        f"tar -x --zstd -f {ARCHIVE_IN_CONTAINER} -C /relink"
        " --exclude='python/install/lib' --exclude='python/install/share'"
        " --exclude='python/install/bin'",
        f"cd {WORK_IN_CONTAINER}",
        plan.script(f"/out/{OUTPUT_NAME}"),
    ])  # fmt: skip


def relink(request: RelinkRequest) -> Path:
    """Link ``request.output``; returns it. Nothing is written there unless the link succeeded."""
    started = time.monotonic()
    document = request.document
    check_toolchain(document)
    target = get_target(document["target_triple"])
    options = parse_options(document["build_options"])
    python = document["python_major_minor_version"]
    # The C library tree (glibc stubs at the floor, or musl) is a cached build step of the
    # target: the same for every option and Python version, and made again in a minute if gone.
    images = images_for(target, request.cache_dir)
    registry = load_registry()
    build_request = BuildRequest(target, python, options, "relink", 0)
    build_plan = make_plan(build_request, registry, images.build.tag)
    tree_package = target.sysroot_package(options)
    tree_steps = [build_plan.step(tree_package)] if tree_package else []
    run_name = f"relink-{target.triple}-{python}-{options.name}"
    workspace = Workspace(request.cache_dir, ROOT / "build" / "logs" / run_name, default_jobs())
    if request.app is not None:
        main_source = request.app.main_source().encode()
    elif request.main_source is not None:
        main_source = request.main_source.read_bytes()
    else:
        main_source = DEFAULT_MAIN.encode()

    with log.step("connect to the container engine"):
        engine = engine_mod.connect(allow_private=request.allow_private_engine)
    try:
        with log.step("build images"):
            images.ensure(engine, workspace.log_dir)
        tree_artifacts = []
        for step in tree_steps:
            tarball = fetch_source(step.source, request.cache_dir, default_mirrors(None))
            tree_artifacts.append(run_step(engine, build_plan, step, tarball, workspace))
        run = ContainerRun(
            image=images.build.tag,
            command=["/bin/bash", "/relink/relink.sh"],
            env={"SOURCE_DATE_EPOCH": "0"},
            files={
                ARCHIVE_IN_CONTAINER: request.archive,
                f"{WORK_IN_CONTAINER}/{CONFIG_SOURCE}": request.plan.config_source().encode(),
                f"{WORK_IN_CONTAINER}/{MAIN_SOURCE}": main_source,
                "/relink/relink.sh": _container_script(request.plan).encode(),
            },
            tarballs=tree_artifacts,
        )
        logfile = workspace.log_dir / "relink.log"
        raw = request.output.with_name(f".{request.output.name}.{os.getpid()}.raw")
        try:
            with log.step(f"compile and link (log: {logfile})"):
                run_in_container(engine, run, logfile, "relinking", raw)
            _write_executable(raw, request.output, request.app.archive if request.app else b"")
        finally:
            raw.unlink(missing_ok=True)
    finally:
        engine.close(keep=request.keep_engine)
    size = request.output.stat().st_size
    log.info(
        f"wrote {request.output} ({size / 1e6:.1f} MB) in "
        f"{log.format_seconds(time.monotonic() - started)}"
    )
    return request.output


def _write_executable(out_tar: Path, dest: Path, appended: bytes) -> None:
    """The linked program from the container's /out (and a frozen app's zip after it), written
    under a temporary name first."""
    with tarfile.open(out_tar) as tar:
        member = tar.getmember(f"out/{OUTPUT_NAME}")
        data = tar.extractfile(member)
        if data is None:
            raise BuildError(f"relinking wrote no {OUTPUT_NAME}")
        content = data.read()
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(content + appended)
        partial.chmod(0o755)
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
