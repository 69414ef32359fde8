"""Command line of ``python -m pythonbuild bench``: parse, check everything, then run."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError, run_command
from ..paths import ROOT
from .benchmarks import (
    DEFAULT_SELECTION,
    Catalog,
    installed_pyperformance_data,
    load_catalog,
    python_supports,
    stage_scripts,
)
from .interpreters import (
    Interpreter,
    InterpreterRequest,
    check_label,
    check_request,
    extract_distribution,
    find_distribution_python,
    is_archive,
    label_from_archive_name,
    label_from_directory,
    probe,
    resolve_python_path,
    split_label,
)
from .runner import Contender, Outcome, RunSettings
from .runtime import distribution_launcher

DEFAULT_WORK_DIR = ROOT / "build" / "bench-work"
DEFAULT_OUTPUT_PARENT = ROOT / "build" / "bench"
# Sized for a 2-core machine: one round of the default set takes ~70 s per interpreter (~85 s
# in round 1, which also calibrates), so three interpreters take about 25 minutes
# (docs/benchmarks.md has the measurements). 7 x 2 processes x 3 values = 42 values each.
DEFAULT_SETTINGS = RunSettings(rounds=7, processes=2, values=3, warmups=1)
FAST_SETTINGS = RunSettings(rounds=1, processes=1, values=2, warmups=0)
# With --target-ci: the fewest rounds whose intervals are worth looking at, and where to give
# up (20 rounds of three interpreters: about 70 minutes here).
TARGET_CI_MIN_ROUNDS = 3
DEFAULT_MAX_ROUNDS = 20
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class BenchConfig:
    requests: list[InterpreterRequest]
    chroots: dict[str, Path]
    environ: dict[str, dict[str, str]]  # label -> variables set for that interpreter
    baseline: str | None
    selection: str
    settings: RunSettings
    output: Path | None
    work_dir: Path
    list_benchmarks: bool
    instructions: bool = False


class _AppendInterpreter(argparse.Action):
    """--dist and --python share one list, so the command line's order is the table's order."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        found = list(getattr(namespace, self.dest) or [])
        found.append((self.const, values))
        setattr(namespace, self.dest, found)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pythonbuild bench",
        description=(
            "Benchmark interpreters against each other in one interleaved run "
            "(pyperformance benchmarks driven with pyperf) and report speed ratios."
        ),
        epilog=(
            "example:\n"
            "  python -m pythonbuild bench --dist dist/cpython-3.13.15+TAG-x86_64-unknown-"
            "linux-gnu-noopt-full.tar.zst \\\n"
            "      --python debian-3.13=/usr/bin/python3.13 "
            "--chroot debian-3.13=/var/lib/standalone-python/debian-trixie-python3.13\n\n"
            "See docs/benchmarks.md."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dist", dest="interpreters", action=_AppendInterpreter, const="dist",
                        metavar="[LABEL=]ARCHIVE_OR_DIR",
                        help="a distribution of this project: *-full.tar.zst, *install_only*.tar.gz "
                             "or an extracted directory (repeatable; label default from the name, "
                             "e.g. 3.13.15-pgo+lto)")  # fmt: skip
    parser.add_argument("--python", dest="interpreters", action=_AppendInterpreter,
                        const="python", metavar="[LABEL=]PATH",
                        help="a reference interpreter (repeatable; label default: its version)")  # fmt: skip
    parser.add_argument("--chroot", action="append", default=[], metavar="LABEL=ROOTDIR",
                        help="run the --python with that LABEL inside chroot ROOTDIR (as root)")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="LABEL=NAME=VALUE",
                        help="set NAME=VALUE for the interpreter with that LABEL and its "
                             "benchmark workers (repeatable), e.g. one dist twice, once with "
                             "PYTHONMALLOC=mimalloc")  # fmt: skip
    parser.add_argument("--baseline", metavar="LABEL",
                        help="interpreter the ratios are relative to (default: the first one)")  # fmt: skip
    parser.add_argument("--benchmarks", default=DEFAULT_SELECTION, metavar="LIST",
                        help="comma-separated benchmarks and groups (default: %(default)s; "
                             "groups: default, stdlib-c)")  # fmt: skip
    parser.add_argument("--list-benchmarks", action="store_true",
                        help="list the groups and benchmarks, then exit")  # fmt: skip
    parser.add_argument("--fast", action="store_true",
                        help="a tiny run for smoke tests: 1 round, 1 process, 2 values, no warmup")  # fmt: skip
    parser.add_argument("--rounds", type=int, metavar="R",
                        help=f"interleaved rounds (default: {DEFAULT_SETTINGS.rounds})")  # fmt: skip
    parser.add_argument("--target-ci", type=float, metavar="WIDTH",
                        help="after --rounds (default then: 3), run more rounds until the 95%% "
                             "interval of every geometric mean is at most WIDTH wide (e.g. "
                             "0.02: 1.04x-1.06x), or --max-rounds were run")  # fmt: skip
    parser.add_argument("--max-rounds", type=int, metavar="N",
                        help=f"with --target-ci: stop after N rounds even if the intervals are "
                             f"wider (default: {DEFAULT_MAX_ROUNDS})")  # fmt: skip
    parser.add_argument("--affinity", metavar="CPUS",
                        help="pin the benchmark processes to these CPUs (pyperf --affinity: "
                             "e.g. 1 or 2-3), away from the rest of the machine's work; default: "
                             "pyperf's choice (isolated CPUs if any)")  # fmt: skip
    parser.add_argument("--processes", type=int, metavar="P",
                        help=f"pyperf processes per benchmark and round "
                             f"(default: {DEFAULT_SETTINGS.processes})")  # fmt: skip
    parser.add_argument("--values", type=int, metavar="V",
                        help=f"values per process (default: {DEFAULT_SETTINGS.values})")  # fmt: skip
    parser.add_argument("--warmups", type=int, metavar="W",
                        help=f"warmup values per process (default: {DEFAULT_SETTINGS.warmups})")  # fmt: skip
    parser.add_argument("--instructions", action="store_true",
                        help="count the instructions of one benchmark loop with valgrind's "
                             "callgrind instead of timing (repeatable on a noisy machine, but "
                             "blind to what PGO and BOLT gain in layout; docs/benchmarks.md)")  # fmt: skip
    parser.add_argument("--output", type=Path, metavar="DIR",
                        help="where bench.json and bench.png go (default: build/bench/<timestamp>)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, metavar="DIR",
                        help="extracted dists, venvs and raw results, reused between runs "
                             "(default: build/bench-work)")  # fmt: skip
    return parser


_CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def _affinity(value: str | None) -> str | None:
    """--affinity's CPU list, checked against this machine's CPUs."""
    if value is None:
        return None
    if not _CPU_LIST.fullmatch(value):
        raise UsageError(f"--affinity {value}: expected a CPU list such as 1, 0,2 or 2-3")
    available = os.sched_getaffinity(0)
    for part in value.split(","):
        first, _, last = part.partition("-")
        for cpu in range(int(first), int(last or first) + 1):
            if cpu not in available:
                raise UsageError(f"--affinity {value}: CPU {cpu} is not one this process may "
                                 f"use ({', '.join(map(str, sorted(available)))})")  # fmt: skip
    return value


def _target_met(widest: tuple[str, float] | None, target_ci: float | None) -> bool:
    """--target-ci's test on Summary.widest_interval(): no interval at all (nothing to compare)
    counts as met, since more rounds cannot change that."""
    return widest is None or (target_ci is not None and widest[1] <= target_ci)


def parse_args(argv: list[str]) -> BenchConfig:
    args = _parser().parse_args(argv)
    requests = []
    for kind, value in args.interpreters or []:
        label, path = split_label(value)
        if kind == "dist":
            requests.append(InterpreterRequest(kind, label, Path(path).absolute()))
        else:
            requests.append(InterpreterRequest(kind, label, resolve_python_path(path)))
    if not requests and not args.list_benchmarks:
        raise UsageError("name at least one interpreter with --dist or --python")
    chroots: dict[str, Path] = {}
    python_labels = {r.label for r in requests if r.kind == "python" and r.label}
    for value in args.chroot:
        label, root = split_label(value)
        if label is None or not root:
            raise UsageError(f"--chroot {value}: expected LABEL=ROOTDIR")
        if label not in python_labels:
            raise UsageError(
                f"--chroot {value}: no --python is labelled {label!r}; "
                f"write --python {label}=/usr/bin/python3.X"
            )
        chroots[label] = Path(root).absolute()
    environ: dict[str, dict[str, str]] = {}
    for value in args.env:
        label, assignment = split_label(value)
        name, sep, setting = assignment.partition("=")
        if label is None or not sep or not _ENV_NAME.fullmatch(name):
            raise UsageError(f"--env {value}: expected LABEL=NAME=VALUE, e.g. "
                             "--env musl-mimalloc=PYTHONMALLOC=mimalloc")  # fmt: skip
        environ.setdefault(label, {})[name] = setting
    base = DEFAULT_SETTINGS if not args.fast else FAST_SETTINGS
    if args.target_ci is not None and not 0 < args.target_ci < 1:
        raise UsageError(f"--target-ci {args.target_ci}: expected a width between 0 and 1, "
                         "e.g. 0.02")  # fmt: skip
    if args.max_rounds is not None and args.target_ci is None:
        raise UsageError("--max-rounds only applies with --target-ci")
    if args.instructions:
        timing = [f"--{name.replace('_', '-')}" for name in
                  ("fast", "rounds", "target_ci", "affinity", "processes", "values", "warmups")
                  if getattr(args, name) not in (None, False)]  # fmt: skip
        if timing:
            raise UsageError(f"--instructions counts each benchmark once; {', '.join(timing)} "
                             "only apply to timed runs")  # fmt: skip
    default_rounds = base.rounds if args.target_ci is None else TARGET_CI_MIN_ROUNDS
    settings = RunSettings(
        rounds=args.rounds if args.rounds is not None else default_rounds,
        processes=args.processes if args.processes is not None else base.processes,
        values=args.values if args.values is not None else base.values,
        warmups=args.warmups if args.warmups is not None else base.warmups,
        target_ci=args.target_ci,
        max_rounds=(args.max_rounds or DEFAULT_MAX_ROUNDS) if args.target_ci is not None else None,
        affinity=_affinity(args.affinity),
    )
    for name in ("rounds", "processes", "values"):
        if getattr(settings, name) < 1:
            raise UsageError(f"--{name} must be at least 1")
    if settings.max_rounds is not None and settings.max_rounds < settings.rounds:
        raise UsageError(f"--max-rounds {settings.max_rounds} is fewer than --rounds "
                         f"{settings.rounds}")  # fmt: skip
    if settings.warmups < 0:
        raise UsageError("--warmups must be 0 or more")
    if args.baseline:
        check_label(args.baseline, "--baseline")
    return BenchConfig(
        requests=requests,
        chroots=chroots,
        environ=environ,
        baseline=args.baseline,
        selection=args.benchmarks,
        settings=settings,
        output=args.output.absolute() if args.output else None,
        work_dir=args.work_dir.absolute(),
        list_benchmarks=args.list_benchmarks,
        instructions=args.instructions,
    )


def child_env() -> dict[str, str]:
    """The environment of benchmark interpreters: without this driver's Python settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "STANDALONE_PYTHON_")) and key != "VIRTUAL_ENV"
    }


def _check_pins(catalog: Catalog) -> None:
    """The scripts come from the bench venv's pyperformance: it must be the pinned one."""
    for name, pinned in (
        ("pyperformance", catalog.pyperformance_version),
        ("pyperf", catalog.pyperf_version),
    ):
        installed = metadata.version(name)
        if installed != pinned:
            raise BuildError(
                f"the bench venv has {name} {installed} but benchmarks.toml pins {pinned}; "
                "make requirements-bench.txt pin the same version (see docs/benchmarks.md)"
            )


def _list_benchmarks(catalog: Catalog) -> None:
    print("groups:")
    for group, members in catalog.groups.items():
        print(f"  {group}: {', '.join(members)}")
    print(f"benchmarks (pyperformance {catalog.pyperformance_version} and this project's):")
    names = sorted(catalog.benchmarks)
    width = max(map(len, names)) + 2
    per_line = max(1, 96 // width)
    for start in range(0, len(names), per_line):
        print("  " + "".join(name.ljust(width) for name in names[start : start + per_line]))


def _interpreters(config: BenchConfig, work_dir: Path, env: dict[str, str]) -> list[Interpreter]:
    """Check every request, extract archives, ask every interpreter what it is."""
    for request in config.requests:
        check_request(request, config.chroots.get(request.label or ""))
    interpreters = []
    for request in config.requests:
        if request.kind == "dist":
            root = request.path
            label = request.label or (
                label_from_archive_name(root.name) if is_archive(root) else None
            )
            if is_archive(root):
                with log.step(f"extracting {root.name}"):
                    root = extract_distribution(request.path, work_dir / "dists")
            label = label or label_from_directory(root)
            python = find_distribution_python(root)
            if python is None:
                raise UsageError(
                    f"--dist {request.path}: no python/install/bin/python3 or python/bin/python3 "
                    "in it; give an archive made by build-linux.py"
                )
            interpreter = Interpreter(check_label(label, "--dist"), "dist", request.path, python)
            interpreter.launcher = distribution_launcher(root, python, request.path, work_dir)
        else:
            chroot = config.chroots.get(request.label or "")
            interpreter = Interpreter(request.label or "", "python", request.path,
                                      request.path, chroot)  # fmt: skip
        interpreter.environ = config.environ.get(interpreter.label, {})
        interpreter.info = probe(interpreter, env)
        if not interpreter.label:
            interpreter.label = interpreter.version
        interpreters.append(interpreter)
    seen: set[str] = set()
    for interpreter in interpreters:
        if interpreter.label in seen:
            raise UsageError(
                f"two interpreters are labelled {interpreter.label!r}; "
                "name them with LABEL=PATH (e.g. --python ref-3.13=/usr/bin/python3.13)"
            )
        seen.add(interpreter.label)
    for interpreter in interpreters:
        if interpreter.label in config.environ and not interpreter.environ:
            raise UsageError(
                f"--env {interpreter.label}=...: name that interpreter with the same label "
                f"(--python {interpreter.label}=PATH) so the setting applies from its first start"
            )
    for label in sorted(config.environ.keys() - seen):
        raise UsageError(
            f"--env {label}=...: no interpreter is labelled {label!r}; choose one of "
            f"{', '.join(sorted(seen))} or name one with --dist {label}=ARCHIVE"
        )
    if config.baseline and config.baseline not in seen:
        raise UsageError(
            f"--baseline {config.baseline}: no such interpreter; choose one of {', '.join(seen)}"
        )
    return interpreters


def run(config: BenchConfig) -> int:
    from . import instructions, venvs
    from .chart import write_chart
    from .chroot import chroot_mounts
    from .report import bench_document, format_table, summarize, write_json, write_output_dir
    from .runner import run_rounds

    catalog = load_catalog(installed_pyperformance_data())
    if config.list_benchmarks:
        _list_benchmarks(catalog)
        return 0
    benchmarks = catalog.select(config.selection)
    _check_pins(catalog)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = config.output or DEFAULT_OUTPUT_PARENT / stamp
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"--output {output} exists and is not empty; choose a new directory")
    env = child_env()
    work_dir = config.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    interpreters = _interpreters(config, work_dir, env)
    valgrinds = (
        {i.label: instructions.valgrind_for(i) for i in interpreters} if config.instructions else {}
    )
    baseline = config.baseline or interpreters[0].label
    labels = [interpreter.label for interpreter in interpreters]
    run_dir = work_dir / "runs" / stamp
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_at_start = os.getloadavg()
    staged = stage_scripts(benchmarks, run_dir / "scripts")
    settings = config.settings
    rounds_text = (
        f"{settings.rounds}"
        if settings.target_ci is None
        else f"{settings.rounds} to {settings.max_rounds} (until every 95% interval is at most "
        f"{settings.target_ci} wide)"
    )
    if config.instructions:
        log.info(f"{len(benchmarks)} benchmarks x {len(interpreters)} interpreters, instructions "
                 f"counted by callgrind; raw results in {run_dir}")  # fmt: skip
    else:
        log.info(
            f"{len(benchmarks)} benchmarks x {len(interpreters)} interpreters, {rounds_text} "
            f"rounds of {settings.processes} processes x ({settings.warmups} warmups + "
            f"{settings.values} values); raw results in {run_dir}"
        )
    names = [s.name for s in staged]
    parts = catalog.parts(benchmarks)

    def precise_enough(outcomes: dict[tuple[str, str], Outcome]) -> bool:
        widest = summarize(labels, baseline, names, outcomes, parts).widest_interval()
        if widest is not None:
            log.info(f"widest 95% interval of a geometric mean: {widest[0]} {widest[1]:.3f} "
                     f"(target {settings.target_ci})")  # fmt: skip
        return _target_met(widest, settings.target_ci)

    pins = [f"pyperf=={catalog.pyperf_version}"]
    chroot_roots = sorted({i.chroot for i in interpreters if i.chroot})
    try:
        with chroot_mounts(chroot_roots, work_dir):
            contenders = []
            for interpreter in interpreters:
                unavailable = {
                    s.name: f"needs Python {s.benchmark.requires_python}"
                    for s in staged
                    if not python_supports(s.benchmark.requires_python, interpreter.version)
                }
                wanted = [
                    s.requirements for s in staged if s.requirements and s.name not in unavailable
                ]
                with log.step(f"venv for {interpreter.label}"):
                    venv = venvs.ensure_bench_venv(
                        interpreter,
                        work_dir / "venvs" / interpreter.label,
                        pins,
                        [path for path in wanted if path is not None],
                        run_dir / "logs" / f"venv-{interpreter.label}.log",
                        env,
                    )
                for s in staged:
                    if s.requirements in venv.failed_requirements:
                        unavailable[s.name] = venv.failed_requirements[s.requirements]
                contenders.append(Contender(interpreter, venv.python, unavailable))
            if config.instructions:
                counts = instructions.count_all(contenders, staged, baseline, run_dir / "raw",
                                                run_dir / "logs", env, settings.timeout,
                                                valgrinds)  # fmt: skip
            else:
                outcomes, rounds_run = run_rounds(
                    contenders, staged, settings, run_dir / "raw", run_dir / "logs", env,
                    enough=precise_enough if settings.target_ci is not None else None,
                )  # fmt: skip
    except KeyboardInterrupt:
        raise BuildError(f"interrupted; the raw results so far are in {run_dir}") from None
    if config.instructions:
        context = {
            "interpreters": [i.describe() for i in interpreters],
            "selection": config.selection,
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        }
        instructions.write_results(output, counts, context, run_dir / "logs")
        shutil.rmtree(run_dir, ignore_errors=True)
        return 0
    finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    summary = summarize(labels, baseline, names, outcomes, parts)
    table = format_table(summary)
    widest = summary.widest_interval()
    target_reached = None
    if settings.target_ci is not None:
        target_reached = _target_met(widest, settings.target_ci)
    raw_results = {
        label: {name: str(output / "raw" / label / f"{name}.json")
                for name in names if outcomes[label, name].status == "ok"}
        for label in labels
    }  # fmt: skip
    document = bench_document(
        summary,
        interpreters=[
            {**i.describe(), "venv": str(work_dir / "venvs" / i.label)} for i in interpreters
        ],
        settings={
            "benchmarks": names,
            "selection": config.selection,
            "rounds": rounds_run,
            "target_ci": settings.target_ci,
            "target_ci_reached": target_reached,
            "max_rounds": settings.max_rounds,
            "processes": settings.processes,
            "affinity": settings.affinity,
            "values": settings.values,
            "warmups": settings.warmups,
            "pyperformance": catalog.pyperformance_version,
            "pyperf": catalog.pyperf_version,
            "work_dir": str(work_dir),
            "host": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                # Other work on the machine, the usual cause of noise: 1/5/15-minute averages.
                "load_average_at_start": list(load_at_start),
                "load_average_at_end": list(os.getloadavg()),
            },
        },
        started=started,
        finished=finished,
        raw_results=raw_results,
    )

    def fill(staging: Path) -> None:
        write_json(staging / "bench.json", document)
        (staging / "bench.txt").write_text(table)
        write_chart(summary, staging / "bench.png",
                    title=f"Speed relative to {baseline}: {len(summary.rows)} benchmarks, "
                          f"rounds={rounds_run}, processes={settings.processes}, "
                          f"values={settings.values}")  # fmt: skip
        for label, files in raw_results.items():
            for name in files:
                target = staging / "raw" / label / f"{name}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(outcomes[label, name].result_file, target)
        shutil.copytree(run_dir / "logs", staging / "logs", dirs_exist_ok=True)

    write_output_dir(output, fill)
    shutil.rmtree(run_dir, ignore_errors=True)  # everything worth keeping is in the output now
    print()
    print(table, end="")
    print()
    if target_reached is not None and widest is not None:
        if target_reached:
            log.info(f"every 95% interval of a geometric mean is at most {settings.target_ci} "
                     f"wide after {rounds_run} rounds (widest: {widest[0]}, {widest[1]:.3f})")  # fmt: skip
        else:
            log.warn(f"--target-ci {settings.target_ci} not reached after {rounds_run} rounds: "
                     f"{widest[0]}'s interval is {widest[1]:.3f} wide; allow more rounds "
                     "(--max-rounds) or run on a quieter machine")  # fmt: skip
    log.info(f"results: {output / 'bench.json'}")
    log.info(f"chart:   {output / 'bench.png'}")
    log.info(f"table:   {output / 'bench.txt'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # run_command also ends the run on kill or a closed terminal like Ctrl-C, so the chroot
    # mounts are undone and the benchmark processes stopped.
    return run_command("bench", sys.argv[1:] if argv is None else argv, parse_args, run)
