"""The free-space check a build or test run makes before it writes anything (docs/cache.md).

A run lists what it will write where (``Need``: a directory, a size, what it is; estimated in
``linux.space_needs``). Needs of directories on one file system add up, and every file system that
gets anything must have that much free, and at least the run's floor; otherwise the run stops
at once with one line that says where, how much, and what to do about it.
``STANDALONE_PYTHON_MIN_FREE`` (``2G``, ``500M``) replaces the estimate and floor for every
file system; ``0`` turns the check off.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuildError
from .sizes import format_size, size_from_env

MIN_FREE_ENV = "STANDALONE_PYTHON_MIN_FREE"
PRUNE_COMMAND = "python -m pythonbuild cache prune"


@dataclass(frozen=True)
class Need:
    path: Path  # a directory the run writes in; it need not exist yet
    size: int  # bytes
    what: str  # for people: "2 library steps", "CPython noopt"
    moved_by: str = ""  # the option or variable that puts it on another disk: "--cache-dir"
    # Where `cache prune` frees space: the cache, the engine's images, the checkout's build/.
    prunable: bool = False


@dataclass
class FileSystem:
    """The needs of one run that land on one file system, and its free space."""

    device: int
    free: int
    needs: list[Need] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(need.size for need in self.needs)

    @property
    def paths(self) -> list[Path]:
        return list(dict.fromkeys(need.path for need in self.needs))


def existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest parent that exists: where the disk it would go on is known."""
    path = Path(os.path.abspath(path))
    # os.path.exists: False, not an exception, below a directory we may not search.
    while not os.path.exists(path) and path != path.parent:
        path = path.parent
    return path


def file_systems(needs: Iterable[Need]) -> list[FileSystem]:
    """The needs grouped by file system (``st_dev``), in the order they first appear."""
    found: dict[int, FileSystem] = {}
    for need in needs:
        if need.size <= 0:
            continue
        where = existing_ancestor(need.path)
        device = where.stat().st_dev
        if device not in found:
            found[device] = FileSystem(device, shutil.disk_usage(where).free)
        found[device].needs.append(need)
    return list(found.values())


def min_free_override(environ: Mapping[str, str] | None = None) -> int | None:
    """``STANDALONE_PYTHON_MIN_FREE`` in bytes; None when it is not set."""
    return size_from_env(MIN_FREE_ENV, environ, "; 0 turns the free-space check off")


def check_free_space(
    needs: Iterable[Need], run: str, floor: int, environ: Mapping[str, str] | None = None
) -> None:
    """Raise BuildError (one line) if a file system ``needs`` write to has too little free.

    ``run`` names the run in the message ("build", "test run").
    """
    override = min_free_override(environ)
    if override == 0:
        return
    for fs in file_systems(needs):
        required = override if override is not None else max(fs.size, floor)
        if fs.free < required:
            raise BuildError(shortage_message(fs, required, run, floor, override is not None))


def join_words(words: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def shortage_message(
    fs: FileSystem, required: int, run: str, floor: int, overridden: bool = False
) -> str:
    paths = [str(p) for p in fs.paths]
    where = f"{paths[0]} has" if len(paths) == 1 else f"{join_words(paths)} (one file system) have"
    items = ", ".join(need.what for need in fs.needs)
    if overridden:
        needed = f"needs {format_size(required)} there ({MIN_FREE_ENV}; for {items})"
    elif fs.size < floor:
        needed = (
            f"needs at least {format_size(floor)} there (the least any {run} asks for; "
            f"about {format_size(fs.size)} for {items})"
        )
    else:
        needed = f"needs about {format_size(required)} there ({items})"
    prunable = any(n.prunable for n in fs.needs)
    fix = f"free space with `{PRUNE_COMMAND}`" if prunable else "free space on it"
    moved_by = list(dict.fromkeys(n.moved_by for n in fs.needs if n.moved_by))
    if moved_by:
        fix += f" or use {join_words(moved_by, 'or')} on a larger disk"
    return (
        f"not enough free disk space for this {run}: {where} {format_size(fs.free)} free, "
        f"the {run} {needed}; {fix} ({MIN_FREE_ENV} sets another threshold: docs/cache.md)"
    )
