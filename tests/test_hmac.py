"""Our HMAC (dthq.crypto.hkdf) against the standard library's, at every key-size boundary."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from dthq.crypto.hkdf import HmacKey, hkdf_expand, hmac_digest
from dthq.errors import UnsupportedError

HASHES = ["sha256", "sha384", "sha512", "sha3_256"]
MESSAGES = [b"", b"\x00", bytes(range(256)) * 3]


def _key_sizes(hash_name: str) -> list[int]:
    block = hashlib.new(hash_name).block_size
    return [0, 1, 32, block - 1, block, block + 1, 2 * block]


@pytest.mark.parametrize("hash_name", HASHES)
def test_hmac_matches_the_standard_library(hash_name: str) -> None:
    for size in _key_sizes(hash_name):
        key = bytes((7 * i + size) % 256 for i in range(size))
        keyed = HmacKey(hash_name, key)
        for message in MESSAGES:
            expected = hmac.digest(key, message, hash_name)
            assert hmac_digest(hash_name, key, message) == expected, (size, len(message))
            assert keyed.mac(message) == expected  # a kept key gives the same MAC...
            assert keyed.mac(message) == expected  # ...every time


def test_hmac_sha256_rfc4231_case_2() -> None:
    mac = hmac_digest("sha256", b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_expand_from_a_kept_key_matches_hkdf_expand(hash_name: str) -> None:
    prk, info = bytes(range(32)), b"info"
    n = hashlib.new(hash_name).digest_size
    for length in (0, 1, n, n + 1, 255 * n):
        got = HmacKey(hash_name, prk).expand(info, length)
        assert got == hkdf_expand(hash_name, prk, info, length)
        assert len(got) == length
    with pytest.raises(UnsupportedError):
        HmacKey(hash_name, prk).expand(info, 255 * n + 1)
