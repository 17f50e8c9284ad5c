"""The twin pipeline end to end, through the embedded broker (amqtt), Mosquitto and the
in-memory bus: every reading accounted for, hostile messages refused and counted, a
broker restart survived. Mosquitto tests skip (with the reason) only when it is absent;
.ci/run installs it."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack, closing

import pytest
from helpers import OffsetClock, SteppingClock

from dthq.errors import StateError
from dthq.pipeline import topics
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import Gateway
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.pipeline.run import Pipeline, SimConfig, simulate
from dthq.transport.brokers import EmbeddedBroker, MosquittoBroker
from dthq.transport.bus import MemoryBus, Message
from dthq.transport.mqtt import MQTTBus

BROKERS = [
    pytest.param("amqtt", id="amqtt"),
    pytest.param("mosquitto", id="mosquitto", marks=pytest.mark.requires("mosquitto")),
]


def accounted(run) -> None:  # type: ignore[no-untyped-def]
    c = run.counts
    assert c["sent"] > 0
    assert c["lost"] == 0, run.rejected
    assert c["duplicated"] == 0
    assert c["delivered"] + sum(n for r, n in run.rejected.items() if "invalid" in r) == c["sent"]


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize("policy", ["fixed", "adaptive"])
def test_every_reading_reaches_the_twin_through_a_broker(broker: str, policy: str) -> None:
    run = simulate(
        SimConfig(patients=4, rate_hz=5, duration_s=2, embedded=broker, policy=policy, qos=1)
    )
    accounted(run)
    assert run.protocol == ("MQTT 5" if broker == "mosquitto" else "MQTT 3.1.1")
    assert run.broker.startswith(broker)
    assert set(run.stages) >= {"acquire", "transmit", "gateway", "twin", "fhir", "store"}
    assert run.end_to_end is not None and run.end_to_end.rounds == run.counts["delivered"]
    assert run.bytes_up["device"] > 0 and run.bytes_up["gateway"] > 0


# Slow: a client that is not told the protocol offers MQTT 5 first, and amqtt neither
# answers nor closes, so the fallback to 3.1.1 waits out the 10 s CONNECT timeout.
@pytest.mark.slow
def test_an_external_broker_url_uses_the_same_client() -> None:
    """--broker mqtt://HOST:PORT: the broker is someone else's; the code path is the same."""
    with EmbeddedBroker() as broker:
        run = simulate(SimConfig(patients=2, rate_hz=5, duration_s=1, broker=broker.url))
    accounted(run)
    assert run.broker == broker.url


def test_memory_transport_runs_the_same_parties() -> None:
    run = simulate(SimConfig(patients=3, rate_hz=10, duration_s=1, transport="memory"))
    accounted(run)
    assert run.protocol == "" and run.transport == "memory"


def test_invalid_readings_are_refused_with_a_reason_and_never_forwarded(tmp_path) -> None:
    run = simulate(
        SimConfig(
            patients=4,
            rate_hz=10,
            duration_s=2,
            transport="memory",
            fault_rate=0.3,
            fhir_dir=tmp_path,
        )
    )
    accounted(run)
    refused = run.rejected["gateway: invalid reading"]
    assert refused > 0
    assert run.rejection_examples["gateway: invalid reading"] == "spo2 101.5 is outside 50..100"
    assert run.counts["delivered"] == run.counts["sent"] - refused
    # Nothing refused reached FHIR: every Observation in every bundle is in range.
    import json

    spo2 = [
        entry["resource"]["valueQuantity"]["value"]
        for path in tmp_path.glob("bundle-*.json")
        for entry in json.loads(path.read_text())["entry"]
        if entry["resource"]["resourceType"] == "Observation"
        and entry["resource"]["code"]["coding"][0]["code"] == "59408-5"
    ]
    assert len(spo2) == run.counts["delivered"] > 0  # one SpO2 per delivered reading
    assert max(spo2) <= 100


def _sniffed(bus: MQTTBus, pattern: str) -> list[Message]:
    seen: list[Message] = []
    bus.subscribe(pattern, seen.append, qos=1)
    return seen


@pytest.mark.parametrize("broker", BROKERS)
def test_hostile_messages_on_device_topics_are_refused_and_counted(broker: str) -> None:
    config = SimConfig(patients=2, rate_hz=1, duration_s=1, embedded=broker, drain_s=5)
    with ExitStack() as stack:
        p = Pipeline(config, stack, SYSTEM_CLOCK)
        attacker = stack.enter_context(
            closing(MQTTBus(p.broker.url, "attacker", protocol=p.broker.protocol))
        )
        seen = _sniffed(attacker, topics.ALL_DEVICES_UP)
        time.sleep(0.2)
        a, b = p.devices
        for _ in range(3):
            a.tick()
            b.tick()
        a.tick()  # a's fourth record: a sequence number b's window has not seen yet
        assert p.drain()
        genuine = [
            m for m in seen if m.payload[0] == topics.RECORD and m.topic == topics.device_up(a.id)
        ]
        record, fourth = genuine[0].payload, genuine[3].payload
        up_a, up_b = topics.device_up(a.id), topics.device_up(b.id)
        attacker.publish(up_a, os.urandom(40), 1)  # garbage
        attacker.publish(up_a, record[:20], 1)  # truncated
        attacker.publish(up_a, record, 1)  # replayed
        attacker.publish(up_b, fourth, 1)  # a's record on b's topic: b's keys fail
        attacker.publish(topics.device_up("dev-99999"), record, 1)  # no such session
        # A provisioned device whose clock is a minute behind: its records are stale.
        late = Device(b.id, "gw-1", p.registry, attacker, Metrics(), clock=OffsetClock(-60_000))
        late.handshake()
        late.wait_established()
        late.tick()
        a.tick()  # the pipeline keeps running: a valid reading after all that
        deadline = time.monotonic() + 5
        while sum(p.metrics.rejected.values()) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.drain()
        run = p.summary()
    rejected = run.rejected
    assert rejected["gateway: malformed"] == 2, rejected  # garbage, truncated
    assert rejected["gateway: replayed"] == 1
    assert rejected["gateway: failed authentication"] == 1
    assert rejected["gateway: no session"] == 1
    assert rejected["gateway: stale"] == 1
    # 8 genuine readings were sent; all reached the twin, the late device's is refused.
    assert run.counts["delivered"] == 8


@pytest.mark.parametrize("broker", BROKERS)
def test_devices_resume_after_the_broker_restarts(broker: str) -> None:
    config = SimConfig(patients=3, rate_hz=5, duration_s=1, embedded=broker, drain_s=5)
    with ExitStack() as stack:
        p = Pipeline(config, stack, SYSTEM_CLOCK)
        for d in p.devices:
            d.tick()
        assert p.drain()
        before = p.metrics.settled()[0]
        p.broker.restart(down_s=0.5)
        deadline = time.monotonic() + 10
        while not all(b.connected for b in p.buses) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(b.connected for b in p.buses), "a party did not reconnect"
        time.sleep(0.3)  # subscriptions renewed on reconnect
        for d in p.devices:  # the old sessions go on: no new handshake
            d.tick()
        assert p.drain()
        run = p.summary()
    assert run.counts["delivered"] == before + 3
    assert run.reconnects >= len(p.buses)  # every connection saw the gap ...
    assert run.down_ms >= 400  # ... and its length is counted


class _FastClock:
    """The machine's wall clock, and a monotonic clock running 20 times fast."""

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now_ms(self) -> int:
        return SYSTEM_CLOCK.now_ms()

    def monotonic_s(self) -> float:
        return self._origin + 20 * (time.monotonic() - self._origin)


def test_the_run_is_paced_by_the_clock_passed_in() -> None:
    config = SimConfig(patients=1, rate_hz=1, duration_s=20, transport="memory", drain_s=20)
    started = time.monotonic()
    with ExitStack() as stack:
        p = Pipeline(config, stack, _FastClock())
        p.run()
    assert time.monotonic() - started < 8  # 20 s on that clock, about 1 s of the machine's
    assert 15 <= p.metrics.counts["sent"] <= 21


def test_device_and_gateway_take_their_time_from_the_clock_passed_in() -> None:
    # 2001: a party that read the machine's clock would find these records 25 years stale.
    clock = SteppingClock(at_ms=1_000_000_000_000)
    registry = Registry()
    registry.add_gateway("gw-1")
    registry.add_device("dev-1", "P1")
    with closing(MemoryBus()) as bus:
        metrics = Metrics()
        gateway = Gateway("gw-1", registry, bus, bus, metrics, clock=clock)
        device = Device("dev-1", "gw-1", registry, bus, metrics, clock=clock)
        device.handshake()
        device.wait_established(10)
        assert device.tick()
        bus.drain()
        gateway.close()
    assert not metrics.rejected, metrics.rejected
    assert metrics.trace(("P1", 1_000_000_000_000)).gw_in_ns > 0  # stamped by the clock, opened


def test_an_impostor_with_a_wrong_psk_gets_no_session_and_displaces_nothing() -> None:
    config = SimConfig(patients=1, rate_hz=1, duration_s=1, drain_s=3)
    with ExitStack() as stack:
        p = Pipeline(config, stack, SYSTEM_CLOCK)
        genuine = p.devices[0]
        impostor = Registry()
        impostor.add_device(genuine.id, "P00001")  # the same id, another PSK
        bus = stack.enter_context(
            closing(MQTTBus(p.broker.url, "impostor", protocol=p.broker.protocol))
        )
        d = Device(genuine.id, "gw-1", impostor, bus, Metrics(), clock=SYSTEM_CLOCK)
        d.handshake()
        with pytest.raises(StateError, match="no handshake"):
            d.wait_established(timeout=1.5)
        assert d.error is not None and "confirm" in d.error.lower()
        genuine.tick()  # the genuine session at the gateway is untouched
        assert p.drain()
        assert p.summary().counts["delivered"] == 1


@pytest.mark.requires("mosquitto")
def test_mosquitto_broker_speaks_mqtt5_and_restarts_on_its_port() -> None:
    with MosquittoBroker() as broker:
        port = broker.port
        bus = MQTTBus(broker.url, "probe")
        assert bus.protocol_name == "MQTT 5"
        broker.restart()
        assert broker.port == port
        assert bus.wait_connected(10)
        bus.close()


@pytest.mark.requires("external-broker")
def test_the_pipeline_runs_against_an_already_running_broker() -> None:
    external = os.environ["DTHQ_TEST_BROKER"]
    run = simulate(SimConfig(patients=3, rate_hz=5, duration_s=1, broker=external))
    accounted(run)
    assert run.broker == external


@pytest.mark.parametrize("transport", ["memory", "mqtt"])
def test_qos0_and_rekeying_during_the_run(transport: str) -> None:
    """QoS 0 on a healthy loopback link loses nothing; sessions rekey every 5 records
    (several epochs per device in the run) without losing a reading."""
    run = simulate(
        SimConfig(patients=2, rate_hz=20, duration_s=1, transport=transport, qos=0, rekey_records=5)
    )
    accounted(run)
    assert run.qos == 0 and run.counts["sent"] >= 30


def test_bundles_are_posted_to_a_fhir_server() -> None:
    """--fhir-url: every batch's transaction Bundle is POSTed; the server validates it."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from dthq.twin import fhir

    received: list[dict] = []

    class FHIRServer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fhir.validate(body)  # raises on an invalid bundle: the test sees no 200
            assert self.headers["Content-Type"] == "application/fhir+json"
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), FHIRServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/fhir"
        run = simulate(
            SimConfig(patients=2, rate_hz=5, duration_s=1, transport="memory", fhir_url=url)
        )
    finally:
        server.shutdown()
    accounted(run)
    observations = [
        e["resource"] for b in received for e in b["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]  # fmt: skip
    assert len(observations) == 3 * run.counts["delivered"]  # HR, SpO2, temperature each
    assert all(b["type"] == "transaction" for b in received)


def test_a_broker_port_is_outside_the_ephemeral_range_so_a_restart_finds_it_free() -> None:
    from dthq.transport.brokers import LISTEN_PORTS, _ephemeral, free_port

    low, high = _ephemeral()
    ports = {free_port() for _ in range(20)}
    if LISTEN_PORTS[0] < low:  # the default Linux range leaves 20000-32767 outside it
        assert all(LISTEN_PORTS[0] <= p < LISTEN_PORTS[1] and not low <= p <= high for p in ports)
    assert len(ports) > 1  # drawn at random, not one port for every caller
