"""The Linux driver: request -> plan -> sources, images -> container steps -> distribution."""

from __future__ import annotations

import time
from pathlib import Path

from .. import log
from ..cache import leases
from ..distribution.archive import write_sha256sums
from ..distribution.assemble import assemble_distribution
from ..distribution.finished_build import FinishedBuild
from ..errors import BuildError
from ..fetch import default_mirrors, fetch_source
from ..paths import ROOT
from ..preflight import check_free_space
from ..registry import Registry, load_registry
from ..reproduce.record import build_inputs, project_state, render_inputs
from ..sizes import format_size, size_from_env
from . import engine as engine_mod
from .config import LinuxBuildConfig
from .cpu import host_cpu_flags, missing_cpu_flags
from .images import LLVM_VERSION, BuildImages, images_for
from .pgo_profile import bundle_name, export_profiles
from .plan import BuildPlan, BuildRequest, Step, build_epochs, extension_modules_for, make_plan
from .space_needs import build_needs, figures
from .steps import Workspace, run_step


def steps_to_build(plan: BuildPlan, libraries_only: bool) -> list[Step]:
    """The plan's steps this run makes: all, or with --libraries-only all but CPython's.

    Library steps are keyed by target and flags, never by options, so one library-only run
    per target and Python fills the cache that every option's build of that target reuses.
    """
    return [s for s in plan.steps if s.name != "cpython"] if libraries_only else list(plan.steps)


def _run_steps(
    config: LinuxBuildConfig,
    plan: BuildPlan,
    steps: list[Step],
    tarballs: dict[str, Path],
    build_tarballs: dict[str, Path],
    workspace: Workspace,
    images: BuildImages,
) -> None:
    with log.step("connect to the container engine"):
        engine = engine_mod.connect(allow_private=config.allow_private_engine)
        log.info(f"using {engine.description}")
    try:
        with log.step("build images"):
            images.ensure(engine, workspace.log_dir)
        for step in steps:
            run_step(
                engine, plan, step, tarballs[step.name], workspace,
                [build_tarballs[source.name] for source in step.build_sources],
            )  # fmt: skip
    finally:
        engine.close(keep=config.keep_engine)


def _record_build_image(config: LinuxBuildConfig, images: BuildImages) -> None:
    """Record the packages of a build image made before recording existed (for the SBOMs).

    Cached builds need no engine otherwise, so this happens once per image; without the engine
    or the image, the SBOMs name the tool-chain packages without versions.
    """
    with log.step("record the tool chain's Debian packages"):
        try:
            engine = engine_mod.connect(allow_private=config.allow_private_engine)
            try:
                images.record_build_image(engine)
            finally:
                engine.close(keep=config.keep_engine)
        except BuildError as exc:
            log.info(f"not recorded ({exc}); the SBOMs list its packages without versions")


def _target_code_runs_here(config: LinuxBuildConfig) -> bool:
    """Whether this machine can run target code; if not, say what the build does instead.

    Without it the CPython step builds a separate interpreter for this machine and runs that
    wherever the build runs Python. Only training needs the target's own code: pgo builds
    then need the recorded profiles of --pgo-profile.
    """
    target = config.target
    if target.foreign and target.emulator:
        cannot = f"{target.triple} code is for another CPU than this machine's"
    elif target.foreign:
        cannot = (
            f"{target.triple} code needs Debian {target.debian_arch}'s loader and libraries, "
            "which the build image does not have"
        )
    else:
        lacking = missing_cpu_flags(target.march, host_cpu_flags())
        if not lacking:
            return True
        cannot = (
            f"this machine's CPU lacks {', '.join(lacking)}, which {target.triple} code "
            f"(-march={target.march}) may use"
        )
    if config.options.pgo and config.pgo_profile is None:
        raise BuildError(
            f"{cannot}, so PGO's training run cannot run here; pass --pgo-profile with the "
            "*-profile.tar.zst of a pgo build of this target made on a machine that has them, "
            "or build without pgo"
        )
    log.info(f"{cannot}: the build runs a separate interpreter (-march="
             f"{target.build_python_march}) and skips the steps that run the new one")  # fmt: skip
    if config.options.pgo:
        log.info("PGO: the recorded profile of --pgo-profile replaces training")
    return False


def build_linux(config: LinuxBuildConfig) -> None:
    started = time.monotonic()
    limit = cache_limit()  # a bad value fails now, not after the build
    tag, epoch, build_epoch = build_epochs()
    if config.tag:
        tag = config.tag
    request = BuildRequest(
        config.target, config.python, config.options, tag, epoch, build_epoch, config.pgo_profile,
        # Only the CPython step runs target code; a library-only run needs no such check.
        runs_target_code=config.libraries_only or _target_code_runs_here(config),
    )  # fmt: skip
    registry = load_registry()
    run_name = f"{config.target.triple}-{config.python}-{config.options.name}"
    log_dir = ROOT / "build" / "logs" / run_name
    workspace = Workspace(config.cache_dir, log_dir, config.jobs)
    log.info(
        f"building CPython {config.python} for {config.target.triple} ({config.options.name}), "
        f"tag {tag}; logs in {log_dir}"
    )

    # The plan (and every cache key) follows from the inputs alone; the engine is only started
    # when some step's artifact is missing.
    # The images' package versions (cpython-unix/image-packages.lock), read once: the plan's
    # image tag and the images made must agree.
    images = images_for(config.target, config.cache_dir)
    plan = make_plan(request, registry, images.build.tag)
    _check_free_space(config, plan, images, workspace)
    log_dir.mkdir(parents=True, exist_ok=True)
    work_dir = ROOT / "build" / "assemble" / run_name
    # Held for the whole build: a `cache prune` beside it never removes what it uses.
    with leases.held(config.cache_dir, lease_ids(plan, images, work_dir)):
        _build_planned(config, plan, images, registry, workspace, work_dir)
        log.info(f"finished in {log.format_seconds(time.monotonic() - started)}")
        if limit is not None:
            prune_to_limit(config, limit)


def _check_free_space(
    config: LinuxBuildConfig, plan: BuildPlan, images: BuildImages, workspace: Workspace
) -> None:
    """Stop here, before anything is written (logs, leases, cache, dist), when a disk the
    build writes to has no room for what it will make (docs/cache.md). An estimate: which
    steps are missing is looked up again once the leases are held."""
    steps = steps_to_build(plan, config.libraries_only)
    missing = [s for s in steps if not (workspace.artifacts / s.artifact_name).exists()]
    needs = build_needs(
        plan, steps, missing, images.lock, cache_dir=config.cache_dir,
        dist_dir=None if config.libraries_only else config.dist_dir, build_dir=ROOT / "build",
    )  # fmt: skip
    check_free_space(needs, "build", floor=figures()["build"]["floor"])


def lease_ids(plan: BuildPlan, images: BuildImages, work_dir: Path) -> list[str]:
    """The cache entries a build of ``plan`` reads or makes (ids of ``cache.leases``)."""
    sources = [s.source for s in plan.steps] + [b for s in plan.steps for b in s.build_sources]
    return [
        *(f"artifacts/{step.artifact_name}" for step in plan.steps),
        *(f"sources/{source.filename}" for source in sources),
        *(leases.image_id(tag) for tag in images.tags),
        *images.record_names,
        f"work:{work_dir}",
    ]


def _build_planned(
    config: LinuxBuildConfig,
    plan: BuildPlan,
    images: BuildImages,
    registry: Registry,
    workspace: Workspace,
    work_dir: Path,
) -> None:
    steps = steps_to_build(plan, config.libraries_only)
    missing = [s for s in steps if not (workspace.artifacts / s.artifact_name).exists()]
    mirrors = default_mirrors(config.source_dir)
    build_sources = [source for step in steps for source in step.build_sources]
    with log.step(f"fetch and verify {len(steps) + len(build_sources)} sources"):
        tarballs = {
            step.name: fetch_source(step.source, config.cache_dir, mirrors, log=log.info)
            for step in steps
        }
        build_tarballs = {
            source.name: fetch_source(source, config.cache_dir, mirrors, log=log.info)
            for source in build_sources
        }
    if missing:
        _run_steps(config, plan, steps, tarballs, build_tarballs, workspace, images)
    else:
        log.info(f"all {len(steps)} build steps are cached; nothing to build")
        if not images.build_image_recorded:
            _record_build_image(config, images)
    if config.libraries_only:
        log.info(f"libraries of {config.target.triple} for Python {config.python} are in "
                 f"{workspace.artifacts}")  # fmt: skip
        return
    artifacts = {step.name: workspace.artifacts / step.artifact_name for step in plan.steps}

    with log.step("assemble distribution archives"):
        outputs = assemble_distribution(
            build=finished_build(plan, images, tarballs, artifacts["cpython"]),
            registry=registry,
            dist_dir=config.dist_dir,
            work_dir=work_dir,
        )
    # Only pgo builds train; reading another build's artifact for profiles would scan all of it.
    profile = (
        export_profiles(
            artifacts["cpython"],
            config.pgo_profile,
            config.dist_dir / bundle_name(outputs[0].name),
            plan.request.source_date_epoch,
        )
        if config.options.pgo
        else None
    )
    if profile is not None:
        # Training is the one step that varies between runs; --pgo-profile replays it.
        outputs.insert(-1, profile)  # before SHA256SUMS, which is last
        write_sha256sums(config.dist_dir, [profile])
    for path in outputs:
        log.info(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if config.validate:
        from ..validate import validate_or_fail

        with log.step("validate the full archive"):
            # A finding fails the build; each is printed as one line first.
            validate_or_fail(
                outputs[0], config.target.triple, report=log.info,
                stamp=work_dir / "validated",
            )  # fmt: skip
        from ..validate.sizes import check_archive_sizes

        with log.step("compare archive sizes with the recorded ones"):
            check_archive_sizes(outputs)


def finished_build(
    plan: BuildPlan, images: BuildImages, tarballs: dict[str, Path], cpython_artifact: Path
) -> FinishedBuild:
    """What assembly needs to know of this build; ``tarballs``: step name -> fetched source."""
    request = plan.request
    return FinishedBuild(
        target=request.target,
        python=request.python,
        options=request.options,
        tag=request.tag,
        source_date_epoch=request.source_date_epoch,
        cpython=plan.step("cpython").source,
        libraries=tuple(step.source for step in plan.steps if step.name != "cpython"),
        # Step names are registry names, except the CPython step (registry name cpython-3.X).
        tarballs={step.source.name: tarballs[step.name] for step in plan.steps},
        cpython_artifact=cpython_artifact,
        extension_modules=extension_modules_for(request.python),
        # LTO builds ship LLVM bitcode objects: relinking them needs this LLVM (or newer).
        object_format=f"llvm-bitcode:{LLVM_VERSION}" if request.options.lto else "elf",
        toolchain=tuple(images.packages()),
        # The commit and uncommitted changes are part of the record, so a new commit or an edit
        # anywhere in the checkout reassembles: the archive must say what it was built from.
        inputs_record=render_inputs(build_inputs(plan, project_state(ROOT))),
    )


def cache_limit() -> int | None:
    """``STANDALONE_PYTHON_CACHE_MAX`` (e.g. ``40G``): prune to that size after each build."""
    return size_from_env("STANDALONE_PYTHON_CACHE_MAX")


def prune_to_limit(config: LinuxBuildConfig, limit: int) -> None:
    """Evict least recently used cache entries (stale first) down to ``limit``; this build's
    own entries are held, so they stay even when the cache is still larger afterwards."""
    from ..cache.cli import default_places, prune_quietly

    with log.step(f"prune the cache to STANDALONE_PYTHON_CACHE_MAX={format_size(limit)}"):
        freed, left = prune_quietly(
            default_places(config.cache_dir), limit, config.allow_private_engine,
            config.keep_engine,
        )  # fmt: skip
        log.info(f"freed {format_size(freed)}; {format_size(left)} left")
