#!/usr/bin/env python3
"""Fill the original code of the functions llvm-bolt moved with int3, so it compresses away.

    bolt-fill-moved.py PREBOLT BOLTED

llvm-bolt writes the functions it optimizes to a new text segment and keeps the whole original
one in the output as `.bolt.org.text`: loaded, so `strip` cannot remove it, and for python 14 MB
of the executable. Most of it is dead: the old bodies of functions that now live elsewhere, every
reference to them rewritten from the `--emit-relocs` relocations. What still runs there are the
functions BOLT left in place (the assembly ones it is told to skip, those it cannot rewrite).

A function's old body is dead when its symbol (matched by name, see pair_symbols) now points
outside `.bolt.org.text`. Those bytes become
0xcc (int3): the file and its mapped size stay the same, a stray jump into them traps at once
instead of running stale code, and the archive's compressor reduces them to almost nothing.
Any symbol still inside `.bolt.org.text` keeps its bytes (with its size, or the whole dead range
it falls in when it has none), aliases of moved functions included.

This runs in the build container, whose Python has no ELF library; the ELF64 little-endian
headers it reads are few and fixed (x86_64 is the one target built with BOLT).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import NamedTuple

ORIGINAL_TEXT = ".bolt.org.text"
SHT_SYMTAB = 2
STT_FUNC = 2
FILL = b"\xcc"


class Symbol(NamedTuple):
    name: str
    kind: int  # st_info's type
    section: int
    value: int
    size: int


@dataclass(frozen=True)
class Section:
    name: str
    address: int
    offset: int
    size: int

    def holds(self, address: int) -> bool:
        return self.address <= address < self.address + self.size


@dataclass(frozen=True)
class Elf:
    sections: list[Section]
    symbols: list[Symbol]

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


def read_elf(data: bytes) -> Elf:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    names = headers[shstrndx]

    def string(table_offset: int, at: int) -> str:
        end = data.index(b"\0", table_offset + at)
        return data[table_offset + at : end].decode("utf-8", "surrogateescape")

    sections = [
        Section(string(names[4], h[0]), h[3], h[4], h[5]) for h in headers
    ]
    symbols: list[Symbol] = []
    for h in headers:
        if h[1] != SHT_SYMTAB:
            continue
        strtab = headers[h[6]][4]
        for at in range(h[4], h[4] + h[5], 24):
            name, info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", data, at)
            symbols.append(Symbol(string(strtab, name), info & 0xF, shndx, value, size))
    return Elf(sections, symbols)


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(ranges: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result = []
    for start, end in ranges:
        pieces = [(start, end)]
        for hole_start, hole_end in holes:
            pieces = [
                piece
                for s, e in pieces
                for piece in ((s, min(e, hole_start)), (max(s, hole_end), e))
                if piece[0] < piece[1]
            ]
        result.extend(pieces)
    return result


def pair_symbols(prebolt: Elf, bolted: Elf) -> list[tuple[Symbol, Symbol]]:
    """Each original symbol with its entry in the bolted table, by name. llvm-bolt keeps the
    entries in their order but drops some (section symbols) and adds others (split functions'
    fragments), so indexes do not line up; a name's k-th entry in one table is its k-th in the
    other (static functions share names across files). A name with a different number of
    entries in the two tables is left out: such functions are never filled."""
    before: dict[str, list[Symbol]] = {}
    after: dict[str, list[Symbol]] = {}
    for table, symbols in ((before, prebolt.symbols), (after, bolted.symbols)):
        for symbol in symbols:
            if symbol.name:
                table.setdefault(symbol.name, []).append(symbol)
    pairs = []
    for name, originals in before.items():
        rewritten = after.get(name, [])
        if len(rewritten) == len(originals):
            pairs.extend(zip(originals, rewritten, strict=True))
    return pairs


def dead_ranges(prebolt: Elf, bolted: Elf) -> list[tuple[int, int]]:
    """Address ranges of `.bolt.org.text` that nothing in the bolted program points into."""
    original = bolted.section(ORIGINAL_TEXT)
    if original is None:
        return []
    moved = [
        (before.value, before.value + before.size)
        for before, after in pair_symbols(prebolt, bolted)
        if before.kind == STT_FUNC
        and before.size
        and original.holds(before.value)
        and not original.holds(after.value)
    ]
    dead = merge(moved)
    staying = [s for s in bolted.symbols if s.section and original.holds(s.value)]
    # A symbol without a size that sits in a dead range keeps that whole range: its extent is
    # unknown.
    unsized = [s.value for s in staying if not s.size]
    dead = [(a, b) for a, b in dead if not any(a <= v < b for v in unsized)]
    return subtract(dead, merge([(s.value, s.value + s.size) for s in staying if s.size]))


def fill(prebolt_path: str, bolted_path: str) -> tuple[int, int, int]:
    with open(prebolt_path, "rb") as f:
        prebolt = read_elf(f.read())
    with open(bolted_path, "rb") as f:
        data = bytearray(f.read())
    bolted = read_elf(bytes(data))
    original = bolted.section(ORIGINAL_TEXT)
    if original is None:
        return 0, 0, 0
    ranges = dead_ranges(prebolt, bolted)
    for start, end in ranges:
        offset = original.offset + (start - original.address)
        data[offset : offset + (end - start)] = FILL * (end - start)
    with open(bolted_path, "r+b") as f:
        f.write(data)
    staying = sum(1 for s in bolted.symbols if s.kind == STT_FUNC and original.holds(s.value))
    return sum(b - a for a, b in ranges), original.size, staying


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    filled, total, staying = fill(argv[1], argv[2])
    if not total:
        print(f"{argv[2]}: no {ORIGINAL_TEXT}: nothing to fill")
        return 0
    print(
        f"{argv[2]}: filled {filled / 1e6:.2f} MB of {ORIGINAL_TEXT}'s {total / 1e6:.2f} MB "
        f"with int3 (moved functions' old code); {staying} functions stay in it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
