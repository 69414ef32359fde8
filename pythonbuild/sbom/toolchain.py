"""The tool chain a distribution was built with, as its SBOMs and the full archive's
``python/build/image-packages.txt`` list it: the systems the build ran in and linked against,
and their Debian packages.

A platform driver fills these in (the Linux wing from its images' recorded package lists);
the SBOM builder and assembly only read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class DebianPackage:
    name: str
    version: str = ""  # empty: not recorded
    architecture: str = ""


@dataclass(frozen=True)
class ImagePackages:
    """One image's packages: what its recipe asks for and, when recorded, what it has."""

    role: str  # "build" (the tool chain runs here) or "sysroot" (what the binaries link against)
    tag: str
    suite: str
    requested: tuple[str, ...]
    installed: tuple[DebianPackage, ...] = ()  # empty: not recorded

    @property
    def recorded(self) -> bool:
        return bool(self.installed)

    def package(self, name: str) -> DebianPackage:
        """``name`` as installed, or without a version when the image's list was not recorded."""
        found = [p for p in self.installed if p.name == name]
        return found[0] if found else DebianPackage(name)


def image_packages_text(images: list[ImagePackages]) -> str:
    """``python/build/image-packages.txt``: every image's packages, one tab-separated line each."""
    lines = ["# image\tpackage\tversion\tarchitecture (version '-': not recorded)\n"]
    for image in images:
        lines.append(f"# {image.role}: {image.tag} (Debian {image.suite})\n")
        if image.recorded:
            packages = image.installed
        else:
            lines.append(
                f"# {image.role}: installed packages not recorded (the image predates recording);"
                " the packages its recipe asks for:\n"
            )
            packages = tuple(DebianPackage(name) for name in sorted(image.requested))
        lines += [
            f"{image.role}\t{p.name}\t{p.version or '-'}\t{p.architecture or '-'}\n"
            for p in packages
        ]
    return "".join(lines)
