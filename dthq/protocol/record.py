"""The record layer: compact header, IV-XOR-sequence nonces, anti-replay, rekeying.

Header (14 bytes, all of it AAD together with both session ids):

    version u8 | flags u8 (bits 0-1: codec) | key epoch u16 | sequence u32 | timestamp ms u48

A record that fails any check leaves the session exactly as it was: the replay
window and the epoch only move after the AEAD tag and the payload have verified.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from dthq.crypto.aead import AEADBackend, Cipher, get_aead
from dthq.errors import AuthenticationError, DecodeError, ReplayError, StateError
from dthq.protocol.compression import DECODERS, NONE_ID, Codec, Raw, compress_adaptive
from dthq.protocol.keyschedule import SessionKeys, TrafficKeys, next_traffic_keys, traffic_keys
from dthq.protocol.suites import Suite

RECORD_VERSION = 1
HEADER = struct.Struct(">BBHIHI")  # the u48 timestamp is split into u16 + u32
HEADER_SIZE = HEADER.size
CODEC_MASK = 0x03
MAX_EPOCH = 0xFFFF
MAX_TIMESTAMP_MS = 2**48 - 1
REPLAY_WINDOW = 64


@dataclass(frozen=True)
class RekeyPolicy:
    """When the sender moves to the next key epoch (whichever comes first)."""

    max_records: int = 1 << 20
    max_age_ms: int = 3_600_000


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
    """One direction's keys for the current epoch."""

    __slots__ = ("cipher", "epoch", "iv", "keys", "started_ms")

    def __init__(self, aead: AEADBackend, keys: TrafficKeys, epoch: int, now_ms: int) -> None:
        self.keys = keys
        self.cipher: Cipher = aead.new(keys.key)
        self.iv = int.from_bytes(keys.iv, "big")
        self.epoch = epoch
        self.started_ms = now_ms


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
        aead_backend: str | None = None,
        max_payload: int = 1 << 24,
    ) -> None:
        self.suite = suite
        self._aead = get_aead(suite.aead_name, aead_backend)
        self._ids = ids  # both ids, length-prefixed in A, B order: part of every AAD
        self._codec = codec or Raw()
        policy = rekey or RekeyPolicy()
        # Rekey before the AEAD's usage limit however the policy is set.
        self._max_records = min(policy.max_records, suite.aead.max_records, 2**32 - 1)
        self._max_age_ms = policy.max_age_ms
        self.max_payload = max_payload
        self._send = _Direction(self._aead, traffic_keys(suite, send_secret), 0, now_ms)
        self._send_seq = 0
        self._recv = _Direction(self._aead, traffic_keys(suite, receive_secret), 0, now_ms)
        self._window = ReplayWindow()
        self._nonce_size = suite.aead.nonce_size
        self._min_record = HEADER_SIZE + suite.aead.tag_size
        self.closed = False

    @classmethod
    def from_keys(
        cls,
        keys: SessionKeys,
        now_ms: int,
        *,
        codec: Codec | None = None,
        rekey: RekeyPolicy | None = None,
        aead_backend: str | None = None,
        max_payload: int = 1 << 24,
    ) -> RecordLayer:
        """The record layer of the party that ``keys`` were released to."""
        return cls(
            keys.suite,
            keys.send_secret,
            keys.receive_secret,
            keys.ids,
            now_ms,
            codec=codec,
            rekey=rekey,
            aead_backend=aead_backend,
            max_payload=max_payload,
        )

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

    def close(self) -> None:
        self.closed = True
        self._send = self._recv = None  # type: ignore[assignment]

    def seal(self, payload: bytes, now_ms: int) -> bytes:
        if self.closed:
            raise StateError("session is closed")
        if len(payload) > self.max_payload:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        if not 0 <= now_ms <= MAX_TIMESTAMP_MS:
            raise DecodeError(f"timestamp {now_ms} ms does not fit the 48-bit header field")
        send = self._send
        if self._send_seq >= self._max_records or now_ms - send.started_ms >= self._max_age_ms:
            send = self._rekey_send(now_ms)
        codec_id, body = compress_adaptive(self._codec, payload)
        seq = self._send_seq
        header = HEADER.pack(
            RECORD_VERSION, codec_id, send.epoch, seq, now_ms >> 32, now_ms & 0xFFFFFFFF
        )
        nonce = (send.iv ^ seq).to_bytes(self._nonce_size, "big")  # IV XOR sequence
        sealed = send.cipher.encrypt(nonce, body, header + self._ids)
        self._send_seq = seq + 1
        return header + sealed

    def _rekey_send(self, now_ms: int) -> _Direction:
        if self._send.epoch >= MAX_EPOCH:
            raise StateError("key epochs exhausted: run a new handshake")
        keys = next_traffic_keys(self.suite, self._send.keys)
        self._send = _Direction(self._aead, keys, self._send.epoch + 1, now_ms)
        self._send_seq = 0
        return self._send

    def open(self, record: bytes) -> bytes:
        """The payload of a verified record (see :meth:`open_record`)."""
        return self.open_record(record)[0]

    def open_record(self, record: bytes) -> Record:
        """Verify, decrypt and decompress one record; on any failure nothing changes."""
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
        recv = self._recv
        window = self._window
        if epoch == recv.epoch:
            window.check(seq)
        elif epoch == recv.epoch + 1:
            # The peer rekeyed: try the next epoch's keys, adopt them only if this verifies.
            recv = _Direction(self._aead, next_traffic_keys(self.suite, recv.keys), epoch, 0)
            window = ReplayWindow()
        elif epoch < recv.epoch:
            raise ReplayError(f"record from key epoch {epoch}, already at epoch {recv.epoch}")
        else:
            raise AuthenticationError(
                f"record claims key epoch {epoch}; only {recv.epoch} or {recv.epoch + 1} are valid"
            )
        header = record[:HEADER_SIZE]
        nonce = (recv.iv ^ seq).to_bytes(self._nonce_size, "big")
        body = recv.cipher.decrypt(nonce, record[HEADER_SIZE:], header + self._ids)
        payload = DECODERS[flags].decompress(body, self.max_payload) if flags != NONE_ID else body
        if len(payload) > self.max_payload:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        # Everything verified: only now does the session's state move.
        if recv is not self._recv:
            self._recv = recv
            self._window = window
        window.accept(seq)
        return Record(payload, epoch, seq, (ts_hi << 32) | ts_lo, flags)
