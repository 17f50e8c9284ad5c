"""HKDF (RFC 5869) and the DTHQ key schedule, shaped after TLS 1.3's (RFC 8446 §7.1).

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
from dataclasses import dataclass
from functools import cache

from dthq.errors import UnsupportedError
from dthq.suites import Suite

LABEL_PREFIX = b"dthq1 "


@cache
def digest_size(hash_name: str) -> int:
    return hashlib.new(hash_name).digest_size


@cache
def empty_hash(hash_name: str) -> bytes:
    return hashlib.new(hash_name).digest()


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    if not salt:
        salt = bytes(digest_size(hash_name))
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    hash_len = digest_size(hash_name)
    if 0 < length <= hash_len:  # one block: the key schedule's every call
        return hmac.digest(prk, info + b"\x01", hash_name)[:length]
    if not 0 <= length <= 255 * hash_len:
        raise UnsupportedError(
            f"HKDF-{hash_name.upper()} output of {length} bytes is outside 0..{255 * hash_len}"
        )
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        out += block
        counter += 1
    return out[:length]


def hkdf(hash_name: str, ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hash_name, hkdf_extract(hash_name, salt, ikm), info, length)


def expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    full = LABEL_PREFIX + label
    info = struct.pack(">HB", length, len(full)) + full + struct.pack(">B", len(context)) + context
    return hkdf_expand(hash_name, secret, info, length)


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
        zeros = bytes(suite.hash_len)
        self._early = hkdf_extract(self._h, b"", psk if psk is not None else zeros)
        self._handshake: bytes | None = None

    def transcript_hash(self, *parts: bytes) -> bytes:
        return hashlib.new(self._h, b"".join(parts)).digest()

    def _derived(self, secret: bytes) -> bytes:
        return expand_label(self._h, secret, b"derived", empty_hash(self._h), self.suite.hash_len)

    def mix_shared_secret(self, shared: bytes) -> None:
        self._handshake = hkdf_extract(self._h, self._derived(self._early), shared)

    def _hs(self) -> bytes:
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
        self._early = b""
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
