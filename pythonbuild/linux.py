"""The Linux driver: request -> plan -> sources, images -> container steps -> distribution."""

from __future__ import annotations

import os
import time

from . import engine as engine_mod
from . import log
from .assemble import assemble_distribution
from .cli_linux import LinuxBuildConfig
from .fetch import default_mirrors, fetch_source
from .images import ensure_build_image
from .packages import Workspace, run_step
from .paths import ROOT
from .plan import BuildRequest, make_plan, release_tag
from .registry import load_registry


def build_linux(config: LinuxBuildConfig) -> None:
    started = time.monotonic()
    tag, epoch = release_tag()
    if config.tag:
        tag = config.tag
    if os.environ.get("SOURCE_DATE_EPOCH"):
        epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    request = BuildRequest(config.target, config.python, config.options, tag, epoch)
    registry = load_registry()
    run_name = f"{config.target.triple}-{config.python}-{config.options.name}"
    log_dir = ROOT / "build" / "logs" / run_name
    log_dir.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(config.cache_dir, log_dir, config.jobs)
    log.info(
        f"building CPython {config.python} for {config.target.triple} ({config.options.name}), "
        f"tag {tag}; logs in {log_dir}"
    )

    with log.step("connect to the container engine"):
        engine = engine_mod.connect(allow_private=config.allow_private_engine)
        log.info(f"using {engine.description}")
    try:
        with log.step("build images"):
            image = ensure_build_image(engine, config.target, log_dir)
        plan = make_plan(request, registry, image.tag)
        mirrors = default_mirrors(config.source_dir)
        with log.step(f"fetch and verify {len(plan.steps)} sources"):
            tarballs = {
                step.name: fetch_source(step.source, config.cache_dir, mirrors, log=log.info)
                for step in plan.steps
            }
        artifacts = {}
        for step in plan.steps:
            artifacts[step.name] = run_step(engine, plan, step, tarballs[step.name], workspace)
    finally:
        engine.close(keep=config.keep_engine)

    with log.step("assemble distribution archives"):
        outputs = assemble_distribution(
            plan=plan,
            registry=registry,
            cpython_artifact=artifacts["cpython"],
            tarballs=tarballs,
            dist_dir=config.dist_dir,
            work_dir=ROOT / "build" / "assemble" / run_name,
        )
    for path in outputs:
        log.info(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    log.info(f"finished in {log.format_seconds(time.monotonic() - started)}")
