"""The MQTT bus remembers which subscriptions a topic matches: a subscription added
later still gets its messages, and the memory is bounded."""

from __future__ import annotations

from types import SimpleNamespace

import paho.mqtt.client as paho
import pytest

import dthq.transport.mqtt as mqtt_module
from dthq.transport.bus import Message
from dthq.transport.mqtt import MQTTBus


def _bus() -> tuple[MQTTBus, list[tuple[str, str]]]:
    bus = MQTTBus("mqtt://127.0.0.1:1", "t", connect=False, protocol=paho.MQTTv311)
    got: list[tuple[str, str]] = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        return lambda m: got.append((name, m.topic))

    bus.subscribe("a/+", handler("a/+"))
    bus.subscribe("a/b", handler("a/b"))
    return bus, got


def _deliver(bus: MQTTBus, topic: str, mid: int = 1) -> None:
    bus._on_message(None, None, SimpleNamespace(topic=topic, payload=b"x", qos=0, mid=mid))


def test_a_topic_goes_to_what_matches_it_and_to_a_later_subscription() -> None:
    bus, got = _bus()
    _deliver(bus, "a/b")
    _deliver(bus, "a/c")
    assert got == [("a/+", "a/b"), ("a/b", "a/b"), ("a/+", "a/c")]
    got.clear()
    bus.subscribe("a/#", lambda m: got.append(("a/#", m.topic)))
    _deliver(bus, "a/b")
    assert got == [("a/+", "a/b"), ("a/b", "a/b"), ("a/#", "a/b")]
    got.clear()
    _deliver(bus, "b/b")  # matches nothing
    assert got == [] and bus.unacked == 0


def test_the_remembered_topics_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt_module, "MAX_ROUTES", 2)
    bus, got = _bus()
    _deliver(bus, "a/1")
    _deliver(bus, "a/2")
    assert len(bus._routes) == 2  # at the bound
    _deliver(bus, "a/3")  # past it: forgotten, then this one remembered
    assert list(bus._routes) == ["a/3"]
    assert [t for _, t in got] == ["a/1", "a/2", "a/3"]


def test_a_message_handed_over_is_the_one_received() -> None:
    bus, _ = _bus()
    seen: list[Message] = []
    bus.subscribe("c", seen.append)
    _deliver(bus, "c")
    assert [(m.topic, m.payload, m.qos) for m in seen] == [("c", b"x", 0)]
