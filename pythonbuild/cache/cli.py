"""``python -m pythonbuild cache [prune]``: what the project keeps on this machine, and pruning it.

cache                        every entry by kind: size, last use, current or stale
cache prune                  remove stale entries (today's checkout does not refer to them)
cache prune --max-size 40G   evict least recently used entries (stale first) down to 40G
cache prune --all            remove everything
... --dry-run                say what would go; --kind KIND limits a prune to some kinds
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArgumentParser, BuildError, UsageError, run_command
from ..linux import engine as engine_mod
from ..paths import DEFAULT_DIST, ROOT, default_cache_dir
from ..sizes import format_size, parse_size
from . import engine_images, leases
from .current import current_references
from .entries import (
    KINDS,
    CacheEntry,
    Places,
    cache_dir_entries,
    checkout_entries,
    chroot_entries,
    tree_size,
)
from .prune import PruneRequest, remover, run_prune


@dataclass(frozen=True)
class CacheConfig:
    cache_dir: Path
    prune: PruneRequest | None  # None: only list
    summary: bool = False
    allow_private_engine: bool = True
    keep_engine: bool = False
    use_engine: bool = True


def parse_args(argv: list[str]) -> CacheConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild cache",
        description="List what the project keeps on this machine, or prune it (docs/cache.md).",
    )
    parser.add_argument("action", nargs="?", choices=["list", "prune"], default="list")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="the build cache (default: $STANDALONE_PYTHON_CACHE or "
                             "~/.cache/standalone-python)")  # fmt: skip
    parser.add_argument("--summary", action="store_true", help="only the totals per kind")
    parser.add_argument("--max-size", default=None, metavar="SIZE",
                        help="prune: evict least recently used entries, current ones last, "
                             "until the total is at most SIZE (40G, 500M)")  # fmt: skip
    parser.add_argument("--all", action="store_true", help="prune: remove every entry")
    parser.add_argument("--dry-run", action="store_true", help="prune: only say what would go")
    parser.add_argument("--kind", action="append", default=[], choices=sorted(KINDS),
                        help="prune only entries of this kind (repeatable)")  # fmt: skip
    parser.add_argument("--no-engine", action="store_true",
                        help="leave the container engine out (no images listed or pruned)")  # fmt: skip
    engine_mod.add_engine_arguments(parser)
    args = parser.parse_args(argv)
    prune_flags = args.max_size is not None or args.all or args.dry_run or args.kind
    if args.action == "list" and prune_flags:
        raise UsageError("--max-size, --all, --dry-run and --kind apply to `cache prune`")
    if args.all and args.max_size is not None:
        raise UsageError("--all and --max-size exclude each other: --all removes everything")
    prune = None
    if args.action == "prune":
        max_size = parse_size(args.max_size) if args.max_size is not None else None
        prune = PruneRequest(max_size, args.all, frozenset(args.kind), args.dry_run)
    return CacheConfig(
        cache_dir=(args.cache_dir or default_cache_dir()).resolve(),
        prune=prune,
        summary=args.summary,
        allow_private_engine=not args.no_private_engine,
        keep_engine=args.keep_engine,
        use_engine=not args.no_engine,
    )


@contextmanager
def _engine(config: CacheConfig) -> Iterator[engine_mod.Engine | None]:
    if not config.use_engine:
        yield None
        return
    try:
        engine = engine_mod.connect(allow_private=config.allow_private_engine)
    except BuildError as exc:
        print(f"images: not listed ({exc})", file=sys.stderr)
        yield None
        return
    try:
        yield engine
    finally:
        # A build that started meanwhile uses the private engine this command started.
        engine.close(keep=config.keep_engine or leases.any_held(config.cache_dir))


def default_places(cache_dir: Path) -> Places:
    from ..bench.debian_python import (
        DEFAULT_DEST_PARENT,
        DEFAULT_PACKAGE,
        DEFAULT_SUITE,
        default_dest,
    )

    return Places(
        cache_dir, ROOT / "build", DEFAULT_DIST, DEFAULT_DEST_PARENT,
        default_dest(DEFAULT_SUITE, DEFAULT_PACKAGE),
    )  # fmt: skip


def collect_entries(places: Places, engine: engine_mod.Engine | None) -> list[CacheEntry]:
    refs = current_references()
    cache_dir = places.cache_dir
    entries = [
        *cache_dir_entries(cache_dir, refs),
        *checkout_entries(cache_dir, places.build_dir, places.dist_dir),
        *chroot_entries(cache_dir, places.chroot_parent, places.default_chroot),
    ]
    if engine is not None:
        entries += engine_images.engine_entries(engine, cache_dir, refs)
    order = list(KINDS)
    return sorted(entries, key=lambda e: (order.index(e.kind), e.name))


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def format_listing(entries: list[CacheEntry], summary: bool) -> list[str]:
    lines = []
    if not summary:
        for e in entries:
            where = f" [{e.target}]" if e.target else ""
            state = e.state if e.prunable else "kept"
            lines.append(
                f"{e.kind:12} {state:7} {_when(e.last_used):16} {format_size(e.size):>9}  {e.name}{where}"
            )
        lines.append("")
    lines.append(
        f"{'kind':12} {'entries':>7} {'current':>7} {'stale':>7} {'size':>9} {'stale size':>10}"
    )
    for kind in KINDS:
        group = [e for e in entries if e.kind == kind]
        if not group:
            continue
        stale = [e for e in group if not e.current and e.prunable]
        lines.append(
            f"{kind:12} {len(group):7} {len(group) - len(stale):7} {len(stale):7} "
            f"{format_size(sum(e.size for e in group)):>9} {format_size(sum(e.size for e in stale)):>10}"
        )
    total = sum(e.size for e in entries)
    stale_total = sum(e.size for e in entries if not e.current and e.prunable)
    lines.append(
        f"{'total':12} {len(entries):7} {'':7} {'':7} {format_size(total):>9} {format_size(stale_total):>10}"
    )
    return lines


def run(config: CacheConfig) -> int:
    with _engine(config) as engine:
        entries = collect_entries(default_places(config.cache_dir), engine)
        if config.prune is None:
            print("\n".join(format_listing(entries, config.summary)))
            data_root = engine_mod.STATE_DIR / "data"
            if engine is not None and engine.private and data_root.is_dir():
                print(
                    f"private engine's data root {data_root}: {format_size(tree_size(data_root))} on disk"
                )
            return 0
        return _prune(config, config.prune, entries, engine)


def _prune(
    config: CacheConfig,
    request: PruneRequest,
    entries: list[CacheEntry],
    engine: engine_mod.Engine | None,
) -> int:
    verb = "would remove" if request.dry_run else "removed"
    freed = removed = held = 0
    for outcome in run_prune(entries, request, remover(config.cache_dir, engine, request.dry_run)):
        e = outcome.entry
        if outcome.removed:
            freed += e.size
            removed += 1
            print(
                f"{verb} {e.kind} {e.name} ({format_size(e.size)}, {e.state}, last used {_when(e.last_used)})"
            )
        else:
            held += 1
            print(f"kept {e.kind} {e.name}: {outcome.why_not}")
    left = sum(e.size for e in entries if e.prunable) - freed
    print(
        f"{verb} {removed} entries, {format_size(freed)}; {format_size(left)} left"
        + (f"; {held} kept because in use" if held else "")
    )
    return 0


def prune_quietly(
    places: Places, max_size: int, allow_private_engine: bool, keep_engine: bool,
    use_engine: bool = True,
) -> tuple[int, int]:  # fmt: skip
    """Prune down to ``max_size`` (images too, with ``use_engine``) as a build's last step;
    returns (bytes freed, bytes left)."""
    request = PruneRequest(max_size)
    config = CacheConfig(
        places.cache_dir, request, False, allow_private_engine, keep_engine, use_engine
    )
    with _engine(config) as engine:
        entries = collect_entries(places, engine)
        outcomes = list(run_prune(entries, request, remover(places.cache_dir, engine, False)))
    freed = sum(o.entry.size for o in outcomes if o.removed)
    return freed, sum(e.size for e in entries if e.prunable) - freed


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild cache", sys.argv[1:] if argv is None else argv, parse_args, run
    )
