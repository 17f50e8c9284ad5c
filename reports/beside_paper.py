"""The paper beside us, in figures: its Table 3 and Table 4 values beside ours, and how
our latencies spread (a section of the page with no file of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dthq.harness import scenarios
from dthq.harness.results import Distribution, Metric, Results
from reports import paper
from reports.render.plot import errors, plt, save
from reports.section import Figure, Section


def section(results: Results) -> Section | None:
    """None when the run measured neither Table 3 nor Table 4: nothing to set beside the
    paper's figures."""
    if not results.table3 and not results.table4:
        return None
    return Section(
        "The paper beside us, and how our latencies spread",
        figures=[
            Figure("figure-paper-table3.png", paper_table3_figure),
            Figure("figure-paper-table4.png", paper_table4_figure),
            Figure("figure-latency-box.png", latency_box_figure),
        ],
    )


def _paper_vs_ours(
    path: Path,
    title: str,
    labels: list[str],
    panels: list[tuple[str, list[float], list[Distribution | None]]],
) -> Path | None:
    """One panel per figure: the paper's value and ours side by side per row, on one log
    axis (ours with IQR bars). ``panels``: (axis label, paper values, our Distributions)."""
    if not any(d is not None for _, _, ours in panels for d in ours):
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.8))
    x = np.arange(len(labels))
    for ax, (label, published, ours) in zip(axes, panels, strict=True):
        ax.bar(x - 0.2, published, 0.4, color="#999", label="paper")
        shown = [(i, d) for i, d in enumerate(ours) if d is not None]
        ax.bar(
            [i + 0.2 for i, _ in shown],
            [d.median for _, d in shown],
            0.4,
            yerr=errors([d for _, d in shown]),
            capsize=2,
            color="#1f78b4",
            label="ours (median, IQR)",
        )
        ax.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
        ax.set_yscale("log")
        ax.set_title(f"{label} (log)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    return save(fig, path, title)


PAPER_LABELS = {
    Metric.LATENCY: "Latency",
    Metric.THROUGHPUT: "Throughput",
    Metric.COMP_OVERHEAD: "Comp. overhead",
    Metric.AL: "AL",
    Metric.CC: "CC",
}


def paper_table3_figure(results: Results, path: Path) -> Path | None:
    rows = [results.row(k) for k in paper.ORDER]
    return _paper_vs_ours(
        path,
        "Table 3: the paper's figures (i7-9700K) beside ours (this machine, measured)",
        paper.PAPER_ORDER,
        [
            (
                f"{PAPER_LABELS[figure]} ({figure.unit})",
                [paper.PAPER_TABLE3[name][figure] for name in paper.PAPER_ORDER],
                [r.get(figure) if r else None for r in rows],
            )
            for figure in paper.TABLE3_CLAIMED
        ],
    )


def paper_table4_figure(results: Results, path: Path) -> Path | None:
    keys = list(paper.PAPER_TABLE4)
    cells = [results.cell(f"{kl}-{edge}-{size}") for kl, edge, size in keys]
    return _paper_vs_ours(
        path,
        "Table 4 (ML-KEM-768): the paper's figures beside ours (this machine, measured)",
        [f"{kl} {edge} {size}" for kl, edge, size in keys],
        [
            (
                f"{PAPER_LABELS[figure]} ({figure.unit})",
                [paper.PAPER_TABLE4[k][figure] for k in keys],
                [c.get(figure) if c else None for c in cells],
            )
            for figure in paper.TABLE4_CLAIMED
        ],
    )


def _box(ax: Any, labels: list[str], timings: Sequence[Distribution]) -> None:
    """Boxes from each figure's summary of its rounds: quartiles, median, and whiskers
    from the fastest round to the 99th percentile (no single round is kept)."""
    stats = [
        {
            "label": label,
            "med": t.median,
            "q1": t.q1,
            "q3": t.q3,
            "whislo": t.min if t.min is not None else t.q1,
            "whishi": t.tail,
            "fliers": [],
        }
        for label, t in zip(labels, timings, strict=True)
    ]
    ax.bxp(stats, orientation="horizontal", showfliers=False, patch_artist=True,
           boxprops={"facecolor": "#a6cee3"}, medianprops={"color": "#e31a1c"})  # fmt: skip
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)


def latency_box_figure(results: Results, path: Path) -> Path | None:
    """Latency distributions: each Table 3 scheme's latency and each ML-KEM Table 4 cell's
    AL, as box plots of their rounds."""
    rows = [r for r in results.table3 if (t := r.get(Metric.LATENCY)) and t.q1 is not None]
    cells = [
        c
        for c in results.cells(scenarios.PAPER_KEM.label)
        if (t := c.get(Metric.AL)) and t.q1 is not None
    ]
    if not rows and not cells:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, max(4.8, 0.3 * len(cells) + 1.5)))
    if rows:
        _box(left, [r.scheme for r in rows], [r[Metric.LATENCY] for r in rows])
        rounds = min(r[Metric.LATENCY].rounds for r in rows)
        left.set_xlabel(f"Table 3 latency, ms (log; at least {rounds} rounds each)")
    if cells:
        _box(right, [c.key for c in cells], [c[Metric.AL] for c in cells])
        right.set_xlabel(f"Table 4 AL, {scenarios.PAPER_KEM.label}, ms (log)")
    return save(
        fig,
        path,
        "Latency distributions (measured): box = quartiles, red = median, "
        "whiskers = fastest round to p99",
    )
