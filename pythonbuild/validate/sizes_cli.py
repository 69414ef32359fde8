"""``python -m pythonbuild sizes [--top N] [--record] ARCHIVE...`` (docs/sizes.md)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ArgumentParser, BuildError, UsageError, run_command
from .sizes import RECORD_PATH, SizeRecord, archive_key, read_sizes, render_report, size_problems


@dataclass(frozen=True)
class SizesConfig:
    archives: tuple[Path, ...]
    top: int
    record: bool


def parse_args(argv: list[str]) -> SizesConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild sizes",
        description=(
            "Where a distribution archive's bytes go: by part of the installation, the largest "
            "members, the sections of the largest ELF files; exit 1 when an archive is larger "
            f"than its recorded size allows ({RECORD_PATH.name}). --record writes the archives' "
            "sizes as the new figures instead."
        ),
    )
    parser.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    parser.add_argument("--top", type=int, default=15, metavar="N", help="rows per list (15)")
    parser.add_argument("--record", action="store_true", help="record these archives' sizes")
    args = parser.parse_args(argv)
    if args.top < 1:
        raise UsageError(f"--top {args.top}: give a positive number of rows")
    for archive in args.archives:
        if not archive.is_file():
            raise UsageError(f"{archive}: no such file")
        try:
            archive_key(archive)
        except ValueError as exc:
            raise UsageError(
                f"{exc}: name a distribution archive as build-linux.py writes it"
            ) from None
    return SizesConfig(tuple(args.archives), args.top, args.record)


def run(config: SizesConfig) -> int:
    record = SizeRecord.load()
    if config.record:
        sizes = dict(record.sizes)
        for archive in config.archives:
            key, size = archive_key(archive), archive.stat().st_size
            before = sizes.get(key)
            sizes[key] = size
            was = f"{before / 1e6:.2f} MB" if before is not None else "none"
            print(f"{key}: {size / 1e6:.2f} MB (was {was})")
        print(f"wrote {replace(record, sizes=sizes).dump()}")
        return 0
    for archive in config.archives:
        print(render_report(read_sizes(archive), config.top), end="\n\n", flush=True)
    problems = size_problems(list(config.archives), record)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        raise BuildError(f"{len(problems)} archive(s) larger than their recorded size allows")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild sizes", sys.argv[1:] if argv is None else argv, parse_args, run
    )
