"""The record layer: compact header, IV-XOR-sequence nonces, anti-replay, rekeying.

Header (14 bytes, all of it AAD together with both session ids):

    version u8 | flags u8 (bits 0-1: codec) | key epoch u16 | sequence u32 | timestamp ms u48

A record that fails any check leaves the session exactly as it was: the replay
window and the epoch only move after the AEAD tag and the payload have verified.
The one exception is the count of failed decryptions, kept against the AEAD's
integrity limit (RFC 9147 §4.5.3): past it the session closes.

Receiving tolerates a lossy link (MQTT QoS 0 over radio): a record may come from up
to ``EpochPolicy.lookahead`` epochs ahead (all of an epoch's records lost), and the
previous epoch's keys stay for a grace period so late records still open, each epoch
with its own replay window. The authenticated timestamp is checked against a
:class:`Freshness` policy with the ``now_ms`` the caller passes in.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from dthq.crypto.aead import AEADBackend, Cipher, get_aead
from dthq.errors import (
    AuthenticationError,
    DecodeError,
    FreshnessError,
    FutureError,
    ReplayError,
    StateError,
)
from dthq.protocol.compression import DECODERS, NONE_ID, Codec, Raw, compress_adaptive
from dthq.protocol.keyschedule import SessionKeys, TrafficKeys, next_secret, traffic_keys
from dthq.protocol.suites import Suite, suite_by_id

RECORD_VERSION = 1
HEADER = struct.Struct(">BBHIHI")  # the u48 timestamp is split into u16 + u32
HEADER_SIZE = HEADER.size
CODEC_MASK = 0x03
MAX_EPOCH = 0xFFFF
MAX_TIMESTAMP_MS = 2**48 - 1
REPLAY_WINDOW = 64


@dataclass(frozen=True)
class RekeyPolicy:
    """When the sender moves to the next key epoch (whichever comes first). The AEAD's
    confidentiality limit for the layer's largest record caps ``max_records`` anyway."""

    max_records: int = 1 << 20
    max_age_ms: int = 3_600_000


@dataclass(frozen=True)
class Freshness:
    """How old, or how far ahead of the receiver's clock, a record's timestamp may be.

    The default suits telemetry: a reading older than 30 s is history, not a vital
    sign. ``Freshness.OFF`` (both None) turns the check off, and only explicitly.
    """

    max_age_ms: int | None = 30_000
    max_skew_ms: int | None = 2_000
    OFF: ClassVar[Freshness]

    def check(self, timestamp_ms: int, now_ms: int) -> None:
        if self.max_age_ms is not None and now_ms - timestamp_ms > self.max_age_ms:
            raise FreshnessError(
                f"record is {now_ms - timestamp_ms} ms old; the limit is {self.max_age_ms} ms"
            )
        if self.max_skew_ms is not None and timestamp_ms - now_ms > self.max_skew_ms:
            raise FutureError(
                f"record is {timestamp_ms - now_ms} ms in the future; "
                f"the allowed clock skew is {self.max_skew_ms} ms"
            )


Freshness.OFF = Freshness(None, None)


@dataclass(frozen=True)
class EpochPolicy:
    """How a receiver follows the sender's key epochs over a lossy, reordering link."""

    lookahead: int = 4  # epochs ahead a record may come from (each costs one derivation)
    grace_records: int = REPLAY_WINDOW  # previous epoch stays open for this many new records
    grace_ms: int = 10_000  # ... or this long after the switch, whichever ends first

    def __post_init__(self) -> None:
        if not 1 <= self.lookahead <= 64:
            raise ValueError("lookahead must be 1..64 epochs")  # bounds a forged header's work


# The defaults, made once: every one is immutable, and a layer is built per session.
_RAW = Raw()
_REKEY = RekeyPolicy()
_FRESHNESS = Freshness()
_EPOCHS = EpochPolicy()


class Record(NamedTuple):
    payload: bytes
    epoch: int
    sequence: int
    timestamp_ms: int
    codec_id: int


class ReplayWindow:
    """A 64-record sliding window (RFC 6347 §4.1.2.6 / RFC 4303 §3.4.3)."""

    __slots__ = ("bitmap", "top")

    def __init__(self) -> None:
        self.top = -1  # highest sequence accepted so far
        self.bitmap = 0  # bit i set: sequence top - i was accepted

    def check(self, seq: int) -> None:
        if seq > self.top:
            return
        offset = self.top - seq
        if offset >= REPLAY_WINDOW:
            raise ReplayError(f"record {seq} is older than the {REPLAY_WINDOW}-record window")
        if self.bitmap >> offset & 1:
            raise ReplayError(f"record {seq} was already received")

    def accept(self, seq: int) -> None:
        if seq > self.top:
            shift = seq - self.top
            self.bitmap = ((self.bitmap << shift) | 1) & ((1 << REPLAY_WINDOW) - 1)
            self.top = seq
        else:
            self.bitmap |= 1 << (self.top - seq)


class _Direction:
    """One direction's keys for one epoch (and, receiving, that epoch's replay window).
    Its AEAD key, IV and cipher are made for its first record, so a direction that never
    carries one (a device that only sends) costs no more than its secret."""

    __slots__ = (
        "_aead",
        "_cipher",
        "_iv",
        "_keys",
        "_suite",
        "accepted",
        "closed_count",
        "closed_ms",
        "epoch",
        "secret",
        "started_ms",
        "window",
    )

    def __init__(
        self,
        aead: AEADBackend,
        suite: Suite,
        secret: bytes,
        epoch: int,
        now_ms: int,
        keys: TrafficKeys | None = None,
    ) -> None:
        self._aead, self._suite, self.secret, self._keys = aead, suite, secret, keys
        self._cipher: Cipher | None = None
        self._iv = 0
        self.epoch = epoch
        self.started_ms = now_ms
        self.window = ReplayWindow()
        self.accepted = 0  # records accepted under this epoch
        self.closed_count = 0  # receiving: records accepted in all, when it was left behind
        self.closed_ms = 0

    @property
    def keys(self) -> TrafficKeys:
        if self._keys is None:
            self._keys = traffic_keys(self._suite, self.secret)
        return self._keys

    def ready(self) -> Cipher:
        """The cipher (and the IV), made now: the direction's first record."""
        keys = self.keys
        self._iv = int.from_bytes(keys.iv, "big")
        self._cipher = cipher = self._aead.new(keys.key)
        return cipher

    @property
    def cipher(self) -> Cipher:
        return self.ready() if self._cipher is None else self._cipher

    @cipher.setter
    def cipher(self, cipher: Cipher) -> None:
        if self._cipher is None:
            self.ready()  # the IV
        self._cipher = cipher

    @property
    def iv(self) -> int:
        if self._cipher is None:
            self.ready()
        return self._iv


# A saved session: version, suite, both ids, then per direction the current epoch's
# secret, the epoch and (sending) the next sequence and newest timestamp or (receiving)
# the replay window. Epochs left behind in their grace period are not kept.
STATE_VERSION = 1
_STATE_HEAD = struct.Struct(">BHH")  # version, suite wire id, ids length
_STATE_SEND = struct.Struct(">HIQ")  # epoch, next sequence, newest timestamp sent
_STATE_RECV = struct.Struct(">HqQ")  # epoch, window top, window bitmap


class RecordLayer:
    """One endpoint's protected channel. Time is passed in; nothing here reads a clock."""

    def __init__(
        self,
        suite: Suite,
        send_secret: bytes,
        receive_secret: bytes,
        ids: bytes,
        now_ms: int,
        *,
        codec: Codec | None = None,
        rekey: RekeyPolicy | None = None,
        freshness: Freshness | None = None,
        epochs: EpochPolicy | None = None,
        aead_backend: str | None = None,
        max_payload: int = 1 << 24,
        integrity_limit: int | None = None,
    ) -> None:
        self.suite = suite
        self._aead = get_aead(suite.aead_name, aead_backend)
        spec = self._aead.spec
        self._ids = ids  # both ids, length-prefixed in A, B order: part of every AAD
        self._codec = codec or _RAW
        policy = rekey or _REKEY
        self.max_payload = max_payload
        # Rekey before the AEAD's confidentiality limit for records of this size, however
        # the policy is set (compression never grows a record: it falls back to raw).
        self._max_records = min(policy.max_records, spec.max_records(max_payload))
        self._max_age_ms = policy.max_age_ms
        self._freshness = _FRESHNESS if freshness is None else freshness
        self._epochs = epochs or _EPOCHS
        self._integrity_limit = integrity_limit or spec.integrity_limit
        self._send = _Direction(self._aead, suite, send_secret, 0, now_ms)
        self._send_seq = 0
        self._clock_ms = now_ms  # the last now_ms seen by seal, as given
        self._last_stamp_ms = now_ms  # the newest timestamp sent
        self._epoch_age_ms = 0  # forward clock movement since the send epoch began
        self._recv = _Direction(self._aead, suite, receive_secret, 0, now_ms)
        self._old: dict[int, _Direction] = {}  # epochs left behind, each open for its grace
        self._accepted = 0  # records accepted, all epochs
        self._ahead: list[TrafficKeys] = []  # epochs recv+1.. derived so far, for reuse
        self._failures = 0  # failed decryptions under the current receive keys
        self._nonce_size = spec.nonce_size
        self._min_record = HEADER_SIZE + spec.tag_size
        self.closed = False

    @classmethod
    def from_keys(cls, keys: SessionKeys, now_ms: int, **options: Any) -> RecordLayer:
        """The record layer of the party that ``keys`` were released to; ``options`` are
        the constructor's keyword options (codec, rekey, freshness, epochs, ...)."""
        return cls(keys.suite, keys.send_secret, keys.receive_secret, keys.ids, now_ms, **options)

    def prepare(self) -> RecordLayer:
        """Make both directions' keys and ciphers now rather than at their first record
        (a handshake that is timed counts them, as a TLS handshake installs its keys)."""
        self._send.ready()
        self._recv.ready()
        return self

    def save(self) -> bytes:
        """This endpoint's state, to :meth:`resume` after a restart (a consumer that
        commits the state with what it received gets exactly-once across crashes). It
        holds traffic secrets: keep it only encrypted."""
        if self.closed:
            raise StateError("session is closed")
        send, recv = self._send, self._recv
        return b"".join(
            (
                _STATE_HEAD.pack(STATE_VERSION, self.suite.wire_id, len(self._ids)),
                self._ids,
                send.secret,
                _STATE_SEND.pack(send.epoch, self._send_seq, self._last_stamp_ms),
                recv.secret,
                _STATE_RECV.pack(recv.epoch, recv.window.top, recv.window.bitmap),
            )
        )

    @classmethod
    def resume(cls, state: bytes, now_ms: int, **options: Any) -> RecordLayer:
        """The record layer :meth:`save` described (``options`` as for the constructor)."""
        if len(state) < _STATE_HEAD.size:
            raise DecodeError(f"session state of {len(state)} bytes is truncated")
        version, wire_id, ids_len = _STATE_HEAD.unpack_from(state)
        if version != STATE_VERSION:
            raise DecodeError(f"session state version {version}, expected {STATE_VERSION}")
        suite = suite_by_id(wire_id)
        n = suite.hash_len
        want = _STATE_HEAD.size + ids_len + 2 * n + _STATE_SEND.size + _STATE_RECV.size
        if len(state) != want:
            raise DecodeError(f"session state of {len(state)} bytes, expected {want}")
        at = _STATE_HEAD.size
        ids = state[at : at + ids_len]
        at += ids_len
        send_secret = state[at : at + n]
        send_epoch, send_seq, last_stamp = _STATE_SEND.unpack_from(state, at + n)
        at += n + _STATE_SEND.size
        recv_secret = state[at : at + n]
        recv_epoch, top, bitmap = _STATE_RECV.unpack_from(state, at + n)
        layer = cls(suite, send_secret, recv_secret, ids, now_ms, **options)
        layer._send.epoch, layer._send_seq = send_epoch, send_seq
        layer._last_stamp_ms = last_stamp  # timestamps never go backwards across a restart
        layer._recv.epoch = recv_epoch
        layer._recv.window.top, layer._recv.window.bitmap = top, bitmap
        return layer

    @property
    def overhead(self) -> int:
        """Bytes a record adds to its (possibly compressed) payload."""
        return self._min_record

    @property
    def records_per_epoch(self) -> int:
        """Records sealed under one key before the sender rekeys (policy, capped by the AEAD)."""
        return self._max_records

    @property
    def send_epoch(self) -> int:
        return self._send.epoch

    @property
    def receive_epoch(self) -> int:
        return self._recv.epoch

    @property
    def failed_decryptions(self) -> int:
        return self._failures

    def close(self) -> None:
        self.closed = True
        self._send = self._recv = None  # type: ignore[assignment]
        self._old = {}
        self._ahead = []

    def seal(self, payload: bytes, now_ms: int) -> bytes:
        return self.seal_compressed(*self.compress(payload), now_ms)

    def compress(self, payload: bytes, codec: Codec | None = None) -> tuple[int, bytes]:
        """(codec id, body) for :meth:`seal_compressed`: the session's codec, or ``codec``
        for this record only (a gateway compressing some batches harder than others).
        Split from sealing so a pipeline can time the two stages apart."""
        if len(payload) > self.max_payload:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        return compress_adaptive(codec or self._codec, payload)

    def seal_compressed(self, codec_id: int, body: bytes, now_ms: int) -> bytes:
        """Seal a body :meth:`compress` made; ``codec_id`` goes into the header."""
        if self.closed:
            raise StateError("session is closed")
        if codec_id not in DECODERS:
            raise DecodeError(f"codec id {codec_id} names no known codec")
        if not 0 <= now_ms <= MAX_TIMESTAMP_MS:
            raise DecodeError(f"timestamp {now_ms} ms does not fit the 48-bit header field")
        # A clock stepped back (NTP) neither reverses timestamps on the wire nor postpones
        # age-based rekeying: the epoch's age adds up only the clock's forward steps.
        self._epoch_age_ms += max(0, now_ms - self._clock_ms)
        self._clock_ms = now_ms
        now_ms = self._last_stamp_ms = max(now_ms, self._last_stamp_ms)
        send = self._send
        if self._send_seq >= self._max_records or self._epoch_age_ms >= self._max_age_ms:
            send = self._rekey_send(now_ms)
        seq = self._send_seq
        header = HEADER.pack(
            RECORD_VERSION, codec_id, send.epoch, seq, now_ms >> 32, now_ms & 0xFFFFFFFF
        )
        cipher = send._cipher
        if cipher is None:
            cipher = send.ready()
        nonce = (send._iv ^ seq).to_bytes(self._nonce_size, "big")  # IV XOR sequence
        sealed = cipher.encrypt(nonce, body, header + self._ids)
        self._send_seq = seq + 1
        return header + sealed

    def _rekey_send(self, now_ms: int) -> _Direction:
        if self._send.epoch >= MAX_EPOCH:
            raise StateError("key epochs exhausted: run a new handshake")
        secret = next_secret(self.suite, self._send.secret)
        self._send = _Direction(self._aead, self.suite, secret, self._send.epoch + 1, now_ms)
        self._send_seq = 0
        self._epoch_age_ms = 0
        return self._send

    def open(self, record: bytes, now_ms: int) -> bytes:
        """The payload of a verified record (see :meth:`open_record`)."""
        return self.open_record(record, now_ms)[0]

    def open_record(self, record: bytes, now_ms: int) -> Record:
        """Verify, decrypt and decompress one record received at ``now_ms``; on any
        failure nothing changes (but a failed decryption counts against the limit)."""
        if self.closed:
            raise StateError("session is closed")
        if len(record) < self._min_record:
            raise DecodeError(
                f"record of {len(record)} bytes is shorter than header + tag ({self._min_record})"
            )
        if len(record) > self.max_payload + self._min_record + 64:
            raise DecodeError(f"record of {len(record)} bytes exceeds the size limit")
        version, flags, epoch, seq, ts_hi, ts_lo = HEADER.unpack_from(record)
        if version != RECORD_VERSION:
            raise DecodeError(f"record version {version}, expected {RECORD_VERSION}")
        if flags & ~CODEC_MASK or flags not in DECODERS:
            raise DecodeError(f"record flags 0x{flags:02x} name no known codec")
        direction = self._direction_for(epoch, now_ms)
        direction.window.check(seq)
        header = record[:HEADER_SIZE]
        cipher = direction._cipher
        if cipher is None:
            cipher = direction.ready()
        nonce = (direction._iv ^ seq).to_bytes(self._nonce_size, "big")
        try:
            body = cipher.decrypt(nonce, record[HEADER_SIZE:], header + self._ids)
        except AuthenticationError:
            self._count_failure()
            raise
        # Freshness is judged on the authenticated timestamp, so a tampered one is a
        # forgery (above), and a genuine old record is reported as stale.
        timestamp_ms = (ts_hi << 32) | ts_lo
        self._freshness.check(timestamp_ms, now_ms)
        payload = DECODERS[flags].decompress(body, self.max_payload) if flags != NONE_ID else body
        if len(payload) > self.max_payload:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        # Everything verified: only now does the session's state move.
        if direction.epoch > self._recv.epoch:
            self._adopt(direction, now_ms)
        direction.window.accept(seq)
        direction.accepted += 1
        self._accepted += 1
        return Record(payload, epoch, seq, timestamp_ms, flags)

    def _direction_for(self, epoch: int, now_ms: int) -> _Direction:
        """The keys for a record's epoch, without changing any state."""
        recv = self._recv
        if epoch == recv.epoch:
            return recv
        if epoch > recv.epoch:
            ahead = epoch - recv.epoch
            if ahead > self._epochs.lookahead:
                raise AuthenticationError(
                    f"record claims key epoch {epoch}; at most {self._epochs.lookahead} "
                    f"ahead of {recv.epoch} are accepted"
                )
            # Derive forward (bounded by the look-ahead, and cached); adopted only if the
            # record verifies.
            keys = self._ahead
            while len(keys) < ahead:
                secret = next_secret(self.suite, keys[-1].secret if keys else recv.secret)
                keys.append(traffic_keys(self.suite, secret))
            found = keys[ahead - 1]
            return _Direction(self._aead, self.suite, found.secret, epoch, 0, found)
        late = self._old.get(epoch)
        if late is not None and self._in_grace(late, now_ms):
            return late
        raise ReplayError(f"record from key epoch {epoch}, already at epoch {recv.epoch}")

    def _in_grace(self, old: _Direction, now_ms: int) -> bool:
        """An epoch left behind stays open for late records: a few, for a short while,
        counted from when it was left behind."""
        return (
            self._accepted - old.closed_count < self._epochs.grace_records
            and now_ms - old.closed_ms < self._epochs.grace_ms
        )

    def _adopt(self, direction: _Direction, now_ms: int) -> None:
        # Every epoch passed over, from the one we were at up to the new one, stays open
        # for its own grace period, with its own replay window: after a jump over lost
        # epochs a record of any of them may still be in flight, and may be overtaken
        # again by a later switch. formal/epochs.pml found each narrower rule losing
        # genuine records. At most 2 x lookahead epochs are kept.
        old = self._recv
        left = [old] + [
            _Direction(self._aead, self.suite, keys.secret, old.epoch + offset, 0, keys)
            for offset, keys in enumerate(self._ahead[: direction.epoch - old.epoch - 1], 1)
        ]
        for d in left:
            d.closed_count, d.closed_ms = self._accepted, now_ms
            self._old[d.epoch] = d
        self._old = {
            e: d
            for e, d in sorted(self._old.items())[-2 * self._epochs.lookahead :]
            if self._in_grace(d, now_ms)
        }
        self._ahead = self._ahead[direction.epoch - old.epoch :]
        direction.started_ms = now_ms
        self._recv = direction
        self._failures = 0  # the integrity limit counts per key

    def _count_failure(self) -> None:
        self._failures += 1
        if self._failures >= self._integrity_limit:
            self.close()
            raise StateError(
                f"{self._failures} records failed to decrypt: the {self.suite.aead_name} "
                "integrity limit is reached and the session is closed; run a new handshake"
            )
