"""The DTHQ key schedule, shaped after TLS 1.3's (RFC 8446 §7.1), over HKDF (RFC 5869).

    early     = Extract(salt=0,                       ikm=PSK or 0)
    handshake = Extract(salt=Derive(early, "derived"), ikm=KEM shared secret or Kq)
    master    = Extract(salt=Derive(handshake, "derived"), ikm=0)

Key confirmation keys come from ``handshake``; traffic secrets from ``master`` and
the hash of the whole transcript (which names both ids, both nonces, mode, KEM and
suite). Breaking the KEM alone gives nothing in psk mode: the PSK is in ``early``.
"""

from __future__ import annotations

import copy
import hashlib
import struct
from dataclasses import dataclass, field
from functools import cache

from dthq.crypto.hkdf import (
    HmacKey,
    digest_size,
    empty_hash,
    hkdf_expand,
    hkdf_extract,
    hmac_digest,
)
from dthq.protocol.suites import Suite

LABEL_PREFIX = b"dthq1 "


@cache
def _label_head(label: bytes, length: int) -> bytes:
    """The constant start of a label's HkdfLabel (a handful of labels, made once each)."""
    full = LABEL_PREFIX + label
    return struct.pack(">HB", length, len(full)) + full


@cache
def _label_info(label: bytes, length: int) -> bytes:
    """A whole HkdfLabel with an empty context, and its expand's counter byte."""
    return _label_head(label, length) + b"\x00\x01"


@cache
def _derived_info(hash_name: str, length: int) -> bytes:
    """The "derived" label's info: its context is the hash of nothing."""
    return _info(b"derived", empty_hash(hash_name), length)


def _info(label: bytes, context: bytes, length: int) -> bytes:
    """HkdfLabel(label, context) and the counter byte of a one-block expand."""
    if not context:
        return _label_info(label, length)
    return _label_head(label, length) + bytes((len(context),)) + context + b"\x01"


def expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    info = _label_head(label, length) + struct.pack(">B", len(context)) + context
    return hkdf_expand(hash_name, secret, info, length)


def _expand(key: HmacKey, label: bytes, context: bytes, length: int) -> bytes:
    """expand_label from a kept key."""
    info = _info(label, context, length)
    out = key.mac(info)  # the first block: all that every output of ours needs
    return out[:length] if length <= len(out) else key.expand(info[:-1], length)


def early_salt(hash_name: str, psk: bytes | None) -> bytes:
    """Derive(Extract(0, PSK or 0), "derived"): the salt of the handshake secret, a function
    of the PSK alone, so provisioning can make it once (PeerRecord keeps it)."""
    if psk is None:
        return _zero_salt(hash_name)
    return _derive_salt(hash_name, psk)


def _derive_salt(hash_name: str, psk: bytes) -> bytes:
    early = hkdf_extract(hash_name, b"", psk)
    return expand_label(hash_name, early, b"derived", empty_hash(hash_name), digest_size(hash_name))


@cache
def _zero_salt(hash_name: str) -> bytes:
    return _derive_salt(hash_name, bytes(digest_size(hash_name)))


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
    def __init__(self, suite: Suite, psk: bytes | None, *, salt: bytes | None = None) -> None:
        """``salt``: :func:`early_salt` of ``psk``, when provisioning made it already."""
        self.suite = suite
        self._h = suite.hash_name
        self._hash = getattr(hashlib, suite.hash_name)  # the named constructor: no lookup
        # Secrets live in bytearrays so wipe() can overwrite them in place. The early
        # stage's only output is the salt it hands on, and that is what is kept.
        self._early = bytearray(early_salt(self._h, psk) if salt is None else salt)
        self._handshake: bytearray | None = None
        self._hs_key: HmacKey | None = None  # the handshake secret, used three times
        self._transcript = self._hash()  # the flights so far, hashed as they come

    def __deepcopy__(self, memo: dict[int, object]) -> KeySchedule:
        # hashlib states cannot be deep-copied; an HmacKey never changes once made, so a
        # fork shares it, and wipe() only lets go of it.
        clone = copy.copy(self)
        clone._early = bytearray(self._early)
        clone._handshake = None if self._handshake is None else bytearray(self._handshake)
        clone._transcript = self._transcript.copy()
        return clone

    def transcript_hash(self, *parts: bytes) -> bytes:
        return self._hash(b"".join(parts)).digest()

    def absorb(self, flight: bytes) -> None:
        """Add a whole flight to the running transcript."""
        self._transcript.update(flight)

    def hash_with(self, tail: bytes) -> bytes:
        """The hash of the transcript so far followed by ``tail`` (a flight's part), each
        flight hashed once however many of these are taken."""
        running = self._transcript.copy()
        running.update(tail)
        return running.digest()

    def mix_shared_secret(self, shared: bytes) -> None:
        secret = hmac_digest(self._h, self._early, shared)  # Extract(salt, shared)
        self._handshake = bytearray(secret)
        self._hs_key = HmacKey(self._h, secret)

    def _hs(self) -> HmacKey:
        if self._hs_key is None:
            raise RuntimeError("mix_shared_secret() must come first")  # a bug, never input
        return self._hs_key

    # Every output below is one hash long: one block of HKDF-Expand, so one MAC each.

    def confirm_mac(self, role: bytes, transcript_hash: bytes) -> bytes:
        """HMAC over the transcript hash with the role's confirmation key (b"a" or b"b")."""
        n = self.suite.hash_len
        key = self._hs().mac(_label_info(role + b" confirm", n))[:n]
        return hmac_digest(self._h, key, transcript_hash)

    def traffic_secrets(self, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(A->B, B->A) epoch-0 traffic secrets, bound to the full transcript."""
        n = self.suite.hash_len
        derived = self._hs().mac(_derived_info(self._h, n))[:n]
        master = HmacKey(self._h, hmac_digest(self._h, derived, bytes(n)))
        context = bytes((len(transcript_hash),)) + transcript_hash + b"\x01"
        return (
            master.mac(_label_head(b"a2b traffic", n) + context)[:n],
            master.mac(_label_head(b"b2a traffic", n) + context)[:n],
        )

    def wipe(self) -> None:
        """Overwrite the early and handshake secrets (bytes handed to the primitives, and
        Python's immutable copies, are beyond reach: this is best effort)."""
        for secret in (self._early, self._handshake):
            if secret is not None:
                secret[:] = bytes(len(secret))
        self._early = bytearray()
        self._handshake = None
        self._hs_key = None
        self._transcript = self._hash()


def traffic_keys(suite: Suite, secret: bytes) -> TrafficKeys:
    aead = suite.aead
    key = HmacKey(suite.hash_name, secret)
    return TrafficKeys(
        secret=secret,
        key=_expand(key, b"key", b"", aead.key_size),
        iv=_expand(key, b"iv", b"", aead.nonce_size),
    )


def next_secret(suite: Suite, secret: bytes) -> bytes:
    """The next epoch's traffic secret (a one-way step, as TLS 1.3 KeyUpdate)."""
    return expand_label(suite.hash_name, secret, b"traffic upd", b"", suite.hash_len)


def next_traffic_keys(suite: Suite, current: TrafficKeys) -> TrafficKeys:
    """The next epoch's keys."""
    return traffic_keys(suite, next_secret(suite, current.secret))
