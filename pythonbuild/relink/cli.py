"""Command line of ``python -m pythonbuild relink`` (docs/relinking.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ArgumentParser, UsageError, run_command
from ..paths import default_cache_dir
from .frozen_app import read_app
from .plan import plan_relink
from .run import RelinkRequest, read_full_document, relink


def parse_args(argv: list[str]) -> RelinkRequest:
    parser = ArgumentParser(
        prog="python -m pythonbuild relink",
        description=(
            "Link a new interpreter executable from a full archive's object files and static "
            "libraries, as its PYTHON.json describes them, with the target's build image. "
            "Without options it links the interpreter of the archive's bin/python3 again."
        ),
    )
    parser.add_argument("archive", type=Path, help="a *-full.tar.zst distribution archive")
    parser.add_argument("--out", type=Path, required=True, help="the executable to write")
    parser.add_argument(
        "--exclude-extension", action="append", default=[], metavar="NAME",
        help="leave this built-in extension module out (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--main", type=Path, metavar="FILE.c",
        help="your own C file with main(), embedding Python, instead of the interpreter's",
    )  # fmt: skip
    parser.add_argument(
        "--frozen-app", type=Path, metavar="DIR",
        help="a package directory with __main__.py: the executable runs it (as python -m does), "
        "with the standard library of the installation it is placed in",
    )  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None, help="as build-linux.py's")
    parser.add_argument(
        "--keep-engine", action="store_true",
        help="leave a private dockerd started by this run running",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.main is not None and args.frozen_app is not None:
        raise UsageError("--main and --frozen-app both give the program's main(); choose one")
    if args.main is not None and not args.main.is_file():
        raise UsageError(f"--main {args.main}: no such file")
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; name the executable to write")
    if not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: directory {args.out.parent} does not exist")
    app = read_app(args.frozen_app) if args.frozen_app is not None else None
    document = read_full_document(args.archive)
    return RelinkRequest(
        archive=args.archive.resolve(),
        output=args.out,
        document=document,
        plan=plan_relink(document, args.exclude_extension),
        main_source=args.main,
        app=app,
        cache_dir=args.cache_dir or default_cache_dir(),
        keep_engine=args.keep_engine,
    )


def run(request: RelinkRequest) -> int:
    relink(request)
    return 0


def main(argv: list[str]) -> int:
    return run_command("python -m pythonbuild relink", argv, parse_args, run)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
