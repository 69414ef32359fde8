"""From outcomes to what people read: the table, ``bench.json``, and writing them atomically."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BuildError
from .results import BOOTSTRAP_RESAMPLES, Measurement, Summary, read_pyperf_file
from .runner import Outcome

FORMAT = "standalone-python-bench/1"


def summarize(
    labels: list[str],
    baseline: str,
    benchmark_names: list[str],
    outcomes: dict[tuple[str, str], Outcome],
    parts: dict[str, tuple[str, ...]] | None = None,
) -> Summary:
    """Rows are pyperf benchmark names (a script such as deepcopy holds three), in run order."""
    rows: list[str] = []
    measurements: dict[str, dict[str, Measurement]] = {}
    missing: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for name in benchmark_names:
        found: dict[str, dict[str, Measurement]] = {}
        for label in labels:
            outcome = outcomes[label, name]
            if outcome.status == "ok":
                found[label] = {m.name: m for m in read_pyperf_file(outcome.result_file)}
        row_names = list(dict.fromkeys(row for per_label in found.values() for row in per_label))
        for row in row_names or [name]:
            rows.append(row)
            sources[row] = name
            measurements[row] = {}
            for label in labels:
                if row in found.get(label, {}):
                    measurements[row][label] = found[label][row]
                else:
                    outcome = outcomes[label, name]
                    reason = outcome.reason or (
                        "no such benchmark in its results" if outcome.status == "ok" else "not run"
                    )
                    missing.setdefault(row, {})[label] = f"{outcome.status}: {reason}"
    return Summary(labels, baseline, rows, measurements, missing, sources, parts or {})


def format_value(value: float, unit: str) -> str:
    if unit != "second":
        return f"{value:.4g} {unit}"
    for suffix, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value * 1e9:.3g} ns"


def _value_cell(summary: Summary, row: str, label: str) -> str:
    found = summary.measurements.get(row, {}).get(label)
    if found is None:
        return summary.missing_word(row, label)
    text = format_value(found.mean, found.unit)
    if found.stdev is not None:
        text += f" ± {format_value(found.stdev, found.unit)}"
    return text


def _ratio_cell(ratio: float | None, interval: tuple[float, float] | None = None) -> str:
    if ratio is None:
        return ""
    if interval is None:
        return f"{ratio:.2f}x"
    return f"{ratio:.2f}x [{interval[0]:.2f}-{interval[1]:.2f}]"


def format_table(summary: Summary) -> str:
    """The per-benchmark table, the geometric means and what they leave out, as text.

    One column per interpreter (mean ± standard deviation), each but the baseline's followed by
    its speed ratio to the baseline.
    """
    columns: list[tuple[str, str]] = []  # (interpreter label, "value" or "ratio")
    for label in summary.labels:
        columns.append((label, "value"))
        if label != summary.baseline:
            columns.append((label, "ratio"))
    header = ["benchmark"] + [
        (f"{label} (baseline)" if label == summary.baseline else label)
        if kind == "value"
        else "speed"
        for label, kind in columns
    ]
    body = [
        [row]
        + [
            _value_cell(summary, row, label)
            if kind == "value"
            else _ratio_cell(summary.ratio(row, label), summary.ratio_interval(row, label))
            for label, kind in columns
        ]
        for row in summary.rows
    ]

    def mean_row(title: str, part: str | None) -> list[str]:
        # geometric_mean is None where the rows are none: shown as n/a.
        means = {label: summary.geometric_mean(label, part) for label in summary.labels}
        return [title] + [
            "" if kind == "value" else _ratio_cell(means[label]) or "n/a" for label, kind in columns
        ]

    def interval_row(part: str | None) -> list[str]:
        intervals = {label: summary.geometric_mean_interval(label, part) for label in summary.labels}
        return ["  95% interval"] + [
            f"{found[0]:.3f}-{found[1]:.3f}"
            if kind == "ratio" and (found := intervals[label]) is not None
            else ""
            for label, kind in columns
        ]

    geo_row = mean_row(f"geometric mean ({len(summary.complete_rows)} benchmarks)", None)
    part_rows = []
    for part in summary.parts:
        part_rows.append(mean_row(f"geometric mean, {part} ({len(summary.part_rows(part))})", part))
        part_rows.append(interval_row(part))
    geo_rows = [geo_row, interval_row(None)]
    table = [header, *body, *geo_rows, *part_rows]
    widths = [max(len(line[col]) for line in table) for col in range(len(header))]
    right_aligned = [False] + [kind == "ratio" for _, kind in columns]

    def render(line: list[str]) -> str:
        cells = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(line, widths, right_aligned, strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [render(header), rule, *(render(line) for line in body), rule]
    lines += [render(line) for line in (*geo_rows, *part_rows)] + [""]
    lines.append(
        f"Values: mean ± standard deviation. speed: {summary.baseline}'s mean / this mean "
        "(above 1.00x is faster than the baseline), [its 95% interval]."
    )
    lines.append(
        "95% interval: from resampling the values of the benchmark (of every benchmark, for a "
        f"geometric mean; {BOOTSTRAP_RESAMPLES} bootstrap resamples); an interval that holds "
        "1.00 is no measured difference."
    )
    noise = {label: summary.noise(label) for label in summary.labels}
    if any(value is not None for value in noise.values()):
        lines.append(
            "Noise (median over benchmarks of the standard deviation relative to the mean): "
            + ", ".join(f"{label} {value:.1%}" for label, value in noise.items() if value is not None)
            + "."
        )
    lines.append("n/a: not available on that interpreter; failed: see the logs/ of this report.")
    if summary.incomplete_rows:
        lines.append(
            "Left out of the geometric mean for every interpreter, because missing on some:"
        )
        for row in summary.incomplete_rows:
            why = "; ".join(f"{label}: {reason}" for label, reason in summary.missing[row].items())
            lines.append(f"  {row} ({why})")
    return "\n".join(lines) + "\n"


def bench_document(
    summary: Summary,
    *,
    interpreters: list[dict[str, Any]],
    settings: dict[str, Any],
    started: str,
    finished: str,
    raw_results: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """Everything about the run, for machines: ``bench.json``."""
    benchmarks: dict[str, dict[str, Any]] = {}
    for row in summary.rows:
        per_label: dict[str, Any] = {}
        for label in summary.labels:
            found = summary.measurements[row].get(label)
            if found is None:
                per_label[label] = {"missing": summary.missing[row][label]}
                continue
            per_label[label] = {
                "mean": found.mean,
                "stdev": found.stdev,
                "values": len(found.values),
                "unit": found.unit,
                "ratio_to_baseline": summary.ratio(row, label),
                "ratio_interval_95": summary.ratio_interval(row, label),
            }
        benchmarks[row] = per_label
    return {
        "format": FORMAT,
        "started": started,
        "finished": finished,
        "settings": settings,
        "baseline": summary.baseline,
        "ratio": "baseline mean / interpreter mean; above 1 is faster than the baseline",
        "interpreters": interpreters,
        "benchmarks": benchmarks,
        "geometric_mean": {label: summary.geometric_mean(label) for label in summary.labels},
        "geometric_mean_interval_95": {
            label: summary.geometric_mean_interval(label) for label in summary.labels
        },
        "geometric_mean_benchmarks": summary.complete_rows,
        "noise": {label: summary.noise(label) for label in summary.labels},
        "geometric_mean_of_parts": {
            part: {
                "benchmarks": summary.part_rows(part),
                "geometric_mean": {
                    label: summary.geometric_mean(label, part) for label in summary.labels
                },
                "geometric_mean_interval_95": {
                    label: summary.geometric_mean_interval(label, part) for label in summary.labels
                },
            }
            for part in summary.parts
        },
        "left_out_of_geometric_mean": {
            row: summary.missing[row] for row in summary.incomplete_rows
        },
        "raw_results": raw_results,
    }


def write_output_dir(output: Path, fill: Callable[[Path], None]) -> Path:
    """Make ``output`` all at once: ``fill`` writes into a hidden sibling that is then renamed.

    ``output`` must not exist, or be an empty directory; either way it only ever holds a
    complete report.
    """
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BuildError(f"{output} exists and is not empty; choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        fill(staging)
        if output.exists():
            output.rmdir()
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
