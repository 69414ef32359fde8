"""A distribution archive under test: what it is, its PYTHON.json, and a fresh extraction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..distribution.archive import archive_name, extract_archive, read_leading_member
from ..errors import BuildError, UsageError

FULL_SUFFIX = "-full.tar.zst"
INSTALL_ONLY_SUFFIX = ".tar.gz"
_FULL_NAME = re.compile(
    r"cpython-(?P<version>[^+-]+)\+(?P<tag>[^-]+)-(?P<triple>.+)-(?P<options>[^-]+)-full\.tar\.zst"
)


@dataclass(frozen=True)
class Distribution:
    archive: Path
    metadata: dict  # PYTHON.json
    full: bool  # a full archive (PYTHON.json, install/, build/, licenses/) or install_only

    @property
    def python_minor(self) -> str:
        return str(self.metadata["python_major_minor_version"])

    @property
    def target(self) -> str:
        return str(self.metadata["target_triple"])

    @property
    def options(self) -> str:
        return str(self.metadata["build_options"])

    @property
    def label(self) -> str:
        return self.archive.name

    def install_dir(self, extracted: Path) -> Path:
        """Where the installation (bin/, lib/) is below the directory it was extracted into."""
        return extracted / "python" / "install" if self.full else extracted / "python"

    def python(self, extracted: Path) -> Path:
        return self.install_dir(extracted) / "bin" / "python3"


def read_metadata_from_full(archive: Path) -> dict:
    """PYTHON.json of a full archive: its first member (only the start is read)."""
    first, raw = read_leading_member(archive, "python/PYTHON.json")
    if raw is None:
        found = f"its first member is {first!r}" if first else "it has no members"
        raise BuildError(f"{archive}: no python/PYTHON.json ({found}); is it a full archive?")
    try:
        metadata = json.loads(raw)
    except ValueError as exc:
        raise BuildError(f"{archive}: python/PYTHON.json is not valid JSON ({exc})") from None
    for key in ("python_major_minor_version", "target_triple", "build_options", "python_version"):
        if key not in metadata:
            raise BuildError(f"{archive}: PYTHON.json has no {key!r}")
    return metadata


def full_archive_for(install_only: Path) -> Path | None:
    """The full archive of the same build next to an install_only archive, if there is one.

    install_only names drop the options of pgo+lto builds; compute each candidate's
    install_only name (the same function the build uses) and compare, instead of parsing ours.
    """
    for candidate in sorted(install_only.parent.glob("cpython-*" + FULL_SUFFIX)):
        match = _FULL_NAME.fullmatch(candidate.name)
        if not match:
            continue
        for flavor in ("install_only", "install_only_stripped"):
            name = archive_name(
                python_version=match["version"],
                release_tag=match["tag"],
                triple=match["triple"],
                options=match["options"],
                flavor=flavor,
            )
            if name == install_only.name:
                return candidate
    return None


def inspect_archive(archive: Path) -> Distribution:
    """Check the archive is one of ours and find its PYTHON.json, without extracting it."""
    if not archive.is_file():
        raise UsageError(f"{archive}: no such file")
    if archive.name.endswith(FULL_SUFFIX):
        return Distribution(archive, read_metadata_from_full(archive), full=True)
    if archive.name.endswith(INSTALL_ONLY_SUFFIX):
        full = full_archive_for(archive)
        if full is None:
            raise BuildError(
                f"{archive}: no PYTHON.json: install_only archives carry none, and the full "
                "archive of the same build is not next to it; put it there or test that one"
            )
        return Distribution(archive, read_metadata_from_full(full), full=False)
    raise UsageError(
        f"{archive}: not a distribution archive (expected *{FULL_SUFFIX} or *-install_only{INSTALL_ONLY_SUFFIX})"
    )


def extract(dist: Distribution, dest: Path) -> Path:
    """Extract into the new directory ``dest``; returns the installation directory."""
    extract_archive(dist.archive, dest)
    install = dist.install_dir(dest)
    if not dist.python(dest).exists():
        raise BuildError(f"{dist.archive}: no {dist.python(dest).relative_to(dest)} in the archive")
    return install
