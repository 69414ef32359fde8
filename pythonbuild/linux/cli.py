"""Command line of ``build-linux.py``: parse once into a LinuxBuildConfig, then run the driver."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import UsageError, run_command
from ..options import parse_options, valid_choices
from ..paths import DEFAULT_DIST, default_cache_dir
from ..registry import load_registry
from ..targets import get_target, load_targets
from .config import LinuxBuildConfig
from .engine import add_engine_arguments
from .pgo_profile import read_bundle
from .steps import default_jobs


def _parser() -> argparse.ArgumentParser:
    targets = sorted(load_targets())
    registry = load_registry()
    pythons = registry.python_versions()
    # The newest version whose pinned tarball is the upstream release (checked identical), not
    # one pinned to bytes only a mirror has vouched for (see docs/sources.md).
    default_python = [v for v in pythons if registry.cpython(v).origin == "upstream"][-1]
    parser = argparse.ArgumentParser(
        prog="build-linux.py",
        description="Build a standalone, relocatable CPython distribution in containers.",
        epilog=(
            f"targets: {', '.join(targets)}\n"
            f"python versions: {', '.join(pythons)}\n"
            f"options: {', '.join(valid_choices())}\n\n"
            "The first run makes Debian base images with debootstrap and, as root with no "
            "Docker engine running, starts a private dockerd."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", default="x86_64-unknown-linux-gnu", metavar="TRIPLE",
                        help="target triple (default: %(default)s)")  # fmt: skip
    parser.add_argument("--python", default=default_python, metavar="X.Y",
                        help="Python minor version (default: %(default)s)")  # fmt: skip
    parser.add_argument("--options", default="noopt", help="build options (default: %(default)s)")
    parser.add_argument(
        "--dist", type=Path, default=DEFAULT_DIST, help="output directory (default: dist/)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="downloads and build artifacts (default: $STANDALONE_PYTHON_CACHE "
                             "or ~/.cache/standalone-python)")  # fmt: skip
    parser.add_argument("--source-dir", type=Path, default=None,
                        help="directory of already-downloaded source tarballs, tried first "
                             "(default: $STANDALONE_PYTHON_SOURCES)")  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=default_jobs(), help="parallel jobs per build step"
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--tag", default=None, help="release tag (default: date of the last commit)"
    )
    parser.add_argument("--no-validate", action="store_true",
                        help="skip validating the full archive after assembly "
                             "(docs/validation.md)")  # fmt: skip
    parser.add_argument("--pgo-profile", type=Path, default=None, metavar="FILE",
                        help="a *-profile.tar.zst from an earlier pgo build: use its training "
                             "profiles instead of training again, for identical bytes "
                             "(docs/reproducibility.md)")  # fmt: skip
    parser.add_argument("--libraries-only", action="store_true",
                        help="build only the libraries into the cache (no CPython, no archives); "
                             "they do not depend on --options (docs/ci.md)")  # fmt: skip
    return parser


def parse_args(argv: list[str]) -> LinuxBuildConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    target = get_target(args.target)
    registry = load_registry()
    registry.cpython(args.python)  # raises UsageError for an unknown version
    if args.python not in target.pythons:
        raise UsageError(
            f"target {target.triple} does not build Python {args.python}; "
            f"choose one of: {', '.join(target.pythons)}"
        )
    options = parse_options(args.options)
    refusal = target.refusal(options)
    if refusal is not None:
        raise UsageError(refusal)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.libraries_only and args.pgo_profile is not None:
        raise UsageError("--pgo-profile applies to the CPython step, which --libraries-only skips")
    if args.pgo_profile is not None and not options.pgo:
        raise UsageError(
            f"--pgo-profile only applies to pgo builds, and {options.name} does not train; "
            "drop it or choose pgo or pgo+lto options"
        )
    pgo_profile = read_bundle(args.pgo_profile) if args.pgo_profile is not None else None
    source_dir = args.source_dir or (
        Path(os.environ["STANDALONE_PYTHON_SOURCES"])
        if os.environ.get("STANDALONE_PYTHON_SOURCES")
        else None
    )
    return LinuxBuildConfig(
        target=target,
        python=args.python,
        options=options,
        dist_dir=args.dist.resolve(),
        cache_dir=(args.cache_dir or default_cache_dir()).resolve(),
        source_dir=source_dir.resolve() if source_dir else None,
        jobs=args.jobs,
        allow_private_engine=not args.no_private_engine,
        keep_engine=args.keep_engine,
        tag=args.tag,
        validate=not args.no_validate,
        pgo_profile=pgo_profile,
        libraries_only=args.libraries_only,
    )


def _build(config: LinuxBuildConfig) -> None:
    from .driver import build_linux  # imported late: --help and bad input stay fast

    build_linux(config)


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "build-linux.py",
        sys.argv[1:] if argv is None else argv,
        parse_args,
        _build,
        interrupted_hint="; rerun the same command to continue from the cache",
    )
