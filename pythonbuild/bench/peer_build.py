"""``python -m pythonbuild peer-build docker-recipe``: CPython built as the official Docker
image builds it, from the same verified source as our builds, as a reference for bench.

The official ``python`` image compiles CPython on Debian with its gcc, against Debian's
libraries: ``--enable-optimizations --with-lto --enable-shared`` and Debian's
``dpkg-buildflags`` (facts from docker-library/python's Dockerfile template). Here that is done
in a Debian trixie chroot (gcc 14) made by debootstrap.make_chroot, so bench runs it with
``--chroot``; the source tarball is the one downloads.yml pins, from the project's cache.

Where this differs from the image, and why it cannot change speed: pip comes from ensurepip
(the image installs it separately; bench needs it to make venvs), and nothing is stripped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .. import log
from ..errors import UsageError, run_command
from ..fetch import default_mirrors, fetch_source
from ..paths import ROOT, default_cache_dir
from ..registry import load_registry
from .chroot import chroot_mounts
from .debootstrap import (
    DEFAULT_DEST_PARENT,
    chroot_output,
    chroot_script,
    make_chroot,
    print_reference,
)

RECIPES = ("docker-recipe",)
SUITE = "trixie"
# The image's build dependencies (its Dockerfile's buildDeps for Debian), with the compiler
# and make.
BUILD_PACKAGES = (
    "dpkg-dev", "gcc", "libbluetooth-dev", "libbz2-dev", "libc6-dev", "libdb-dev",
    "libffi-dev", "libgdbm-dev", "liblzma-dev", "libncursesw5-dev", "libreadline-dev",
    "libsqlite3-dev", "libssl-dev", "libzstd-dev", "make", "tk-dev", "uuid-dev", "xz-utils",
    "zlib1g-dev", "libexpat1-dev",
)  # fmt: skip
CONFIGURE_ARGS = (
    "--enable-loadable-sqlite-extensions",
    "--enable-optimizations",
    "--enable-option-checking=fatal",
    "--enable-shared",
    "--with-lto",
    "--with-system-expat",
    "--with-ensurepip",
)
SOURCE_DIR = "/usr/src/python"


def build_script(tarball_name: str) -> str:
    """The image's build, as a script run in the chroot: configure, a PGO+LTO build with
    Debian's compiler flags, ``python`` linked again with an rpath to its libpython, install."""
    configure = " ".join(CONFIGURE_ARGS)
    return f"""
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends {" ".join(sorted(BUILD_PACKAGES))}
rm -rf {SOURCE_DIR}
mkdir -p {SOURCE_DIR}
tar --extract --directory {SOURCE_DIR} --strip-components=1 --file /usr/src/{tarball_name}
cd {SOURCE_DIR}
gnuArch="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)"
./configure --build="$gnuArch" {configure}
nproc="$(nproc)"
EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
make -j "$nproc" "EXTRA_CFLAGS=$EXTRA_CFLAGS" "LDFLAGS=$LDFLAGS"
rm python
make -j "$nproc" "EXTRA_CFLAGS=$EXTRA_CFLAGS" "LDFLAGS=$LDFLAGS -Wl,-rpath='\\$\\$ORIGIN/../lib'" python
make install
ldconfig
cd /
rm -rf {SOURCE_DIR} /usr/src/{tarball_name}
"""


def default_dest(recipe_name: str, python: str) -> Path:
    return DEFAULT_DEST_PARENT / f"debian-{SUITE}-{recipe_name}-python{python}"


def recipe(recipe_name: str, tarball_name: str, sha256: str) -> dict[str, object]:
    """What the chroot is made from (the stamp compares it): the build script is part of it."""
    return {
        "suite": SUITE,
        "variant": "minbase",
        "include": ["ca-certificates"],
        "peer": recipe_name,
        "source": {"file": tarball_name, "sha256": sha256},
        "script": build_script(tarball_name),
    }


def make_peer(recipe_name: str, python: str, dest: Path, cache_dir: Path, logs: Path) -> str:
    """Make (or find) the peer build's chroot; returns its interpreter's version."""
    source = load_registry().cpython(python)
    wanted = recipe(recipe_name, source.filename, source.sha256)

    def finish(root: Path, logfile: Path) -> str:
        tarball = fetch_source(source, cache_dir, default_mirrors(None), log=log.info)
        shutil.copyfile(tarball, root / "usr" / "src" / source.filename)
        # /proc and /dev for the PGO training run, as in a container.
        with chroot_mounts([root], logs), log.step(
            f"build CPython {source.version} the {recipe_name} way (log: {logfile})"
        ):
            chroot_script(root, str(wanted["script"]), logfile, f"the {recipe_name} build")
        return chroot_output(
            root, f"/usr/local/bin/python{python}", "-c",
            "import platform, ssl, sqlite3, ctypes, venv; print(platform.python_version())",
        )  # fmt: skip

    return make_chroot(dest, wanted, logs, finish)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pythonbuild peer-build",
        description="Build CPython the way another distributor does, as a reference for bench.",
    )
    parser.add_argument("recipe", choices=RECIPES,
                        help="docker-recipe: the official Docker image's build (gcc, PGO, LTO, "
                             "shared libpython) on Debian trixie")  # fmt: skip
    parser.add_argument("--python", default="3.13", metavar="X.Y",
                        help="the CPython version, as pinned in downloads.yml (default: 3.13)")  # fmt: skip
    parser.add_argument("--dest", type=Path, help="the chroot directory (default: "
                        f"{DEFAULT_DEST_PARENT}/debian-{SUITE}-RECIPE-pythonX.Y)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path,
                        help="where the verified source tarballs are (default: the build cache)")  # fmt: skip
    return parser


def _parse_args(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    known = load_registry().python_versions()
    if args.python not in known:
        raise UsageError(f"--python {args.python}: no pinned CPython; one of {', '.join(known)}")
    return args


def _make(args: argparse.Namespace) -> int:
    dest = (args.dest or default_dest(args.recipe, args.python)).absolute()
    cache_dir = args.cache_dir or default_cache_dir()
    version = make_peer(args.recipe, args.python, dest, cache_dir, ROOT / "build" / "logs" / "bench")
    print_reference(f"CPython {version} built the {args.recipe} way", args.recipe,
                    f"/usr/local/bin/python{args.python}", dest)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("peer-build", sys.argv[1:] if argv is None else argv, _parse_args, _make)
