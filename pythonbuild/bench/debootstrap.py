"""Debian chroots for bench's reference interpreters, made with debootstrap.

Made from the mirror in the host's apt configuration with the host's Debian keyring, in a
sibling directory that is renamed into place only when complete (a failed run leaves only that
sibling, removed by the next run), and marked with a stamp holding the recipe it was made
from, so a rerun with the same recipe does nothing and one with another recipe is refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .. import log
from ..errors import BuildError, UsageError
from ..linux.debian import debian_mirror_uri
from ..linux.host_tools import ensure_host_tool
from .chroot import mounts_below

DEFAULT_DEST_PARENT = Path("/var/lib/standalone-python")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
STAMP_NAME = ".standalone-python-debian-python.json"
# Certificates the host's administrator added (e.g. a company or proxy CA): without them pip
# in the chroot cannot reach PyPI wherever the host needs them.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")

# Called with the staged chroot and its log file once debootstrap is done; returns the version
# of what the chroot is for, which the stamp records.
Finish = Callable[[Path, Path], str]


def chroot_output(root: Path, *cmd: str) -> str:
    result = subprocess.run(["chroot", str(root), *cmd], capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise BuildError(
            f"`chroot {root} {' '.join(cmd)}` failed: {result.stderr.strip() or result.returncode}"
        )
    return result.stdout.strip()


def chroot_script(root: Path, script: str, logfile: Path, what: str) -> None:
    """Run a bash script in the chroot, its output appended to ``logfile``."""
    with logfile.open("a") as out:
        out.write(f"$ chroot {root} bash -euxo pipefail -c ...  # {what}\n")
        out.flush()
        result = subprocess.run(["chroot", str(root), "/bin/bash", "-euxo", "pipefail", "-c",
                                 script], stdout=out, stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if result.returncode != 0:
        raise log.LoggedFailure(f"{what} failed in the chroot {root}", logfile)


def remove_half_made(path: Path) -> None:
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


def copy_host_settings(root: Path, logfile: Path) -> None:
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


def made_version(dest: Path, wanted: dict[str, object]) -> str | None:
    """The version a finished chroot at ``dest`` records for ``wanted``; None if there is none.
    A chroot made from another recipe, or a directory this module did not make, is refused."""
    stamp = dest / STAMP_NAME
    if stamp.exists():
        try:
            made = json.loads(stamp.read_text())
        except ValueError:
            made = {}
        if made.get("recipe") == wanted:
            return str(made.get("version"))
        raise UsageError(
            f"{dest} holds a chroot made for another recipe; choose another --dest, "
            f"or delete it (rm -rf {dest}) and rerun"
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(
            f"{dest} exists and was not made by this command; choose another --dest or remove it"
        )
    return None


def make_chroot(dest: Path, wanted: dict[str, object], logs: Path, finish: Finish) -> str:
    """Make (or find) the chroot ``wanted`` describes (``suite``, ``variant``, ``include``, and
    whatever else ``finish`` depends on); returns the version ``finish`` found."""
    version = made_version(dest, wanted)
    if version is not None:
        log.info(f"{dest} is already made ({version})")
        return version
    staging = dest.with_name(dest.name + ".partial")
    remove_half_made(staging)
    if not KEYRING.exists():
        raise BuildError(
            f"{KEYRING} is missing; install Debian's keyring (apt-get install "
            "debian-archive-keyring) and rerun"
        )
    debootstrap = ensure_host_tool("debootstrap", logs / "apt-debootstrap.log")
    suite = str(wanted["suite"])
    logfile = logs / f"debootstrap-{dest.name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        debootstrap,
        f"--variant={wanted['variant']}",
        "--include=" + ",".join(wanted["include"]),  # type: ignore[call-overload]
        f"--keyring={KEYRING}",
        suite,
        str(staging),
        debian_mirror_uri(),
    ]
    with log.step(f"debootstrap {suite} into {staging}"):
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
        copy_host_settings(staging, logfile)
    version = finish(staging, logfile)
    (staging / STAMP_NAME).write_text(json.dumps({"recipe": wanted, "version": version}) + "\n")
    if dest.exists():
        dest.rmdir()  # an empty directory, checked above
    staging.rename(dest)
    return version


def print_reference(made: str, label: str, python: str, dest: Path) -> None:
    """Tell the user what was made and the bench options that use it."""
    print(f"{made} is in {dest}")
    print("Use it as a reference with:")
    print(f"  python -m pythonbuild bench ... --python {label}={python} --chroot {label}={dest}")
