"""``python -m pythonbuild lock-images [--target TRIPLE]``: rewrite ``cpython-unix/image-packages.lock``.

Makes the target's images afresh from the Debian mirror in the host's apt configuration, without
any lock, and writes what they hold as their sections of the lock (other sections are kept):

1. debootstrap the base and the sysroot suites; each rootfs's dpkg status is its section, and
   it is imported under the tag that section gives it (an image of that tag already there is
   kept: it holds the same packages);
2. build the build image unpinned, under a throwaway tag and without Docker's layer cache, and
   list its packages (``dpkg-query``): the build section; the throwaway image is removed;
3. make the pinned build image from the new lock in memory, the way every build will (apt
   installs the locked versions, and the image is checked against its section);
4. only then replace the lock file (a temporary file renamed over it, never half written).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ... import log
from ...errors import ArgumentParser, run_command
from ...paths import ROOT, default_cache_dir
from ...targets import Target, get_target, load_targets
from .. import engine as engine_mod
from ..engine import add_engine_arguments
from .build import (
    IMAGE_PREFIX,
    RootfsSpec,
    bootstrapped_rootfs,
    docker_build,
    ensure_build_image,
    ensure_rootfs_image,
    image_exists,
    import_rootfs,
    remove_image,
    render_build_dockerfile,
    rootfs_specs,
)
from .lock import (
    DEFAULT_TARGET,
    LOCK_PATH,
    ImageLock,
    Packages,
    diff_packages,
    lock_name,
    parse_lock,
    write_lock,
)
from .packages import list_image_packages, records_dir, write_record


@dataclass(frozen=True)
class LockConfig:
    target: Target
    lock_path: Path
    cache_dir: Path
    allow_private_engine: bool
    keep_engine: bool
    only_missing: bool = False


def parse_args(argv: list[str]) -> LockConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild lock-images",
        description=(
            f"Make the target's base, sysroot and build images afresh from the Debian mirror in "
            f"this host's apt configuration and write the packages they hold to {lock_name()} "
            "(its other sections are kept). Commit the file afterwards."
        ),
    )
    parser.add_argument("--target", default=DEFAULT_TARGET, metavar="TRIPLE",
                        help=f"target triple (default: %(default)s; one of "
                             f"{', '.join(sorted(load_targets()))})")  # fmt: skip
    parser.add_argument("--lock", type=Path, default=LOCK_PATH, metavar="FILE",
                        help=f"the lock file to write (default: {lock_name()})")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the images' package records go (default: "
                             "$STANDALONE_PYTHON_CACHE or ~/.cache/standalone-python)")  # fmt: skip
    parser.add_argument("--only-missing", action="store_true",
                        help="make only the sections the lock lacks (a new target's sysroot) and "
                             "keep the others as they are, so other targets' images stay valid")  # fmt: skip
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    return LockConfig(
        target=get_target(args.target),
        lock_path=args.lock.resolve(),
        cache_dir=(args.cache_dir or default_cache_dir()).resolve(),
        allow_private_engine=not args.no_private_engine,
        keep_engine=args.keep_engine,
        only_missing=args.only_missing,
    )


def lock_rootfs_image(
    engine: engine_mod.Engine, spec: RootfsSpec, logs: Path, records: Path
) -> RootfsSpec:
    """Debootstrap ``spec`` afresh; returns it pinned to what it holds, imported under that tag."""
    with bootstrapped_rootfs(spec, logs) as (rootfs, installed):
        locked = replace(spec, locked=installed)
        write_record(records, locked.tag, installed)
        if not image_exists(engine, locked.tag):
            import_rootfs(engine, locked, rootfs)
    return locked


def _kept_or_locked(
    engine: engine_mod.Engine,
    keep: ImageLock,
    spec: RootfsSpec,
    logs: Path,
    records: Path,
    target: Target,
) -> RootfsSpec:
    """``spec`` pinned to its section of ``keep`` (its image made if missing), or locked afresh."""
    kept = keep.section(spec.section)
    if kept is None:
        return lock_rootfs_image(engine, spec, logs, records)
    pinned = replace(spec, locked=kept)
    ensure_rootfs_image(engine, pinned, logs, records, target.triple)
    return pinned


def lock_build_packages(
    engine: engine_mod.Engine, target: Target, base: str, sysroot: str, logs: Path
) -> Packages:
    """The packages of the build image made unpinned on ``base`` (a throwaway image)."""
    dockerfile = render_build_dockerfile(target, base, sysroot, pins=None)
    tag = f"{IMAGE_PREFIX}/lock-{target.image}-{target.triple}:{int(time.time())}"
    logfile = logs / f"image-{target.image}-{target.triple}-unpinned.log"
    try:
        with log.step(f"build image {target.image} unpinned ({tag})"):
            docker_build(engine, dockerfile, tag, logfile, nocache=True)
            return list_image_packages(engine, tag)
    finally:
        remove_image(engine, tag)


def _summary(name: str, old: Packages | None, new: Packages) -> str:
    if old is None:
        return f"[{name}] {len(new)} packages (new section)"
    changed = diff_packages(old, new)
    if not changed:
        return f"[{name}] {len(new)} packages, unchanged"
    shown = ", ".join(d.describe() for d in changed[:8])
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return f"[{name}] {len(new)} packages, {len(changed)} changed: {shown}{more}"


def _read_existing(path: Path) -> ImageLock:
    if not path.is_file():
        return ImageLock({})
    return parse_lock(path.read_text(encoding="utf-8"), lock_name(path))


def run(config: LockConfig) -> int:
    started = time.monotonic()
    target = config.target
    old = _read_existing(config.lock_path)  # a broken lock is reported before any work
    logs = ROOT / "build" / "logs" / f"lock-images-{target.triple}"
    logs.mkdir(parents=True, exist_ok=True)
    records = records_dir(config.cache_dir)
    log.info(f"locking the images of {target.triple}; logs in {logs}")
    with log.step("connect to the container engine"):
        engine = engine_mod.connect(allow_private=config.allow_private_engine)
        log.info(f"using {engine.description}")
    try:
        base_spec, sysroot_spec = rootfs_specs(target, None)
        keep = old if config.only_missing else ImageLock({})
        base = _kept_or_locked(engine, keep, base_spec, logs, records, target)
        sysroot = _kept_or_locked(engine, keep, sysroot_spec, logs, records, target)
        assert base.locked is not None and sysroot.locked is not None
        build = keep.section(target.image) or lock_build_packages(
            engine, target, base.tag, sysroot.tag, logs
        )
        sections = {base.section: base.locked, sysroot.section: sysroot.locked, target.image: build}
        sections = {name: packages for name, packages in sections.items()
                    if keep.section(name) is None}  # fmt: skip
        new = old.replaced(sections)
        # The lock must work before it replaces the old one: make the pinned build image now.
        image = ensure_build_image(engine, target, logs, records, new)
    finally:
        engine.close(keep=config.keep_engine)
    write_lock(new, config.lock_path)
    for name in sorted(sections):
        log.info(_summary(name, old.section(name), new.sections[name]))
    log.info(f"images: {base.tag} {sysroot.tag} {image.tag}")
    log.info(
        f"wrote {lock_name(config.lock_path)} in "
        f"{log.format_seconds(time.monotonic() - started)}; commit it"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild lock-images", sys.argv[1:] if argv is None else argv, parse_args, run
    )
