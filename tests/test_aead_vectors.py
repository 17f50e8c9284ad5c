"""Wycheproof AEAD vectors through OUR wrapper (dthq.crypto.aead), for both backends.

Only key sizes of algorithms we offer are collected (no AES-192-GCM, no
AES-128/192-SIV); nonce sizes a backend cannot take skip with the reason.
"""

from __future__ import annotations

import pytest
from vectors import Vector, wycheproof

from dthq.crypto.aead import get_aead
from dthq.errors import DTHQError

BACKENDS = ["cryptography", "pycryptodome"]

# (Wycheproof file, our algorithm for a key size in bits)
FILES = {
    "Cipher/wycheproof/aes_gcm_test.json": {128: "AES-128-GCM", 256: "AES-256-GCM"},
    "Cipher/wycheproof/chacha20_poly1305_test.json": {256: "ChaCha20-Poly1305"},
    "Cipher/wycheproof/aead_aes_siv_cmac_test.json": {512: "AES-256-SIV"},
    "Cipher/wycheproof/aes_siv_cmac_test.json": {512: "AES-256-SIV"},  # deterministic: no nonce
}

PARAMS = [
    param
    for path, algorithms in FILES.items()
    for param in wycheproof(
        path, algorithms, where=lambda v, a=algorithms: int(v.group["keySize"]) in a
    )
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("algorithms", "v"), PARAMS)
def test_wycheproof_aead(backend: str, algorithms: dict[int, str], v: Vector) -> None:
    aead = get_aead(algorithms[int(v.group["keySize"])], backend)
    key = v.hex("key")
    nonce = v.hex("iv") if "iv" in v.test else b""
    aad, msg = v.hex("aad"), v.hex("msg")
    tag = v.hex("tag") if "tag" in v.test else b""
    ct = v.hex("ct")
    wire = tag + ct if aead.spec.tag_first else ct + tag
    if not aead.accepts_nonce(len(nonce)):
        if v.valid:
            pytest.skip(f"{backend} {aead.spec.name} cannot take a {len(nonce)}-byte nonce")
        with pytest.raises(DTHQError):
            aead.new(key).decrypt(nonce, wire, aad)
        return
    cipher = aead.new(key)
    if v.valid:
        assert cipher.encrypt(nonce, msg, aad) == wire
        assert cipher.decrypt(nonce, wire, aad) == msg
    else:
        with pytest.raises(DTHQError):
            cipher.decrypt(nonce, wire, aad)
