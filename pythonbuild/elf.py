"""ELF facts about a distribution: libraries it needs, run paths, newest GLIBC symbol version."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from .versions import version_tuple

_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")


@dataclass
class ElfInfo:
    path: Path
    machine: str
    elfclass: int
    needed: list[str] = field(default_factory=list)
    runpaths: list[str] = field(default_factory=list)
    glibc_versions: set[str] = field(default_factory=set)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        info = ElfInfo(path, elf["e_machine"], elf.elfclass)
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        info.needed.append(tag.needed)
                    elif tag.entry.d_tag == "DT_RPATH":
                        info.runpaths.append(tag.rpath)
                    elif tag.entry.d_tag == "DT_RUNPATH":
                        info.runpaths.append(tag.runpath)
            elif isinstance(section, GNUVerNeedSection):
                for _verneed, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        match = _GLIBC.match(aux.name)
                        if match:
                            info.glibc_versions.add(match.group(1))
    return info


def scan_tree(root: Path) -> list[ElfInfo]:
    """Every ELF file under ``root`` (symlinks skipped; object files and archives are not ELF
    executables or shared objects and are only read when they are plain ELF)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        try:
            found.append(read_elf(path))
        except ELFError:
            continue
    return found


def newest_glibc_version(infos: list[ElfInfo]) -> str | None:
    versions = {v for info in infos for v in info.glibc_versions}
    return max(versions, key=version_tuple) if versions else None
