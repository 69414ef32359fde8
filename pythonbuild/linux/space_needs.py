"""What a build or a test-dist run will write and where: the needs of the free-space check.

Counted from what the run will actually make (steps whose artifact is missing, sources not
downloaded yet, images the engine's data root does not record), with the rough figures of
``resources/disk-space.yml``. Nothing here needs the container engine (see ``preflight``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..paths import RESOURCES, ROOT
from ..preflight import Need, join_words
from ..sizes import parse_size
from ..targets import Target
from .engine import STATE_DIR, expected_data_root, image_tags_in
from .images.build import rootfs_specs, runtime_rootfs_path, runtime_rootfs_spec
from .images.lock import ImageLock
from .plan import BuildPlan, Step

FIGURES_FILE = RESOURCES / "disk-space.yml"
CACHE_OPTION = "--cache-dir"


def _sizes(value: Any) -> Any:
    """The figures with every size string (``1.5G``) as bytes; plain numbers stay as they are."""
    if isinstance(value, dict):
        return {key: _sizes(item) for key, item in value.items()}
    return parse_size(value) if isinstance(value, str) else value


@cache
def figures() -> dict[str, Any]:
    return _sizes(yaml.safe_load(FIGURES_FILE.read_text()))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def temp_dir() -> Path:
    """Where ``tempfile`` puts the runs' scratch directories (TMPDIR, else /tmp)."""
    return Path(tempfile.gettempdir())


def _data_root_option(data_root: Path) -> str:
    return "STANDALONE_PYTHON_ENGINE_DIR" if data_root == STATE_DIR / "data" else ""


def build_needs(
    plan: BuildPlan,
    steps: Sequence[Step],
    missing: Sequence[Step],
    lock: ImageLock,
    *,
    cache_dir: Path,
    dist_dir: Path | None,
    build_dir: Path,
) -> list[Need]:
    """A build's needs: the cache (downloads, missing steps), the engine's data root (images,
    step containers: only when a step is missing), the dist directory and the checkout's
    build/ (``dist_dir`` None: a --libraries-only run, which makes no archives)."""
    f = figures()["build"]

    def cached(size: int, what: str) -> Need:
        return Need(cache_dir, size, what, CACHE_OPTION, prunable=True)

    needs: list[Need] = []
    sources = {s.filename: s for step in steps for s in (step.source, *step.build_sources)}
    downloads = [s for name, s in sources.items() if not (cache_dir / "sources" / name).exists()]
    if downloads:
        size = sum(s.size for s in downloads)
        needs.append(cached(size, _plural(len(downloads), "source download")))
    libraries = [s for s in missing if s.name != "cpython"]
    if libraries:
        size = len(libraries) * f["library_step"]
        needs.append(cached(size, _plural(len(libraries), "library step")))
    if len(libraries) < len(missing):
        options = plan.request.options
        needs.append(cached(f["cpython_step"][options.optimization], f"CPython {options.name}"))
    if missing:
        needs += _build_image_needs(plan, lock, f)
    if dist_dir is not None:
        needs.append(Need(dist_dir, f["dist"], "dist outputs", "--dist"))
        needs.append(Need(build_dir, f["assemble"], "assemble work dir", prunable=True))
    return needs


def _build_image_needs(plan: BuildPlan, lock: ImageLock, f: dict[str, Any]) -> list[Need]:
    """Step containers, and the images the data root does not record (all of them when it
    cannot be read); nothing when the engine is DOCKER_HOST's, whose disk is not ours to see."""
    data_root = expected_data_root()
    if data_root is None:
        return []
    known = image_tags_in(data_root)
    option = _data_root_option(data_root)
    needs = [Need(data_root, f["step_container"], "step containers", option, prunable=True)]
    new_rootfs = [
        spec
        for spec in rootfs_specs(plan.request.target, lock)
        if known is None or spec.tag not in known
    ]
    new_build = known is None or plan.image_tag not in known
    if new_build or new_rootfs:
        size = len(new_rootfs) * f["rootfs_image"] + (f["build_image"] if new_build else 0)
        what = "build image" if new_build else _plural(len(new_rootfs), "base image")
        needs.append(Need(data_root, size, what, option, prunable=True))
    if new_rootfs:
        needs.append(Need(temp_dir(), f["debootstrap"], "debootstrap", "TMPDIR"))
    return needs


def test_dist_needs(
    archive_size: int,
    target: Target,
    *,
    regrtest: bool,
    containers: Sequence[str],
    output_dir: Path,
    cache_dir: Path,
) -> list[Need]:
    """test-dist's needs: extractions and regrtest scratch in TMPDIR, its output directory, and
    the bare systems it runs in that do not exist yet (images, or a directory for qemu)."""
    f = figures()["test_dist"]
    # One extraction for the smoke tests, one more for regrtest, and per container a tar of the
    # installation (about the same size again).
    extractions = 1 + int(regrtest) + len(containers)
    extracted = extractions * f["extraction_factor"] * archive_size
    in_build = output_dir.is_relative_to(ROOT / "build")  # `cache prune` removes old ones there
    needs = [
        Need(
            temp_dir(), extracted, f"{_plural(extractions, 'extraction')} of the archive", "TMPDIR"
        ),
        Need(output_dir, f["output"], "logs and JUnit file", "--output", prunable=in_build),
    ]
    if regrtest:
        needs.append(Need(temp_dir(), f["regrtest_scratch"], "regrtest scratch", "TMPDIR"))
    data_root = expected_data_root() if containers else None
    if data_root is not None:
        known = image_tags_in(data_root)
        new = [
            suite
            for suite in containers
            if known is None or runtime_rootfs_spec(suite, arch=target.debian_arch).tag not in known
        ]
        if new:
            size, option = len(new) * f["runtime_rootfs"], _data_root_option(data_root)
            needs.append(Need(data_root, size, f"{join_words(new)} image", option, prunable=True))
            needs.append(Need(temp_dir(), f["runtime_rootfs"], "debootstrap", "TMPDIR"))
    elif not containers and target.foreign:
        spec = runtime_rootfs_spec(target.sysroot, arch=target.debian_arch)
        if not runtime_rootfs_path(spec, cache_dir).is_dir():
            what = f"Debian {target.sysroot} {target.debian_arch} system for its loader"
            option = "STANDALONE_PYTHON_CACHE"
            needs.append(Need(cache_dir, f["runtime_rootfs"], what, option, prunable=True))
    return needs
