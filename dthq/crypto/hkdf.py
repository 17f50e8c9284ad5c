"""HKDF (RFC 5869) over hashlib/hmac: the one-block path is the key schedule's hot path."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from dthq.errors import UnsupportedError


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
