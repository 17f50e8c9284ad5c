"""Table 3: one row per scheme, KL 256, near edge, one small reading.

- handshake: one complete mutually authenticated key establishment, both parties;
- latency: handshake + seal + in-memory transfer + open of one reading;
- message: seal + open of one reading on an established session (throughput = 1/median);
- crypto: handshake + seal + open with compression off (the computational overhead).

Rows are the scenario matrix's, plus one per installed plug-in scheme.
"""

from __future__ import annotations

from typing import Any

import pytest

import dthq
from bench.calls import READING, handshake, record_path
from bench.calls import table3_scheme as _scheme
from bench.tags import tag_table3
from dthq.harness.results import Metric
from dthq.harness.scenarios import Table3Scenario, table3_scenarios
from dthq.transport.brokers import EmbeddedBroker
from dthq.transport.mqtt import MQTTTransport

ROWS = [pytest.param(row, id=row.key) for row in table3_scenarios(dthq.SCHEMES.names())]


def _tag(benchmark: Any, row: Table3Scenario, metric: Metric, session: dthq.Session) -> None:
    record = session.initiator.seal(READING, 1)
    session.responder.open(record, 1)  # keeps a TLS stream in step for the benchmark that follows
    quantum_safe = _scheme(row, True).quantum_safe
    tag_table3(
        benchmark,
        row,
        metric,
        quantum_safe=quantum_safe,
        session=session,
        record=record,
        payload=READING,
    )


@pytest.mark.parametrize("row", ROWS)
def test_handshake(benchmark: Any, row: Table3Scenario, bench_profile: Any) -> None:
    s = _scheme(row, compress=True, profile=bench_profile)
    _tag(benchmark, row, Metric.HANDSHAKE, s.establish(0))
    benchmark(handshake(row, bench_profile))


@pytest.mark.parametrize(
    "metric", [Metric.LATENCY, Metric.COMP_OVERHEAD], ids=["latency", "crypto"]
)
@pytest.mark.parametrize("row", ROWS)
def test_one_message_session(
    benchmark: Any, row: Table3Scenario, metric: Metric, bench_profile: Any
) -> None:
    """latency: with the edge's compression; crypto (comp. overhead): compression off."""
    s = _scheme(row, compress=metric is Metric.LATENCY, profile=bench_profile)

    def one_message() -> bytes:
        session = s.establish(0)
        return session.responder.open(session.initiator.seal(READING, 1), 1)

    _tag(benchmark, row, metric, s.establish(0))
    assert benchmark(one_message) == READING


@pytest.mark.parametrize("row", ROWS)
def test_message(benchmark: Any, row: Table3Scenario) -> None:
    _tag(benchmark, row, Metric.MESSAGE, _scheme(row, compress=True).establish(0))
    assert benchmark(record_path(row, compress=True)) == READING


RECORD_PATHS = ("dthq-mlkem768-psk", "tls13-x25519")  # each stands for its record layer


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].key in RECORD_PATHS])
def test_record_path(benchmark: Any, row: Table3Scenario) -> None:
    """Seal + open of one reading with compression off: DTHQ's record layer against TLS
    1.3's (OpenSSL through pyOpenSSL), the same bytes in, in the same run."""
    _tag(benchmark, row, Metric.RECORD, _scheme(row, compress=False).establish(0))
    assert benchmark(record_path(row)) == READING


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].scheme == "tls13"])
def test_handshake_loopback_tcp(benchmark: Any, row: Table3Scenario) -> None:
    """The TLS rows again over a real loopback TCP connection (measured, not modelled)."""
    s = _scheme(row, compress=False)
    tag_table3(benchmark, row, Metric.HANDSHAKE_TCP)
    benchmark(s.handshake_over_tcp)


@pytest.fixture(scope="module")
def broker() -> Any:
    with EmbeddedBroker() as b:
        yield b


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].scheme.startswith("dthq")])
def test_latency_over_mqtt(
    benchmark: Any, row: Table3Scenario, broker: Any, bench_profile: Any
) -> None:
    """The latency column again with every flight and the record through the embedded
    broker (amqtt, loopback): A and B each on their own MQTT connection."""
    s = _scheme(row, compress=True, profile=bench_profile)
    transport = MQTTTransport(broker.url, protocol=broker.protocol)

    def one_message() -> bytes:
        session = s.establish(0, transport=transport)
        transport.send("A", session.initiator.seal(READING, 1))
        return session.responder.open(transport.receive("B"), 1)

    tag_table3(benchmark, row, Metric.LATENCY_MQTT)
    try:
        assert benchmark(one_message) == READING
    finally:
        transport.close()
