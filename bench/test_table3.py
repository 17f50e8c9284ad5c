"""Table 3: one row per scheme (DESIGN §5), KL 256, near edge, one small reading.

- handshake: one complete mutually authenticated key establishment, both parties;
- latency: handshake + seal + in-memory transfer + open of one reading;
- message: seal + open of one reading on an established session (throughput = 1/median);
- crypto: handshake + seal + open with compression off (the computational overhead).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import scheme

import dthq
from dthq.harness.scenarios import TABLE3, TABLE3_EDGE, TABLE3_KEY_LENGTH, TABLE3_SIZE, Table3Row
from dthq.harness.telemetry import TelemetryGenerator

READING = TelemetryGenerator(seed=1).payload(TABLE3_SIZE)
ROWS = [pytest.param(row, id=row.key) for row in TABLE3]


def _scheme(row: Table3Row, compress: bool) -> Any:
    options = dict(row.options, key_length=TABLE3_KEY_LENGTH)
    if row.scheme != "tls13":  # TLS 1.3 has no record compression
        options["edge" if compress else "codec"] = TABLE3_EDGE if compress else "none"
    return scheme(row.scheme, **options)


def _info(benchmark: Any, row: Table3Row, figure: str, session: dthq.Session) -> None:
    record = session.initiator.seal(READING, 1)
    session.responder.open(record)  # keeps a TLS stream in step for the benchmark that follows
    benchmark.extra_info.update(
        suite="table3",
        row=row.key,
        label=row.label,
        figure=figure,
        quantum_safe=_scheme(row, True).quantum_safe,
        flights=[[f.sender, f.name, f.size] for f in session.flights],
        handshake_bytes=session.handshake_bytes,
        record_overhead_bytes=session.initiator.overhead,
        record_bytes=len(record),
        payload_bytes=len(READING),
        params={k: v for k, v in session.params.items() if v is not None},
    )


@pytest.mark.parametrize("row", ROWS)
def test_handshake(benchmark: Any, row: Table3Row) -> None:
    s = _scheme(row, compress=True)
    _info(benchmark, row, "handshake", s.establish())
    benchmark(s.establish)


@pytest.mark.parametrize("figure", ["latency", "crypto"])
@pytest.mark.parametrize("row", ROWS)
def test_one_message_session(benchmark: Any, row: Table3Row, figure: str) -> None:
    """latency: with the edge's compression; crypto (comp. overhead): compression off."""
    s = _scheme(row, compress=figure == "latency")

    def one_message() -> bytes:
        session = s.establish()
        return session.responder.open(session.initiator.seal(READING, 1))

    _info(benchmark, row, figure, s.establish())
    assert benchmark(one_message) == READING


@pytest.mark.parametrize("row", ROWS)
def test_message(benchmark: Any, row: Table3Row) -> None:
    session = _scheme(row, compress=True).establish()
    seal, open_ = session.initiator.seal, session.responder.open
    _info(benchmark, row, "message", session)
    assert benchmark(lambda: open_(seal(READING, 1))) == READING


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].scheme == "tls13"])
def test_handshake_loopback_tcp(benchmark: Any, row: Table3Row) -> None:
    """The TLS rows again over a real loopback TCP connection (measured, not modelled)."""
    s = _scheme(row, compress=False)
    benchmark.extra_info.update(
        suite="table3", row=row.key, label=row.label, figure="handshake_tcp"
    )
    benchmark(s.handshake_over_tcp)
