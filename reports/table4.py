"""Table 4: DTHQ over key length x edge x data size for each session-key source, the
paper's values beside ML-KEM's cells, and its Figure-3-like view."""

from __future__ import annotations

from pathlib import Path

from dthq.harness import scenarios
from dthq.harness.results import Metric, Results, Table4Cell
from dthq.harness.scenarios import PAPER_KEM
from reports.paper import PAPER_TABLE4, TABLE4_CLAIMED, paper_columns
from reports.render.plot import errors, plt, save
from reports.render.text import fmt, spread
from reports.section import Column, Figure, Section, Table, noted


def _paper(c: Table4Cell) -> dict[Metric, float]:
    """The paper measured ML-KEM only: its figures sit beside that source's cells alone."""
    if c.kem != PAPER_KEM.label:
        return {}
    return PAPER_TABLE4.get((c.key_length, c.edge, c.size), {})


PAPER_HEADERS = ("Paper AL ms", "Paper CC ms", "Paper thrpt msg/s")
COLUMNS: tuple[Column[Table4Cell], ...] = (
    Column("Session key", lambda c: c.kem),
    Column("KL", lambda c: c.key_length),
    Column("Edge", lambda c: c.edge),
    Column("Size", lambda c: c.size),
    Column("Codec", lambda c: c.codec if c.compressed else f"{c.codec} (sent raw)"),
    Column("AL ms", lambda c: spread(c[Metric.AL])),
    Column("CC ms", lambda c: spread(c[Metric.CC])),
    Column("Comm bits", lambda c: c.comm_bits),
    Column("Thrpt msg/s", lambda c: spread(c[Metric.THROUGHPUT])),
    Column("Link ms (modelled)", lambda c: fmt(c.modelled_link_ms)),
    *paper_columns(PAPER_HEADERS, TABLE4_CLAIMED, _paper),
)


TABLE4_NOTE = (
    "DTHQ + psk, the session key from ML-KEM-768 (the paper's), from Q's keys (QKD, "
    "SIMULATED: the BB84 link is a model; Q's pool is filled before the timed region, so "
    "CC counts fetching Kq, not making it), or from both mixed. AL: compress + encrypt + "
    "in-memory transfer + decrypt + decompress. CC: one handshake + AEAD seal/open of the "
    "compressed payload (Eq. 9's measured counterpart). Comm: bits of the record on the "
    "wire (after compression, header and tag included). Link ms is MODELLED (Wi-Fi "
    "802.11n far, wired near), not measured, and not included in AL. The paper reports one "
    "size per key length, all ML-KEM; its rows sit beside ours where they match."
)


TITLE = "Table 4 (measured beside the paper)"
HEADING = "Table 4: DTHQ by key length, edge and size"


def section(results: Results) -> Section:
    body = noted(Table.of(COLUMNS, results.table4), TABLE4_NOTE)
    figures = [Figure("figure-table4.png", table4_figure)]
    return Section(TITLE, body, "table4.md", "table4.csv", HEADING, figures)


COLOURS = {"far": "#d95f02", "near": "#1b9e77"}


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
                yerr=errors([r[figure] for r in present]),
                capsize=2,
                color=COLOURS[edge],
                label=f"{edge} edge ({'LZ4' if edge == 'far' else 'Brotli'})",
            )
        ax.set_xticks(range(len(groups)), [f"{kl}\n{size}" for kl, size in groups], fontsize=8)
        ax.set_yscale("log")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    return save(
        fig, path, "DTHQ by key length x data size x edge type (median, IQR bars; measured)"
    )
