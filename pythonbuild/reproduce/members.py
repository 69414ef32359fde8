"""What an archive holds, member by member: the facts two archives are compared on."""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..distribution.archive import open_distribution
from ..errors import BuildError
from .record import InputsError, reading_as_inputs_error

_CHUNK = 1 << 20
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hard link",
}


@dataclass(frozen=True)
class Member:
    """One member's header facts and content hash (never its content)."""

    name: str
    position: int
    kind: str
    size: int
    mode: int
    mtime: int
    owner: str  # "uid:gid" plus names when set
    link: str  # symlink or hard link target
    sha256: str  # of the content; "" for anything but a file
    pax: tuple[tuple[str, str], ...]  # extended headers besides path and linkpath

    def header_facts(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "mode": self.mode,
            "mtime": self.mtime,
            "owner": self.owner,
            "link": self.link,
            "pax": self.pax,
        }


@dataclass(frozen=True)
class ArchiveIndex:
    path: Path
    sha256: str
    members: dict[str, Member]  # by name, in archive order


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _owner(info: tarfile.TarInfo) -> str:
    names = f" ({info.uname or '-'}/{info.gname or '-'})" if info.uname or info.gname else ""
    return f"{info.uid}:{info.gid}{names}"


def _content_sha256(tar: tarfile.TarFile, info: tarfile.TarInfo) -> str:
    handle = tar.extractfile(info)
    assert handle is not None
    digest = hashlib.sha256()
    while block := handle.read(_CHUNK):
        digest.update(block)
    return digest.hexdigest()


def _member(tar: tarfile.TarFile, info: tarfile.TarInfo, position: int) -> Member:
    is_file = info.isreg()
    # path and linkpath only say that a name was long; the name itself is compared already.
    pax = tuple(
        sorted((k, v) for k, v in info.pax_headers.items() if k not in ("path", "linkpath"))
    )
    return Member(
        name=info.name,
        position=position,
        kind=_KINDS.get(info.type, f"type {info.type!r}"),
        size=info.size if is_file else 0,
        mode=info.mode,
        mtime=int(info.mtime),
        owner=_owner(info),
        link=info.linkname if (info.issym() or info.islnk()) else "",
        sha256=_content_sha256(tar, info) if is_file else "",
        pax=pax,
    )


def check_readable(path: Path) -> None:
    if not path.is_file():
        raise InputsError(f"{path}: no such file")


def index_archive(path: Path) -> ArchiveIndex:
    """Read every member of a .tar.zst or .tar.gz once; damage is an InputsError (exit 2)."""
    check_readable(path)
    members: dict[str, Member] = {}
    with reading_as_inputs_error(path):
        with open_distribution(path) as tar:
            for position, info in enumerate(tar):
                if info.name in members:
                    raise InputsError(f"{path}: member {info.name!r} appears twice")
                members[info.name] = _member(tar, info, position)
        return ArchiveIndex(path, file_sha256(path), members)


def extract_members(path: Path, names: set[str], dest: Path) -> dict[str, Path]:
    """Copy the regular-file members ``names`` out of ``path`` into ``dest``.

    Each lands under a flat numbered name that keeps its base name (diffoscope picks a
    comparator by the name's suffix). Reading stops once all were found.
    """
    dest.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    try:
        with open_distribution(path, verify=False) as tar:
            for info in tar:
                if info.name not in names or not info.isreg():
                    continue
                out = dest / f"{len(found):04d}-{Path(info.name).name}"
                handle = tar.extractfile(info)
                assert handle is not None
                with out.open("wb") as copy:
                    while block := handle.read(_CHUNK):
                        copy.write(block)
                found[info.name] = out
                if len(found) == len(names):
                    break
    except BuildError as exc:
        raise InputsError(str(exc)) from None
    return found
