"""QKD on a SIMULATED link: the secret key rate of the sweeps, one key's time and
rounds, Cascade alone beside cascade-python's published figures, and their figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dthq.harness import scenarios
from dthq.harness.results import CascadeRun, QKDKeyCost, QKDPoint, Results
from dthq.qkd import theory
from dthq.qkd.bb84 import QuantumChannel
from reports.anchors import CASCADE_PYTHON, CASCADE_PYTHON_SECONDS_PER_10K
from reports.render.plot import plt, save
from reports.render.text import fmt, spread
from reports.section import Column, Figure, Heading, Section, Table, Text


def _count(n: int | None) -> int | str:
    """A count, or "-" where an aborted point has none."""
    return "-" if n is None else n


SWEEP: tuple[Column[QKDPoint], ...] = (
    Column("Sweep", lambda p: p.sweep),
    Column("QBER set", lambda p: f"{p.qber:.0%}"),
    Column("Fibre km", lambda p: fmt(p.fibre_km)),
    Column("Raw pulses", lambda p: p.raw_pulses),
    Column("Sifted", lambda p: _count(p.sifted)),
    Column("Net secret bits", lambda p: p.net_bits),
    Column("Bits/pulse", lambda p: fmt(p.key_rate)),
    Column("Theory bits/pulse (measured f)", lambda p: fmt(p.theory_rate)),
    Column("Shor-Preskill bits/pulse", lambda p: fmt(p.shor_preskill_rate)),
    Column("f", lambda p: fmt(p.efficiency)),
    Column("f (original schedule)", lambda p: fmt(p.efficiency_original)),
    Column("Cascade rounds", lambda p: _count(p.rounds)),
    Column("Aborted", lambda p: p.aborted or ""),
)
KEYS: tuple[Column[QKDKeyCost], ...] = (
    Column("Key bits", lambda k: k.key_bits),
    Column("QBER", lambda k: f"{k.qber:.0%}"),
    Column("Raw pulses (smallest run)", lambda k: k.raw_pulses),
    Column("Time ms", lambda k: spread(k.time_ms)),
    Column("Cascade rounds", lambda k: k.rounds),
    Column("Keys from the run", lambda k: k.keys),
)
CASCADE: tuple[Column[CascadeRun], ...] = (
    Column("Cascade", lambda c: f"ours, {c.schedule}"),
    Column("QBER", lambda c: f"{c.qber:.0%}"),
    Column("Bits", lambda c: c.bits),
    Column("Time ms", lambda c: spread(c.time_ms)),
    Column("f (mean)", lambda c: fmt(c.efficiency)),
    Column("f (worst)", lambda c: fmt(c.efficiency_max)),
    Column("Instances", lambda c: c.runs),
    Column("Rounds", lambda c: c.rounds),
    Column("Block sizes", lambda c: " ".join(map(str, c.block_sizes))),
)


def cascade_table(results: Results) -> Table:
    """Our Cascade runs, then cascade-python's published figures (quoted)."""
    ours = Table.of(CASCADE, results.cascade)
    low, high = CASCADE_PYTHON_SECONDS_PER_10K
    quoted = []
    for a in CASCADE_PYTHON:
        f = (
            fmt(a.efficiency[0])
            if a.efficiency[0] == a.efficiency[1]
            else (f"{fmt(a.efficiency[0])}-{fmt(a.efficiency[1])}")
        )
        quoted.append(
            [f"{a.source}, {a.schedule} (published)", f"{a.qber:.0%}", "-",
             f"{low * 1e3:.0f}-{high * 1e3:.0f} (per 10,000 bits)", f, "-", "-", "-", "-"]
        )  # fmt: skip
    return Table(ours.headers, [*ours.rows, *quoted])


QKD_NOTE = (
    "SIMULATED: a BB84 link model (single-photon source, 0.2 dB/km fibre, detector "
    "efficiency 0.6, dark counts 1e-6 per pulse), not photons. Real code: sifting, "
    "estimation on a 10 % sample, Cascade with BICONF, a 64-bit verification hash, Toeplitz "
    "privacy amplification to a Serfling-bounded length (eps 1e-10), HMAC on every "
    "classical message, its key subtracted. Bits/pulse is net of all of that at the run's "
    "finite size (each point sifts about the same number of bits); theory is the asymptotic "
    "rate p/2 (1 - h(Q) - f h(Q)) for the same channel. Times are this machine's. "
    "cascade-python's rows are that project's published figures, quoted, not re-measured."
)


def section(results: Results) -> Section:
    return Section(
        "QKD, SIMULATED link",
        [
            Heading("Secret key rate (SIMULATED)"),
            Table.of(SWEEP, results.qkd_sweep),
            Heading("One key: time and rounds (SIMULATED link)"),
            Table.of(KEYS, results.qkd_keys),
            Heading("Cascade alone, beside cascade-python"),
            cascade_table(results),
            Text([QKD_NOTE]),
        ],
        file="qkd.md",
        heading="QKD (SIMULATED link)",
        figures=[
            Figure("figure-qkd-rate.png", qkd_rate_figure),
            Figure("figure-cascade.png", cascade_figure),
        ],
    )


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
    return save(
        fig, path, f"BB84 + Cascade + privacy amplification, about {sifted:,} sifted bits a run"
    )


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
    return save(fig, path)
