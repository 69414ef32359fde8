"""Recorded training profiles of pgo builds: written beside the archives, passed back in.

A pgo build trains the interpreter it builds, and training is the one step whose output varies
from run to run (timing-dependent code paths change the counts). The build therefore exports
what training produced, the merged clang profile and, with BOLT, the merged BOLT profile, as
``<archive stem>-profile.tar.zst`` in ``dist/``. ``build-linux.py --pgo-profile FILE`` skips
both training runs and uses that profile instead, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

from ..distribution.archive import write_distribution_archive
from ..errors import BuildError, UsageError

CLANG_PROFILE = "code.profclangd"  # CPython's name for the merged llvm-profdata output
BOLT_PROFILE = "python.fdata"  # merge-fdata output for the python executable
PROFILE_MEMBERS = (CLANG_PROFILE, BOLT_PROFILE)
ARTIFACT_DIR = "profile"  # where build-cpython.sh puts them in the CPython step's /out
BUNDLE_TOP = "profile"


def bundle_name(full_archive_name: str) -> str:
    """``cpython-...-pgo+lto-full.tar.zst`` -> ``cpython-...-pgo+lto-profile.tar.zst``."""
    suffix = "-full.tar.zst"
    if not full_archive_name.endswith(suffix):
        raise ValueError(f"{full_archive_name!r} is not a full archive name")
    return full_archive_name[: -len(suffix)] + "-profile.tar.zst"


@dataclass(frozen=True)
class RecordedProfile:
    """A profile bundle given on the command line, checked and read into memory."""

    path: Path
    sha256: str  # of the bundle file: part of the CPython step's cache key
    members: dict[str, bytes]

    @property
    def has_bolt_profile(self) -> bool:
        return BOLT_PROFILE in self.members

    def as_tar(self) -> bytes:
        """The profiles as an uncompressed tar for the build container (``/inputs``)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.members):
                info = tarfile.TarInfo(name)
                info.size = len(self.members[name])
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(self.members[name]))
        return buffer.getvalue()


def read_bundle(path: Path) -> RecordedProfile:
    """Read a ``*-profile.tar.zst``; a UsageError names what is wrong with it."""
    hint = "pass the *-profile.tar.zst that a pgo build wrote into dist/"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--pgo-profile {path}: {exc.strerror or exc}") from None
    members: dict[str, bytes] = {}
    try:
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                name = member.name.removeprefix(f"{BUNDLE_TOP}/")
                if member.isdir():
                    continue
                if not member.isfile() or name not in PROFILE_MEMBERS:
                    raise UsageError(
                        f"--pgo-profile {path}: unexpected member {member.name!r}; {hint}"
                    )
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular file
                members[name] = extracted.read()
    except (zstandard.ZstdError, tarfile.TarError, EOFError) as exc:
        raise UsageError(f"--pgo-profile {path}: not a readable .tar.zst ({exc}); {hint}") from None
    if CLANG_PROFILE not in members:
        raise UsageError(f"--pgo-profile {path}: it has no {CLANG_PROFILE}; {hint}")
    return RecordedProfile(path, hashlib.sha256(data).hexdigest(), members)


def artifact_profiles(cpython_artifact: Path) -> dict[str, bytes]:
    """The profiles the CPython step left in its artifact (none: the build did not train)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(cpython_artifact) as tar:
            for name in PROFILE_MEMBERS:
                try:
                    extracted = tar.extractfile(f"{ARTIFACT_DIR}/{name}")
                except KeyError:
                    continue
                if extracted is not None:
                    found[name] = extracted.read()
    except (OSError, tarfile.TarError) as exc:
        raise BuildError(f"cannot read {cpython_artifact}: {exc}") from None
    return found


def _pack_bundle(profiles: dict[str, bytes], dest: Path, mtime: int) -> Path:
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        for name, content in profiles.items():
            (Path(tmp) / name).write_bytes(content)
        return write_distribution_archive(Path(tmp), dest, top=BUNDLE_TOP, mtime=mtime)


def export_profiles(
    cpython_artifact: Path, replayed: RecordedProfile | None, dest: Path, mtime: int
) -> Path | None:
    """The bundle a pgo build puts beside its archive; None when there is nothing to put.

    A build that replayed everything it needed gets the replayed file itself, byte for byte,
    so the bundle beside the archive is the one its inputs record names (packing the same
    profiles again would give another sha256). A build that trained anything (all of it, or
    BOLT after a replayed clang profile) gets a new bundle of what its artifact holds.
    """
    found = artifact_profiles(cpython_artifact)
    if replayed is not None and found == replayed.members:
        return _copy_bundle(replayed, dest)
    if not found:
        return None
    return _pack_bundle(found, dest, mtime)


def _copy_bundle(profile: RecordedProfile, dest: Path) -> Path:
    data = profile.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != profile.sha256:
        raise BuildError(f"--pgo-profile {profile.path} changed while the build ran")
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(data)
    partial.replace(dest)
    return dest
