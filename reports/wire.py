"""What goes on the wire, per scheme: bytes per flight, per record and per reading over a
session of M readings, and how many link-layer frames each flight needs. Computed from
the byte counts measured in the run (Table 3's flights and records); frame counts and
completion times under loss are MODELLED from the framing assumptions below.

Framing (stated, not measured):
- Ethernet / Wi-Fi, MTU 1500, and the IPv6 minimum MTU 1280: IPv6 (40 B) + UDP (8 B)
  headers per datagram, no other framing; a flight larger than one datagram's payload
  is split into as many datagrams as it needs (IP fragmentation or the protocol's own).
- IEEE 802.15.4, 127-byte frames: 25 B of MAC header and FCS per frame; 6LoWPAN IPHC
  with UDP NHC compressed to 7 B and a 4 B CoAP header with 2 B of options in the first
  fragment. A flight is carried in IPv6 datagrams of at most 1280 B (the IPv6 minimum
  MTU 6LoWPAN must offer); a datagram that does not fit one frame goes in 6LoWPAN
  fragments (FRAG1 4 B, FRAGN 5 B headers), and losing any fragment loses the datagram
  (RFC 4944 has no fragment repair).
- Loss: each frame lost independently with probability ``LOSS``; a lost datagram is
  sent again whole after ``RTO_MS`` (the transport's retransmission, per datagram or
  segment). Airtime at 250 kbit/s with a 6-byte PHY header.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dthq.harness.results import Results, Table3Row
from reports.render.plot import log_log, plt, save
from reports.section import Figure, Section, Table, noted

LINKS = {"1500 B": 1500 - 40 - 8, "1280 B": 1280 - 40 - 8}  # datagram payload
FRAME_154 = 127
MAC_154 = 25
FIRST_154 = FRAME_154 - MAC_154 - 4 - 7 - 6  # FRAG1, IPHC+NHC, CoAP: 85 B of the flight
NEXT_154 = (FRAME_154 - MAC_154 - 5) // 8 * 8  # FRAGN; fragment payloads are 8-byte units
UNFRAGMENTED_154 = FRAME_154 - MAC_154 - 7 - 6  # 89 B: a flight this small needs no FRAG
LOSS = 0.05
RTO_MS = 1000.0
RATE_154_BPS = 250_000
PHY_154 = 6
SESSION_LENGTHS = (1, 10, 100, 1000)


def _datagrams(size: int, payload: int) -> list[int]:
    """A flight cut into datagram payloads of at most ``payload`` bytes."""
    count = max(1, math.ceil(size / payload))
    return [min(payload, size - i * payload) for i in range(count)]


def _frames_154(datagram: int) -> int:
    if datagram <= UNFRAGMENTED_154:
        return 1
    return 1 + math.ceil(max(0, datagram - FIRST_154) / NEXT_154)


def frames(size: int, link: str) -> int:
    """Frames (datagrams) a flight of ``size`` bytes needs on ``link`` (see LINKS, 127 B)."""
    if link == "127 B":
        return sum(_frames_154(d) for d in _datagrams(size, LINKS["1280 B"]))
    return len(_datagrams(size, LINKS[link]))


def completion_ms_154(sizes: list[int]) -> float:
    """MODELLED expected time to deliver flights of these sizes one after another over
    802.15.4 at ``LOSS`` frame loss: each datagram needs all its fragments, and one that
    loses any is sent again after ``RTO_MS``."""
    total = 0.0
    for size in sizes:
        for datagram in _datagrams(size, LINKS["1280 B"]):
            k = _frames_154(datagram)
            airtime = k * (FRAME_154 + PHY_154) * 8 / RATE_154_BPS * 1000
            p_ok = (1 - LOSS) ** k
            total += airtime / p_ok + (1 / p_ok - 1) * RTO_MS  # expected tries and waits
    return total


def bytes_per_reading(row: Table3Row, readings: int) -> float:
    return (row.handshake_bytes + readings * row.record_bytes) / readings


WIRE_HEADERS = [
    "Scheme",
    "Flights (B each)",
    "Handshake B",
    "Record B",
    "Frames @1500",
    "Frames @1280",
    "Frames @127",
    *[f"B/reading, M={m}" for m in SESSION_LENGTHS],
    f"Handshake @127 B, {LOSS:.0%} loss, ms (modelled)",
]


def wire_rows(results: Results) -> list[list[Any]]:
    rows = []
    for r in results.table3:
        sizes = [f.size for f in r.flights]
        rows.append(
            [
                r.scheme,
                " / ".join(str(s) for s in sizes),
                r.handshake_bytes,
                r.record_bytes,
                *(sum(frames(s, link) for s in sizes) for link in ("1500 B", "1280 B", "127 B")),
                *(f"{bytes_per_reading(r, m):.1f}" for m in SESSION_LENGTHS),
                f"{completion_ms_154(sizes):.0f}",
            ]
        )
    return rows


WIRE_NOTE = (
    "Bytes are measured (the run's own flights and records: one ~100 B reading, near-edge "
    "compression); frame counts and completion times are MODELLED from the framing "
    "assumptions: IPv6 + UDP (48 B) per datagram at MTU 1500 and 1280; IEEE 802.15.4 "
    f"127 B frames with {MAC_154} B MAC + FCS, 6LoWPAN IPHC + UDP NHC (7 B) and CoAP "
    "(6 B), flights in IPv6 datagrams of at most 1280 B, each 6LoWPAN-fragmented "
    f"(FRAG1/FRAGN), {LOSS:.0%} independent frame loss, a datagram with a lost fragment "
    f"resent whole after {RTO_MS:g} ms, 250 kbit/s. TLS rows run over TCP in practice; "
    "their frame counts here use the same datagram sizes."
)


def section(results: Results) -> Section:
    body = noted(Table(WIRE_HEADERS, wire_rows(results)), WIRE_NOTE)
    return Section("What goes on the wire", body, "wire.md", figures=FIGURES)


def wire_figure(results: Results, path: Path) -> Path | None:
    """Left: bytes on the wire per reading against readings per session (measured bytes).
    Right: frames each handshake needs at 127 B (MODELLED framing)."""
    rows = results.table3
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    m = np.unique(np.logspace(0, 3, 40).astype(int))
    for r in rows:
        left.plot(m, (r.handshake_bytes + m * r.record_bytes) / m, label=r.scheme)
    log_log(left, "readings per session", "bytes on the wire per reading (measured bytes)", 7)
    names = [r.scheme for r in rows]
    counts = [sum(frames(f.size, "127 B") for f in r.flights) for r in rows]
    right.barh(names, counts, color="#1f78b4")
    right.invert_yaxis()
    right.set_xlabel("IEEE 802.15.4 frames per handshake (127 B, MODELLED framing)")
    right.grid(axis="x", alpha=0.3)
    return save(
        fig, path, "What goes on the wire: bytes per reading, and handshake frames at 127 B"
    )


FIGURES = [Figure("figure-wire.png", wire_figure)]
