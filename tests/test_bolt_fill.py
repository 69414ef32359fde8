"""cpython-unix/bolt-fill-moved.py: the original code of the functions llvm-bolt moved becomes
int3, and nothing that still runs from the old text segment is touched."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from require_tool import require_tool

from pythonbuild.paths import ROOT

SCRIPT = ROOT / "cpython-unix" / "bolt-fill-moved.py"
spec = importlib.util.spec_from_file_location("bolt_fill_moved", SCRIPT)
assert spec and spec.loader
bolt_fill = importlib.util.module_from_spec(spec)
sys.modules["bolt_fill_moved"] = bolt_fill
spec.loader.exec_module(bolt_fill)
Elf, Section, Symbol = bolt_fill.Elf, bolt_fill.Section, bolt_fill.Symbol
FUNC, NOTYPE = bolt_fill.STT_FUNC, 0

ORIGINAL = Section(".bolt.org.text", 0x1000, 0x1000, 0x1000)
NEW = Section(".text", 0x400000, 0x400000, 0x1000)


def elf(*symbols: Symbol) -> Elf:
    return Elf([ORIGINAL, NEW], list(symbols))


def test_moved_functions_are_dead_and_those_left_in_place_are_not():
    before = elf(
        Symbol("moved", FUNC, 14, 0x1000, 0x100),
        Symbol("skipped_asm", FUNC, 14, 0x1100, 0x40),
        Symbol("also_moved", FUNC, 14, 0x1140, 0x40),
    )
    after = elf(
        Symbol("moved", FUNC, 28, 0x400000, 0x90),
        Symbol("skipped_asm", FUNC, 14, 0x1100, 0x40),
        Symbol("also_moved", FUNC, 28, 0x400090, 0x40),
        Symbol("moved.cold.0", FUNC, 28, 0x400800, 0x10),  # appended by llvm-bolt
    )
    assert bolt_fill.dead_ranges(before, after) == [(0x1000, 0x1100), (0x1140, 0x1180)]


def test_an_alias_left_in_place_keeps_its_bytes():
    before = elf(Symbol("f", FUNC, 14, 0x1000, 0x100), Symbol("f_alias", FUNC, 14, 0x1000, 0x20))
    after = elf(Symbol("f", FUNC, 28, 0x400000, 0x100), Symbol("f_alias", FUNC, 14, 0x1000, 0x20))
    assert bolt_fill.dead_ranges(before, after) == [(0x1020, 0x1100)]


def test_a_label_without_size_keeps_the_whole_range_it_sits_in():
    before = elf(Symbol("f", FUNC, 14, 0x1000, 0x100), Symbol("label", NOTYPE, 14, 0x1080, 0))
    after = elf(Symbol("f", FUNC, 28, 0x400000, 0x100), Symbol("label", NOTYPE, 14, 0x1080, 0))
    assert bolt_fill.dead_ranges(before, after) == []


def test_symbols_pair_by_name_and_occurrence_not_by_index():
    """llvm-bolt drops section symbols and adds fragments; static functions share names."""
    before = elf(
        Symbol("", 3, 14, 0x1000, 0),  # a section symbol, gone after BOLT
        Symbol("dealloc", FUNC, 14, 0x1000, 0x40),  # file a.c
        Symbol("dealloc", FUNC, 14, 0x1040, 0x40),  # file b.c, left in place
        Symbol("twice_then_once", FUNC, 14, 0x1080, 0x40),
        Symbol("twice_then_once", FUNC, 14, 0x10C0, 0x40),
    )
    after = elf(
        Symbol("dealloc", FUNC, 28, 0x400000, 0x30),
        Symbol("dealloc.cold.0", FUNC, 28, 0x400800, 0x10),
        Symbol("dealloc", FUNC, 14, 0x1040, 0x40),
        Symbol("twice_then_once", FUNC, 28, 0x400100, 0x40),
    )
    # Ambiguous names are never filled.
    assert bolt_fill.dead_ranges(before, after) == [(0x1000, 0x1040)]


def test_no_original_text_nothing_to_fill():
    plain = Elf([NEW], [Symbol("f", FUNC, 28, 0x400000, 0x10)])
    assert bolt_fill.dead_ranges(plain, plain) == []


PROGRAM = r"""
#include <stdio.h>
int helper(int x) { return x * 3 + 1; }
int asm_calls_helper(int);
/* Hand-written like OpenSSL's and libffi's assembly, which the build tells llvm-bolt to skip:
   it stays in the old text and calls a function llvm-bolt moves. */
__asm__(".text\n.globl asm_calls_helper\n.type asm_calls_helper,@function\n"
        "asm_calls_helper:\n push %rbx\n call helper\n pop %rbx\n ret\n"
        ".size asm_calls_helper,.-asm_calls_helper\n");
static int (*table[])(int) = {helper, asm_calls_helper};
int main(int argc, char **argv) {
    long s = 0;
    for (int i = 0; i < 100000; i++) s += table[i & 1](i + argc);
    printf("%ld\n", s);
    return 0;
}
"""


def test_a_bolted_program_runs_the_same_after_filling(tmp_path: Path):
    bolt = require_tool("llvm-bolt-19")
    cc = require_tool("cc")
    (tmp_path / "p.c").write_text(PROGRAM)
    subprocess.run(
        [cc, "-O2", "-no-pie", "-Wl,--emit-relocs", "-o", "p", "p.c"], cwd=tmp_path, check=True
    )
    expected = subprocess.run(["./p"], cwd=tmp_path, capture_output=True, text=True, check=True)
    (tmp_path / "skip.txt").write_text("^asm_calls_helper$\n")
    subprocess.run(
        [bolt, "p", "-o", "p.bolt", "-reorder-blocks=ext-tsp", "-split-functions",
         "-skip-funcs-file=skip.txt"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    before = (tmp_path / "p.bolt").read_bytes()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "p", "p.bolt"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "1 functions stay in it" in result.stdout
    after = (tmp_path / "p.bolt").read_bytes()
    assert len(after) == len(before)
    elf_after = bolt_fill.read_elf(after)
    original = elf_after.section(".bolt.org.text")
    old_text = after[original.offset : original.offset + original.size]
    helper = next(
        s for s in bolt_fill.read_elf((tmp_path / "p").read_bytes()).symbols if s.name == "helper"
    )
    start = helper.value - original.address
    assert old_text[start : start + helper.size] == b"\xcc" * helper.size
    asm = next(s for s in elf_after.symbols if s.name == "asm_calls_helper")
    assert original.holds(asm.value)
    start = asm.value - original.address
    assert b"\xcc" not in old_text[start : start + asm.size]
    ran = subprocess.run(["./p.bolt"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert ran.stdout == expected.stdout


def test_only_builds_that_bolt_read_the_script():
    from pythonbuild.linux import plan
    from pythonbuild.options import parse_options
    from pythonbuild.registry import load_registry
    from pythonbuild.targets import get_target

    def cpython_files(triple: str, options: str) -> set[str]:
        target = get_target(triple)
        request = plan.BuildRequest(target, "3.13", parse_options(options), "20231114", 1)
        built = plan.make_plan(request, load_registry(), "img:1")
        return {path.name for path in built.step("cpython").extra_files}

    assert "bolt-fill-moved.py" in cpython_files("x86_64-unknown-linux-gnu", "pgo+lto")
    assert "bolt-fill-moved.py" not in cpython_files("x86_64-unknown-linux-gnu", "lto")
    assert "bolt-fill-moved.py" not in cpython_files("aarch64-unknown-linux-gnu", "pgo+lto")
