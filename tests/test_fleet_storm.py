"""A handshake storm at the gateway, with and without the stateless retry cookie.

Every genuine device reconnects at once while an attacker replays captured HELLOs of
registered devices that are offline (it can publish on their topics, not read them).
Without cookies each replay costs the gateway an ML-KEM encapsulation and a half-open
state held until it expires; with them it costs one HMAC and leaves nothing behind,
and the genuine devices still get through (one round trip more).
"""

from __future__ import annotations

from contextlib import closing

from dthq.pipeline import topics
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import Gateway
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.pipeline.sessions import Terminator
from dthq.protocol.cookie import RetryPolicy
from dthq.protocol.handshake import Initiator
from dthq.transport.bus import MemoryBus

GENUINE, REPLAYED = 12, 40


def storm(retry: RetryPolicy) -> tuple[dict[str, int], list[Device]]:
    registry = Registry()
    registry.add_gateway("gw-1")
    for i in range(GENUINE + REPLAYED):
        registry.add_device(f"dev-{i:03d}", f"P{i:03d}")
    ids = list(registry.devices)
    genuine, victims = ids[:GENUINE], ids[GENUINE:]
    # Captured earlier, replayed now: genuine HELLOs of devices that are offline.
    captured = [Initiator(registry.device_config(v, "gw-1")).start() for v in victims]
    with closing(MemoryBus()) as bus:
        metrics = Metrics()
        gateway = Gateway("gw-1", registry, bus, bus, metrics, retry=retry, clock=SYSTEM_CLOCK)
        devices = [Device(d, "gw-1", registry, bus, metrics, clock=SYSTEM_CLOCK) for d in genuine]
        for device in devices:  # all at once, interleaved with the replays
            device.handshake()
        for victim, hello in zip(victims, captured, strict=True):
            bus.publish(topics.device_up(victim), topics.frame(topics.FLIGHT, hello))
        for device in devices:
            device.wait_established(10)
        bus.drain()
        return gateway.handshake_work, devices


def test_without_cookies_every_replayed_hello_costs_an_encapsulation_and_state() -> None:
    work, devices = storm(RetryPolicy.NEVER)
    assert all(d.session is not None for d in devices)
    assert work["reply"] == GENUINE + REPLAYED  # one encapsulation per HELLO, forged or not
    assert work["half_open"] == REPLAYED  # held until half_open_ms passes
    assert work["retry"] == 0
    assert work["established"] == GENUINE


def test_the_retry_cookie_bounds_the_work_per_replayed_hello() -> None:
    work, devices = storm(RetryPolicy.ALWAYS)
    assert all(d.session is not None for d in devices)  # one round trip more, and through
    assert work["established"] == GENUINE
    # Only a HELLO that came back with its cookie reached the encapsulation.
    assert work["reply"] == GENUINE
    assert work["retry"] == GENUINE + REPLAYED
    assert work["half_open"] == 0


def test_under_load_asks_for_cookies_past_the_threshold() -> None:
    registry = Registry()
    registry.add_gateway("gw-1")
    for i in range(30):
        registry.add_device(f"dev-{i:03d}", f"P{i:03d}")
    now_ms = 1_000  # one moment: nothing expires, no cookie secret rotates
    terminator = Terminator(
        registry.gateway_responder("gw-1", now_ms, RetryPolicy.UNDER_LOAD), load_threshold=10
    )
    for device in registry.devices:
        hello = Initiator(registry.device_config(device, "gw-1")).start()
        terminator.flight(device, hello, now_ms)
    # The first 10 found the gateway below its threshold; the rest were asked for cookies.
    assert terminator.work["reply"] == 10
    assert terminator.work["retry"] == 20
    assert terminator.half_open == 10
