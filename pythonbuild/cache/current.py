"""What today's checkout refers to: the cache entries a build, test-dist or a cross test of it
would use. Everything else is stale: made by an older checkout, a lock refresh or a target
that is gone.

Step artifacts are current when some target, Python and options of targets.yml plans them
today (the keys are computed, nothing is built); images when today's inputs give their tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..linux.images.build import (
    IMAGE_PREFIX,
    planned_build_image,
    rootfs_dir_name,
    rootfs_specs,
    runtime_rootfs_spec,
)
from ..linux.images.lock import LOCK_PATH, ImageLock, read_lock
from ..linux.images.packages import record_path
from ..linux.plan import BuildRequest, build_epochs, make_plan
from ..options import IMPLEMENTED, parse_options
from ..registry import load_registry
from ..targets import HOST_DEBIAN_ARCH, load_targets


@dataclass
class CurrentReferences:
    sources: set[str] = field(default_factory=set)  # file names under <cache>/sources
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact file name -> target
    images: set[str] = field(default_factory=set)  # build and sysroot image tags
    lock: ImageLock | None = None

    def image_is_current(self, tag: str) -> bool:
        """A build image or sysroot of some target, or a plain system of some suite
        (``base-<suite>[-<arch>]``: a build's base image, or test-dist's) as made today."""
        if tag in self.images:
            return True
        name = tag.rpartition(":")[0].rpartition("/")[2]
        if not tag.startswith(f"{IMAGE_PREFIX}/") or not name.startswith("base-"):
            return False
        suite, _, arch = name.removeprefix("base-").partition("-")
        return runtime_rootfs_spec(suite, self.lock, arch or HOST_DEBIAN_ARCH).tag == tag

    def rootfs_is_current(self, dirname: str) -> bool:
        """A directory under <cache>/rootfs (``rootfs_dir_name`` of its image tag)."""
        tag = _tag_of(dirname.removeprefix(f"{IMAGE_PREFIX}_"))
        return rootfs_dir_name(tag) == dirname and self.image_is_current(tag)

    def record_is_current(self, filename: str) -> bool:
        """A package list under <cache>/images (``record_path`` of its image tag)."""
        tag = _tag_of(filename.removesuffix(".tsv"))
        return record_path(Path(), tag).name == filename and self.image_is_current(tag)


def _tag_of(stem: str) -> str:
    """The image tag whose file names end in ``<image name>-<hash>``."""
    image, _, digest = stem.rpartition("-")
    return f"{IMAGE_PREFIX}/{image}:{digest}"


def current_references() -> CurrentReferences:
    """Plan every target x Python x options of targets.yml (with and without a build
    interpreter) as a build of this checkout would."""
    registry = load_registry()
    lock = read_lock() if LOCK_PATH.is_file() else None
    tag, epoch, build_epoch = build_epochs()
    refs = CurrentReferences(
        sources={source.filename for source in registry.sources.values()}, lock=lock
    )
    for target in load_targets().values():
        image = planned_build_image(target, lock).tag
        refs.images.add(image)
        refs.images.update(spec.tag for spec in rootfs_specs(target, lock))
        for python in target.pythons:
            for name in sorted(IMPLEMENTED):
                options = parse_options(name)
                if target.refusal(options) is not None:
                    continue
                for runs_target_code in (True, False):
                    request = BuildRequest(
                        target, python, options, tag, epoch, build_epoch,
                        runs_target_code=runs_target_code,
                    )  # fmt: skip
                    for step in make_plan(request, registry, image).steps:
                        refs.artifacts[step.artifact_name] = target.triple
    return refs
