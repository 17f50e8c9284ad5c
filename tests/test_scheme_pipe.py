"""The three schemes through one pipe: DTHQ over plain MQTT, MQTT over TLS 1.3 alone
(readings in clear inside TLS, the sender named by its certificate-bound topic), and
DTHQ inside TLS."""

from __future__ import annotations

import os
import threading

import pytest

from dthq.errors import DecodeError, UnsupportedError
from dthq.pipeline import topics
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.device import Device
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.plain import PlainLayer, PlainTerminator
from dthq.pipeline.run import SimConfig, provision, simulate
from dthq.pipeline.scheme_run import BrokerShare, run_scheme
from dthq.pipeline.tls_setup import acl, material
from dthq.protocol.compression import LZ4_ID, NONE_ID
from dthq.protocol.record import Freshness
from dthq.transport.brokers import MosquittoBroker
from dthq.transport.bus import MemoryBus, Message
from dthq.transport.mqtt import MQTTBus

QUICK = {"patients": 4, "rate_hz": 5.0, "duration_s": 2.0, "policy": "immediate"}


@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("scheme", ["tls", "dthq+tls"])
def test_a_tls_scheme_run_delivers_every_reading(scheme: str) -> None:
    run = simulate(SimConfig(embedded="mosquitto", scheme=scheme, **QUICK))  # type: ignore[arg-type]
    assert run.counts["sent"] == 40
    assert run.counts["delivered"] == 40
    assert run.counts["lost"] == run.counts["duplicated"] == run.counts["rejected"] == 0
    assert run.protocol == "MQTT 5"


@pytest.mark.parametrize(
    "options",
    [
        {"transport": "memory"},
        {"broker": "mqtt://127.0.0.1:1883"},
        {"embedded": "amqtt"},
        {"embedded": "mosquitto", "cloud": False},
    ],
    ids=["memory", "external-broker", "amqtt", "no-cloud"],
)
@pytest.mark.parametrize("scheme", ["tls", "dthq+tls"])
def test_a_tls_scheme_without_the_tls_listener_is_refused(
    scheme: str, options: dict[str, object]
) -> None:
    with pytest.raises(UnsupportedError, match="needs the embedded mosquitto's TLS listener"):
        SimConfig(scheme=scheme, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("scheme", "shared"), [("tls", 2), ("dthq", 0), ("dthq", 1001)])
def test_devices_per_connection_is_bounded_and_one_under_tls(scheme: str, shared: int) -> None:
    options = {"embedded": "mosquitto", "scheme": scheme, "devices_per_connection": shared}
    with pytest.raises(UnsupportedError, match=r"devices per connection: 1\.\.1000, and 1 under"):
        SimConfig(**options)  # type: ignore[arg-type]
    assert SimConfig(embedded="mosquitto", scheme=scheme, devices_per_connection=1)
    assert SimConfig(devices_per_connection=1000).devices_per_connection == 1000


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="unknown scheme 'ssl'; choose dthq, tls, dthq"):
        SimConfig(scheme="ssl")


def test_a_plain_party_refuses_a_bus_without_tls() -> None:
    registry = provision(1)
    with pytest.raises(UnsupportedError, match="device dev-00001: the tls scheme carries"):
        Device(
            "dev-00001", "gw-1", registry, MemoryBus(), Metrics(), clock=SYSTEM_CLOCK, plain=True
        )


def test_plain_records_carry_codec_timestamp_and_body() -> None:
    layer = PlainLayer(freshness=Freshness.OFF)
    record = layer.seal(b"x" * 100, 1_700_000_000_123)
    assert record[0] == LZ4_ID and int.from_bytes(record[1:7], "big") == 1_700_000_000_123
    opened = layer.open_record(record, 0)
    assert opened.payload == b"x" * 100 and opened.timestamp_ms == 1_700_000_000_123
    assert layer.seal(b"ab", 5) == bytes([NONE_ID]) + (5).to_bytes(6, "big") + b"ab"
    assert layer.open(bytes([NONE_ID]) + bytes(6), 0) == b""  # at the header's length
    with pytest.raises(DecodeError, match="6 bytes is shorter than its header"):
        layer.open(bytes(6), 0)  # just short of it
    with pytest.raises(DecodeError, match="codec 0x7f names no known codec"):
        layer.open(b"\x7f" + bytes(6), 0)


def test_a_plain_terminator_opens_only_registered_peers() -> None:
    registry = provision(2)
    terminator = PlainTerminator(registry.gateway_responder("gw-1", 0))
    record = PlainLayer(freshness=Freshness.OFF).seal(b"{}", 10_000)
    assert terminator.open("dev-00002", record, 10_000) == (b"{}", 10_000)
    assert terminator.seal("dev-00001", b"{}", 10_000) is None  # nothing heard from it yet
    with pytest.raises(Exception, match="'dev-00003' is not a registered peer"):
        terminator.open("dev-00003", record, 10_000)
    assert set(terminator.sessions) == {"dev-00002"}
    with pytest.raises(DecodeError, match="the tls scheme has none"):
        terminator.flight("dev-00001", b"\x01", 10_000)
    assert terminator.work["refused"] == 1


def test_the_acl_confines_each_party_to_its_topics() -> None:
    rules = acl(provision(2))
    assert rules["dev-00001"] == [
        ("write", "dthq/v1/dev/dev-00001/up"),
        ("read", "dthq/v1/dev/dev-00001/down"),
    ]
    assert rules["gw-1"] == [
        ("read", "dthq/v1/dev/+/up"),
        ("write", "dthq/v1/dev/+/down"),
        ("write", "dthq/v1/gw/gw-1/up"),
        ("read", "dthq/v1/gw/gw-1/down"),
    ]
    assert rules["cloud"] == [("read", "dthq/v1/gw/+/up"), ("write", "dthq/v1/gw/+/down")]
    assert list(rules) == ["dev-00001", "dev-00002", "gw-1", "cloud"]


@pytest.mark.requires("mosquitto")
def test_the_pipeline_acl_keeps_a_device_to_its_own_topics() -> None:
    """What makes a plain reading on dev/X/up device X's: the broker drops what a device
    publishes on another's topic, and delivers it nothing of another's down topic."""
    registry = provision(2)
    up: list[str] = []
    down: list[bytes] = []
    seen_up, seen_down = threading.Event(), threading.Event()

    def on_up(m: Message) -> None:
        up.append(m.topic)
        if m.payload == b"mine":
            seen_up.set()

    def on_down(m: Message) -> None:
        down.append(m.payload)
        if m.payload == b"yours":
            seen_down.set()

    with material(registry) as tls, MosquittoBroker(tls=tls, acl=acl(registry)) as broker:
        buses = [
            MQTTBus(broker.url, f"{who}-acl", protocol=5, tls=tls.client_context(who))
            for who in ("gw-1", "dev-00001")
        ]
        gateway, device = buses
        try:
            gateway.subscribe(topics.ALL_DEVICES_UP, on_up)
            device.subscribe(topics.device_down("dev-00002"), on_down)
            device.subscribe(topics.device_down("dev-00001"), on_down)
            assert device.publish_acked(topics.device_up("dev-00002"), b"forged", 1, 5)
            assert device.publish_acked(topics.device_up("dev-00001"), b"mine", 1, 5)
            assert gateway.publish_acked(topics.device_down("dev-00002"), b"theirs", 1, 5)
            assert gateway.publish_acked(topics.device_down("dev-00001"), b"yours", 1, 5)
            assert seen_up.wait(5) and seen_down.wait(5)
        finally:
            for bus in buses:
                bus.close()
    assert up == [topics.device_up("dev-00001")]
    assert down == [b"yours"]


def test_broker_share_counts_what_the_process_writes() -> None:
    with open(os.devnull, "wb", buffering=0) as sink, BrokerShare(os.getpid()) as share:
        sink.write(bytes(10_000))
    assert share.bytes >= 10_000 and share.cpu_s >= 0.0


@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("scheme", ["dthq", "tls"])
def test_a_scheme_run_measures_its_broker_and_both_recoveries(scheme: str) -> None:
    config = SimConfig(
        embedded="mosquitto",
        scheme=scheme,
        devices_per_connection=1,
        **QUICK,  # type: ignore[arg-type]
    )
    run = run_scheme(config, timeout_s=30)
    assert run.scheme == scheme and run.run.counts["delivered"] == 40
    assert run.connections == 4 + 2  # four devices, the gateway, the cloud
    assert run.wire_bytes_per_reading is not None and run.wire_bytes_per_reading > 100
    assert run.storm_recovery_s is not None and run.cold_recovery_s is not None
    assert set(run.cpu_ms_per_reading()) >= {"device", "gateway", "cloud", "broker"}
    assert run.held_per_s is None


def test_a_scheme_run_needs_the_embedded_mosquitto() -> None:
    with pytest.raises(UnsupportedError, match="measures the embedded mosquitto's process"):
        run_scheme(SimConfig(**QUICK))  # type: ignore[arg-type]
