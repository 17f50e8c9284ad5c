"""Table 3: DTHQ beside the baselines (RSA-2048, ECC-256, TLS 1.3, EDHOC/OSCORE), the
paper's values beside ours, and the handshake's cost and size per scheme."""

from __future__ import annotations

from pathlib import Path

from dthq.harness.results import Metric, Results, Table3Row
from reports.paper import PAPER_TABLE3, TABLE3_CLAIMED, paper_columns
from reports.render.plot import errors, plt, save
from reports.render.text import fmt, spread
from reports.section import Column, Figure, Section, Table, noted


def _paper(r: Table3Row) -> dict[Metric, float]:
    return PAPER_TABLE3.get(r.paper_row or "", {})


PAPER_HEADERS = ("Paper latency ms", "Paper thrpt msg/s", "Paper comp. ms")
COLUMNS: tuple[Column[Table3Row], ...] = (
    Column("Scheme", lambda r: r.scheme),
    Column("Quantum-safe", lambda r: r.quantum_safe),
    Column("Handshake ms", lambda r: spread(r[Metric.HANDSHAKE])),
    Column("Handshake ms (loopback TCP)", lambda r: spread(r.get(Metric.HANDSHAKE_TCP))),
    Column("Latency ms", lambda r: spread(r[Metric.LATENCY])),
    Column("Latency ms (amortised)", lambda r: fmt(r.latency_amortised_ms)),
    Column("Latency ms (over MQTT)", lambda r: spread(r.get(Metric.LATENCY_MQTT))),
    Column("Throughput msg/s", lambda r: spread(r[Metric.THROUGHPUT])),
    Column("Comp. overhead ms", lambda r: spread(r[Metric.COMP_OVERHEAD])),
    Column("Handshake B", lambda r: r.handshake_bytes),
    Column("Record overhead B", lambda r: r.record_overhead_bytes),
    *paper_columns(PAPER_HEADERS, TABLE3_CLAIMED, _paper),
)


TABLE3_NOTE = (
    "Medians with the interquartile range [q1, q3]. Handshake: one mutually authenticated "
    "key establishment, both parties, in-process (TLS also over loopback TCP). "
    "Latency: handshake + seal + in-memory transfer + open of one "
    "~100 B reading (near edge: Brotli; sent raw when that does not shrink it). Amortised: "
    "handshake/M + one message, derived from two measured medians. Throughput: seal + open "
    "per second on one core. Comp. overhead: the latency loop with compression off. "
    "RSA-2048 is not forward-secret. DTHQ kem: B proves itself by decapsulating A's "
    "ciphertext to its registered static ML-KEM key and A by decapsulating B's to its own "
    "(kem-psk: A by the PSK), KEMTLS-style, with no signatures. "
    "EDHOC + OSCORE (RFC 9528 static DH on P-256, RFC 8613 "
    "with AES-CCM-16-64-128 and an 8-byte tag) is not quantum-safe; post-quantum EDHOC is "
    "still in drafts (draft-spm-lake-pqsuites, draft-pocero-authkem-edhoc); its records are "
    "whole CoAP messages. Paper values are the paper's Table 3 (i7-9700K, "
    "Windows, Python 3.10) and are not comparable in absolute terms; compare the orderings."
)


TITLE, HEADING = "Table 3 (measured beside the paper)", "Table 3: DTHQ beside the baselines"


def section(results: Results) -> Section:
    body = noted(Table.of(COLUMNS, results.table3), TABLE3_NOTE)
    return Section(TITLE, body, "table3.md", "table3.csv", HEADING, FIGURES)


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
        xerr=errors([r[Metric.HANDSHAKE] for r in rows]),
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
    return save(
        fig,
        path,
        "Handshake cost and size per scheme (grey: classical, pink: hybrid, purple: post-quantum)",
    )


FIGURES = [Figure("figure-handshake.png", handshake_figure)]
