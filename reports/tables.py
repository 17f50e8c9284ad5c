"""Tables 3 and 4 as Markdown and CSV (tabulate), the paper's values beside ours."""

from __future__ import annotations

import csv
import io
from typing import Any

from tabulate import tabulate

from dthq.harness.results import Distribution, Metric, Results
from dthq.harness.scenarios import PAPER_KEM
from reports.anchors import CASCADE_PYTHON, CASCADE_PYTHON_SECONDS_PER_10K
from reports.paper import PAPER_TABLE3, PAPER_TABLE4


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return (
        f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    )


def _spread(t: Distribution | None) -> str:
    if t is None:
        return "-"
    if t.q1 is None or t.q3 is None:
        return fmt(t.median)
    return f"{fmt(t.median)} [{fmt(t.q1)}, {fmt(t.q3)}]"


TABLE3_HEADERS = [
    "Scheme",
    "Quantum-safe",
    "Handshake ms",
    "Handshake ms (loopback TCP)",
    "Latency ms",
    "Latency ms (amortised)",
    "Latency ms (over MQTT)",
    "Throughput msg/s",
    "Comp. overhead ms",
    "Handshake B",
    "Record overhead B",
    "Paper latency ms",
    "Paper thrpt msg/s",
    "Paper comp. ms",
]


def table3_rows(results: Results) -> list[list[Any]]:
    rows = []
    for r in results.table3:
        paper = PAPER_TABLE3.get(r.paper_row or "", {})
        rows.append(
            [
                r.scheme,
                r.quantum_safe,
                _spread(r[Metric.HANDSHAKE]),
                _spread(r.get(Metric.HANDSHAKE_TCP)),
                _spread(r[Metric.LATENCY]),
                fmt(r.latency_amortised_ms),
                _spread(r.get(Metric.LATENCY_MQTT)),
                _spread(r[Metric.THROUGHPUT]),
                _spread(r[Metric.COMP_OVERHEAD]),
                r.handshake_bytes,
                r.record_overhead_bytes,
                paper.get(Metric.LATENCY, "-"),
                paper.get(Metric.THROUGHPUT, "-"),
                paper.get(Metric.COMP_OVERHEAD, "-"),
            ]
        )
    return rows


TABLE4_HEADERS = [
    "Session key",
    "KL",
    "Edge",
    "Size",
    "Codec",
    "AL ms",
    "CC ms",
    "Comm bits",
    "Thrpt msg/s",
    "Link ms (modelled)",
    "Paper AL ms",
    "Paper CC ms",
    "Paper thrpt msg/s",
]


def table4_rows(results: Results) -> list[list[Any]]:
    rows = []
    for c in results.table4:
        # The paper measured ML-KEM only: its figures sit beside that source's cells alone.
        paper = (
            PAPER_TABLE4.get((c.key_length, c.edge, c.size), {}) if c.kem == PAPER_KEM.label else {}
        )
        rows.append(
            [
                c.kem,
                c.key_length,
                c.edge,
                c.size,
                c.codec if c.compressed else f"{c.codec} (sent raw)",
                _spread(c[Metric.AL]),
                _spread(c[Metric.CC]),
                c.comm_bits,
                _spread(c[Metric.THROUGHPUT]),
                fmt(c.modelled_link_ms),
                paper.get(Metric.AL, "-"),
                paper.get(Metric.CC, "-"),
                paper.get(Metric.THROUGHPUT, "-"),
            ]
        )
    return rows


FORGED_HELLO_HEADERS = [
    "Auth",
    "Retry policy",
    "B's CPU per forged HELLO us",
    "HELLO B",
    "B's answer B",
    "Amplification",
]


def forged_hello_rows(results: Results) -> list[list[Any]]:
    return [
        [
            f.auth,
            f.retry,
            _spread(f.cpu_us),
            f.hello_bytes,
            f.response_bytes,
            f"{f.amplification:.2f}x",
        ]
        for f in results.forged_hello
    ]


FORGED_HELLO_NOTE = (
    "A genuine HELLO replayed to B (the worst case: it passes every check). Without the "
    "retry cookie B encapsulates (and signs, in mldsa mode) and answers with a full REPLY; "
    "with it, B computes one HMAC, keeps no state and answers with a small RETRY. "
    "Amplification = bytes B sends / bytes it received (QUIC allows at most 3x before the "
    "peer's address is validated)."
)


QKD_SWEEP_HEADERS = [
    "Sweep",
    "QBER set",
    "Fibre km",
    "Raw pulses",
    "Sifted",
    "Net secret bits",
    "Bits/pulse",
    "Theory bits/pulse (measured f)",
    "Shor-Preskill bits/pulse",
    "f",
    "f (original schedule)",
    "Cascade rounds",
    "Aborted",
]


def qkd_sweep_rows(results: Results) -> list[list[Any]]:
    return [
        [
            p.sweep,
            f"{p.qber:.0%}",
            fmt(p.fibre_km),
            p.raw_pulses,
            "-" if p.sifted is None else p.sifted,
            p.net_bits,
            fmt(p.key_rate),
            fmt(p.theory_rate),
            fmt(p.shor_preskill_rate),
            fmt(p.efficiency),
            fmt(p.efficiency_original),
            "-" if p.rounds is None else p.rounds,
            p.aborted or "",
        ]
        for p in results.qkd_sweep
    ]


QKD_KEY_HEADERS = [
    "Key bits",
    "QBER",
    "Raw pulses (smallest run)",
    "Time ms",
    "Cascade rounds",
    "Keys from the run",
]


def qkd_key_rows(results: Results) -> list[list[Any]]:
    return [
        [k.key_bits, f"{k.qber:.0%}", k.raw_pulses, _spread(k.time_ms), k.rounds, k.keys]
        for k in results.qkd_keys
    ]


CASCADE_HEADERS = [
    "Cascade",
    "QBER",
    "Bits",
    "Time ms",
    "f (mean)",
    "f (worst)",
    "Instances",
    "Rounds",
    "Block sizes",
]


def cascade_rows(results: Results) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            f"ours, {c.schedule}",
            f"{c.qber:.0%}",
            c.bits,
            _spread(c.time_ms),
            fmt(c.efficiency),
            fmt(c.efficiency_max),
            c.runs,
            c.rounds,
            " ".join(map(str, c.block_sizes)),
        ]
        for c in results.cascade
    ]
    low, high = CASCADE_PYTHON_SECONDS_PER_10K
    for a in CASCADE_PYTHON:
        f = (
            fmt(a.efficiency[0])
            if a.efficiency[0] == a.efficiency[1]
            else (f"{fmt(a.efficiency[0])}-{fmt(a.efficiency[1])}")
        )
        rows.append(
            [f"{a.source}, {a.schedule} (published)", f"{a.qber:.0%}", "-",
             f"{low * 1e3:.0f}-{high * 1e3:.0f} (per 10,000 bits)", f, "-", "-", "-", "-"]
        )  # fmt: skip
    return rows


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


def markdown(headers: list[str], rows: list[list[Any]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def csv_text(headers: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def machine_line(results: Results) -> str:
    meta = results.metadata
    m = meta.machine
    openssl = (m.get("openssl") or {}).get("cryptography")
    return (
        f"{m.get('cpu_model')} ({m.get('cpu_count')} cores), {m.get('os')}, "
        f"Python {m.get('python')}, {openssl}, profile {meta.profile} "
        f"(M = {meta.messages_per_session})"
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


INSTRUCTION_HEADERS = ["Figure", "Instructions per operation", "N", "Gated"]
INSTRUCTION_NOTE = (
    "Counted by callgrind (valgrind), not timed: (I(2N) - I(N)) / N between markers, "
    "PYTHONHASHSEED fixed; repeatable to about 0.2 % whatever else the machine does. "
    "handshake/ is one complete handshake (both parties), record/ one seal + open of the "
    "cell's reading with its edge's codec. Randomised rows (hedged ML-DSA signing) are "
    "reported, never gated. `dthq compare --against REV` gates on these figures."
)


def instruction_rows(results: Results) -> list[list[Any]]:
    return [
        [c.figure, f"{c.per_op:,.0f}", c.n, "no (randomised)" if c.randomised else "yes"]
        for c in results.instructions
    ]
