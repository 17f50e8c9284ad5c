"""HKDF (RFC 5869) over HMAC (RFC 2104) made of hashlib's named constructors.

OpenSSL's one-shot HMAC (``hmac.digest``) looks its digest up and sets up a MAC context
on every call, which costs more than the hashing of a key schedule's short inputs; two
hashlib hashes over the padded key make the same bytes for less. :class:`HmacKey`
hashes a key's two padded blocks once, for a secret the schedule uses several times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

from dthq.errors import UnsupportedError

_IPAD = bytes(b ^ 0x36 for b in range(256))  # translate tables: key XOR ipad / opad
_OPAD = bytes(b ^ 0x5C for b in range(256))

Hash = Callable[..., Any]  # a hashlib constructor: hashlib.sha256 and the like


@cache
def _hash(hash_name: str) -> tuple[Hash, int]:
    """The hash's constructor (the named one, which skips hashlib.new's lookup) and its
    block size."""
    new = getattr(hashlib, hash_name, None)
    if new is None:
        new = lambda data=b"": hashlib.new(hash_name, data)  # noqa: E731
    return new, new().block_size


@cache
def digest_size(hash_name: str) -> int:
    return hashlib.new(hash_name).digest_size


@cache
def empty_hash(hash_name: str) -> bytes:
    return hashlib.new(hash_name).digest()


def _padded(new: Hash, block: int, key: bytes) -> bytes:
    return (new(key).digest() if len(key) > block else key).ljust(block, b"\0")


def hmac_digest(hash_name: str, key: bytes, message: bytes) -> bytes:
    """HMAC(key, message), RFC 2104: for a key used once."""
    new, block = _hash(hash_name)
    key = key.ljust(block, b"\0") if len(key) <= block else _padded(new, block, key)
    return new(key.translate(_OPAD) + new(key.translate(_IPAD) + message).digest()).digest()


class HmacKey:
    """One HMAC key for several messages: the inner and outer states after the padded
    key are kept, and each MAC resumes from copies of them (as HMAC_CTX_copy would)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, hash_name: str, key: bytes) -> None:
        new, block = _hash(hash_name)
        key = _padded(new, block, key)
        self._inner = new(key.translate(_IPAD))
        self._outer = new(key.translate(_OPAD))

    def mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def expand(self, info: bytes, length: int) -> bytes:
        """HKDF-Expand with this key as the PRK."""
        hash_len = self._inner.digest_size
        if 0 < length <= hash_len:  # one block: the key schedule's every call
            return self.mac(info + b"\x01")[:length]
        if not 0 <= length <= 255 * hash_len:
            raise UnsupportedError(
                f"HKDF-{self._inner.name.upper()} output of {length} bytes is outside "
                f"0..{255 * hash_len}"
            )
        out = b""
        block = b""
        counter = 1
        while len(out) < length:
            block = self.mac(block + info + bytes([counter]))
            out += block
            counter += 1
        return out[:length]


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    if not salt:
        salt = bytes(digest_size(hash_name))
    return hmac_digest(hash_name, salt, ikm)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    if 0 < length <= digest_size(hash_name):  # one block: one MAC, no key kept
        return hmac_digest(hash_name, prk, info + b"\x01")[:length]
    return HmacKey(hash_name, prk).expand(info, length)


def hkdf(hash_name: str, ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hash_name, hkdf_extract(hash_name, salt, ikm), info, length)
