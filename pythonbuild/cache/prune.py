"""Which entries a prune removes, in what order, and removing them.

- plain prune: every stale entry, least recently used first;
- ``max_size``: least recently used entries until the total is at most that, stale ones first
  and current ones last;
- ``everything``: every entry.

An entry a running build holds (``leases``) is never removed: it is skipped and reported, and
with ``max_size`` the next one in line goes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..linux.engine import Engine
from . import engine_images, leases
from .entries import CacheEntry, remove_path


@dataclass(frozen=True)
class PruneRequest:
    max_size: int | None = None
    everything: bool = False
    kinds: frozenset[str] = frozenset()  # empty: every kind
    dry_run: bool = False


@dataclass(frozen=True)
class Outcome:
    entry: CacheEntry
    removed: bool  # (or, in a dry run, would be)
    why_not: str = ""


def prune_order(entries: Iterable[CacheEntry], request: PruneRequest) -> list[CacheEntry]:
    """The entries a prune may remove, in the order it removes them."""
    candidates = [
        e for e in entries if e.prunable and (not request.kinds or e.kind in request.kinds)
    ]

    def by_age(e: CacheEntry) -> tuple[float, str]:
        return (e.last_used, e.name)

    stale = sorted((e for e in candidates if not e.current), key=by_age)
    current = sorted((e for e in candidates if e.current), key=by_age)
    if request.everything or request.max_size is not None:
        return stale + current
    return stale


def total_size(entries: Iterable[CacheEntry]) -> int:
    """What a ``max_size`` bounds: everything a prune could remove."""
    return sum(e.size for e in entries if e.prunable)


def run_prune(
    entries: list[CacheEntry],
    request: PruneRequest,
    remove: Callable[[CacheEntry], str | None],
) -> Iterator[Outcome]:
    """Remove entries as ``request`` says, one at a time; ``remove`` returns why it could not
    (e.g. held by a build), or None when it removed the entry (or, in a dry run, would)."""
    total = total_size(entries)
    for entry in prune_order(entries, request):
        if request.max_size is not None and not request.everything and total <= request.max_size:
            return
        why_not = remove(entry)
        if why_not is None:
            total -= entry.size
        yield Outcome(entry, why_not is None, why_not or "")


def remover(
    cache_dir: Path, engine: Engine | None, dry_run: bool
) -> Callable[[CacheEntry], str | None]:
    """Removes one entry under its exclusive lease (or, in a dry run, only checks the lease)."""

    def remove(entry: CacheEntry) -> str | None:
        if entry.kind == "engine":
            if leases.any_held(cache_dir):
                return "a build is running (its containers may be among them)"
            if engine is None:
                return "no engine"
            if not dry_run:
                engine_images.remove_leftovers(engine)
            return None
        with leases.exclusive(cache_dir, entry.lease_id) as free:
            if not free:
                return "in use by a running build"
            if dry_run:
                return None
            if entry.path is not None:
                remove_path(entry.path)
                return None
            if engine is None:
                return "no engine"
            return engine_images.remove_image(engine, entry.name)

    return remove
