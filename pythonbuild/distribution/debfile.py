"""Read the files of a Debian binary package (``.deb``) without dpkg.

A ``.deb`` is an ``ar`` archive whose members are ``debian-binary``, ``control.tar.*`` and
``data.tar.*``; the last holds the installed files (``./usr/...``). The registry pins a few
header-only packages this way (origin ``debian-binary``), and their license text lives in that
data archive.
"""

from __future__ import annotations

import io
import lzma
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import BuildError

AR_MAGIC = b"!<arch>\n"
_AR_HEADER_SIZE = 60
# data.tar compressions dpkg-deb writes (zstd only in Ubuntu's packages, which we never pin).
_DATA_MEMBERS = ("data.tar.xz", "data.tar.gz", "data.tar")


def ar_members(handle: BinaryIO, where: str) -> dict[str, bytes]:
    """Name -> contents of every member of the ar archive read from ``handle``."""
    if handle.read(len(AR_MAGIC)) != AR_MAGIC:
        raise BuildError(f"{where} is not a Debian package (no ar archive header)")
    members: dict[str, bytes] = {}
    while header := handle.read(_AR_HEADER_SIZE):
        if len(header) < _AR_HEADER_SIZE or header[58:60] != b"`\n":
            raise BuildError(f"{where}: truncated or corrupt ar member header")
        name = header[:16].decode("ascii", "replace").strip().removesuffix("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise BuildError(f"{where}: member {name!r} has no valid size") from None
        data = handle.read(size)
        if len(data) != size:
            raise BuildError(f"{where}: member {name!r} is truncated")
        members[name] = data
        if size % 2:
            handle.read(1)  # ar pads every member to an even offset
    return members


@contextmanager
def open_deb_data(path: Path) -> Iterator[tarfile.TarFile]:
    """The ``data.tar.*`` of the package at ``path``, opened as a tar archive."""
    try:
        with path.open("rb") as handle:
            members = ar_members(handle, path.name)
    except OSError as exc:
        raise BuildError(f"cannot read {path}: {exc.strerror}") from None
    name = next((n for n in _DATA_MEMBERS if n in members), None)
    if name is None:
        found = ", ".join(sorted(members)) or "nothing"
        raise BuildError(f"{path.name} has no data.tar.xz/.gz/plain member (found {found})")
    raw = members[name]
    try:
        if name.endswith(".xz"):
            raw = lzma.decompress(raw)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
            yield archive
    except (lzma.LZMAError, tarfile.TarError) as exc:
        raise BuildError(f"{path.name}: cannot read {name}: {exc}") from None
