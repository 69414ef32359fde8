"""The things the project keeps on disk, found by looking (no engine needed for these).

Each is a ``CacheEntry`` of one kind; ``current`` says whether today's checkout still refers
to it (``current.CurrentReferences``). Images are listed by ``engine_images``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..linux.images.build import ROOTFS_DIR
from ..linux.images.packages import RECORDS_DIR
from . import leases
from .current import CurrentReferences

# The kinds in the order they are listed, and what each is.
KINDS = {
    "source": "pinned source tarballs (<cache>/sources)",
    "library": "library build artifacts (<cache>/artifacts)",
    "cpython": "CPython build artifacts (<cache>/artifacts)",
    "image": "container images: build, base, sysroot, test-dist systems (engine)",
    "image-record": "Debian package lists of images, for SBOMs (<cache>/images)",
    "rootfs": "root filesystems for running another CPU's programs (<cache>/rootfs)",
    "engine": "the engine's dangling images, stopped containers and build cache",
    "work": "work directories of assemble, test-dist and reproduce (<checkout>/build)",
    "bench": "benchmark venvs (<checkout>/build/bench-work) and Debian chroots",
    "pgo-profile": "training profiles written beside pgo builds (<checkout>/dist; yours, never pruned)",
}
# Directories of the checkout's build/ whose children are scratch a run made and left.
WORK_DIRS = ("assemble", "test-dist", "reproduce")


@dataclass(frozen=True)
class Places:
    """Where the kept things are, besides the engine."""

    cache_dir: Path
    build_dir: Path  # the checkout's build/
    dist_dir: Path  # the checkout's dist/
    chroot_parent: Path  # where debian-python makes its chroots
    default_chroot: Path  # the one bench uses by default


@dataclass(frozen=True)
class CacheEntry:
    kind: str
    name: str  # what a person recognizes: a file name, an image tag, a directory
    size: int  # bytes it frees when removed (an image: its layers no other image shares)
    last_used: float  # seconds since the epoch
    current: bool  # today's checkout refers to it
    lease_id: str  # path below the cache, or image:<tag>
    path: Path | None = None  # None: in the engine
    target: str | None = None  # the target triple an artifact was built for, when known
    prunable: bool = True

    @property
    def state(self) -> str:
        return "current" if self.current else "stale"


def tree_size(path: Path) -> int:
    """Bytes used by ``path`` (a file or a directory tree), counting each inode once."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_blocks * 512
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                stat = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _entry(
    cache_dir: Path, kind: str, path: Path, lease_id: str, current: bool, **extra: object
) -> CacheEntry:
    used = max(path.lstat().st_mtime, leases.last_use(cache_dir, lease_id) or 0)
    return CacheEntry(kind, path.name, tree_size(path), used, current, lease_id, path, **extra)  # type: ignore[arg-type]


def _children(directory: Path) -> list[Path]:
    # Partial files of a running step or download (*.partial, *.raw) belong to that run.
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir()
        if not p.name.startswith(".") and not p.name.endswith((".partial", ".raw"))
    )  # fmt: skip


def cache_dir_entries(cache_dir: Path, refs: CurrentReferences) -> Iterator[CacheEntry]:
    """Sources, artifacts, image records and root filesystems in ``cache_dir``."""
    for path in _children(cache_dir / "sources"):
        yield _entry(cache_dir, "source", path, f"sources/{path.name}", path.name in refs.sources)
    for path in _children(cache_dir / "artifacts"):
        target = refs.artifacts.get(path.name)
        kind = "cpython" if path.name.startswith("cpython-") else "library"
        yield _entry(
            cache_dir, kind, path, f"artifacts/{path.name}", target is not None, target=target
        )
    for path in _children(cache_dir / RECORDS_DIR):
        current = refs.record_is_current(path.name)
        yield _entry(cache_dir, "image-record", path, f"{RECORDS_DIR}/{path.name}", current)
    for path in _children(cache_dir / ROOTFS_DIR):
        current = refs.rootfs_is_current(path.name)
        yield _entry(cache_dir, "rootfs", path, f"{ROOTFS_DIR}/{path.name}", current)


def checkout_entries(cache_dir: Path, build_dir: Path, dist_dir: Path) -> Iterator[CacheEntry]:
    """Work directories and benchmark venvs under the checkout's ``build/``, and the training
    profiles in its ``dist/``. Scratch: no checkout refers to it once its run has ended."""
    for name in WORK_DIRS:
        for path in _children(build_dir / name):
            yield _entry(cache_dir, "work", path, f"work:{path}", False)
    for path in _children(build_dir / "bench-work"):
        yield _entry(cache_dir, "bench", path, f"work:{path}", False)
    for path in sorted(dist_dir.glob("*-profile.tar.zst")) if dist_dir.is_dir() else []:
        yield _entry(cache_dir, "pgo-profile", path, f"work:{path}", False, prunable=False)


def chroot_entries(cache_dir: Path, chroot_parent: Path, current: Path) -> Iterator[CacheEntry]:
    """Debian chroots made by ``debian-python`` for benchmarks; the default one is current."""
    for path in sorted(chroot_parent.glob("debian-*")) if chroot_parent.is_dir() else []:
        yield _entry(cache_dir, "bench", path, f"work:{path}", path == current)
