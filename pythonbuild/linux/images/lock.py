"""The Debian package versions the build's images are made of: ``cpython-unix/image-packages.lock``.

debootstrap and apt install whatever the mirror offers on the day, so the lock names, per image,
every package the image must hold with its exact version and architecture.  Each image's tag
hashes its own section (a lock change makes new images, and so new cache keys); the build image
asks apt for its packages at the locked versions; and a newly made image whose packages differ
from its section is not kept (``build.py``).  ``python -m pythonbuild lock-images`` rewrites the
lock from images made afresh (``cli.py``).

Format: comment lines (``#``) and blank lines are ignored; ``[section]`` starts a section
(``base-<suite>``, ``sysroot-<suite>``, ``build``); every other line is
``package version architecture``, sorted by package name, one line per package.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ...errors import BuildError
from ...paths import ROOT, UNIX_DIR
from ...sbom.toolchain import DebianPackage

LOCK_PATH = UNIX_DIR / "image-packages.lock"
DEFAULT_TARGET = "x86_64-unknown-linux-gnu"  # lock-images' default --target
SHOWN_DIFFERENCES = 5  # how many differing packages a mismatch names

Packages = tuple[DebianPackage, ...]

HEADER = """\
# Debian packages of the build's container images, with their exact versions: one section per
# image, one "package version architecture" line per installed package, sorted by name.
#   [base-<suite>]     the debootstrap minbase rootfs the build image starts from
#   [sysroot-<suite>]  the rootfs the target links against (before it is pruned to headers/libs)
#   [build]            the build image: the base plus clang/lld/llvm and the build tools
# Each image's tag hashes its own section; the build image asks apt for its packages at these
# versions, and an image whose packages differ from its section is not kept.
#
# Generated; do not edit. When a build says the Debian mirror has moved on, refresh it from the
# mirror in this host's apt configuration with
#     python3 -m pythonbuild lock-images --target <triple>
# (it makes the images afresh and writes what they hold), then commit this file.
"""

_SECTION = re.compile(r"\[([a-z0-9][a-z0-9.+-]*)\]")
_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]*")
_VERSION = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~-]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")


def lock_name(path: Path = LOCK_PATH) -> str:
    """The lock's path as people know it (relative to the project when it is inside)."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def refresh_command(triple: str | None = None) -> str:
    return "python3 -m pythonbuild lock-images" + (f" --target {triple}" if triple else "")


def refresh_hint(triple: str | None = None) -> str:
    return f"refresh the lock with `{refresh_command(triple)}` and commit it"


@dataclass(frozen=True)
class ImageLock:
    sections: Mapping[str, Packages]  # section name -> packages sorted by name

    def section(self, name: str) -> Packages | None:
        return self.sections.get(name)

    def require(self, name: str, triple: str | None = None) -> Packages:
        """The packages of section ``name``; a missing section is an error that says the fix."""
        packages = self.section(name)
        if packages is None:
            raise BuildError(f"{lock_name()} has no [{name}] section; {refresh_hint(triple)}")
        return packages

    def replaced(self, sections: Mapping[str, Iterable[DebianPackage]]) -> ImageLock:
        """This lock with ``sections`` added or replaced (other sections are kept)."""
        merged = dict(self.sections)
        merged.update(
            {name: _checked_section(name, packages) for name, packages in sections.items()}
        )
        return ImageLock(merged)


def _checked_section(name: str, packages: Iterable[DebianPackage]) -> Packages:
    ordered = tuple(sorted(packages))
    names = [p.name for p in ordered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BuildError(
            f"[{name}] would list {', '.join(duplicates)} more than once (several architectures "
            "installed?); the lock holds one version per package"
        )
    for package in ordered:
        _check_fields(package, f"[{name}] {package.name}")
    return ordered


def _check_fields(package: DebianPackage, where: str) -> None:
    for pattern, value, what in (
        (_NAME, package.name, "package name"),
        (_VERSION, package.version, "version"),
        (_ARCH, package.architecture, "architecture"),
    ):
        if not pattern.fullmatch(value):
            raise BuildError(f"{where}: {value!r} is not a Debian {what}")


def format_section(packages: Iterable[DebianPackage]) -> str:
    """A section's package lines (what an image's tag hashes)."""
    return "".join(f"{p.name} {p.version} {p.architecture}\n" for p in sorted(packages))


def format_lock(lock: ImageLock) -> str:
    parts = [HEADER]
    for name in sorted(lock.sections):
        parts.append(f"\n[{name}]\n{format_section(lock.sections[name])}")
    return "".join(parts)


def parse_lock(text: str, source: str = "image-packages.lock") -> ImageLock:
    sections: dict[str, list[DebianPackage]] = {}
    current: list[DebianPackage] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source} line {number}"
        if section := _SECTION.fullmatch(line):
            if section[1] in sections:
                raise BuildError(f"{where}: [{section[1]}] appears twice")
            current = sections[section[1]] = []
            continue
        fields = line.split()
        if current is None:
            raise BuildError(f"{where}: a package line before the first [section]")
        if len(fields) != 3:
            raise BuildError(f"{where}: expected 'package version architecture', got {line!r}")
        package = DebianPackage(*fields)
        _check_fields(package, where)
        if current and current[-1].name >= package.name:
            raise BuildError(f"{where}: {package.name} is out of order or repeated")
        current.append(package)
    return ImageLock({name: tuple(packages) for name, packages in sections.items()})


def read_lock(path: Path = LOCK_PATH) -> ImageLock:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildError(
            f"{lock_name(path)} is missing; restore it from git, or write it with "
            f"`{refresh_command()}`"
        ) from None
    return parse_lock(text, lock_name(path))


def write_lock(lock: ImageLock, path: Path = LOCK_PATH) -> None:
    """Write the lock whole or not at all: a temporary file beside it, renamed over it."""
    text = format_lock(lock)
    parse_lock(text)  # what we write must read back
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# An image against its section


@dataclass(frozen=True)
class Difference:
    name: str
    locked: DebianPackage | None  # None: installed but not in the lock
    installed: DebianPackage | None  # None: in the lock but not installed

    def describe(self) -> str:
        if self.installed is None:
            assert self.locked is not None
            return f"{self.name} missing (locked {self.locked.version})"
        if self.locked is None:
            return f"{self.name} added ({self.installed.version})"
        if self.locked.architecture != self.installed.architecture:
            return (
                f"{self.name} {self.locked.version} {self.locked.architecture} → "
                f"{self.installed.version} {self.installed.architecture}"
            )
        return f"{self.name} {self.locked.version} → {self.installed.version}"


def diff_packages(
    locked: Iterable[DebianPackage], installed: Iterable[DebianPackage]
) -> list[Difference]:
    """How ``installed`` differs from ``locked``, by package name."""
    want = {p.name: p for p in locked}
    have = {p.name: p for p in installed}
    return [
        Difference(name, want.get(name), have.get(name))
        for name in sorted(want.keys() | have.keys())
        if want.get(name) != have.get(name)
    ]


def mismatch_message(
    image: str, section: str, differences: list[Difference], triple: str | None = None
) -> str:
    shown = ", ".join(d.describe() for d in differences[:SHOWN_DIFFERENCES])
    more = len(differences) - SHOWN_DIFFERENCES
    if more > 0:
        shown += f" and {more} more"
    return (
        f"image {image} is not what [{section}] of {lock_name()} locks, so it was not kept: "
        f"{len(differences)} package(s) differ: {shown}; the Debian mirror has moved on since "
        f"the lock was written: {refresh_hint(triple)}"
    )


class ImageMismatch(BuildError):
    """A newly made image holds other packages than its lock section."""


def check_packages(
    image: str,
    section: str,
    locked: Packages,
    installed: Iterable[DebianPackage],
    triple: str | None = None,
) -> None:
    differences = diff_packages(locked, installed)
    if differences:
        raise ImageMismatch(mismatch_message(image, section, differences, triple))


# ---------------------------------------------------------------------------------------------
# apt refusing a pinned version

_APT_VERSION_GONE = re.compile(r"E: Version '([^']+)' for '([^']+)' was not found")
_APT_NO_PACKAGE = re.compile(r"E: Unable to locate package (\S+)")
_APT_UNMET = re.compile(r"^\s*(\S+) : ((?:Pre)?Depends: .*?)\s*$", re.MULTILINE)
_TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # apt colours "E:" even in a build log


def explain_apt_failure(log_text: str) -> str | None:
    """What apt could not do with the pinned packages, in a few words (None: not an apt pin
    failure, e.g. the network)."""
    log_text = _TERMINAL_COLOURS.sub("", log_text)
    if match := _APT_VERSION_GONE.search(log_text):
        return f"the Debian mirror no longer has {match[2]} {match[1]}"
    if match := _APT_NO_PACKAGE.search(log_text):
        return f"the Debian mirror has no package {match[1]}"
    if "unmet dependencies" in log_text and (match := _APT_UNMET.search(log_text)):
        return f"apt cannot install the locked {match[1]}: {match[2]}"
    return None


def pinned_install_message(
    image: str, section: str, what: str, logfile: Path, triple: str | None = None
) -> str:
    return (
        f"building image {image} failed: {what} (locked in [{section}] of {lock_name()}); "
        f"{refresh_hint(triple)} (log: {logfile})"
    )
