"""No unauthenticated message changes session state (issue 21, item 1).

MQTT has no ACLs here: anyone can publish on any topic. Garbage, truncated, replayed,
forged and out-of-order flights on every handshake topic, at every point of the
handshake, leave every genuine party established and every reading delivered. The
Terminator (responder) and InitiatorSession (initiator) are driven sans-I/O on fixed
clocks; the end-to-end runs go through the memory bus, amqtt and Mosquitto.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, suppress
from pathlib import Path

import pytest
from helpers import SteppingClock

from dthq.errors import AuthenticationError, DTHQError, ReplayError, StateError
from dthq.pipeline import topics
from dthq.pipeline.cloud import Cloud
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import POLICIES, Gateway
from dthq.pipeline.initiator import BACKOFF_BASE_MS, BACKOFF_CAP_MS, Backoff, InitiatorSession
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.pipeline.run import provision
from dthq.pipeline.sessions import (
    MAX_HALF_OPEN,
    NO_SESSION_INTERVAL_MS,
    PREVIOUS_GRACE_MS,
    NoSessionError,
    Terminator,
)
from dthq.protocol.keyschedule import SessionKeys
from dthq.protocol.record import Freshness, RecordLayer
from dthq.protocol.wire import Retry
from dthq.transport.brokers import EmbeddedBroker, MosquittoBroker
from dthq.transport.bus import Bus, Handler, MemoryBus, Message
from dthq.transport.mqtt import MQTTBus
from dthq.twin.store import Store

T0 = 1_700_000_000_000
DEV = "dev-00001"
HALF_OPEN_MS = 10_000  # ResponderConfig's default


def layer(keys: SessionKeys, now_ms: int) -> RecordLayer:
    return RecordLayer.from_keys(keys, now_ms, freshness=Freshness.OFF)


def initiator(registry: Registry, device: str = DEV, seed: int = 0) -> InitiatorSession:
    return InitiatorSession(registry.device_config(device, "gw-1"), layer, random.Random(seed))


def terminator(registry: Registry) -> Terminator:
    return Terminator(registry.gateway_responder("gw-1", T0))


def up(t: Terminator, frame: bytes, now_ms: int = T0, peer: str = DEV) -> bytes | None:
    """The gateway's answer to an up-topic frame (a handshake flight)."""
    kind, body = topics.unframe(frame)
    assert kind == topics.FLIGHT
    return t.flight(peer, body, now_ms).frame


def down(i: InitiatorSession, frame: bytes, now_ms: int = T0) -> bytes | None:
    kind, body = topics.unframe(frame)
    return i.receive(kind, body, now_ms)


def establish(t: Terminator, i: InitiatorSession, now_ms: int = T0) -> list[bytes]:
    """A complete honest handshake: [HELLO, REPLY, FINISH, CONFIRM], as framed."""
    hello = i.start(now_ms)
    reply = up(t, hello, now_ms)
    assert reply is not None
    finish = down(i, reply, now_ms)
    assert finish is not None
    confirm = up(t, finish, now_ms)
    assert confirm is not None and confirm[0] == topics.CONFIRM
    assert down(i, confirm, now_ms) is None
    return [hello, reply, finish, confirm]


def delivered(t: Terminator, i: InitiatorSession, now_ms: int = T0, peer: str = DEV) -> bool:
    assert i.session is not None
    payload, _ = t.open(peer, i.session.seal(b"hr=60", now_ms), now_ms)
    return payload == b"hr=60"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return provision(2)


@pytest.fixture(scope="module")
def captured(registry: Registry) -> list[bytes]:
    """An earlier honest handshake of DEV's, as an eavesdropper recorded it."""
    return establish(terminator(registry), initiator(registry, seed=99))


def flip(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x01])


def hostile_up(captured: list[bytes]) -> dict[str, bytes]:
    """Flights (framed) an attacker publishes on a device's up topic."""
    hello, reply, finish, _ = captured
    return {
        "garbage-1": b"\x01\x03",  # a 1-byte flight: FINISH's type byte alone
        "garbage-2": b"\x01\x03\xff",
        "garbage-unknown": b"\x01\xee",
        "truncated-hello": hello[:40],
        "truncated-finish": finish[:20],
        "replayed-hello": hello,
        "replayed-finish": finish,
        "forged-finish": flip(finish),
        "forged-hello": flip(hello),
        "out-of-order-reply": reply,  # B's flight, sent to B
    }


def hostile_down(captured: list[bytes]) -> dict[str, bytes]:
    """Frames an attacker publishes on a device's down topic."""
    hello, reply, finish, confirm = captured
    retry = Retry(1, b"\x00" * 32).to_bytes()
    return {
        "garbage-1": b"\x01\x02",
        "garbage-2": b"\x01\x02\x00",
        "truncated-reply": reply[:60],
        "replayed-reply": reply,
        "forged-reply": flip(reply),
        "forged-retry": topics.frame(topics.FLIGHT, retry),
        "out-of-order-hello": hello,
        "out-of-order-finish": finish,
        "replayed-confirm": confirm,
        "forged-confirm": flip(confirm),
        "truncated-confirm": confirm[:10],
        "no-session": topics.NO_SESSION_FRAME,
    }


def attempt(f: Callable[[], object]) -> None:
    with suppress(DTHQError):
        f()


POINTS = ["before-hello", "half-open", "after-finish", "established"]
UP_ATTACKS = list(hostile_up([b"\x01\x01" * 40] * 4))
DOWN_ATTACKS = list(hostile_down([b"\x01\x01" * 40] * 4))


def run_under(
    registry: Registry, on_up: Callable[[Terminator, str], None], on_down: Callable[..., None]
) -> tuple[Terminator, InitiatorSession]:
    """An honest handshake with both injectors called at every point."""
    t, i = terminator(registry), initiator(registry)
    on_up(t, "before-hello")
    on_down(i, "before-hello")
    hello = i.start(T0)
    reply = up(t, hello)
    on_up(t, "half-open")
    on_down(i, "half-open")
    assert reply is not None
    finish = down(i, reply)
    assert finish is not None and i.session is None  # not established without the proof
    confirm = up(t, finish)
    on_up(t, "after-finish")
    on_down(i, "after-finish")
    assert confirm is not None
    assert down(i, confirm) is None
    session = t.sessions[DEV]
    on_up(t, "established")
    on_down(i, "established")
    assert t.sessions[DEV] is session  # nothing replaced it
    return t, i


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("attack", UP_ATTACKS)
def test_hostile_flights_at_the_gateway_change_no_handshake(
    registry: Registry, captured: list[bytes], attack: str, point: str
) -> None:
    flight = hostile_up(captured)[attack]

    def on_up(t: Terminator, at: str) -> None:
        if at == point:
            attempt(lambda: up(t, flight))

    t, i = run_under(registry, on_up, lambda *_: None)
    assert delivered(t, i)
    assert t.work["established"] == 1


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("attack", DOWN_ATTACKS)
def test_hostile_frames_at_the_device_change_no_handshake(
    registry: Registry, captured: list[bytes], attack: str, point: str
) -> None:
    frame = hostile_down(captured)[attack]
    sessions: list[RecordLayer | None] = []

    def on_down(i: InitiatorSession, at: str) -> None:
        if at == point:
            sessions.append(i.session)
            attempt(lambda: down(i, frame))
            assert i.session is sessions[0]  # kept, whatever came

    t, i = run_under(registry, lambda *_: None, on_down)
    assert delivered(t, i)


def test_every_hostile_flight_at_once_on_every_topic(
    registry: Registry, captured: list[bytes]
) -> None:
    ups, downs = hostile_up(captured), hostile_down(captured)

    def on_up(t: Terminator, _: str) -> None:
        for flight in ups.values():
            attempt(lambda f=flight: up(t, f))  # type: ignore[misc]

    def on_down(i: InitiatorSession, _: str) -> None:
        for frame in downs.values():
            attempt(lambda f=frame: down(i, f))  # type: ignore[misc]

    t, i = run_under(registry, on_up, on_down)
    assert delivered(t, i)


def test_a_failing_flight_is_refused_and_counted(registry: Registry) -> None:
    t = terminator(registry)
    with pytest.raises(DTHQError):
        t.flight(DEV, b"\x03", T0)
    with pytest.raises(StateError, match="no half-open handshake"):
        t.flight(DEV, b"\x03\x00\x00", T0)
    assert t.work["refused"] == 2 and t.half_open == 0


def test_the_same_hello_again_gets_the_same_reply_and_no_new_state(registry: Registry) -> None:
    t, i = terminator(registry), initiator(registry)
    hello = i.start(T0)
    first, again = up(t, hello), up(t, hello, T0 + 5)
    assert first == again
    assert t.work["reply"] == 1 and t.half_open == 1


def _hellos(registry: Registry, n: int) -> list[tuple[InitiatorSession, bytes]]:
    out = []
    for k in range(n):
        i = initiator(registry, seed=k)
        out.append((i, i.start(T0)))
    return out


def _finish(t: Terminator, i: InitiatorSession, reply: bytes, now_ms: int = T0) -> bytes | None:
    finish = down(i, reply, now_ms)
    assert finish is not None
    return up(t, finish, now_ms)


def test_half_open_handshakes_per_peer_at_the_bound(registry: Registry) -> None:
    t = terminator(registry)
    attempts = _hellos(registry, MAX_HALF_OPEN)
    replies = [up(t, hello) for _, hello in attempts]
    assert t.half_open_of(DEV) == MAX_HALF_OPEN == 4
    # All are kept: the oldest still completes (and then the rest are dropped).
    assert _finish(t, attempts[0][0], replies[0]) is not None  # type: ignore[arg-type]
    assert t.half_open_of(DEV) == 0 and DEV in t.sessions


def test_one_past_the_bound_evicts_the_oldest(registry: Registry) -> None:
    t = terminator(registry)
    attempts = _hellos(registry, MAX_HALF_OPEN + 1)
    replies = [up(t, hello) for _, hello in attempts]
    assert t.half_open_of(DEV) == MAX_HALF_OPEN
    with pytest.raises(AuthenticationError, match="completes none"):
        _finish(t, attempts[0][0], replies[0])  # type: ignore[arg-type]
    assert t.half_open_of(DEV) == MAX_HALF_OPEN and DEV not in t.sessions
    assert _finish(t, attempts[1][0], replies[1]) is not None  # type: ignore[arg-type]


def test_another_peers_half_open_handshakes_do_not_count(registry: Registry) -> None:
    t = terminator(registry)
    for _, hello in _hellos(registry, MAX_HALF_OPEN):
        up(t, hello)
    other = initiator(registry, "dev-00002")
    up(t, other.start(T0), peer="dev-00002")
    assert t.half_open_of(DEV) == MAX_HALF_OPEN and t.half_open == MAX_HALF_OPEN + 1


@pytest.mark.parametrize(
    ("after_ms", "completes"), [(HALF_OPEN_MS, True), (HALF_OPEN_MS + 1, False)]
)
def test_half_open_handshakes_expire(registry: Registry, after_ms: int, completes: bool) -> None:
    t, i = terminator(registry), initiator(registry)
    reply = up(t, i.start(T0))
    assert reply is not None
    if completes:
        assert _finish(t, i, reply, T0 + after_ms) is not None
        assert DEV in t.sessions
    else:
        with pytest.raises(StateError, match="no half-open"):
            _finish(t, i, reply, T0 + after_ms)
        assert t.half_open == 0 and DEV not in t.sessions


def test_expiry_sweeps_every_peer(registry: Registry) -> None:
    t = terminator(registry)
    up(t, initiator(registry, "dev-00002").start(T0), peer="dev-00002")
    up(t, initiator(registry).start(T0 + HALF_OPEN_MS + 1), T0 + HALF_OPEN_MS + 1)
    assert t.half_open == 1 and t.half_open_of("dev-00002") == 0


def test_confirm_costs_31_bytes_and_half_a_round_trip(registry: Registry) -> None:
    hello, reply, finish, confirm = establish(terminator(registry), initiator(registry))
    # frame byte + record header (14) + AES-GCM tag (16), an empty payload.
    assert len(confirm) == 31
    assert [len(hello), len(reply), len(finish)] == [1 + 1236, 1 + 1164, 1 + 37]


def test_the_initiator_is_not_established_without_the_proof(registry: Registry) -> None:
    t, i = terminator(registry), initiator(registry)
    hello = i.start(T0)
    finish = down(i, up(t, hello))  # type: ignore[arg-type]
    assert finish is not None
    up(t, finish)  # the gateway is established; its CONFIRM is lost
    assert i.session is None and i.confirmed == 0 and i.in_progress


def test_without_the_proof_the_initiator_handshakes_again_after_its_interval(
    registry: Registry,
) -> None:
    t, i = terminator(registry), initiator(registry)
    finish = down(i, up(t, i.start(T0)))  # type: ignore[arg-type]
    up(t, finish)  # type: ignore[arg-type]
    deadline = i.deadline_ms
    assert deadline is not None
    assert T0 + BACKOFF_BASE_MS // 2 <= deadline <= T0 + BACKOFF_BASE_MS
    assert i.poll(deadline - 1) is None
    hello = i.poll(deadline)
    assert hello is not None and hello[0] == topics.FLIGHT
    # The second attempt waits up to twice as long, and this time CONFIRM comes.
    second = i.deadline_ms
    assert second is not None
    assert deadline + BACKOFF_BASE_MS <= second <= deadline + 2 * BACKOFF_BASE_MS
    finish = down(i, up(t, hello, deadline), deadline)  # type: ignore[arg-type]
    assert down(i, up(t, finish, deadline), deadline) is None  # type: ignore[arg-type]
    assert i.session is not None and delivered(t, i, deadline)


@pytest.mark.parametrize("seed", range(20))
def test_backoff_is_jittered_within_doubling_bounds(seed: int) -> None:
    b = Backoff(random.Random(seed))
    for n in range(8):
        ceiling = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << n)
        assert ceiling // 2 <= b.next_ms() <= ceiling


def test_backoff_ceilings_at_the_cap_and_one_past_it() -> None:
    b = Backoff(random.Random(0))
    assert [b.ceiling_ms(n) for n in range(7)] == [
        2_000,
        4_000,
        8_000,
        16_000,
        32_000,
        60_000,
        60_000,
    ]
    assert BACKOFF_CAP_MS == 60_000
    assert Backoff(random.Random(0), cap_ms=32_000).ceiling_ms(4) == 32_000  # at the cap
    assert Backoff(random.Random(0), cap_ms=31_999).ceiling_ms(4) == 31_999  # one past


def test_no_session_starts_one_handshake_per_interval_and_keeps_the_session(
    registry: Registry,
) -> None:
    t, i = terminator(registry), initiator(registry)
    establish(t, i)
    session, deadline = i.session, i.deadline_ms
    assert deadline is not None
    assert down(i, topics.NO_SESSION_FRAME, deadline - 1) is None  # within the interval
    hello = down(i, topics.NO_SESSION_FRAME, deadline)
    assert hello is not None and hello[0] == topics.FLIGHT
    assert down(i, topics.NO_SESSION_FRAME, deadline) is None  # an attempt is under way
    assert i.session is session and delivered(t, i, deadline)
    finish = down(i, up(t, hello, deadline), deadline)  # type: ignore[arg-type]
    confirm = up(t, finish, deadline)  # type: ignore[arg-type]
    assert i.session is session  # switched only on the new proof
    down(i, confirm, deadline)  # type: ignore[arg-type]
    assert i.session is not session and delivered(t, i, deadline)


def test_the_responder_says_no_session_once_per_interval_to_registered_peers(
    registry: Registry,
) -> None:
    t = terminator(registry)
    with pytest.raises(NoSessionError):
        t.open(DEV, b"\x01" * 40, T0)
    assert t.no_session(DEV, T0) == topics.NO_SESSION_FRAME == b"\x04"
    assert t.no_session(DEV, T0 + NO_SESSION_INTERVAL_MS - 1) is None
    assert t.no_session(DEV, T0 + NO_SESSION_INTERVAL_MS) == b"\x04"
    assert t.no_session("dev-99999", T0) is None  # not registered: no state kept for it


@pytest.mark.parametrize(
    ("after_ms", "opens"), [(PREVIOUS_GRACE_MS, True), (PREVIOUS_GRACE_MS + 1, False)]
)
def test_records_of_the_replaced_session_open_for_the_grace(
    registry: Registry, after_ms: int, opens: bool
) -> None:
    t, i = terminator(registry), initiator(registry)
    establish(t, i)
    old = i.session
    assert old is not None
    in_flight = old.seal(b"late", T0)
    establish(t, i, T0)  # a new handshake, confirmed: the gateway switched at its FINISH
    assert i.session is not old and delivered(t, i)
    if opens:
        assert t.open(DEV, in_flight, T0 + after_ms)[0] == b"late"
    else:  # refused as the current session refuses it (here: its sequence 0 is taken)
        with pytest.raises((AuthenticationError, ReplayError)):
            t.open(DEV, in_flight, T0 + after_ms)


def test_a_hello_from_an_established_peer_replaces_nothing_until_finish(
    registry: Registry, captured: list[bytes]
) -> None:
    t, i = terminator(registry), initiator(registry)
    establish(t, i)
    session = t.sessions[DEV]
    up(t, captured[0])  # a replayed HELLO: a half-open handshake, and no more
    assert t.sessions[DEV] is session and delivered(t, i)


# End to end: every party on a bus, an attacker reacting to every handshake message.


class Detachable:
    """A party's view of a shared bus that can be cut off (a gateway that goes away)."""

    def __init__(self, bus: Bus) -> None:
        self._bus, self.attached = bus, True
        self.stats = getattr(bus, "stats", None)

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None:
        self._bus.subscribe(
            pattern, lambda m: self.attached and handler(m), qos, manual_ack=manual_ack
        )

    def publish(self, topic: str, payload: bytes, qos: int = 1, **taken: object) -> bool:
        return self._bus.publish(topic, payload, qos, **taken) if self.attached else False  # type: ignore[arg-type]

    def close(self) -> None:
        self.attached = False


HANDSHAKE_TOPICS = (
    "dthq/v1/dev/+/up",
    "dthq/v1/dev/+/down",
    "dthq/v1/gw/+/up",
    "dthq/v1/gw/+/down",
)


class Attacker:
    """Publishes, after every handshake message it sees (and once before any), garbage,
    truncated, replayed, forged and out-of-order copies on its topic and the reverse one."""

    def __init__(self, bus: Bus, prefixes: tuple[str, ...] = ("dev", "gw")) -> None:
        self._bus = bus
        self._mine: set[bytes] = set()
        self.sent = 0
        for pattern in HANDSHAKE_TOPICS:
            if pattern.split("/")[2] in prefixes:
                bus.subscribe(pattern, self._seen, qos=1)

    def _seen(self, message: Message) -> None:
        if message.payload in self._mine or message.payload[:1] == bytes([topics.RECORD]):
            return
        flipped = message.topic.rsplit("/", 1)[0] + (
            "/down" if message.topic.endswith("/up") else "/up"
        )
        p = message.payload
        for topic, payload in [
            (message.topic, p[:1]),
            (message.topic, p[:2]),
            (message.topic, p[: len(p) // 2]),
            (message.topic, p),  # replayed
            (message.topic, flip(p)),
            (flipped, p),  # out of order: the other direction's flight
            (flipped, flip(p)),
        ]:
            self.inject(topic, payload)

    def inject(self, topic: str, payload: bytes) -> None:
        if len(payload) > 0:
            self._mine.add(payload)
            self._bus.publish(topic, payload, 1)
            self.sent += 1

    def everything_on(self, device: str, gateway: str, captured: list[bytes]) -> None:
        """The hostile sets on every handshake topic, while established."""
        for flight in hostile_up(captured).values():
            self.inject(topics.device_up(device), flight)
            self.inject(topics.gateway_up(gateway), flight)
        for frame in hostile_down(captured).values():
            if frame != topics.NO_SESSION_FRAME:
                self.inject(topics.device_down(device), frame)
                self.inject(topics.gateway_down(gateway), frame)


class Parties:
    def __init__(
        self, stack: ExitStack, bus_for: Callable[[str], Bus], tmp: Path, *, attacked: bool = True
    ) -> None:
        self.registry = provision(3)
        self.metrics = m = Metrics()
        self.clock = SteppingClock(T0)
        self.bus_for = bus_for
        self.attacker = Attacker(bus_for("attacker"), () if not attacked else ("dev", "gw"))
        self.store = stack.enter_context(closing(Store(tmp / "twin.db", b"k" * 32)))
        self.cloud = Cloud(self.registry, bus_for("cloud"), m, self.store, clock=self.clock)
        self.gateway = self.new_gateway()
        stack.callback(lambda: self.gateway.close())
        self.devices = [
            Device(d, "gw-1", self.registry, bus_for(d), m, clock=self.clock, seed=n)
            for n, d in enumerate(self.registry.devices)
        ]
        self.sent = 0

    def new_gateway(self) -> Gateway:
        bus = self.bus_for("gw-1")
        policy = POLICIES["immediate"]
        gw = Gateway("gw-1", self.registry, bus, bus, self.metrics, policy=policy, clock=self.clock)
        gw.connect(10)
        return gw

    def handshake(self) -> None:
        for d in self.devices:
            d.handshake()
        for d in self.devices:
            d.wait_established(10)

    def tick(self) -> None:
        for d in self.devices:
            self.clock.at_ms += 10  # readings strictly later than the last
            assert d.tick()
            self.sent += 1

    def stored(self) -> int:
        return sum(len(list(self.store.readings(p))) for p in self.store.patients())

    def wait_stored(self, n: int, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while self.stored() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.stored()


def _memory(stack: ExitStack) -> Callable[[str], Bus]:
    bus = stack.enter_context(closing(MemoryBus()))
    return lambda _name: Detachable(bus)  # type: ignore[return-value]


def _broker(stack: ExitStack, kind: str) -> Callable[[str], Bus]:
    broker = stack.enter_context(EmbeddedBroker() if kind == "amqtt" else MosquittoBroker())
    tag = random.randbytes(3).hex()

    def bus_for(name: str) -> Bus:
        bus = MQTTBus(
            broker.url, f"{name}-{tag}-{random.randbytes(2).hex()}", protocol=broker.protocol
        )
        return stack.enter_context(closing(bus))

    return bus_for


TRANSPORTS = [
    pytest.param("memory", id="memory"),
    pytest.param("amqtt", id="amqtt"),
    pytest.param("mosquitto", id="mosquitto", marks=pytest.mark.requires("mosquitto")),
]


@pytest.fixture
def parties(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parties]:
    with ExitStack() as stack:
        kind = request.param
        bus_for = _memory(stack) if kind == "memory" else _broker(stack, kind)
        yield Parties(stack, bus_for, tmp_path)


@pytest.mark.parametrize("parties", [p for p in TRANSPORTS], indirect=True)
def test_an_attacker_on_every_handshake_topic_silences_no_one(
    parties: Parties, captured: list[bytes]
) -> None:
    p = parties
    p.handshake()
    assert all(d.session is not None for d in p.devices)
    p.tick()
    for d in p.devices:
        p.attacker.everything_on(d.id, "gw-1", captured)
    p.tick()
    assert p.wait_stored(p.sent) == p.sent == 6
    assert p.attacker.sent > 100
    assert not any("cloud" in r and "invalid" in r for r in p.metrics.rejected)


def test_a_device_recovers_after_its_gateway_loses_every_session(tmp_path: Path) -> None:
    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        p.tick()
        assert p.wait_stored(3) == 3
        lost = p.gateway
        for bus in {id(b): b for b in (lost._device_bus, lost._cloud_bus)}.values():
            bus.close()  # type: ignore[attr-defined]
        lost.close()
        p.gateway = p.new_gateway()  # the same topics, no device sessions
        before = [d.session for d in p.devices]
        # Past each device's handshake interval: NO_SESSION may start one at once.
        p.clock.at_ms += BACKOFF_BASE_MS
        p.tick()  # refused: no session; each device is told, and handshakes again
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            d.session is s for d, s in zip(p.devices, before, strict=True)
        ):
            time.sleep(0.02)
        assert all(d.session is not s for d, s in zip(p.devices, before, strict=True))
        assert p.metrics.rejected["gateway: no session"] == 3
        # The three refused readings were kept unsettled and go again under the new
        # session: nothing is lost. Then the next readings arrive.
        p.tick()
        assert p.wait_stored(9) == 9
        # and every one of them is settled by the gateway's receipts
        assert _wait(lambda: all(len(d.unsettled) == 0 for d in p.devices))


class DropFirst(Detachable):
    """A bus on which the first frame of one kind never arrives."""

    def __init__(self, bus: Bus, kind: int) -> None:
        super().__init__(bus)
        self.kind, self.dropped = kind, 0

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None:
        def filtered(message: Message) -> None:
            if message.payload[:1] == bytes([self.kind]) and not self.dropped:
                self.dropped += 1
                message.ack()  # lost on the way: nothing to redeliver
                return
            handler(message)

        super().subscribe(pattern, filtered, qos, manual_ack=manual_ack)


def _wait(condition: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_the_gateway_without_confirm_handshakes_again_from_its_flush_thread(
    registry: Registry, tmp_path: Path
) -> None:
    clock = SteppingClock(T0)
    with closing(MemoryBus()) as bus, closing(Store(tmp_path / "t.db", b"k" * 32)) as store:
        cloud = Cloud(registry, bus, Metrics(), store, clock=clock)
        lossy = DropFirst(bus, topics.CONFIRM)
        gw = Gateway("gw-1", registry, lossy, lossy, Metrics(), clock=clock)  # type: ignore[arg-type]
        try:
            with pytest.raises(StateError, match="no handshake with the cloud"):
                gw.connect(timeout=0.5)
            assert lossy.dropped == 1 and "gw-1" in cloud.gateways and not gw.connected
            clock.at_ms += BACKOFF_BASE_MS // 2 - 1  # before the shortest first interval
            time.sleep(0.1)
            assert not gw.connected
            clock.at_ms += BACKOFF_BASE_MS // 2 + 1  # at the end of the longest
            assert _wait(lambda: gw.connected)
        finally:
            gw.close()


def test_a_gateway_recovers_after_the_cloud_loses_its_session(tmp_path: Path) -> None:
    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        p.tick()
        assert p.wait_stored(3) == 3
        p.cloud._bus.close()  # type: ignore[attr-defined]
        fresh = stack.enter_context(closing(Store(tmp_path / "fresh.db", b"k" * 32)))
        p.store = fresh
        p.cloud = Cloud(p.registry, p.bus_for("cloud"), p.metrics, fresh, clock=p.clock)
        assert not p.cloud.gateways  # no session saved in the fresh store
        p.clock.at_ms += BACKOFF_BASE_MS  # past the gateway's handshake interval
        p.tick()  # its batches are refused: no session; the gateway is told
        assert _wait(lambda: "gw-1" in p.cloud.gateways and p.gateway.connected)
        assert p.metrics.rejected["cloud: no session"] >= 1
        p.tick()
        assert p.wait_stored(3) == 3  # the next readings reach the new cloud
