"""PNG figures: a Figure-3-like view of Table 4, and handshake cost and bytes per scheme."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from dthq.harness import scenarios
from dthq.harness.results import Metric, Results, Table3Row, Table4Cell

COLOURS = {"far": "#d95f02", "near": "#1b9e77"}


def _errors(rows: Sequence[Table3Row | Table4Cell], figure: Metric) -> list[list[float]]:
    """IQR error bars (zero where a migrated result has no quartiles)."""
    timings = [r[figure] for r in rows]
    low = [t.median - (t.q1 if t.q1 is not None else t.median) for t in timings]
    high = [(t.q3 if t.q3 is not None else t.median) - t.median for t in timings]
    return [low, high]


def table4_figure(results: Results, path: Path) -> Path | None:
    rows = results.table4
    if not rows:
        return None
    panels = [
        (Metric.AL, "AL (ms, log)"),
        (Metric.CC, "CC (ms, log)"),
        (Metric.THROUGHPUT, "Throughput (msg/s, log)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    groups = [(kl, size) for kl in scenarios.KEY_LENGTHS for size in scenarios.SIZES]
    width = 0.38
    for ax, (figure, label) in zip(axes, panels, strict=True):
        for offset, edge in ((-width / 2, "far"), (width / 2, "near")):
            chosen = [
                next(
                    (r for r in rows if (r.key_length, r.size, r.edge) == (kl, size, edge)),
                    None,
                )
                for kl, size in groups
            ]
            xs = [i + offset for i, r in enumerate(chosen) if r]
            present = [r for r in chosen if r]
            ax.bar(
                xs,
                [r[figure].median for r in present],
                width,
                yerr=_errors(present, figure),
                capsize=2,
                color=COLOURS[edge],
                label=f"{edge} edge ({'LZ4' if edge == 'far' else 'Brotli'})",
            )
        ax.set_xticks(range(len(groups)), [f"{kl}\n{size}" for kl, size in groups], fontsize=8)
        ax.set_yscale("log")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("DTHQ by key length x data size x edge type (median, IQR bars; measured)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def handshake_figure(results: Results, path: Path) -> Path | None:
    rows = results.table3
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    names = [r.scheme for r in rows]
    colours = [
        "#7570b3"
        if r.quantum_safe == "yes"
        else "#e7298a"
        if r.quantum_safe == "hybrid"
        else "#666"
        for r in rows
    ]
    left.barh(
        names,
        [r[Metric.HANDSHAKE].median for r in rows],
        xerr=_errors(rows, Metric.HANDSHAKE),
        color=colours,
        capsize=3,
    )
    left.set_xlabel("handshake (ms, median, IQR bars)")
    left.invert_yaxis()
    left.grid(axis="x", alpha=0.3)
    right.barh(names, [r.handshake_bytes for r in rows], color=colours)
    right.set_xlabel("handshake bytes on the wire (all flights)")
    right.invert_yaxis()
    right.grid(axis="x", alpha=0.3)
    fig.suptitle(
        "Handshake cost and size per scheme (grey: classical, pink: hybrid, purple: post-quantum)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
