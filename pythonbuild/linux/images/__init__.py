"""The systems a Linux build's containers run: base and sysroot images made by debootstrap, and
the build image with the tool chain, each pinned by ``cpython-unix/image-packages.lock``.

- ``build``: making the images (debootstrap, ``docker import``, the build image's Dockerfile)
  and their tags, which hash their inputs;
- ``lock``: reading, writing and checking ``cpython-unix/image-packages.lock``;
- ``packages``: what each image holds, recorded beside the cache for the SBOMs;
- ``cli``: ``python -m pythonbuild lock-images``, which rewrites the lock.

A build enters here once: ``images_for`` reads the lock and returns the ``BuildImages`` that
answer everything the driver asks of its images, so the lock it planned with is the one its
images are made, leased and described from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import BuildError
from ...sbom.toolchain import ImagePackages
from ...targets import Target
from ..engine import Engine
from .build import (
    LLVM_VERSION,
    BuildImage,
    RootfsSpec,
    ensure_build_image,
    planned_build_image,
    recorded_image_packages,
    rootfs_specs,
)
from .lock import ImageLock, read_lock
from .packages import RECORDS_DIR, record_image_packages, record_path, records_dir

__all__ = ["LLVM_VERSION", "BuildImages", "images_for"]


@dataclass(frozen=True)
class BuildImages:
    """The images one build of ``target`` runs in and links against, pinned by ``lock``."""

    target: Target
    lock: ImageLock
    records: Path  # the images' recorded package lists (<cache>/images)
    base: RootfsSpec
    sysroot: RootfsSpec
    build: BuildImage  # its tag and Dockerfile, known from the inputs alone

    @property
    def tags(self) -> list[str]:
        """The build image's tag, then the base's and the sysroot's."""
        return [self.build.tag, self.base.tag, self.sysroot.tag]

    @property
    def record_names(self) -> list[str]:
        """Each image's package record, as a path below the cache directory."""
        return [f"{RECORDS_DIR}/{record_path(Path(), tag).name}" for tag in self.tags]

    def ensure(self, engine: Engine, logs: Path) -> BuildImage:
        """Make (or find) every image, recording the packages of each one made."""
        image = ensure_build_image(engine, self.target, logs, self.records, self.lock)
        if image.tag != self.build.tag:
            raise BuildError(
                f"the build image came out as {image.tag}, the plan expected {self.build.tag}; "
                "this is a bug in pythonbuild/linux/images/build.py"
            )
        return image

    @property
    def build_image_recorded(self) -> bool:
        return record_path(self.records, self.build.tag).is_file()

    def record_build_image(self, engine: Engine) -> None:
        """Record the packages of a build image made before recording existed."""
        record_image_packages(engine, self.records, self.build.tag)

    def packages(self) -> list[ImagePackages]:
        """The build and sysroot images' packages as recorded, else as locked (no engine)."""
        return recorded_image_packages(self.target, self.records, self.lock)


def images_for(target: Target, cache_dir: Path) -> BuildImages:
    """The images of a build of ``target`` whose cache is ``cache_dir``; reads the lock."""
    lock = read_lock()
    base, sysroot = rootfs_specs(target, lock)
    return BuildImages(
        target, lock, records_dir(cache_dir), base, sysroot, planned_build_image(target, lock)
    )
