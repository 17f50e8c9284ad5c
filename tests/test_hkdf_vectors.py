"""Wycheproof HKDF vectors through our HKDF (dthq.protocol.keyschedule)."""

from __future__ import annotations

import pytest
from vectors import Vector, wycheproof

from dthq.crypto.hkdf import hkdf
from dthq.errors import UnsupportedError

PARAMS = [
    param
    for name in ("sha256", "sha384", "sha512")
    for param in wycheproof(f"Protocol/wycheproof/hkdf_{name}_test.json", name)
]


@pytest.mark.parametrize(("hash_name", "v"), PARAMS)
def test_wycheproof_hkdf(hash_name: str, v: Vector) -> None:
    args = (hash_name, v.hex("ikm"), v.hex("salt"), v.hex("info"), int(v.test["size"]))
    if v.valid:
        assert hkdf(*args) == v.hex("okm")
    else:  # the only invalid case Wycheproof has: output longer than 255 * HashLen
        with pytest.raises(UnsupportedError):
            hkdf(*args)
