"""Reading pyperf result files, and the maths: means, ratios, geometric means and their intervals.

pyperf's JSON (format 1.0) nests metadata three deep: suite, benchmark, run; a run's effective
metadata is the three merged (pyperf omits from the inner levels what the outer ones say). A
run with no ``values`` is a calibration run. Read here without importing pyperf, so the maths
is testable anywhere and the driver does not depend on pyperf's internals.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Measurement:
    """All values of one pyperf benchmark (e.g. ``deepcopy_memo``) for one interpreter."""

    name: str
    values: tuple[float, ...]
    unit: str = "second"
    loops: int | None = None  # loops per value in the last run (None: varied or unknown)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def stdev(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None


def read_pyperf_file(path: Path) -> list[Measurement]:
    """The benchmarks in one pyperf JSON file, in file order."""
    try:
        data = json.loads(path.read_text())
        suite_meta = data.get("metadata") or {}
        measurements = []
        for bench in data["benchmarks"]:
            bench_meta = {**suite_meta, **(bench.get("metadata") or {})}
            values: list[float] = []
            loops: int | None = None
            for run in bench["runs"]:
                run_values = run.get("values")
                if not run_values:
                    continue  # calibration run
                values += run_values
                loops = {**bench_meta, **(run.get("metadata") or {})}.get("loops")
            name = bench_meta.get("name")
            if not name:
                raise KeyError("name")
            if values:
                measurements.append(
                    Measurement(name, tuple(values), bench_meta.get("unit", "second"), loops)
                )
        return measurements
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"cannot read pyperf results {path}: {exc!r}") from None


@dataclass
class Summary:
    """Every number the report shows, computed once from the measurements."""

    labels: list[str]
    baseline: str
    rows: list[str]  # pyperf benchmark names, in selection order
    # row -> label -> Measurement (a label is absent where the benchmark is missing)
    measurements: dict[str, dict[str, Measurement]]
    # row -> label -> why it is missing (failed, not available, ...)
    missing: dict[str, dict[str, str]] = field(default_factory=dict)
    # row -> the benchmark (script) that measured it; rows absent here are their own benchmark
    sources: dict[str, str] = field(default_factory=dict)
    # Named parts of the selection with a geometric mean of their own (name -> benchmark names),
    # e.g. the bundled C libraries apart from the interpreter core: see Catalog.parts.
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The bootstrap intervals by seed: the table and bench.json both show them, and each
    # takes thousands of resamplings.
    _intervals: dict[tuple[str, int], tuple[float, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def ratio(self, row: str, label: str) -> float | None:
        """Speed of ``label`` relative to the baseline: > 1 means faster than the baseline."""
        found = self.measurements.get(row, {})
        if label not in found or self.baseline not in found:
            return None
        return found[self.baseline].mean / found[label].mean

    @property
    def complete_rows(self) -> list[str]:
        """Rows measured on every interpreter: the only ones a geometric mean may use."""
        return [row for row in self.rows if len(self.measurements.get(row, {})) == len(self.labels)]

    @property
    def incomplete_rows(self) -> list[str]:
        complete = set(self.complete_rows)
        return [row for row in self.rows if row not in complete]

    def missing_word(self, row: str, label: str) -> str:
        """One word for a table cell or a chart: why there is no number."""
        reason = self.missing.get(row, {}).get(label, "")
        if reason.startswith("unavailable"):
            return "n/a"
        return "failed" if reason.startswith("failed") else "missing"

    def part_rows(self, part: str) -> list[str]:
        """The complete rows measured by the benchmarks of one of ``parts``."""
        members = set(self.parts[part])
        return [row for row in self.complete_rows if self.sources.get(row, row) in members]

    def geometric_mean(self, label: str, part: str | None = None) -> float | None:
        rows = self.complete_rows if part is None else self.part_rows(part)
        ratios = [self.ratio(row, label) for row in rows]
        return geometric_mean([r for r in ratios if r is not None])

    def geometric_mean_interval(
        self, label: str, part: str | None = None, resamples: int = BOOTSTRAP_RESAMPLES
    ) -> tuple[float, float] | None:
        """The 95% bootstrap interval of ``geometric_mean(label, part)``: the geometric mean
        computed again from ``resamples`` resamplings (with replacement) of every benchmark's
        values, the baseline's and ``label``'s each, and the 2.5th and 97.5th percentiles of
        those. Seeded, so one set of results always gives the same interval. None for the
        baseline itself and where there is no geometric mean."""
        rows = self.complete_rows if part is None else self.part_rows(part)
        return self._bootstrap(label, rows, f"{self.baseline}/{label}/{part}", resamples)

    def ratio_interval(
        self, row: str, label: str, resamples: int = BOOTSTRAP_RESAMPLES
    ) -> tuple[float, float] | None:
        """The 95% bootstrap interval of ``ratio(row, label)``, made as the geometric mean's
        from this one benchmark's values. None where the ratio is."""
        if self.ratio(row, label) is None:
            return None
        return self._bootstrap(label, [row], f"{self.baseline}/{label}/row {row}", resamples)

    def noise(self, label: str) -> float | None:
        """How noisy ``label``'s measurements were: the median over benchmarks of the standard
        deviation of its values relative to their mean (None with no benchmark of 2+ values)."""
        spreads = [
            found.stdev / found.mean
            for row in self.rows
            if (found := self.measurements[row].get(label)) is not None
            and found.stdev is not None
            and found.mean > 0
        ]
        return statistics.median(spreads) if spreads else None

    def widest_interval(self) -> tuple[str, float] | None:
        """The interpreter whose geometric mean has the widest 95% interval, and its width
        (upper minus lower end, in units of the ratio); None with no interval at all."""
        widths = [
            (found[1] - found[0], label)
            for label in self.labels
            if (found := self.geometric_mean_interval(label)) is not None
        ]
        if not widths:
            return None
        width, label = max(widths)
        return label, width

    def _bootstrap(
        self, label: str, rows: list[str], seed: str, resamples: int
    ) -> tuple[float, float] | None:
        if (seed, resamples) in self._intervals:
            return self._intervals[seed, resamples]
        if label == self.baseline or not rows:
            return None
        rng = random.Random(seed)
        pairs = [
            (self.measurements[row][self.baseline].values, self.measurements[row][label].values)
            for row in rows
        ]

        def resampled_mean(values: tuple[float, ...]) -> float:
            return math.fsum(rng.choices(values, k=len(values))) / len(values)

        means = sorted(
            geometric_mean([resampled_mean(base) / resampled_mean(other) for base, other in pairs])
            or 0.0
            for _ in range(resamples)
        )
        interval = means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]
        self._intervals[seed, resamples] = interval
        return interval


def geometric_mean(values: list[float]) -> float | None:
    if not values:
        return None
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))
