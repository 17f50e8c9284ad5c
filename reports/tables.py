"""Tables 3 and 4 as Markdown and CSV (tabulate), the paper's values beside ours."""

from __future__ import annotations

import csv
import io
from typing import Any

from tabulate import tabulate

from dthq.harness import scenarios


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return (
        f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    )


def _spread(t: dict[str, float]) -> str:
    return f"{fmt(t['median'])} [{fmt(t['q1'])}, {fmt(t['q3'])}]"


TABLE3_HEADERS = [
    "Scheme",
    "Quantum-safe",
    "Handshake ms",
    "Handshake ms (loopback TCP)",
    "Latency ms",
    "Latency ms (amortised)",
    "Throughput msg/s",
    "Comp. overhead ms",
    "Handshake B",
    "Record overhead B",
    "Paper latency ms",
    "Paper thrpt msg/s",
    "Paper comp. ms",
]


def table3_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for r in results["table3"]:
        paper = scenarios.PAPER_TABLE3.get(r.get("paper_row") or "", {})
        rows.append(
            [
                r["scheme"],
                r["quantum_safe"],
                _spread(r["handshake_ms"]),
                _spread(r["handshake_tcp_ms"]) if "handshake_tcp_ms" in r else "-",
                _spread(r["latency_ms"]),
                fmt(r["latency_amortised_ms"]["median"]) if "latency_amortised_ms" in r else "-",
                _spread(r["throughput_msg_s"]),
                _spread(r["comp_overhead_ms"]),
                r["handshake_bytes"],
                r["record_overhead_bytes"],
                paper.get("latency_ms", "-"),
                paper.get("throughput_msg_s", "-"),
                paper.get("comp_overhead_ms", "-"),
            ]
        )
    return rows


TABLE4_HEADERS = [
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


def table4_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for r in results["table4"]:
        paper = scenarios.PAPER_TABLE4.get((r["key_length"], r["edge"], r["size"]), {})
        codec = r["codec"] if r.get("compressed", True) else f"{r['codec']} (sent raw)"
        rows.append(
            [
                r["key_length"],
                r["edge"],
                r["size"],
                codec,
                _spread(r["al_ms"]),
                _spread(r["cc_ms"]),
                r["comm_bits"],
                _spread(r["throughput_msg_s"]),
                fmt(r["modelled_link_ms"]),
                paper.get("al_ms", "-"),
                paper.get("cc_ms", "-"),
                paper.get("throughput_msg_s", "-"),
            ]
        )
    return rows


def markdown(headers: list[str], rows: list[list[Any]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def csv_text(headers: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def machine_line(results: dict[str, Any]) -> str:
    m = results["metadata"]
    openssl = (m.get("openssl") or {}).get("cryptography")
    return (
        f"{m.get('cpu_model')} ({m.get('cpu_count')} cores), {m.get('os')}, "
        f"Python {m.get('python')}, {openssl}, profile {m.get('profile')}"
    )


TABLE3_NOTE = (
    "Medians with the interquartile range [q1, q3]. Handshake: one mutually authenticated "
    "key establishment, both parties, in-process (TLS also over loopback TCP). "
    "Latency: handshake + seal + in-memory transfer + open of one "
    "~100 B reading (near edge: Brotli; sent raw when that does not shrink it). Amortised: "
    "handshake/M + one message, derived from two measured medians. Throughput: seal + open "
    "per second on one core. Comp. overhead: the latency loop with compression off. "
    "RSA-2048 is not forward-secret. Paper values are the paper's Table 3 (i7-9700K, "
    "Windows, Python 3.10) and are not comparable in absolute terms; compare the orderings."
)
TABLE4_NOTE = (
    "DTHQ ML-KEM-768 + psk. AL: compress + encrypt + in-memory transfer + decrypt + "
    "decompress. CC: one handshake + AEAD seal/open of the compressed payload (Eq. 9's "
    "measured counterpart). Comm: bits of the record on the wire (after compression, header "
    "and tag included). Link ms is MODELLED (Wi-Fi 802.11n far, wired near), not measured, "
    "and not included in AL. The paper reports one size per key length; its rows sit beside "
    "ours where they match."
)
