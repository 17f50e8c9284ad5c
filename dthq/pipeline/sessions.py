"""The responder side of many DTHQ sessions over a bus: the half-open handshakes of each
peer, its session once established. The gateway (for its devices) and the cloud (for its
gateways) both terminate sessions this way.

No unauthenticated message changes a session's state. A half-open handshake is keyed by
its HELLO (SHA-256): the same HELLO again (a QoS 1 redelivery, a replay) gets the same
REPLY and makes nothing new. Each peer keeps at most ``MAX_HALF_OPEN`` of them, the oldest
evicted. A FINISH is tried on a fork of each of the peer's half-open handshakes, the
newest first; only the one it verifies on moves, so a forged or garbled flight costs the
genuine peer nothing. A completed handshake answers with CONFIRM (the first record under
the new keys, empty) and replaces the peer's session; the previous one still opens
records for ``PREVIOUS_GRACE_MS``. A record that finds no session may be answered with
NO_SESSION, at most once per ``NO_SESSION_INTERVAL_MS`` per registered peer.

Under a retry policy (the responder config's), a HELLO without a valid cookie gets a
RETRY and leaves nothing behind; ``UNDER_LOAD`` asks for cookies once
``load_threshold`` handshakes are already half open. ``work`` counts what each flight cost:
``retry`` (an HMAC), ``reply`` (an ML-KEM encapsulation, and a half-open state kept),
``repeated`` (a HELLO seen before, answered with its stored REPLY: nothing new),
``established`` and ``refused``: the fleet's storms report it."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from typing import NamedTuple

from dthq.errors import AuthenticationError, DTHQError, FreshnessError, ReplayError, StateError
from dthq.pipeline import topics
from dthq.pipeline.topics import MAX_PAYLOAD
from dthq.protocol.config import ResponderConfig
from dthq.protocol.handshake import Responder, State
from dthq.protocol.record import Freshness, RecordLayer
from dthq.protocol.wire import FINISH, message_type

LOAD_THRESHOLD = 64  # half-open handshakes beyond which UNDER_LOAD asks for cookies
# A genuine initiator has one live attempt (and a retried one or two in flight); more
# HELLOs on its topic are replays or forgeries. The oldest goes: a flood must then beat
# the genuine FINISH every round trip, not just fill the slots once per expiry.
MAX_HALF_OPEN = 4
PREVIOUS_GRACE_MS = 30_000  # the default freshness window: older records are stale anyway
NO_SESSION_INTERVAL_MS = 1_000


class NoSessionError(StateError):
    """A record from a peer this responder holds no session with."""


class Answer(NamedTuple):
    frame: bytes | None  # to publish on the peer's down topic
    established: bool = False  # this flight completed a handshake


class _HalfOpen(NamedTuple):
    machine: Responder
    reply: bytes


class Terminator:
    def __init__(
        self,
        config: ResponderConfig,
        *,
        freshness: Freshness | None = None,
        load_threshold: int = LOAD_THRESHOLD,
    ) -> None:
        self._config = config
        self._freshness = freshness
        self._load_threshold = load_threshold
        self.work: Counter[str] = Counter()
        self._pending: dict[str, dict[bytes, _HalfOpen]] = {}  # per peer, oldest first
        self._half_open = 0
        self._expiry: deque[tuple[str, bytes]] = deque()  # in the order they were opened
        self.sessions: dict[str, RecordLayer] = {}
        self._previous: dict[str, tuple[RecordLayer, int]] = {}  # receive-only, until ms
        self._told: dict[str, int] = {}  # when each peer was last sent NO_SESSION
        self.lock = threading.Lock()  # sessions are used from the bus and the flush thread

    def flight(self, peer: str, flight: bytes, now_ms: int) -> Answer:
        """A handshake flight from ``peer`` (named by its topic): the answer. The identity
        the handshake authenticates must be the topic's. A flight that fails changes
        nothing but the ``refused`` count, and raises."""
        self._expire(now_ms)
        try:
            if message_type(flight) == FINISH:
                return self._finish(peer, flight, now_ms)
            return self._hello(peer, flight, now_ms)
        except DTHQError:
            self.work["refused"] += 1
            raise

    def _hello(self, peer: str, flight: bytes, now_ms: int) -> Answer:
        key = hashlib.sha256(flight).digest()
        known = self._pending.get(peer, {}).get(key)
        if known is not None:
            if not known.machine.expired(now_ms):  # redelivered or replayed: no new state
                self.work["repeated"] += 1
                return Answer(topics.frame(topics.FLIGHT, known.reply))
            self._drop(peer, key)
        machine = Responder(self._config)
        busy = self._half_open >= self._load_threshold  # this HELLO's own included
        reply = machine.receive(flight, now_ms, under_load=busy)
        assert reply is not None
        if machine.state is State.RETRY_SENT:  # stateless: the cookie carries it all
            self.work["retry"] += 1
            return Answer(topics.frame(topics.FLIGHT, reply))
        self.work["reply"] += 1
        if machine.peer_id != peer.encode():
            raise AuthenticationError(
                f"the handshake on {peer!r}'s topic authenticated {machine.peer_id!r}"
            )
        pending = self._pending.setdefault(peer, {})
        if len(pending) >= MAX_HALF_OPEN:
            self._drop(peer, next(iter(pending)))
            pending = self._pending.setdefault(peer, {})
        pending[key] = _HalfOpen(machine, reply)
        self._half_open += 1
        self._expiry.append((peer, key))
        return Answer(topics.frame(topics.FLIGHT, reply))

    def _finish(self, peer: str, flight: bytes, now_ms: int) -> Answer:
        pending = self._pending.get(peer)
        if not pending:
            raise StateError(f"FINISH from {peer!r} with no half-open handshake")
        for half in reversed(pending.values()):
            trial = half.machine.fork()
            try:
                trial.receive(flight, now_ms)
            except DTHQError:
                continue
            break
        else:
            raise AuthenticationError(
                f"FINISH on {peer!r}'s topic completes none of its {len(pending)} "
                "half-open handshakes"
            )
        # The peer completed its newest attempt: the others are abandoned or forged.
        self._half_open -= len(self._pending.pop(peer))
        self.work["established"] += 1
        session = RecordLayer.from_keys(
            trial.session_keys(), now_ms, freshness=self._freshness, max_payload=MAX_PAYLOAD
        )
        confirm = session.seal(b"", now_ms)  # the proof: only this session's keys seal it
        with self.lock:
            old = self.sessions.get(peer)
            if old is not None:
                self._previous[peer] = (old, now_ms + PREVIOUS_GRACE_MS)
            self.sessions[peer] = session
        return Answer(topics.frame(topics.CONFIRM, confirm), established=True)

    def _expire(self, now_ms: int) -> None:
        """Drop half-open handshakes past ``half_open_ms``, oldest first."""
        while self._expiry:
            peer, key = self._expiry[0]
            half = self._pending.get(peer, {}).get(key)
            if half is not None and not half.machine.expired(now_ms):
                return
            self._expiry.popleft()
            if half is not None:
                self._drop(peer, key)

    def _drop(self, peer: str, key: bytes) -> None:
        pending = self._pending[peer]
        del pending[key]
        self._half_open -= 1
        if not pending:
            del self._pending[peer]

    @property
    def half_open(self) -> int:
        return self._half_open

    def half_open_of(self, peer: str) -> int:
        return len(self._pending.get(peer, {}))

    def save(self, peer: str) -> bytes:
        with self.lock:
            return self.sessions[peer].save()

    def resume(self, peer: str, state: bytes, now_ms: int) -> None:
        """Take up a session saved before a restart."""
        session = RecordLayer.resume(
            state, now_ms, freshness=self._freshness, max_payload=MAX_PAYLOAD
        )
        with self.lock:
            self.sessions[peer] = session
            self._previous.pop(peer, None)

    def open(self, peer: str, record: bytes, now_ms: int) -> tuple[bytes, int]:
        """(payload, authenticated timestamp) of a record from ``peer``: under its session,
        or a record still in flight under the one a new handshake replaced."""
        with self.lock:
            session = self.sessions.get(peer)
            if session is None:
                raise NoSessionError(f"no session with {peer!r}")
            try:
                opened = session.open_record(record, now_ms)
            except (AuthenticationError, ReplayError) as exc:
                previous = self._previous.get(peer)
                if isinstance(exc, FreshnessError) or previous is None:
                    raise
                if now_ms > previous[1]:
                    del self._previous[peer]
                    raise
                try:
                    opened = previous[0].open_record(record, now_ms)
                except DTHQError:
                    raise exc from None
        return opened.payload, opened.timestamp_ms

    def seal(self, peer: str, payload: bytes, now_ms: int) -> bytes | None:
        """A record to ``peer`` under its session (a receipt), or None without one."""
        with self.lock:
            session = self.sessions.get(peer)
            return None if session is None else session.seal(payload, now_ms)

    def no_session(self, peer: str, now_ms: int) -> bytes | None:
        """The NO_SESSION frame to send ``peer`` now, or None: registered peers only (the
        table stays bounded), at most once per NO_SESSION_INTERVAL_MS each."""
        if peer.encode() not in self._config.devices:
            return None
        with self.lock:
            last = self._told.get(peer)
            if last is not None and now_ms - last < NO_SESSION_INTERVAL_MS:
                return None
            self._told[peer] = now_ms
        return topics.NO_SESSION_FRAME
