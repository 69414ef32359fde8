"""``bench --instructions``: the instructions one benchmark loop executes, counted by callgrind.

A second opinion for a noisy machine. Each benchmark script runs as a single pyperf worker
(``--worker --loops N --values 1 --warmups 0``) under ``valgrind --tool=callgrind``, once with
one loop and once with more; the difference divided by the extra loops is the count of one
loop, without the interpreter's start, the imports and pyperf's own work. Counts repeat to
about 0.1% from run to run (PYTHONHASHSEED is fixed), so one run per interpreter is enough.

What it cannot see: time. PGO's and BOLT's gains are largely in layout (fewer instruction-cache
and TLB misses, better-predicted branches), which leaves the count unchanged or even raises it,
and memory stalls (compression, sqlite) cost cycles the count does not show. So a ratio here
means "the same work in fewer instructions", a check on timed results, not a speed figure.
Child processes a benchmark starts are not counted (valgrind follows only the one it started).
"""

from __future__ import annotations

import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import log
from ..errors import UsageError
from .benchmarks import StagedBenchmark
from .interpreters import Interpreter
from .report import write_json, write_output_dir
from .results import geometric_mean
from .runner import Contender, failure_reason, run_logged

FORMAT = "standalone-python-bench-instructions/1"
# The extra loops are chosen so that the counted difference is at least this large: small
# enough to keep a benchmark under a minute of callgrind here, large enough that the few
# hundred thousand instructions of garbage collection and dict resizing that vary between runs
# stay below 0.1%.
MIN_COUNTED = 500_000_000
MAX_EXTRA_LOOPS = 1_000_000
CHROOT_VALGRIND = Path("/usr/bin/valgrind")
_TOTALS = re.compile(rb"^(?:totals|summary):\s*(\d+)", re.MULTILINE)


@dataclass
class Count:
    """One benchmark on one interpreter."""

    per_loop: float | None = None
    loops: tuple[int, int] | None = None  # the two runs' loop counts
    totals: tuple[int, int] | None = None  # their instruction totals
    callgrind_file: Path | None = None  # the larger run's profile, for callgrind_annotate
    reason: str = ""  # why there is no count


@dataclass
class InstructionCounts:
    labels: list[str]
    baseline: str
    names: list[str]
    counts: dict[tuple[str, str], Count] = field(default_factory=dict)

    def ratio(self, label: str, name: str) -> float | None:
        """Baseline's count over this one's: above 1 means fewer instructions than the baseline."""
        mine = self.counts[label, name].per_loop
        base = self.counts[self.baseline, name].per_loop
        if not mine or not base:
            return None
        return base / mine

    def geometric_mean(self, label: str) -> tuple[float | None, int]:
        """Over the benchmarks every interpreter counted (the same set for each column)."""
        complete = [n for n in self.names if all(self.counts[x, n].per_loop for x in self.labels)]
        ratios = [r for n in complete if (r := self.ratio(label, n)) is not None]
        return geometric_mean(ratios), len(complete)


def valgrind_for(interpreter: Interpreter) -> str:
    """The valgrind that can start this interpreter: inside its chroot, or this machine's."""
    if interpreter.chroot is not None:
        if not (interpreter.chroot / CHROOT_VALGRIND.relative_to("/")).exists():
            raise UsageError(
                f"--instructions: {interpreter.label} runs in {interpreter.chroot}, which has no "
                f"valgrind; install it there (chroot {interpreter.chroot} apt-get install -y "
                "valgrind) or leave that interpreter out"
            )
        return str(CHROOT_VALGRIND)
    found = shutil.which("valgrind")
    if found is None:
        raise UsageError("--instructions needs valgrind on this machine: apt-get install valgrind")
    return found


def worker_command(
    contender: Contender, staged: StagedBenchmark, loops: int, out_file: Path, valgrind: str
) -> list[str]:
    return contender.interpreter.command(
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        str(contender.venv_python),
        str(staged.script),
        *staged.benchmark.args,
        "--worker", "--loops", str(loops), "--values", "1", "--warmups", "0",
    )  # fmt: skip


def read_total(path: Path) -> int:
    found = _TOTALS.search(path.read_bytes())
    if found is None:
        raise ValueError(f"{path}: no instruction total in this callgrind file")
    return int(found.group(1))


def extra_loops(first: int, second: int) -> int:
    """Loops beyond the first run's one so that the difference reaches MIN_COUNTED, from the
    one-loop difference of a two-loop run."""
    per_loop = max(second - first, 1)
    return min(max(1, math.ceil(MIN_COUNTED / per_loop)), MAX_EXTRA_LOOPS)


def count_one(
    contender: Contender,
    staged: StagedBenchmark,
    valgrind: str,
    out_dir: Path,
    log_file: Path,
    env: dict[str, str],
    timeout: float,
) -> Count:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**env, "PYTHONHASHSEED": "0"}

    def run(loops: int) -> tuple[int, Path] | str:
        out_file = out_dir / f"{staged.name}.loops-{loops}.callgrind"
        cmd = worker_command(contender, staged, loops, out_file, valgrind)
        status, output = run_logged(cmd, log_file, env, timeout)
        if status != 0:
            return failure_reason(status, output, log_file)
        try:
            return read_total(out_file), out_file
        except (OSError, ValueError) as exc:
            return str(exc)

    first = run(1)
    if isinstance(first, str):
        return Count(reason=first)
    second = run(2)
    if isinstance(second, str):
        return Count(reason=second)
    loops = 2
    extra = extra_loops(first[0], second[0])
    if extra > 1:
        second[1].unlink()
        loops = 1 + extra
        second = run(loops)
        if isinstance(second, str):
            return Count(reason=second)
    first[1].unlink()
    per_loop = (second[0] - first[0]) / (loops - 1)
    if per_loop <= 0:
        return Count(reason=f"{loops} loops counted no more than one ({second[0]} <= {first[0]})")
    return Count(per_loop, (1, loops), (first[0], second[0]), second[1])


def count_all(
    contenders: list[Contender],
    benchmarks: list[StagedBenchmark],
    baseline: str,
    raw_dir: Path,
    log_dir: Path,
    env: dict[str, str],
    timeout: float,
    valgrinds: dict[str, str],  # label -> valgrind_for(its interpreter)
) -> InstructionCounts:
    counts = InstructionCounts([c.label for c in contenders], baseline,
                               [s.name for s in benchmarks])  # fmt: skip
    for index, staged in enumerate(benchmarks, 1):
        started = time.monotonic()
        shown = []
        for contender in contenders:
            label = contender.label
            if staged.name in contender.unavailable:
                count = Count(reason=f"unavailable: {contender.unavailable[staged.name]}")
            else:
                count = count_one(contender, staged, valgrinds[label], raw_dir / label,
                                  log_dir / label / f"{staged.name}.log", env, timeout)  # fmt: skip
            counts.counts[label, staged.name] = count
            if count.per_loop is None:
                log.warn(f"{staged.name} not counted on {label}: {count.reason}")
            shown.append(f"{label} {format_count(count.per_loop)}")
        log.info(f"{index}/{len(benchmarks)} {staged.name}: instructions per loop "
                 f"{', '.join(shown)} ({time.monotonic() - started:.0f}s)")  # fmt: skip
    return counts


def format_count(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.0f}"


def format_table(counts: InstructionCounts) -> str:
    headers = ["benchmark"] + [
        f"{label} (instructions/loop)" if label == counts.baseline else f"{label} (x fewer)"
        for label in counts.labels
    ]
    rows = []
    for name in counts.names:
        row = [name]
        for label in counts.labels:
            count = counts.counts[label, name]
            if not count.per_loop:
                row.append("not counted")
                continue
            cell = format_count(count.per_loop)
            ratio = counts.ratio(label, name) if label != counts.baseline else None
            row.append(f"{cell} {ratio:.3f}x" if ratio else cell)
        rows.append(row)
    mean_row = ["geometric mean"]
    for label in counts.labels:
        mean, n = counts.geometric_mean(label)
        mean_row.append(f"{mean:.3f}x ({n} benchmarks)" if mean else "-")
    rows.append(mean_row)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in [headers, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "")
    return "\n".join(lines) + "\n"


def instructions_document(counts: InstructionCounts, **context: Any) -> dict[str, Any]:
    benchmarks: dict[str, Any] = {}
    for name in counts.names:
        entry: dict[str, Any] = {}
        for label in counts.labels:
            count = counts.counts[label, name]
            if count.per_loop is None:
                entry[label] = {"missing": count.reason}
                continue
            entry[label] = {
                "instructions_per_loop": round(count.per_loop),
                "loops": list(count.loops or ()),
                "instructions": list(count.totals or ()),
                "ratio_to_baseline": counts.ratio(label, name),
            }
        benchmarks[name] = entry
    return {
        "format": FORMAT,
        "baseline": counts.baseline,
        **context,
        "benchmarks": benchmarks,
        "geometric_mean": {
            label: dict(zip(("ratio", "benchmarks"), counts.geometric_mean(label), strict=True))
            for label in counts.labels
        },
    }


def write_results(
    output: Path, counts: InstructionCounts, context: dict[str, Any], log_dir: Path
) -> None:
    """instructions.json, instructions.txt, the logs, and each count's callgrind profile
    (``callgrind/<label>/<benchmark>.callgrind``: ``callgrind_annotate`` reads it), all at
    once; then the table."""
    table = format_table(counts)

    def fill(staging: Path) -> None:
        write_json(staging / "instructions.json", instructions_document(counts, **context))
        (staging / "instructions.txt").write_text(table)
        for (label, name), count in counts.counts.items():
            if count.callgrind_file is not None:
                target = staging / "callgrind" / label / f"{name}.callgrind"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(count.callgrind_file, target)
        shutil.copytree(log_dir, staging / "logs", dirs_exist_ok=True)

    write_output_dir(output, fill)
    print()
    print(table, end="")
    print()
    log.info(f"results: {output / 'instructions.json'}")
    log.info(f"table:   {output / 'instructions.txt'}")
    log.info(f"profiles: {output / 'callgrind'} (callgrind_annotate FILE)")
