"""bench --instructions: instruction counts per benchmark loop under callgrind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from require_tool import require_tool

from pythonbuild.bench import benchmarks as bm
from pythonbuild.bench import cli, instructions, interpreters, runner
from pythonbuild.errors import UsageError
from pythonbuild.paths import ROOT


def _staged(tmp_path: Path) -> bm.StagedBenchmark:
    benchmark = bm.Benchmark("stdlib_zlib", "custom", tmp_path, "run_benchmark.py", ("zlib",))
    return bm.StagedBenchmark(benchmark, tmp_path / "run_benchmark.py", None)


def test_worker_runs_under_the_chroots_own_valgrind(tmp_path: Path) -> None:
    root = tmp_path / "deb"
    interp = interpreters.Interpreter("deb", "python", Path("/usr/bin/python3.13"),
                                      Path("/usr/bin/python3.13"), chroot=root)  # fmt: skip
    with pytest.raises(UsageError, match=r"has no valgrind; install it there \(chroot .*deb apt"):
        instructions.valgrind_for(interp)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/valgrind").touch()
    valgrind = instructions.valgrind_for(interp)
    contender = runner.Contender(interp, Path("/venv/bin/python"))
    cmd = instructions.worker_command(contender, _staged(tmp_path), 5, tmp_path / "o", valgrind)
    assert cmd[:5] == ["chroot", str(root), "/usr/bin/valgrind", "--tool=callgrind",
                       f"--callgrind-out-file={tmp_path / 'o'}"]  # fmt: skip
    assert cmd[5:] == ["/venv/bin/python", str(tmp_path / "run_benchmark.py"), "zlib", "--worker",
                       "--loops", "5", "--values", "1", "--warmups", "0"]  # fmt: skip


def test_extra_loops_reach_the_counted_minimum() -> None:
    # 1 G per loop: one extra loop is plenty.
    assert instructions.extra_loops(300_000_000, 1_300_000_000) == 1
    # 10 M per loop: 50 extra loops make 500 M.
    assert instructions.extra_loops(300_000_000, 310_000_000) == 50
    # No difference at all (a benchmark that ignores --loops) is bounded, not a division by 0.
    assert instructions.extra_loops(300, 300) == instructions.MAX_EXTRA_LOOPS


def test_read_total(tmp_path: Path) -> None:
    path = tmp_path / "callgrind.out"
    path.write_bytes(b"version: 1\ncmd: python\nevents: Ir\nsummary: 1351752811\n\nfn=x\n1 2\n")
    assert instructions.read_total(path) == 1351752811
    path.write_bytes(b"version: 1\n")
    with pytest.raises(ValueError, match="no instruction total"):
        instructions.read_total(path)


def test_ratios_table_and_document() -> None:
    counts = instructions.InstructionCounts(["base", "new"], "base", ["a", "b", "c"])
    for name, base, new in (("a", 2e9, 1e9), ("b", 1e6, 2e6), ("c", 5e8, None)):
        counts.counts["base", name] = instructions.Count(base, (1, 2), (0, 0))
        counts.counts["new", name] = (
            instructions.Count(new, (1, 2), (0, 0)) if new else instructions.Count(reason="exit 1")
        )
    assert counts.ratio("new", "a") == 2.0 and counts.ratio("new", "b") == 0.5
    # c is left out of every column's mean: the means cover the same benchmarks.
    assert counts.geometric_mean("new") == (pytest.approx(1.0), 2)
    table = instructions.format_table(counts)
    assert "2G" in table and "1G 2.000x" in table and "not counted" in table
    assert "1.000x (2 benchmarks)" in table
    document = instructions.instructions_document(counts, selection="a,b,c")
    assert document["benchmarks"]["c"]["new"] == {"missing": "exit 1"}
    assert document["benchmarks"]["a"]["new"]["ratio_to_baseline"] == 2.0
    assert document["geometric_mean"]["new"]["benchmarks"] == 2


def test_timing_options_are_refused_with_instructions() -> None:
    config = cli.parse_args(["--python", "/usr/bin/python3", "--instructions"])
    assert config.instructions
    with pytest.raises(UsageError, match="--fast, --rounds only apply to timed runs"):
        cli.parse_args(["--python", "/usr/bin/python3", "--instructions", "--fast", "--rounds", "2"])


@pytest.mark.slow
def test_the_same_interpreter_counts_the_same(tmp_path: Path) -> None:
    """One interpreter twice: the counts agree to 0.5% (what makes the mode worth having)."""
    require_tool("valgrind")
    python = "/usr/bin/python3"
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pythonbuild", "bench", "--instructions", "--benchmarks",
         "stdlib_zlib", "--python", f"one={python}", "--python", f"two={python}",
         "--output", str(output), "--work-dir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    document = json.loads((output / "instructions.json").read_text())
    two = document["benchmarks"]["stdlib_zlib"]["two"]
    assert two["instructions_per_loop"] > 1_000_000
    assert two["ratio_to_baseline"] == pytest.approx(1.0, abs=0.005)
    assert (output / "callgrind" / "two" / "stdlib_zlib.callgrind").stat().st_size > 0
    assert "geometric mean" in (output / "instructions.txt").read_text()
