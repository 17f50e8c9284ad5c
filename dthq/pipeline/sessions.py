"""The responder side of many DTHQ sessions over a bus: one handshake machine per peer,
its session once established. The gateway (for its devices) and the cloud (for its
gateways) both terminate sessions this way.

Under a retry policy (the responder config's), a HELLO without a valid cookie gets a
RETRY and leaves nothing behind; ``UNDER_LOAD`` asks for cookies once
``load_threshold`` handshakes are already half open. ``work`` counts what each flight cost:
``retry`` (an HMAC), ``reply`` (an ML-KEM encapsulation, and a half-open state kept),
``established`` and ``refused``: the fleet's storms report it."""

from __future__ import annotations

import threading
from collections import Counter

from dthq.errors import AuthenticationError, StateError
from dthq.pipeline.topics import MAX_PAYLOAD
from dthq.protocol.config import ResponderConfig
from dthq.protocol.handshake import Responder, State
from dthq.protocol.record import Freshness, RecordLayer
from dthq.protocol.wire import FINISH, message_type

LOAD_THRESHOLD = 64  # half-open handshakes beyond which UNDER_LOAD asks for cookies


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
        self._pending: dict[str, Responder] = {}
        self.sessions: dict[str, RecordLayer] = {}
        self.lock = threading.Lock()  # sessions are used from the bus and the flush thread

    def flight(self, peer: str, flight: bytes, now_ms: int) -> bytes | None:
        """A handshake flight from ``peer`` (named by its topic): the answer, if any.
        The identity the handshake authenticates must be the topic's; a new HELLO from
        an established peer replaces its session once the new handshake completes."""
        pending = self._pending.get(peer)
        if pending is not None and pending.expired(now_ms):
            del self._pending[peer]
            pending = None
        if pending is None or message_type(flight) != FINISH:
            pending = self._pending[peer] = Responder(self._config)
        try:
            busy = len(self._pending) > self._load_threshold  # this HELLO's own included
            reply = pending.receive(flight, now_ms, under_load=busy)
        except Exception:
            self._pending.pop(peer, None)
            self.work["refused"] += 1
            raise
        if pending.state is State.RETRY_SENT:  # stateless: the cookie carries it all
            del self._pending[peer]
            self.work["retry"] += 1
            return reply
        if pending.state is State.WAIT_FINISH:
            self.work["reply"] += 1
        if pending.peer_id is not None and pending.peer_id != peer.encode():
            self._pending.pop(peer, None)
            self.work["refused"] += 1
            raise AuthenticationError(
                f"the handshake on {peer!r}'s topic authenticated {pending.peer_id!r}"
            )
        if pending.state is State.ESTABLISHED:
            del self._pending[peer]
            self.work["established"] += 1
            session = RecordLayer.from_keys(
                pending.session_keys(),
                now_ms,
                freshness=self._freshness,
                max_payload=MAX_PAYLOAD,
            )
            with self.lock:
                self.sessions[peer] = session
        return reply

    def awaiting_finish(self, peer: str) -> bool:
        pending = self._pending.get(peer)
        return pending is not None and pending.state is State.WAIT_FINISH

    @property
    def half_open(self) -> int:
        return len(self._pending)

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

    def open(self, peer: str, record: bytes, now_ms: int) -> tuple[bytes, int]:
        """(payload, authenticated timestamp) of a record from ``peer``."""
        with self.lock:
            session = self.sessions.get(peer)
            if session is None:
                raise StateError(f"no session with {peer!r}")
            opened = session.open_record(record, now_ms)
        return opened.payload, opened.timestamp_ms
