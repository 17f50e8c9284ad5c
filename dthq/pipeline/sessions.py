"""The responder side of many DTHQ sessions over a bus: one handshake machine per peer,
its session once established. The gateway (for its devices) and the cloud (for its
gateways) both terminate sessions this way."""

from __future__ import annotations

import threading

from dthq.errors import AuthenticationError, StateError
from dthq.protocol.config import ResponderConfig
from dthq.protocol.handshake import Responder, State
from dthq.protocol.record import Freshness, RecordLayer
from dthq.protocol.wire import FINISH, message_type


class Terminator:
    def __init__(self, config: ResponderConfig, *, freshness: Freshness | None = None) -> None:
        self._config = config
        self._freshness = freshness
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
            reply = pending.receive(flight, now_ms)
        except Exception:
            self._pending.pop(peer, None)
            raise
        if pending.peer_id is not None and pending.peer_id != peer.encode():
            self._pending.pop(peer, None)
            raise AuthenticationError(
                f"the handshake on {peer!r}'s topic authenticated {pending.peer_id!r}"
            )
        if pending.state is State.ESTABLISHED:
            del self._pending[peer]
            session = RecordLayer.from_keys(
                pending.session_keys(), now_ms, freshness=self._freshness
            )
            with self.lock:
                self.sessions[peer] = session
        return reply

    def save(self, peer: str) -> bytes:
        with self.lock:
            return self.sessions[peer].save()

    def resume(self, peer: str, state: bytes, now_ms: int) -> None:
        """Take up a session saved before a restart."""
        session = RecordLayer.resume(state, now_ms, freshness=self._freshness)
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
