"""Bind mounts that let a chrooted interpreter see the bench work dir at its host path.

Inside ``ROOT`` the work dir appears at the same absolute path as outside, so venvs, scripts
and result files have one name for both sides. ``/proc`` and ``/dev`` are mounted too (pyperf
reads /proc for CPU and memory facts; Python wants /dev/urandom and /dev/null). Only mounts made
here are unmounted, in reverse order, whatever happens in between.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import log
from ..errors import BuildError

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_points() -> set[str]:
    """Every mount point of this process's mount namespace (bind mounts included)."""
    points = set()
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
            points.add(_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), fields[4]))
    return points


def mounts_below(path: Path) -> list[str]:
    """Mount points at or under ``path``: a directory with any must never be deleted."""
    prefix = str(path.resolve())
    return sorted(p for p in mount_points() if p == prefix or p.startswith(prefix + "/"))


def _mount(args: list[str], target: Path) -> None:
    result = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise BuildError(
            f"cannot mount {target} ({result.stderr.strip() or 'mount failed'}); the bench must "
            "run as root to use --chroot"
        )


def _unmount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], capture_output=True, check=False).returncode == 0:
        return
    # Busy (e.g. a benchmark worker still exiting): detach now, the kernel finishes later.
    if subprocess.run(["umount", "--lazy", str(target)], capture_output=True,
                      check=False).returncode != 0:  # fmt: skip
        log.warn(f"could not unmount {target}; unmount it by hand (umount {target})")


@contextmanager
def chroot_mounts(roots: list[Path], work_dir: Path) -> Iterator[None]:
    """Mount /proc, /dev and ``work_dir`` into each root for the duration of the block."""
    work_dir = work_dir.resolve()
    mounted: list[Path] = []
    try:
        for root in roots:
            root = root.resolve()
            if root == Path("/"):
                raise BuildError("--chroot / is the host itself; give a chroot directory")
            if work_dir == root or root in work_dir.parents:
                raise BuildError(
                    f"the bench work dir {work_dir} is inside the chroot {root}; "
                    "choose another --work-dir"
                )
            existing = mount_points()
            plan = [
                (["-t", "proc", "proc"], root / "proc"),
                (["--bind", "/dev"], root / "dev"),
                (["--bind", str(work_dir)], root / work_dir.relative_to("/")),
            ]
            for args, target in plan:
                if str(target) in existing:
                    continue  # mounted by someone else (or a killed run): use it, leave it
                target.mkdir(parents=True, exist_ok=True)
                _mount(args, target)
                mounted.append(target)
        yield
    finally:
        for target in reversed(mounted):
            _unmount(target)
