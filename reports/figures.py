"""PNG figures: a Figure-3-like view of Table 4, handshake cost and bytes per scheme, and
the SIMULATED QKD link's key rate and Cascade's efficiency beside theory and anchors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

from dthq.harness import scenarios
from dthq.harness.results import Distribution, Metric, Results, Table3Row, Table4Cell
from dthq.qkd import theory
from dthq.qkd.bb84 import QuantumChannel
from reports.anchors import CASCADE_PYTHON

COLOURS = {"far": "#d95f02", "near": "#1b9e77"}


def _errors(rows: Sequence[Table3Row | Table4Cell], figure: Metric) -> list[list[float]]:
    return _errors_of([r[figure] for r in rows])


def _errors_of(timings: Sequence[Distribution]) -> list[list[float]]:
    """IQR error bars (zero where a migrated result has no quartiles)."""
    low = [t.median - (t.q1 if t.q1 is not None else t.median) for t in timings]
    high = [(t.q3 if t.q3 is not None else t.median) - t.median for t in timings]
    return [low, high]


def table4_figure(results: Results, path: Path) -> Path | None:
    rows = results.cells(scenarios.PAPER_KEM.label)  # the paper's Figure 3 is ML-KEM's
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


SIMULATED = "#1f78b4"


def qkd_rate_figure(results: Results, path: Path) -> Path | None:
    """Secret bits per raw pulse against QBER and against fibre length: the simulated runs
    beside the asymptotic rate (at the runs' mean f) and Shor-Preskill's bound (f = 1)."""
    qber_pts = [p for p in results.qkd_sweep if p.sweep == "qber"]
    fibre_pts = [p for p in results.qkd_sweep if p.sweep == "fibre"]
    if not qber_pts and not fibre_pts:
        return None
    fs = [p.efficiency for p in results.qkd_sweep if p.efficiency is not None]
    f = sum(fs) / len(fs) if fs else 1.0
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6))
    qs = np.linspace(0, 0.12, 121)
    for ax, xs, channels, points, x_of in (
        (left, qs * 100, [QuantumChannel(qber=q) for q in qs], qber_pts, lambda p: p.qber * 100),
        (
            right,
            np.linspace(0, 150, 151),
            [
                QuantumChannel(qber=scenarios.QKD_FIBRE_QBER, fibre_km=km)
                for km in np.linspace(0, 150, 151)
            ],
            fibre_pts,
            lambda p: p.fibre_km,
        ),
    ):
        ax.plot(xs, [theory.key_rate(c, f) for c in channels], "--", color="#444",
                label=f"theory, asymptotic, f = {f:.3f}")  # fmt: skip
        ax.plot(xs, [theory.key_rate(c, 1.0) for c in channels], ":", color="#999",
                label="Shor-Preskill bound (f = 1)")  # fmt: skip
        ax.plot([x_of(p) for p in points], [p.key_rate for p in points], "o", color=SIMULATED,
                label="simulated runs (finite size, net of authentication)")  # fmt: skip
        ax.set_ylabel("secret bits per raw pulse")
        ax.grid(alpha=0.3)
    left.set_xlabel("QBER (%), 0 km")
    left.set_title("Key rate vs QBER (SIMULATED link)")
    right.set_xlabel(f"fibre length (km), 0.2 dB/km, QBER {scenarios.QKD_FIBRE_QBER:.0%}")
    right.set_yscale("log")
    right.set_title("Key rate vs fibre length (SIMULATED link)")
    left.legend(fontsize=8)
    sifted = max((p.sifted or 0) for p in results.qkd_sweep)
    fig.suptitle(f"BB84 + Cascade + privacy amplification, about {sifted:,} sifted bits a run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cascade_figure(results: Results, path: Path) -> Path | None:
    """f against QBER: our Cascade (both schedules) beside cascade-python's published f."""
    points = [p for p in results.qkd_sweep if p.sweep == "qber" and p.efficiency is not None]
    if not points and not results.cascade:
        return None
    fig, ax = plt.subplots(figsize=(12, 4.8))
    for attr, colour, label in (
        ("efficiency", SIMULATED, "ours, optimised + BICONF (one sweep run each)"),
        ("efficiency_original", "#e7298a", "ours, original schedule (one sweep run each)"),
    ):
        shown = [p for p in points if getattr(p, attr) is not None]
        ax.plot([p.qber * 100 for p in shown], [getattr(p, attr) for p in shown], "o",
                color=colour, alpha=0.45, label=label)  # fmt: skip
    for schedule, colour in (("optimised", SIMULATED), ("original", "#e7298a")):
        runs = [c for c in results.cascade if c.schedule == schedule]
        if runs:
            ax.errorbar(
                [c.qber * 100 for c in runs],
                [c.efficiency for c in runs],
                yerr=[[0] * len(runs), [c.efficiency_max - c.efficiency for c in runs]],
                fmt="s-", color=colour, capsize=3,
                label=f"ours, {schedule}: mean over {runs[0].runs} 10,000-bit keys (bar: worst)",
            )  # fmt: skip
    for a in CASCADE_PYTHON:
        low, high = a.efficiency
        ax.errorbar([a.qber * 100 + 0.12], [(low + high) / 2], yerr=[[(high - low) / 2]] * 2,
                    fmt="D", color="#666", capsize=4, mfc="none",
                    label=f"{a.source}, {a.schedule} (published, not re-measured)")  # fmt: skip
    ax.axhline(1.10, color="#d95f02", lw=0.8, ls="--", label="goal f <= 1.10")
    ax.axhline(1.0, color="#999", lw=0.8, ls=":", label="Shannon limit f = 1")
    ax.set_xlabel("QBER (%)")
    ax.set_ylabel("reconciliation efficiency f = leaked / (n h(Q))")
    ax.set_title("Cascade's efficiency (real code on SIMULATED keys; ours use BICONF)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _log_log(ax: Any, xlabel: str, ylabel: str, legend_size: int = 8) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    ax.grid(alpha=0.3)


def pipeline_figure(results: Results, path: Path) -> Path | None:
    """Left: each stage's p50 for the load points (one bar group per broker at the
    heaviest load it held, or its lightest). Right: end to end p50/p99 against load."""
    from dthq.harness.results import STAGES
    from reports.pipeline import load_runs

    runs = load_runs(results.pipeline)
    if not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    brokers = sorted({r.broker for r in runs})
    width = 0.8 / len(brokers)
    y = np.arange(len(STAGES))
    for i, broker in enumerate(brokers):
        mine = [r for r in runs if r.broker == broker]
        run = min(mine, key=lambda r: r.offered_per_s)
        values = [run.stages[s].median if s in run.stages else 0 for s in STAGES]
        left.barh(
            y + i * width,
            values,
            height=width,
            label=f"{broker}, {run.patients}x{run.rate_hz:g} Hz",
        )
        ordered = sorted(mine, key=lambda r: r.offered_per_s)
        x = [r.offered_per_s for r in ordered if r.end_to_end]
        right.plot(
            x, [r.end_to_end.median for r in ordered if r.end_to_end], "o-", label=f"{broker} p50"
        )
        right.plot(
            x,
            [r.end_to_end.p99 or r.end_to_end.median for r in ordered if r.end_to_end],
            "s--",
            label=f"{broker} p99",
        )
    left.set_yticks(y + width * (len(brokers) - 1) / 2, STAGES)
    left.invert_yaxis()
    left.set_xscale("log")
    left.set_xlabel("ms per reading, p50 (log)")
    left.legend(fontsize=8)
    left.grid(axis="x", alpha=0.3)
    right.axhline(100, color="#999", lw=0.8, ls=":")
    _log_log(right, "offered readings per second (log)", "end to end ms, device -> twin (log)")
    fig.suptitle(
        "The twin pipeline over MQTT on loopback: stages and latency under load (measured)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def wire_figure(results: Results, path: Path) -> Path | None:
    """Left: bytes on the wire per reading against readings per session (measured bytes).
    Right: frames each handshake needs at 127 B (MODELLED framing)."""
    from reports.wire import frames

    rows = results.table3
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    m = np.unique(np.logspace(0, 3, 40).astype(int))
    for r in rows:
        left.plot(m, (r.handshake_bytes + m * r.record_bytes) / m, label=r.scheme)
    _log_log(left, "readings per session", "bytes on the wire per reading (measured bytes)", 7)
    names = [r.scheme for r in rows]
    counts = [sum(frames(f.size, "127 B") for f in r.flights) for r in rows]
    right.barh(names, counts, color="#1f78b4")
    right.invert_yaxis()
    right.set_xlabel("IEEE 802.15.4 frames per handshake (127 B, MODELLED framing)")
    right.grid(axis="x", alpha=0.3)
    fig.suptitle("What goes on the wire: bytes per reading, and handshake frames at 127 B")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
            yerr=_errors_of([d for _, d in shown]),
            capsize=2,
            color="#1f78b4",
            label="ours (median, IQR)",
        )
        ax.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
        ax.set_yscale("log")
        ax.set_title(f"{label} (log)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


PAPER_LABELS = {
    Metric.LATENCY: "Latency",
    Metric.THROUGHPUT: "Throughput",
    Metric.COMP_OVERHEAD: "Comp. overhead",
    Metric.AL: "AL",
    Metric.CC: "CC",
}


def paper_table3_figure(results: Results, path: Path) -> Path | None:
    from reports.paper import ORDER, PAPER_ORDER, PAPER_TABLE3, TABLE3_CLAIMED

    rows = [results.row(k) for k in ORDER]
    return _paper_vs_ours(
        path,
        "Table 3: the paper's figures (i7-9700K) beside ours (this machine, measured)",
        PAPER_ORDER,
        [
            (
                f"{PAPER_LABELS[figure]} ({figure.unit})",
                [PAPER_TABLE3[name][figure] for name in PAPER_ORDER],
                [r.get(figure) if r else None for r in rows],
            )
            for figure in TABLE3_CLAIMED
        ],
    )


def paper_table4_figure(results: Results, path: Path) -> Path | None:
    from reports.paper import PAPER_TABLE4

    keys = list(PAPER_TABLE4)
    cells = [results.cell(f"{kl}-{edge}-{size}") for kl, edge, size in keys]
    return _paper_vs_ours(
        path,
        "Table 4 (ML-KEM-768): the paper's figures beside ours (this machine, measured)",
        [f"{kl} {edge} {size}" for kl, edge, size in keys],
        [
            (
                f"{PAPER_LABELS[figure]} ({figure.unit})",
                [PAPER_TABLE4[k][figure] for k in keys],
                [c.get(figure) if c else None for c in cells],
            )
            for figure in (Metric.AL, Metric.CC, Metric.THROUGHPUT)
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
            "whishi": t.p99 if t.p99 is not None else t.q3,
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
    fig.suptitle(
        "Latency distributions (measured): box = quartiles, red = median, "
        "whiskers = fastest round to p99"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
