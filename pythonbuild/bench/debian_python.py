"""``python -m pythonbuild debian-python``: a Debian chroot with Debian's own python.

Debian's python is the reference a distribution should not be slower than: built by Debian
with its own flags, linking Debian's zlib, sqlite3, OpenSSL... The chroot is made with
debootstrap from the mirror in the host's apt configuration and the host's Debian keyring,
in a sibling directory that is renamed into place only when complete (a failed run leaves only
that sibling, removed by the next run), and marked with a stamp so a rerun does nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError, run_command
from ..linux.debian import debian_mirror_uri
from ..linux.host_tools import ensure_host_tool
from ..paths import ROOT
from .chroot import mounts_below

DEFAULT_SUITE = "trixie"
DEFAULT_PACKAGE = "python3.13"
DEFAULT_DEST_PARENT = Path("/var/lib/standalone-python")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
STAMP_NAME = ".standalone-python-debian-python.json"
# Certificates the host's administrator added (e.g. a company or proxy CA): without them pip
# in the chroot cannot reach PyPI wherever the host needs them.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
_PACKAGE_NAME = re.compile(r"python3\.\d+")


def default_dest(suite: str, package: str) -> Path:
    return DEFAULT_DEST_PARENT / f"debian-{suite}-{package}"


def recipe(suite: str, package: str) -> dict[str, object]:
    """What the chroot is made from; a stamp with another recipe means: make it again."""
    return {
        "suite": suite,
        "package": package,
        "include": [package, f"{package}-venv", "ca-certificates"],
        "variant": "minbase",
    }


def _chroot_output(root: Path, *cmd: str) -> str:
    result = subprocess.run(["chroot", str(root), *cmd], capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise BuildError(
            f"`chroot {root} {' '.join(cmd)}` failed: {result.stderr.strip() or result.returncode}"
        )
    return result.stdout.strip()


def _remove_half_made(path: Path) -> None:
    if not path.exists():
        return
    mounted = mounts_below(path)
    if mounted:
        raise BuildError(
            f"{path} is left from a failed run but has mounts inside ({', '.join(mounted)}); "
            "unmount them (umount PATH), then rerun"
        )
    log.info(f"removing {path}, left by a failed run")
    shutil.rmtree(path)


def _copy_host_settings(root: Path, logfile: Path) -> None:
    """DNS and the host's locally added CA certificates, so pip in the chroot reaches PyPI."""
    resolv = root / "etc" / "resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_bytes(Path("/etc/resolv.conf").read_bytes())
    local_cas = sorted(LOCAL_CA_DIR.glob("**/*.crt")) if LOCAL_CA_DIR.is_dir() else []
    if not local_cas:
        return
    for cert in local_cas:
        target = root / cert.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cert, target)
    with logfile.open("a") as out:
        result = subprocess.run(["chroot", str(root), "update-ca-certificates"], stdout=out,
                                stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if result.returncode != 0:
        raise log.LoggedFailure("update-ca-certificates in the chroot failed", logfile)


def make_debian_python(suite: str, dest: Path, package: str, logs: Path) -> str:
    """Make (or find) the chroot; returns the installed Debian version of ``package``."""
    wanted = recipe(suite, package)
    stamp = dest / STAMP_NAME
    if stamp.exists():
        try:
            made = json.loads(stamp.read_text())
        except ValueError:
            made = {}
        if made.get("recipe") == wanted:
            log.info(f"{dest} is already made ({package} {made.get('version')})")
            return str(made.get("version"))
        raise UsageError(
            f"{dest} holds a chroot made for {made.get('recipe')}; choose another --dest, "
            f"or delete it (rm -rf {dest}) and rerun"
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(
            f"{dest} exists and was not made by this command; choose another --dest or remove it"
        )
    staging = dest.with_name(dest.name + ".partial")
    _remove_half_made(staging)
    if not KEYRING.exists():
        raise BuildError(
            f"{KEYRING} is missing; install Debian's keyring (apt-get install "
            "debian-archive-keyring) and rerun"
        )
    debootstrap = ensure_host_tool("debootstrap", logs / "apt-debootstrap.log")
    mirror = debian_mirror_uri()
    logfile = logs / f"debootstrap-{suite}-{package}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        debootstrap,
        f"--variant={wanted['variant']}",
        "--include=" + ",".join(wanted["include"]),  # type: ignore[arg-type]
        f"--keyring={KEYRING}",
        suite,
        str(staging),
        mirror,
    ]
    with log.step(f"debootstrap {suite} with {package} into {staging}"):
        with logfile.open("w") as out:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise log.LoggedFailure(
                f"debootstrap of {suite} failed (the half-made {staging} is removed by the "
                "next run)",
                logfile,
            )
        _copy_host_settings(staging, logfile)
        version = _chroot_output(staging, "dpkg-query", "-W", "-f=${Version}", package)
        _chroot_output(staging, f"/usr/bin/{package}", "-c", "import venv, ensurepip")
    (staging / STAMP_NAME).write_text(json.dumps({"recipe": wanted, "version": version}) + "\n")
    if dest.exists():
        dest.rmdir()  # an empty directory, checked above
    staging.rename(dest)
    return version


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
    print(f"Debian {args.suite} {args.package} {version} is in {dest}")
    print("Use it as a reference with:")
    print(f"  python -m pythonbuild bench ... --python {label}=/usr/bin/{args.package} "
          f"--chroot {label}={dest}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("debian-python", sys.argv[1:] if argv is None else argv, _parse_args, _make)
