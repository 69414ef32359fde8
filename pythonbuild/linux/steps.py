"""Build steps in containers: each library, then CPython, each cached as a tar artifact."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import log
from ..paths import UNIX_DIR
from .containers import ContainerRun, run_in_container, save_out_tree
from .engine import Engine
from .plan import (
    BUILD_SOURCES_DIR,
    COMMON_SCRIPTS,
    PGO_PROFILE_INPUT,
    BuildPlan,
    Step,
    step_environment,
)

_STAGE_LINE = re.compile(r"\[stage\] (.+): (\d+) s")


@dataclass(frozen=True)
class Workspace:
    """Where a build keeps things on the host."""

    cache_dir: Path  # downloads and artifacts, shared by builds
    log_dir: Path  # one log per step of this build
    jobs: int

    @property
    def artifacts(self) -> Path:
        return self.cache_dir / "artifacts"


@contextmanager
def _one_builder(artifact: Path, what: str) -> Iterator[None]:
    """Hold the step's lock in the cache while building it.

    Two builds sharing a cache (two options, or a build and a test run) may need the same step
    at the same time: the second waits for the first and then finds its artifact, rather than
    building it again and racing it for the same files.
    """
    locks = artifact.parent / ".locks"
    locks.mkdir(exist_ok=True)
    with (locks / f"{artifact.name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(f"{what}: another build using this cache is making it; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # the lock goes with the file handle


def run_step(
    engine: Engine,
    plan: BuildPlan,
    step: Step,
    tarball: Path,
    workspace: Workspace,
    build_tarballs: Sequence[Path] = (),
) -> Path:
    """Build ``step`` unless its artifact exists; returns the artifact path.

    ``build_tarballs``: the files of ``step.build_sources``, in their order.
    """
    artifact = workspace.artifacts / step.artifact_name
    artifact.parent.mkdir(parents=True, exist_ok=True)
    what = f"{step.name} {step.source.version}"
    if not artifact.exists():
        with _one_builder(artifact, what):
            if not artifact.exists():
                _build_step(engine, plan, step, tarball, workspace, artifact, build_tarballs)
                return artifact
    log.info(f"{what}: cached ({artifact.name})")
    return artifact


def _build_step(
    engine: Engine,
    plan: BuildPlan,
    step: Step,
    tarball: Path,
    workspace: Workspace,
    artifact: Path,
    build_tarballs: Sequence[Path],
) -> None:
    files: dict[str, Path | bytes] = {
        f"/inputs/{step.source.filename}": tarball,
        f"/scripts/{step.script.name}": step.script,
    }
    for source, path in zip(step.build_sources, build_tarballs, strict=True):
        files[f"{BUILD_SOURCES_DIR}/{source.name}/{source.filename}"] = path
    for name in COMMON_SCRIPTS:
        files[f"/scripts/{name}"] = UNIX_DIR / name
    for extra in step.extra_files:
        files[f"/scripts/{extra.name}"] = extra
    if step.name == "cpython" and plan.request.pgo_profile is not None:
        files[PGO_PROFILE_INPUT] = plan.request.pgo_profile.as_tar()
    dep_artifacts = [workspace.artifacts / plan.step(dep).artifact_name for dep in step.depends]
    run = ContainerRun(
        image=plan.image_tag,
        command=["/bin/bash", f"/scripts/{step.script.name}"],
        env={**step_environment(plan.request, step), "JOBS": str(workspace.jobs)},
        files=files,
        tarballs=dep_artifacts,
    )
    logfile = workspace.log_dir / f"{step.name}.log"
    with log.step(f"build {step.name} {step.source.version} (log: {logfile})"):
        raw = artifact.with_name(f"{artifact.name}.{os.getpid()}.raw")
        try:
            run_in_container(engine, run, logfile, f"building {step.name}", raw)
            save_out_tree(raw, artifact)
        finally:
            raw.unlink(missing_ok=True)
    for stage, seconds in stage_times(logfile):
        log.info(f"  {step.name}: {stage}: {log.format_seconds(seconds)}")


def stage_times(logfile: Path) -> list[tuple[str, int]]:
    """The ``[stage] NAME: N s`` lines a build script printed (common.sh's ``stage``)."""
    found = []
    for line in logfile.read_text(errors="replace").splitlines():
        match = _STAGE_LINE.fullmatch(line.strip())
        if match:
            found.append((match.group(1), int(match.group(2))))
    return found


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)))
