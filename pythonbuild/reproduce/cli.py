"""``python -m pythonbuild reproduce ARCHIVE`` and ``... reproduce --compare A B``.

Exit status: 0 identical, 1 different, 2 bad input (a missing or damaged archive, no or an
unknown inputs record, a record no checkout can rebuild), 3 the rebuild itself failed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArgumentParser, UsageError, run_command
from ..paths import ROOT, default_cache_dir
from .details import DetailOptions, find_diffoscope
from .inputs_diff import expected_verdict
from .rebuild import RebuildFailed, RebuildSettings, build_command, plan_rebuild, rebuild
from .record import read_inputs
from .report import compare_archives, print_verdict

DEFAULT_WORK_DIR = ROOT / "build" / "reproduce"


@dataclass(frozen=True)
class ReproduceConfig:
    archives: tuple[Path, ...]  # one to rebuild, or two to compare
    compare_only: bool
    details: DetailOptions
    max_listed: int
    rebuild: RebuildSettings | None


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m pythonbuild reproduce",
        description=(
            "Rebuild a full archive from the build inputs it records (python/build/inputs.json) "
            "and compare: 'identical' and its sha256, or every member that differs and how. "
            "With --compare, only compare two archives. Exit 0 identical, 1 different, 2 bad "
            "input, 3 the rebuild failed. See docs/reproducibility.md."
        ),
    )
    parser.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    parser.add_argument("--compare", action="store_true",
                        help="compare the two archives given (a, then b); build nothing")  # fmt: skip
    parser.add_argument("--details", type=int, default=10, metavar="N",
                        help="show how the content differs for the first N changed files "
                             "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--diff-lines", type=int, default=40, metavar="N",
                        help="lines of diff per member (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-listed", type=int, default=300, metavar="N",
                        help="list at most N differing members, 0 for all (default: %(default)s)")  # fmt: skip
    parser.add_argument("--no-diffoscope", action="store_true",
                        help="use the plain diff even when diffoscope is installed")  # fmt: skip
    rebuild_group = parser.add_argument_group("rebuilding")
    rebuild_group.add_argument("--pgo-profile", type=Path, default=None, metavar="FILE",
                               help="profile bundle to replay (default: the *-profile.tar.zst "
                                    "beside a pgo archive)")  # fmt: skip
    rebuild_group.add_argument("--cache-dir", type=Path, default=None,
                               help="the cache whose sources and image records to use "
                                    "(default: $STANDALONE_PYTHON_CACHE or "
                                    "~/.cache/standalone-python)")  # fmt: skip
    rebuild_group.add_argument("--reuse-artifacts", action="store_true",
                               help="reuse cached build steps (only reassemble) instead of "
                                    "rebuilding every step in a fresh cache")  # fmt: skip
    rebuild_group.add_argument("--ignore-dirty", action="store_true",
                               help="rebuild from the recorded commit even though the archive "
                                    "was built with uncommitted changes")  # fmt: skip
    rebuild_group.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR,
                               help="where the worktree, cache and rebuilt archives go "
                                    "(default: build/reproduce)")  # fmt: skip
    rebuild_group.add_argument("--keep", action="store_true",
                               help="keep the run directory even when the archives are identical")  # fmt: skip
    rebuild_group.add_argument("--dry-run", action="store_true",
                               help="check the archive and print the build command; build nothing")  # fmt: skip
    return parser


def parse_args(argv: list[str]) -> ReproduceConfig:
    args = _parser().parse_args(argv)
    if args.compare and len(args.archives) != 2:
        raise UsageError("--compare takes exactly two archives")
    if not args.compare and len(args.archives) != 1:
        raise UsageError("give one archive to rebuild, or --compare A B")
    if args.details < 0 or args.max_listed < 0 or args.diff_lines < 1:
        raise UsageError("--details and --max-listed must be 0 or more, --diff-lines 1 or more")
    diffoscope = None if args.no_diffoscope else find_diffoscope()
    details = DetailOptions(args.details, args.diff_lines, diffoscope)
    settings = None
    if not args.compare:
        settings = RebuildSettings(
            archive=args.archives[0].resolve(),
            cache_dir=(args.cache_dir or default_cache_dir()).resolve(),
            work_dir=args.work_dir.resolve(),
            pgo_profile=args.pgo_profile.resolve() if args.pgo_profile else None,
            reuse_artifacts=args.reuse_artifacts,
            ignore_dirty=args.ignore_dirty,
            keep=args.keep,
            dry_run=args.dry_run,
        )
    return ReproduceConfig(tuple(args.archives), args.compare, details, args.max_listed, settings)


def _say(line: str) -> None:
    print(f"reproduce: {line}", file=sys.stderr, flush=True)


def _compare(a: Path, b: Path, config: ReproduceConfig, expected: set[str] | None = None) -> int:
    if config.details.diffoscope:
        _say(f"content diffs by {config.details.diffoscope}")
    result = compare_archives(a, b, config.details)
    code = print_verdict(result, config.max_listed)
    if not isinstance(result, str):
        for line in expected_verdict(result, expected or set()):
            print(line)
    return code


def run(config: ReproduceConfig) -> int:
    if config.compare_only:
        return _compare(*config.archives, config)
    settings = config.rebuild
    assert settings is not None
    inputs = read_inputs(settings.archive)
    plan = plan_rebuild(inputs, settings)
    _say(
        f"{settings.archive.name}: {inputs.target}, Python {inputs.python}, {inputs.options}, "
        f"tag {inputs.tag}, commit {plan.commit[:12]}"
    )
    for note in plan.notes:
        _say(note)
    if settings.dry_run:
        run_dir = settings.work_dir / "run-XXXX"
        command = build_command(
            inputs, run_dir / "tree", run_dir / "dist", run_dir / "cache",
            settings.cache_dir / "sources", plan.profile,
        )  # fmt: skip
        env = " ".join(f"{k}={v}" for k, v in plan.epoch_env.items())
        _say(f"would add a worktree of {plan.commit} at {run_dir / 'tree'} and run:")
        print(" ".join(filter(None, [env, *command])), flush=True)
        return 0
    try:
        return rebuild(
            inputs,
            settings,
            plan,
            compare=lambda rebuilt: _compare(
                settings.archive, rebuilt, config, plan.expected_record_changes
            ),
            say=_say,
        )
    except OSError as exc:  # the work directory: full disk, permissions
        raise RebuildFailed(f"{exc.filename or settings.work_dir}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild reproduce",
        sys.argv[1:] if argv is None else argv,
        parse_args,
        run,
        interrupted_hint="; the run directory under build/reproduce/ may be removed",
    )
