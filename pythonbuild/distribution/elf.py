"""ELF facts about a distribution: libraries it needs, run paths, newest GLIBC symbol version,
the hardening the linker recorded, and the dynamic symbols it exports and imports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

from ..versions import version_tuple

_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")

# Flag bits of the ELF gABI (DT_FLAGS, DT_FLAGS_1, p_flags).
DF_TEXTREL = 0x4
DF_BIND_NOW = 0x8
DF_1_NOW = 0x1
PF_X = 0x1
SHF_EXECINSTR = 0x4
_X86_CALL = re.compile(b"\xe8")  # call rel32
_ARM64_BL_MASK, _ARM64_BL = 0xFC000000, 0x94000000  # bl imm26


@dataclass
class ElfInfo:
    path: Path
    machine: str
    elfclass: int
    elf_type: str = "ET_NONE"  # ET_EXEC, ET_DYN (shared objects and PIEs), ET_REL (objects)
    byte_order: str = "little"  # or "big" (s390x): EI_DATA of the file's identification
    needed: list[str] = field(default_factory=list)
    runpaths: list[str] = field(default_factory=list)
    glibc_versions: set[str] = field(default_factory=set)
    # Program headers; None when the file has no such header.
    interpreter: str | None = None  # PT_INTERP: the loader an executable asks for
    gnu_stack_flags: int | None = None
    has_relro: bool = False
    # Dynamic section.
    bind_now: bool = False  # DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW
    textrel: bool = False  # DT_TEXTREL or DF_TEXTREL: relocations that write to code pages
    # Dynamic symbols: defined ones other objects can bind to, and undefined ones it binds to.
    exported: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)
    # Imports the loader must resolve (not weak) that name no symbol version: on glibc, what
    # no linked library (no stub of the floor's glibc) defined when the file was linked.
    unversioned_imports: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        """Machine, class and byte order, as elf-machines.yml says them for a CPU."""
        return f"{self.machine} ELF{self.elfclass} {self.byte_order}-endian"

    @property
    def executable_stack(self) -> bool:
        """Without PT_GNU_STACK the loader gives the process an executable stack."""
        return self.gnu_stack_flags is None or bool(self.gnu_stack_flags & PF_X)


ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def _byte_order(elf: ELFFile) -> str:
    return "little" if elf.little_endian else "big"


def read_elf_header(path: Path) -> ElfInfo:
    """Only the file header: machine, class and type (cheap; for object files)."""
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        return ElfInfo(path, elf["e_machine"], elf.elfclass, elf["e_type"], _byte_order(elf))


def read_interpreter(path: Path) -> str | None:
    """The loader an executable asks for (PT_INTERP); None for a file without one."""
    with path.open("rb") as handle:
        for segment in ELFFile(handle).iter_segments():
            if segment["p_type"] == "PT_INTERP":
                return segment.get_interp_name()
    return None


def read_elf(path: Path) -> ElfInfo:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        info = ElfInfo(path, elf["e_machine"], elf.elfclass, elf["e_type"], _byte_order(elf))
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_GNU_STACK":
                info.gnu_stack_flags = segment["p_flags"]
            elif segment["p_type"] == "PT_INTERP":
                info.interpreter = segment.get_interp_name()
            elif segment["p_type"] == "PT_GNU_RELRO":
                info.has_relro = True
        versions: GNUVerSymSection | None = None
        dynsym: SymbolTableSection | None = None
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                _read_dynamic(section, info)
            elif isinstance(section, GNUVerSymSection):
                versions = section
            elif isinstance(section, GNUVerNeedSection):
                for _verneed, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        match = _GLIBC.match(aux.name)
                        if match:
                            info.glibc_versions.add(match.group(1))
            elif isinstance(section, SymbolTableSection) and section["sh_type"] == "SHT_DYNSYM":
                dynsym = section
        if dynsym is not None:  # (read once all sections are seen: it needs .gnu.version)
            _read_dynamic_symbols(dynsym, versions, info)
    return info


# .gnu.version indexes that name no version: local, and global (the base definition).
_NO_VERSION = {"VER_NDX_LOCAL", "VER_NDX_GLOBAL", 0, 1}


def _read_dynamic(section: DynamicSection, info: ElfInfo) -> None:
    for tag in section.iter_tags():
        kind = tag.entry.d_tag
        if kind == "DT_NEEDED":
            info.needed.append(tag.needed)
        elif kind == "DT_RPATH":
            info.runpaths.append(tag.rpath)
        elif kind == "DT_RUNPATH":
            info.runpaths.append(tag.runpath)
        elif kind == "DT_BIND_NOW":
            info.bind_now = True
        elif kind == "DT_TEXTREL":
            info.textrel = True
        elif kind == "DT_FLAGS":
            info.bind_now |= bool(tag.entry.d_val & DF_BIND_NOW)
            info.textrel |= bool(tag.entry.d_val & DF_TEXTREL)
        elif kind == "DT_FLAGS_1":
            info.bind_now |= bool(tag.entry.d_val & DF_1_NOW)


def _read_dynamic_symbols(
    section: SymbolTableSection, versions: GNUVerSymSection | None, info: ElfInfo
) -> None:
    for index, symbol in enumerate(section.iter_symbols()):
        if not symbol.name or symbol["st_info"]["bind"] not in ("STB_GLOBAL", "STB_WEAK"):
            continue
        if symbol["st_shndx"] == "SHN_UNDEF":
            info.imported.add(symbol.name)
            if symbol["st_info"]["bind"] == "STB_GLOBAL" and (
                versions is None or versions.get_symbol(index)["ndx"] in _NO_VERSION
            ):
                info.unversioned_imports.add(symbol.name)
        elif symbol["st_other"]["visibility"] in ("STV_DEFAULT", "STV_PROTECTED"):
            info.exported.add(symbol.name)


def count_direct_calls(path: Path, symbol: str) -> int | None:
    """How many direct calls (x86_64 ``call rel32``, aarch64 ``bl``) the code of ``path`` makes
    to ``symbol``, which ``path`` itself defines: a statically linked program imports nothing,
    so its calls are only visible in its code. None when ``path`` has no symbol table defining
    ``symbol`` or another CPU's code. (A byte pattern that happens to decode as such a call to
    that one address is possible, and rare enough not to matter for a count.)"""
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        symtab = elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            return None
        defined = [
            s for s in symtab.get_symbol_by_name(symbol) or [] if s["st_shndx"] != "SHN_UNDEF"
        ]
        if not defined or elf["e_machine"] not in ("EM_X86_64", "EM_AARCH64"):
            return None
        target = defined[0]["st_value"]
        count = 0
        for section in elf.iter_sections():
            if section["sh_type"] != "SHT_PROGBITS" or not section["sh_flags"] & SHF_EXECINSTR:
                continue
            code, base = section.data(), section["sh_addr"]
            if elf["e_machine"] == "EM_X86_64":
                for match in _X86_CALL.finditer(code):
                    at = match.start()
                    offset = int.from_bytes(code[at + 1 : at + 5], "little", signed=True)
                    count += at + 5 <= len(code) and base + at + 5 + offset == target
            else:
                words = memoryview(code)[: len(code) // 4 * 4].cast("I")
                for index, word in enumerate(words):
                    if word & _ARM64_BL_MASK == _ARM64_BL:
                        offset = word & 0x03FFFFFF
                        offset -= (offset & 0x02000000) << 1  # sign of the 26-bit field
                        count += base + 4 * index + 4 * offset == target
        return count


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
