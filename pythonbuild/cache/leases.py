"""Leases: a running build's claim on the cache entries it uses, so a prune never takes them.

A lease is a file under ``<cache>/leases`` named after the entry. A build opens it and holds a
shared ``flock`` for as long as it runs (and touches it: its mtime is the entry's last use); a
prune takes the exclusive lock without waiting and removes the entry only while holding it.
The kernel drops a dead process's locks, so a crashed build never holds anything.

Order matters: a build takes its lease before it looks for the entry, so an entry it found is
one no prune can remove; if a prune got there first, the build sees the entry missing and
makes it again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

LEASES_DIR = "leases"


def lease_path(cache_dir: Path, entry_id: str) -> Path:
    digest = hashlib.sha256(entry_id.encode()).hexdigest()[:24]
    return cache_dir / LEASES_DIR / f"{digest}.lease"


def image_id(tag: str) -> str:
    """The lease id of an engine image tag (files use their path under the cache)."""
    return f"image:{tag}"


def _open(cache_dir: Path, entry_id: str) -> int:
    path = lease_path(cache_dir, entry_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if os.fstat(fd).st_size == 0:
        os.write(fd, f"{entry_id}\n".encode())  # says whose lease it is, for people
    return fd


@contextmanager
def held(cache_dir: Path, entry_ids: Iterable[str]) -> Iterator[None]:
    """Hold shared leases on ``entry_ids`` for the block, marking each as used now."""
    with ExitStack() as stack:
        for entry_id in sorted(set(entry_ids)):
            fd = _open(cache_dir, entry_id)
            stack.callback(os.close, fd)  # closing drops the lock
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a prune is removing the entry
            os.utime(fd)
        yield


@contextmanager
def exclusive(cache_dir: Path, entry_id: str) -> Iterator[bool]:
    """Try to take ``entry_id`` for removal: yields False (at once) when a build holds it."""
    fd = _open(cache_dir, entry_id)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def is_held(cache_dir: Path, entry_id: str) -> bool:
    if not lease_path(cache_dir, entry_id).exists():
        return False
    with exclusive(cache_dir, entry_id) as free:
        return not free


def last_use(cache_dir: Path, entry_id: str) -> float | None:
    """When a build last took a lease on ``entry_id`` (None: never)."""
    try:
        return lease_path(cache_dir, entry_id).stat().st_mtime
    except FileNotFoundError:
        return None


def any_held(cache_dir: Path) -> bool:
    """Whether any build holds any lease in ``cache_dir`` now."""
    directory = cache_dir / LEASES_DIR
    if not directory.is_dir():
        return False
    for path in directory.glob("*.lease"):
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False
