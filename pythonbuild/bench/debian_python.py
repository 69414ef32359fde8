"""``python -m pythonbuild debian-python``: a Debian chroot with Debian's own python.

Debian's python is the reference a distribution should not be slower than: built by Debian
with its own flags, linking Debian's zlib, sqlite3, OpenSSL... The chroot is made by
debootstrap.make_chroot (from the host's Debian mirror, renamed into place when complete,
stamped with its recipe).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..errors import UsageError, run_command
from ..paths import ROOT
from .debootstrap import DEFAULT_DEST_PARENT, chroot_output, make_chroot, print_reference

DEFAULT_SUITE = "trixie"
DEFAULT_PACKAGE = "python3.13"
_PACKAGE_NAME = re.compile(r"python3\.\d+")


def default_dest(suite: str, package: str) -> Path:
    return DEFAULT_DEST_PARENT / f"debian-{suite}-{package}"


def recipe(suite: str, package: str) -> dict[str, object]:
    """What the chroot is made from; a stamp with another recipe means: make it again."""
    return {
        "suite": suite,
        "package": package,
        # valgrind: for bench --instructions, which runs it inside the chroot.
        "include": [package, f"{package}-venv", "ca-certificates", "valgrind"],
        "variant": "minbase",
    }


def make_debian_python(suite: str, dest: Path, package: str, logs: Path) -> str:
    """Make (or find) the chroot; returns the installed Debian version of ``package``."""

    def finish(root: Path, logfile: Path) -> str:
        version = chroot_output(root, "dpkg-query", "-W", "-f=${Version}", package)
        chroot_output(root, f"/usr/bin/{package}", "-c", "import venv, ensurepip")
        return version

    return make_chroot(dest, recipe(suite, package), logs, finish)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pythonbuild debian-python",
        description="Make a Debian chroot with Debian's own python, a reference for bench.",
    )
    parser.add_argument(
        "--suite", default=DEFAULT_SUITE, help="Debian suite (default: %(default)s)"
    )
    parser.add_argument("--package", default=DEFAULT_PACKAGE,
                        help="Debian's python package, python3.X (default: %(default)s)")  # fmt: skip
    parser.add_argument("--dest", type=Path, default=None,
                        help="the chroot directory (default: "
                             f"{DEFAULT_DEST_PARENT}/debian-SUITE-PACKAGE)")  # fmt: skip
    return parser


def _parse_args(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    if not _PACKAGE_NAME.fullmatch(args.package):
        raise UsageError(f"--package {args.package}: expected python3.X, e.g. python3.13")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", args.suite):
        raise UsageError(f"--suite {args.suite}: expected a Debian suite name, e.g. trixie")
    return args


def _make(args: argparse.Namespace) -> int:
    dest = (args.dest or default_dest(args.suite, args.package)).absolute()
    version = make_debian_python(args.suite, dest, args.package, ROOT / "build" / "logs" / "bench")
    label = "debian-" + args.package.removeprefix("python")
    print_reference(f"Debian {args.suite} {args.package} {version}", label,
                    f"/usr/bin/{args.package}", dest)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("debian-python", sys.argv[1:] if argv is None else argv, _parse_args, _make)
