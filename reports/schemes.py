"""Three schemes through one pipe: DTHQ over plain MQTT, MQTT over TLS 1.3 alone and DTHQ
inside TLS, the same load through the same Mosquitto in the same run; every figure a
SchemeRun holds, what each scheme protects, and the post-quantum route taken for TLS.

Debian's OpenSSL 3.0 (the broker's and Python's ssl) has no ML-KEM, so the TLS rows
negotiate X25519. The route is the labelled adjustment, not a second TLS stack: putting
pyOpenSSL over cryptography's newer OpenSSL in front of Mosquitto would take a TLS
terminating proxy of our own in the path, whose extra hop and Python CPU would weigh on
the TLS rows' latency, CPU and bytes far more than the key exchange group does. The
adjustment is the in-process handshake cost difference Table 3 measures,
tls13-x25519mlkem768 minus tls13-x25519, added once per TLS handshake to what includes
handshakes (the recoveries), and labelled modelled. Steady-state figures (latency, held
rate, bytes and CPU per reading) carry no handshake, so they get none.
"""

from __future__ import annotations

from dthq.harness.results import LOAD_GENERATOR, Metric, Results, SchemeRun
from reports.section import Block, Heading, Section, Table, Text

HYBRID, CLASSICAL = "tls13-x25519mlkem768", "tls13-x25519"
PROTECTS = {
    "dthq": "end to end, device to twin: the broker (need not be trusted) sees only sealed "
    "records and topics; a post-quantum (ML-KEM) session key",
    "tls": "hop by hop, each client to the broker: the broker sees every reading in "
    "clear, and who sent it is the topic its certificate-bound ACL allowed; X25519",
    "dthq+tls": "both: DTHQ's records end to end inside TLS on each hop (the broker sees "
    "topics and sizes, not readings); the hops' TLS is X25519",
}
LABELS = {"dthq": "DTHQ over MQTT", "tls": "MQTT over TLS 1.3", "dthq+tls": "DTHQ inside TLS"}
NOTE = (
    "Measured on this machine, one run: each scheme in turn through this run's own "
    "Mosquitto (TLS listener for the TLS rows: TLS 1.3, a client certificate per device, "
    "gateway and cloud, an ACL per identity). The steady run (delivered, p50/p99, bytes, "
    "CPU) has every party in its own process, the load generator (the devices) on a core "
    "of its own where there are two; held/s is the held suite's search (every reading "
    "once, the rate kept, p99 <= 100 ms) at the same devices, one broker connection each "
    "(held.md's pipeline shares 50 devices a connection, so its held rate differs). Bytes "
    "per reading: every byte the broker process read or wrote over the steady run's "
    "sending window and drain "
    "(/proc/<pid>/io rchar + wchar; Mosquitto runs with persistence off and no log, so "
    "that is its sockets), both hops and both ways, receipts and acks included, per "
    "delivered reading; TCP/IP headers are not counted. CPU: each process's user + system "
    "CPU over the same window per delivered reading (at this light load much of it is the "
    "processes' idle polling). Storm and cold are timed with the parties in one process, "
    "the timer driving the devices, alike for each scheme. Storm: the broker restarted "
    "(every connection drops at once) until every device has a reading taken after it "
    "stored; it includes every TLS handshake again under TLS, while DTHQ's sessions "
    "survive it. Cold: the gateway restarted, losing DTHQ's sessions (NO_SESSION, then a "
    "DTHQ handshake per device); under MQTT over TLS only the gateway's connection is new."
)


def hybrid_delta_ms(results: Results) -> float | None:
    """Table 3's in-process handshake cost of X25519MLKEM768 over X25519 (medians)."""
    hybrid, classical = results.row(HYBRID), results.row(CLASSICAL)
    if hybrid is None or classical is None:
        return None
    h, c = hybrid.get(Metric.HANDSHAKE), classical.get(Metric.HANDSHAKE)
    return None if h is None or c is None else h.median - c.median


def adjusted_storm_s(run: SchemeRun, delta_ms: float | None) -> float | None:
    """MODELLED: the storm with every TLS handshake paying the hybrid group's extra cost,
    one after another (the broker's side is one thread)."""
    if run.scheme == "dthq" or delta_ms is None or run.storm_recovery_s is None:
        return None
    return run.storm_recovery_s + run.connections * delta_ms / 1000


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def _row(run: SchemeRun, delta_ms: float | None) -> list[object]:
    r, cpu = run.run, run.cpu_ms_per_reading()
    e2e = r.end_to_end
    return [
        LABELS.get(run.scheme, run.scheme),
        f"{r.delivered_per_s:,.0f} of {r.offered_per_s:,.0f}",
        _num(run.held_per_s, ",.0f"),
        _num(e2e.median if e2e else None),
        _num(e2e.p99 if e2e else None),
        _num(run.wire_bytes_per_reading, ",.0f"),
        " / ".join(_num(cpu.get(p), ".3f") for p in ("gateway", "cloud", "broker")),
        _num(cpu.get(LOAD_GENERATOR, cpu.get("device")), ".3f"),
        _num(run.storm_recovery_s),
        _num(adjusted_storm_s(run, delta_ms)),
        _num(run.cold_recovery_s),
    ]


HEADERS = [
    "scheme",
    "delivered/s (offered)",
    "held/s",
    "e2e p50 ms",
    "e2e p99 ms",
    "broker bytes/reading",
    "CPU ms/reading gateway / cloud / broker",
    "load generator CPU ms/reading",
    "storm s",
    "storm s, hybrid group adjusted (MODELLED)",
    "cold s",
]


def section(results: Results) -> Section | None:
    if not results.schemes:
        return None
    delta = hybrid_delta_ms(results)
    runs = results.schemes
    blocks: list[Block] = [Heading("Three schemes through one pipe")]
    load = runs[0].run
    blocks.append(
        Text(
            [
                f"{load.patients} devices at {load.rate_hz:g} Hz for {load.duration_s:g} s "
                f"each, policy {load.policy}, QoS {load.qos}, {load.broker or 'mosquitto'}."
            ]
        )
    )
    blocks.append(Table(HEADERS, [_row(r, delta) for r in runs]))
    protects = [f"{LABELS.get(r.scheme, r.scheme)}: {PROTECTS.get(r.scheme, '-')}" for r in runs]
    blocks.append(Text(protects, bullets=True))
    route = (
        "Post-quantum TLS: the system OpenSSL 3.0 cannot negotiate X25519MLKEM768, so the "
        "TLS rows run X25519 and the hybrid group enters as an adjustment, MODELLED: "
        + (
            f"Table 3's handshake {HYBRID} minus {CLASSICAL}, {delta:.3f} ms in process, "
            "added per TLS handshake (each broker connection) to the storm; the cold "
            "restart has one (the gateway's), so it would move by that once. "
            if delta is not None
            else "not computed here (this run has no Table 3 rows for the two groups). "
        )
        + "Latency, held rate, bytes and CPU per reading involve no handshake and are as "
        "measured. The alternative, terminating TLS with pyOpenSSL over cryptography's "
        "OpenSSL (which has ML-KEM), would need a TLS proxy of our own in front of "
        "Mosquitto, and that hop would skew the TLS rows more than the group does."
    )
    held = any(r.held_per_s is not None for r in runs)
    notes = [route, NOTE]
    if not held:
        notes.append("Held rate: not measured in this run (no bisection ran).")
    blocks.append(Text(notes))
    return Section("Three schemes through one pipe", blocks, "schemes.md")
