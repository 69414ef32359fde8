"""``bench.png``: per-benchmark speed of each interpreter relative to the baseline.

Bars start at 1.0 (the baseline's speed) and grow right when faster, left when slower, so the
direction reads at a glance; the geometric mean sits on top, set apart from the benchmarks.
"""

from __future__ import annotations

from pathlib import Path

from .results import Summary

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_BAR_HEIGHT_INCHES = 0.22


def write_chart(summary: Summary, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede the pyplot import
    import matplotlib.pyplot as plt

    contenders = [label for label in summary.labels if label != summary.baseline]
    groups: list[tuple[str, dict[str, float | None]]] = [
        ("geometric mean", {label: summary.geometric_mean(label) for label in contenders})
    ]
    groups += [
        (row, {label: summary.ratio(row, label) for label in contenders}) for row in summary.rows
    ]
    per_group = max(1, len(contenders))
    slot = per_group + 0.6  # bars of a group plus a gap before the next
    height = 0.8
    fig_height = 1.6 + len(groups) * per_group * _BAR_HEIGHT_INCHES + len(groups) * 0.08
    fig, ax = plt.subplots(figsize=(10, max(3.0, fig_height)))
    ratios = [r for _, values in groups for r in values.values() if r is not None]
    span = max([abs(r - 1.0) for r in ratios] + [0.05])
    text_offset = span * 0.02
    for group_index, (name, values) in enumerate(groups):
        base = -group_index * slot
        for bar_index, label in enumerate(contenders):
            y = base - bar_index
            ratio = values[label]
            colour = _COLOURS[bar_index % len(_COLOURS)]
            if ratio is None:
                word = "n/a" if group_index == 0 else summary.missing_word(name, label)
                ax.text(1.0 + text_offset, y, word, va="center", fontsize=7, color="grey")
                continue
            ax.barh(y, ratio - 1.0, left=1.0, height=height, color=colour,
                    edgecolor="black" if group_index == 0 else colour,
                    linewidth=1.2 if group_index == 0 else 0,
                    label=label if group_index == 0 else None)  # fmt: skip
            beyond = ratio + (text_offset if ratio >= 1.0 else -text_offset)
            ax.text(beyond, y, f"{ratio:.2f}x", va="center",
                    ha="left" if ratio >= 1.0 else "right", fontsize=7)  # fmt: skip
    centres = [-(index * slot) - (per_group - 1) / 2 for index in range(len(groups))]
    ax.set_yticks(centres)
    ax.set_yticklabels([name for name, _ in groups], fontsize=8)
    ax.get_yticklabels()[0].set_fontweight("bold")
    # Between the geometric mean's last bar and the first benchmark's first bar.
    ax.axhline(-(per_group - 1) - (slot - per_group + 1) / 2, color="grey", linewidth=0.6)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlim(1.0 - span * 1.25, 1.0 + span * 1.25)
    ax.set_ylim(-(len(groups) - 1) * slot - per_group, 1.0)
    ax.set_xlabel(f"speed relative to {summary.baseline} (> 1 is faster)")
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    if title:
        ax.set_title(title, fontsize=10)
    if contenders:
        # Outside the axes, where it can never hide a bar.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
