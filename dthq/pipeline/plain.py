"""The "tls" scheme's sessions: MQTT over TLS 1.3 and nothing of DTHQ's inside.

The parties keep their code; only what stands in for a DTHQ session changes. A plain
record is the codec id, the 48-bit timestamp and the (compressed) payload, in clear:
TLS protects each hop to and from the broker, and the broker sees the readings. Who
sent a record is the topic it came on, which the broker's ACL bound to the sender's
client certificate; there are no handshake flights, no replay window (the store's one
row per patient and timestamp still drops duplicates) and no NO_SESSION.

A plain party refuses a bus without TLS (:func:`require_tls`): over plain MQTT anyone
could publish on any device's topic and be believed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from dthq.errors import AuthenticationError, DecodeError, StateError, UnsupportedError
from dthq.pipeline import topics
from dthq.protocol.compression import DECODERS, NONE_ID, Codec, LZ4Block, compress_adaptive
from dthq.protocol.config import ResponderConfig
from dthq.protocol.record import MAX_TIMESTAMP_MS, Freshness, Record
from dthq.transport.bus import Bus

HEADER_SIZE = 7  # codec id, then the timestamp in 6 bytes


def require_tls(bus: Bus, who: str) -> None:
    """Plain records only through a TLS connection (its certificate names the sender)."""
    if getattr(bus, "tls", None) is None:
        raise UnsupportedError(
            f"{who}: the tls scheme carries readings in clear and trusts the broker's "
            "certificate-bound ACL; it needs a TLS connection with a client certificate"
        )


class PlainLayer:
    """What the parties ask of a RecordLayer, without the cryptography."""

    def __init__(
        self,
        codec: Codec | None = None,
        freshness: Freshness | None = None,
        max_payload: int = topics.MAX_PAYLOAD,
    ) -> None:
        self._codec = codec or LZ4Block()
        self._freshness = Freshness() if freshness is None else freshness
        self.max_payload = max_payload

    def compress(self, payload: bytes, codec: Codec | None = None) -> tuple[int, bytes]:
        if len(payload) > self.max_payload:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        return compress_adaptive(codec or self._codec, payload)

    def seal_compressed(self, codec_id: int, body: bytes, now_ms: int) -> bytes:
        if codec_id not in DECODERS:
            raise DecodeError(f"codec id {codec_id} names no known codec")
        if not 0 <= now_ms <= MAX_TIMESTAMP_MS:
            raise DecodeError(f"timestamp {now_ms} ms does not fit 48 bits")
        return bytes([codec_id]) + now_ms.to_bytes(6, "big") + body

    def seal(self, payload: bytes, now_ms: int) -> bytes:
        return self.seal_compressed(*self.compress(payload), now_ms)

    def open_record(self, record: bytes, now_ms: int) -> Record:
        if len(record) < HEADER_SIZE:
            raise DecodeError(f"plain record of {len(record)} bytes is shorter than its header")
        codec_id, stamp = record[0], int.from_bytes(record[1:HEADER_SIZE], "big")
        if codec_id not in DECODERS:
            raise DecodeError(f"plain record codec 0x{codec_id:02x} names no known codec")
        self._freshness.check(stamp, now_ms)
        body = record[HEADER_SIZE:]
        if codec_id != NONE_ID:
            body = DECODERS[codec_id].decompress(body, self.max_payload)
        return Record(body, 0, 0, stamp, codec_id)

    def open(self, record: bytes, now_ms: int) -> bytes:
        return self.open_record(record, now_ms).payload

    def save(self) -> bytes:
        return b""  # nothing to keep: the next record needs no state


class PlainInitiator:
    """In place of an InitiatorSession: established at once, nothing to send."""

    deadline_ms = None
    in_progress = False

    def __init__(self, layer: Callable[[], PlainLayer]) -> None:
        self._layer = layer
        self.session: PlainLayer | None = None
        self.confirmed = 0

    def start(self, now_ms: int) -> None:
        """No HELLO: the TLS connection was the handshake. The session is ready now."""
        if self.session is None:
            self.session = self._layer()
            self.confirmed += 1

    def poll(self, now_ms: int) -> None:
        return None

    def suspect(self, now_ms: int) -> None:
        return None

    def receive(self, kind: int, body: bytes, now_ms: int) -> None:
        raise StateError(f"frame 0x{kind:02x}: the tls scheme has no handshake frames")


class PlainTerminator:
    """In place of a Terminator: a registered peer's records open in clear."""

    half_open = 0

    def __init__(self, config: ResponderConfig, *, freshness: Freshness | None = None) -> None:
        self._known = frozenset(config.devices)
        self._freshness = freshness
        self.work: Counter[str] = Counter()
        self.sessions: dict[str, PlainLayer] = {}
        self.lock = threading.Lock()

    def _layer(self, peer: str) -> PlainLayer:
        if peer.encode() not in self._known:
            raise AuthenticationError(f"{peer!r} is not a registered peer")
        with self.lock:
            return self.sessions.setdefault(peer, PlainLayer(freshness=self._freshness))

    def half_open_of(self, peer: str) -> int:
        return 0

    def flight(self, peer: str, flight: bytes, now_ms: int) -> None:
        self.work["refused"] += 1
        raise DecodeError(f"a handshake flight from {peer!r}: the tls scheme has none")

    def open(self, peer: str, record: bytes, now_ms: int) -> tuple[bytes, int]:
        opened = self._layer(peer).open_record(record, now_ms)
        return opened.payload, opened.timestamp_ms

    def seal(self, peer: str, payload: bytes, now_ms: int) -> bytes | None:
        with self.lock:
            session = self.sessions.get(peer)
        return None if session is None else session.seal(payload, now_ms)

    def no_session(self, peer: str, now_ms: int) -> None:
        return None

    def save(self, peer: str) -> bytes:
        return b""

    def resume(self, peer: str, state: bytes, now_ms: int) -> None:
        self._layer(peer)
