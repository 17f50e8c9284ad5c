"""The DTHQ key schedule, shaped after TLS 1.3's (RFC 8446 §7.1), over HKDF (RFC 5869).

    early     = Extract(salt=0,                       ikm=PSK or 0)
    handshake = Extract(salt=Derive(early, "derived"), ikm=KEM shared secret or Kq)
    master    = Extract(salt=Derive(handshake, "derived"), ikm=0)

Key confirmation keys come from ``handshake``; traffic secrets from ``master`` and
the hash of the whole transcript (which names both ids, both nonces, mode, KEM and
suite). Breaking the KEM alone gives nothing in psk mode: the PSK is in ``early``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from functools import cache

from dthq.crypto.hkdf import empty_hash, hkdf_expand, hkdf_extract
from dthq.protocol.suites import Suite

LABEL_PREFIX = b"dthq1 "


@cache
def _label_head(label: bytes, length: int) -> bytes:
    """The constant start of a label's HkdfLabel (a handful of labels, made once each)."""
    full = LABEL_PREFIX + label
    return struct.pack(">HB", length, len(full)) + full


def expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    info = _label_head(label, length) + struct.pack(">B", len(context)) + context
    return hkdf_expand(hash_name, secret, info, length)


def encode_ids(id_a: bytes, id_b: bytes) -> bytes:
    """Both ids, length-prefixed, A first: how every record binds them into its AAD."""
    return struct.pack(">B", len(id_a)) + id_a + struct.pack(">B", len(id_b)) + id_b


@dataclass(frozen=True)
class SessionKeys:
    """What a completed handshake releases, exactly once, to the party that ran it.

    Everything a consumer (the record layer, an encrypted store, another record
    format) needs to derive its own keys: the suite, both directions' epoch-0 traffic
    secrets, both ids and the transcript hash. ``role`` says which direction is this
    party's own. Secrets are kept out of ``repr``.
    """

    role: str  # "A" (device) or "B" (service)
    suite: Suite
    a2b: bytes = field(repr=False)
    b2a: bytes = field(repr=False)
    id_a: bytes
    id_b: bytes
    transcript_hash: bytes

    def __post_init__(self) -> None:
        if self.role not in ("A", "B"):
            raise ValueError(f"role must be A or B, not {self.role!r}")  # a bug, never input

    @property
    def send_secret(self) -> bytes:
        return self.a2b if self.role == "A" else self.b2a

    @property
    def receive_secret(self) -> bytes:
        return self.b2a if self.role == "A" else self.a2b

    @property
    def ids(self) -> bytes:
        return encode_ids(self.id_a, self.id_b)


@dataclass(frozen=True)
class TrafficKeys:
    """One direction's keys for one epoch."""

    secret: bytes
    key: bytes
    iv: bytes


class KeySchedule:
    def __init__(self, suite: Suite, psk: bytes | None) -> None:
        self.suite = suite
        self._h = suite.hash_name
        self._hash = getattr(hashlib, suite.hash_name)  # the named constructor: no lookup
        zeros = bytes(suite.hash_len)
        # Secrets live in bytearrays so wipe() can overwrite them in place.
        self._early = bytearray(hkdf_extract(self._h, b"", psk if psk is not None else zeros))
        self._handshake: bytearray | None = None

    def transcript_hash(self, *parts: bytes) -> bytes:
        return self._hash(b"".join(parts)).digest()

    def _derived(self, secret: bytes) -> bytes:
        return expand_label(self._h, secret, b"derived", empty_hash(self._h), self.suite.hash_len)

    def mix_shared_secret(self, shared: bytes) -> None:
        self._handshake = bytearray(hkdf_extract(self._h, self._derived(self._early), shared))

    def _hs(self) -> bytearray:
        if self._handshake is None:
            raise RuntimeError("mix_shared_secret() must come first")  # a bug, never input
        return self._handshake

    def confirm_mac(self, role: bytes, transcript_hash: bytes) -> bytes:
        """HMAC over the transcript hash with the role's confirmation key (b"a" or b"b")."""
        key = expand_label(self._h, self._hs(), role + b" confirm", b"", self.suite.hash_len)
        return hmac.digest(key, transcript_hash, self._h)

    def traffic_secrets(self, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(A->B, B->A) epoch-0 traffic secrets, bound to the full transcript."""
        master = hkdf_extract(self._h, self._derived(self._hs()), bytes(self.suite.hash_len))
        a2b = expand_label(self._h, master, b"a2b traffic", transcript_hash, self.suite.hash_len)
        b2a = expand_label(self._h, master, b"b2a traffic", transcript_hash, self.suite.hash_len)
        return a2b, b2a

    def wipe(self) -> None:
        """Overwrite the early and handshake secrets (bytes handed to the primitives, and
        Python's immutable copies, are beyond reach: this is best effort)."""
        for secret in (self._early, self._handshake):
            if secret is not None:
                secret[:] = bytes(len(secret))
        self._early = bytearray()
        self._handshake = None


def traffic_keys(suite: Suite, secret: bytes) -> TrafficKeys:
    aead = suite.aead
    return TrafficKeys(
        secret=secret,
        key=expand_label(suite.hash_name, secret, b"key", b"", aead.key_size),
        iv=expand_label(suite.hash_name, secret, b"iv", b"", aead.nonce_size),
    )


def next_traffic_keys(suite: Suite, current: TrafficKeys) -> TrafficKeys:
    """The next epoch's keys (a one-way step, as TLS 1.3 KeyUpdate)."""
    secret = expand_label(suite.hash_name, current.secret, b"traffic upd", b"", suite.hash_len)
    return traffic_keys(suite, secret)
