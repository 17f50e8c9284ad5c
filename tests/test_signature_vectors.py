"""Wycheproof ML-DSA vectors (FIPS 204) through our signature backends
(dthq.crypto.signatures).

Verification for every available backend; signing from the 32-byte seed for every
backend that generates from a seed (pqcrypto does not: its cases skip, saying so);
signing with the expanded private key for every backend that takes one, including the
range check of s1 and s2. Both libraries sign hedged (fresh randomness), so a signature
we make is checked by verifying it under the vector's public key through every
backend, and the vector's own signature is checked to verify. Cases that sign an
external mu (FIPS 204's internal interface, no message) are not collected: the
protocol signs messages.
"""

from __future__ import annotations

from typing import Any

import pytest
from vectors import Vector, backend_params

from dthq.crypto.signatures import SIGNATURES
from dthq.crypto.signatures.spec import MAX_CONTEXT_SIZE
from dthq.errors import AuthenticationError, DecodeError

LEVELS = ("44", "65", "87")


def _ctx(v: Vector) -> bytes:
    return v.hex("ctx") if "ctx" in v.test else b""


def _long(v: Vector) -> bool:  # FIPS 204's upper contexts, which not every backend takes
    return MAX_CONTEXT_SIZE - 2 < len(_ctx(v)) <= MAX_CONTEXT_SIZE


def _params(kind: str, *capabilities: str) -> list[Any]:
    def path(name: str) -> str | None:
        level = name.removeprefix("ML-DSA-")
        return f"Signature/wycheproof/mldsa_{level}_{kind}_test.json" if level in LEVELS else None

    def short(v: Vector) -> bool:
        return "msg" in v.test and not _long(v)

    def long(v: Vector) -> bool:
        return "msg" in v.test and _long(v)

    return [
        *backend_params(SIGNATURES, path, *capabilities, where=short),
        *backend_params(SIGNATURES, path, *capabilities, "long-context", where=long),
    ]


def _verifies_everywhere(name: str, public_key: bytes, sig: bytes, v: Vector) -> None:
    """Through every backend that takes this context: signatures mix across backends."""
    backends = [
        SIGNATURES.get(name, b)
        for b in SIGNATURES.backends(name)
        if len(_ctx(v)) <= getattr(SIGNATURES.get(name, b), "max_context", MAX_CONTEXT_SIZE)
    ]
    assert backends
    for signer in backends:
        signer.verify(public_key, sig, v.hex("msg"), _ctx(v))


@pytest.mark.parametrize(("name", "backend", "v"), _params("verify"))
def test_verification(name: str, backend: str, v: Vector) -> None:
    signer = SIGNATURES.get(name, backend)
    args = (v.group_hex("publicKey"), v.hex("sig"), v.hex("msg"), _ctx(v))
    if v.valid:
        signer.verify(*args)
    else:
        with pytest.raises((DecodeError, AuthenticationError)):
            signer.verify(*args)


@pytest.mark.parametrize(("name", "backend", "v"), _params("sign_seed", "seed"))
def test_signing_from_the_seed(name: str, backend: str, v: Vector) -> None:
    signer = SIGNATURES.get(name, backend)
    seed, public_key = v.group_hex("privateSeed"), v.group_hex("publicKey")
    if not v.valid:  # a seed of the wrong length, or a context over 255 bytes
        with pytest.raises(DecodeError):
            signer.generate(seed).sign(v.hex("msg"), _ctx(v))
        return
    key = signer.generate(seed)
    assert key.public_bytes == public_key
    _verifies_everywhere(name, public_key, key.sign(v.hex("msg"), _ctx(v)), v)
    _verifies_everywhere(name, public_key, v.hex("sig"), v)


@pytest.mark.parametrize(("name", "backend", "v"), _params("sign_noseed", "expanded"))
def test_signing_with_the_expanded_key(name: str, backend: str, v: Vector) -> None:
    signer = SIGNATURES.get(name, backend)
    sk, public_key = v.group_hex("privateKey"), v.group_hex("publicKey")
    if not v.valid:  # a key of the wrong length or out of range, or a long context
        with pytest.raises(DecodeError):
            signer.from_expanded(sk, public_key).sign(v.hex("msg"), _ctx(v))  # type: ignore[attr-defined]
        return
    key = signer.from_expanded(sk, public_key)  # type: ignore[attr-defined]
    _verifies_everywhere(name, public_key, key.sign(v.hex("msg"), _ctx(v)), v)
    _verifies_everywhere(name, public_key, v.hex("sig"), v)
