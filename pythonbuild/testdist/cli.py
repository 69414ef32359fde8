"""Command line of ``python -m pythonbuild test-dist``: parse, check the archive, then test it."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import log
from ..cache import leases
from ..errors import ArgumentParser, UsageError, run_command
from ..linux.emulation import ensure_emulation
from ..linux.images.build import runtime_rootfs_path, runtime_rootfs_spec
from ..linux.space_needs import figures, test_dist_needs
from ..options import parse_options
from ..paths import ROOT, default_cache_dir
from ..preflight import check_free_space
from ..targets import Target, get_target
from .distribution import Distribution, extract, inspect_archive
from .emulated import check_architecture, emulated_subset, emulation_for
from .exclusions import Exclusion, exclusions_for, load_exclusions
from .musl_root import MUSL_SYSTEMS, musl_helper_spec
from .musl_runtime import recorded_libc_artifact
from .regrtest import RegrtestSettings, run_regrtest
from .results import SKIPPED, CaseResult, Tally, summary_line, write_junit
from .smoke import run_smoke_on_host

DEFAULT_OUTPUT_PARENT = ROOT / "build" / "test-dist"
EXCLUDED_SUITE = "regrtest-excluded"


@dataclass(frozen=True)
class TestDistConfig:
    archive: Path
    regrtest: bool
    containers: tuple[str, ...]
    output_dir: Path | None
    junit_xml: Path | None
    settings: RegrtestSettings
    keep_work: bool


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m pythonbuild test-dist",
        description=(
            "Extract a distribution archive to a fresh directory and test it: smoke tests with "
            "its own interpreter, optionally CPython's regression suite, or the smoke tests "
            "inside bare containers of other Linux systems. Writes a JUnit XML file and prints "
            "a one-line summary; exits 1 when a test failed."
        ),
    )
    parser.add_argument(
        "archive",
        type=Path,
        help="a -full.tar.zst or -install_only.tar.gz archive from build-linux.py",
    )
    parser.add_argument(
        "--regrtest",
        action="store_true",
        help="also run CPython's regression suite (full archives; tens of minutes)",
    )
    parser.add_argument(
        "--in-container",
        dest="containers",
        action="append",
        default=[],
        metavar="SUITE",
        help="run the smoke tests in a bare Debian SUITE "
        "container (e.g. bullseye, trixie) instead of on this machine; repeatable",
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        default=[],
        metavar="MODULE",
        help="with --regrtest, run only these test modules (default: all; for a target run "
        "under emulation, the subset in resources/testdist/emulated-tests.yml)",
    )
    parser.add_argument("--junit-xml", type=Path, help="JUnit file (default: OUTPUT/junit.xml)")
    parser.add_argument(
        "--output",
        type=Path,
        dest="output_dir",
        help="directory for the JUnit file and logs (default: build/test-dist/<archive name>)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=RegrtestSettings.jobs,
        help="regrtest worker processes (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=RegrtestSettings.timeout,
        help="regrtest's limit per test file in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the extracted distribution (its path is printed)",
    )
    return parser


def parse_args(argv: list[str]) -> TestDistConfig:
    from .container import check_suite_name

    ns = _parser().parse_args(argv)
    if ns.regrtest and "scratch" in ns.containers:
        raise UsageError(
            "--regrtest --in-container scratch: the regression suite starts /bin/sh and other "
            "programs, which scratch does not have; run it with --in-container musl"
        )
    if ns.jobs < 0 or ns.timeout <= 0:
        raise UsageError("--jobs must be >= 0 and --timeout > 0")
    return TestDistConfig(
        archive=ns.archive.expanduser().resolve(),
        regrtest=ns.regrtest,
        containers=tuple(dict.fromkeys(check_suite_name(s) for s in ns.containers)),
        output_dir=ns.output_dir,
        junit_xml=ns.junit_xml,
        settings=RegrtestSettings(jobs=ns.jobs, timeout=ns.timeout, selection=tuple(ns.tests)),
        keep_work=ns.keep_work,
    )


def _archive_stem(archive: Path) -> str:
    for suffix in (".tar.zst", ".tar.gz"):
        if archive.name.endswith(suffix):
            return archive.name.removesuffix(suffix)
    return archive.name


def system_kind(system: str) -> str:
    """What an --in-container system is: "musl" (a musl root) or "debian" (a Debian suite)."""
    return "musl" if system in MUSL_SYSTEMS else "debian"


def _excluded_cases(exclusions: list[Exclusion]) -> list[CaseResult]:
    return [
        CaseResult(EXCLUDED_SUITE, e.test, SKIPPED, message=f"excluded: {e.reason}")
        for e in exclusions
    ]


def _run_checks(
    config: TestDistConfig,
    dist: Distribution,
    work: Path,
    output: Path,
    exclusions: list[Exclusion],
) -> list[CaseResult]:
    metadata_file = work / "PYTHON.json"
    metadata_file.write_text(json.dumps(dist.metadata))
    cases: list[CaseResult] = []
    if config.containers:
        from ..linux.engine import connect
        from .container import run_regrtest_in_container, run_smoke_in_container, system_image

        # One extraction serves every container (they receive a copy as a tar stream).
        install = extract(dist, work / "extracted")
        target = check_architecture(dist.target, install / "bin" / "python3")
        if target.emulator:  # the container's programs run under the host's qemu-user
            ensure_emulation(target.emulator, output / "logs")
        engine = connect()
        try:
            options = parse_options(dist.options, implemented_only=False)
            for suite in config.containers:
                image = system_image(
                    engine, suite, target, options, work, output / "logs",
                    inputs_json=work / "extracted" / "python" / "build" / "inputs.json",
                )  # fmt: skip
                cases += run_smoke_in_container(
                    engine, suite, image, install, metadata_file, work, output / "logs"
                )
                if config.regrtest:
                    settings = _regrtest_settings(config, dist, target)
                    here = [e for e in exclusions if e.applies_in(suite, system_kind(suite))]
                    cases += run_regrtest_in_container(
                        engine, suite, image, install, here, settings, work, output / "logs"
                    )
        finally:
            engine.close()
        return cases
    # Smoke tests run from a path with a space, like a user's "My Programs".
    extract(dist, work / "smoke dir")
    python = dist.python(work / "smoke dir")
    target = check_architecture(dist.target, python)
    scratch = work / "loader-namespace"  # an empty directory here; a tmpfs in the namespace
    options = parse_options(dist.options, implemented_only=False)
    emulation = emulation_for(
        target, options, python, default_cache_dir(), scratch, output / "logs",
        recorded_libc=_recorded_libc(dist, target, work / "smoke dir"),
    )  # fmt: skip
    launcher = emulation.launcher(scratch) if emulation else []
    with log.step(f"smoke tests of {dist.label}"):
        cases += run_smoke_on_host(
            python, metadata_file, work / "smoke-results.json", output / "smoke.log", launcher
        )
    if config.regrtest:
        # The suite runs from a plain path: its own tests of quoting are not what is tested here.
        regrtest_dir = work / "regrtest"
        extract(dist, regrtest_dir)
        log.info(
            f"regression suite: {len(exclusions)} exclusions for {dist.python_minor} "
            f"{dist.target} {dist.options}; log: {output / 'regrtest.log'}"
        )
        settings = replace(_regrtest_settings(config, dist, target), launcher=tuple(launcher))
        started = time.monotonic()
        cases += run_regrtest(
            dist.python(regrtest_dir), exclusions, settings, work, output / "regrtest.log"
        )
        log.info(f"regression suite: {log.format_seconds(time.monotonic() - started)}")
    return cases


def _regrtest_settings(
    config: TestDistConfig, dist: Distribution, target: Target
) -> RegrtestSettings:
    """The suite's settings; a foreign target's programs run under qemu-user, where the whole
    suite takes hours, or (i686) with another system's loader: without --tests, the subset of
    modules where architectures differ runs."""
    settings = config.settings
    if target.foreign:
        selection = settings.selection or emulated_subset(dist.python_minor)
        settings = replace(settings, selection=selection)
        how = f"under qemu-{target.emulator}" if target.emulator else f"of {target.triple}"
        log.info(f"regression suite {how}: {len(selection)} "
                 f"test modules ({', '.join(selection)})")  # fmt: skip
    return settings


def _recorded_libc(dist: Distribution, target: Target, extracted: Path) -> str | None:
    """The C library step artifact a full archive's build record names (None: install_only,
    or a target whose C library is not built here)."""
    if not dist.full:
        return None
    options = parse_options(dist.options, implemented_only=False)
    return recorded_libc_artifact(target, options, extracted / "python" / "build" / "inputs.json")


def _lease_ids(config: TestDistConfig, dist: Distribution, output: Path) -> list[str]:
    """The cache entries the checks use (``cache.leases``): the output directory, the image of
    each --in-container system, and the root filesystem another CPU's programs run with."""
    target = get_target(dist.target)
    ids = [f"work:{output}"]
    cache_dir = default_cache_dir()
    for suite in config.containers:
        if suite in MUSL_SYSTEMS:  # the image is quick to make again; its Debian helper is not
            spec = musl_helper_spec(target.debian_arch)
            ids.append(str(runtime_rootfs_path(spec, cache_dir).relative_to(cache_dir)))
        else:
            ids.append(leases.image_id(runtime_rootfs_spec(suite, arch=target.debian_arch).tag))
    if target.foreign and not config.containers:
        spec = runtime_rootfs_spec(target.sysroot, arch=target.debian_arch)
        ids.append(str(runtime_rootfs_path(spec, cache_dir).relative_to(cache_dir)))
    return ids


def run(config: TestDistConfig) -> int:
    started = time.monotonic()
    dist = inspect_archive(config.archive)
    if config.regrtest and not dist.full:
        raise UsageError(
            f"{dist.archive.name}: install_only archives leave out the test suite; "
            "give the -full.tar.zst archive for --regrtest"
        )
    target = get_target(dist.target)
    emulated = target.emulator is not None  # its programs run under qemu-user
    systems = {suite: system_kind(suite) for suite in config.containers}
    exclusions = (
        exclusions_for(
            load_exclusions(), dist.python_minor, dist.target, dist.options, emulated, systems,
            foreign=target.foreign,
        )
        if config.regrtest
        else []
    )
    output = config.output_dir or DEFAULT_OUTPUT_PARENT / _archive_stem(dist.archive)
    # Before anything is written: a run that cannot fit stops here.
    needs = test_dist_needs(
        dist.archive.stat().st_size, target, regrtest=config.regrtest,
        containers=config.containers, output_dir=output, cache_dir=default_cache_dir(),
    )  # fmt: skip
    check_free_space(needs, "test run", floor=figures()["test_dist"]["floor"])
    output.mkdir(parents=True, exist_ok=True)
    junit = config.junit_xml or output / "junit.xml"
    work = Path(tempfile.mkdtemp(prefix="test-dist-"))
    try:
        # Held while the checks run: a `cache prune` beside them leaves their systems alone.
        with leases.held(default_cache_dir(), _lease_ids(config, dist, output)):
            cases = _run_checks(config, dist, work, output, exclusions)
    finally:
        if config.keep_work:
            log.info(f"kept the extracted distribution and scratch files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    write_junit(junit, f"test-dist {dist.label}", cases + _excluded_cases(exclusions))
    failed = [c for c in cases if c.outcome == "failed"]
    for case in failed:
        print(f"FAILED {case.suite} {case.name}: {case.message}")
    where = ", ".join(f"in {s}" for s in config.containers) or "on this machine"
    parts = "smoke" + (" + regrtest" if config.regrtest else "")
    print(
        summary_line(
            f"test-dist {dist.label} ({parts} {where})",
            Tally.of(cases, excluded=len(exclusions)),
            time.monotonic() - started,
        )
        + f"; JUnit: {junit}"
    )
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    return run_command("python -m pythonbuild test-dist", argv, parse_args, run)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
