"""``python -m pythonbuild validate [--target TRIPLE] ARCHIVE...``"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArgumentParser, BuildError, run_command
from .run import validate_archive


@dataclass(frozen=True)
class ValidateConfig:
    archives: tuple[Path, ...]
    target: str | None


def parse_args(argv: list[str]) -> ValidateConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild validate",
        description=(
            "Check full distribution archives (-full.tar.zst) without running them: one line "
            "per finding (member, rule, what was found, what is allowed); exit 1 on any "
            "finding. The rules are in docs/validation.md."
        ),
    )
    parser.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    parser.add_argument(
        "--target",
        default=None,
        metavar="TRIPLE",
        help="fail unless every archive was built for this target",
    )
    args = parser.parse_args(argv)
    return ValidateConfig(tuple(args.archives), args.target)


def run(config: ValidateConfig) -> int:
    failed = []
    for archive in config.archives:
        findings = validate_archive(archive, config.target)
        for finding in findings:
            print(f"{finding.line()}", flush=True)
        status = f"{len(findings)} finding(s)" if findings else "ok"
        print(f"{archive.name}: {status}", file=sys.stderr, flush=True)
        if findings:
            failed.append(archive.name)
    if failed:
        raise BuildError(f"validation failed: {', '.join(failed)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild validate", sys.argv[1:] if argv is None else argv, parse_args, run
    )
