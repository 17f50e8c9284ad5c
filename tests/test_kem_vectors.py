"""Wycheproof ML-KEM vectors through our KEM backends (dthq.crypto.kem).

Decapsulation and seeded key generation for every available backend that generates
from a seed (pqcrypto does not: its cases skip, saying so); decapsulation with the
semi-expanded keys for every backend that takes one; the encapsulation-key validity
check (FIPS 203 modulus check) for the invalid encapsulation vectors. Valid
encapsulation vectors need a derandomized encapsulate, which no library exposes, so
they are not collected.
"""

from __future__ import annotations

from typing import Any

import pytest
from vectors import Vector, backend_params

from dthq.crypto.kem import KEMS
from dthq.errors import DecodeError, DTHQError

LEVELS = ("512", "768", "1024")


def _params(kind: str, *capabilities: str, **kw: Any) -> list[Any]:
    def path(name: str) -> str | None:
        level = name.removeprefix("ML-KEM-")
        return f"Protocol/wycheproof/mlkem_{level}{kind}_test.json" if level in LEVELS else None

    return backend_params(KEMS, path, *capabilities, **kw)


@pytest.mark.parametrize(("name", "backend", "v"), _params("", "seed"))
def test_decapsulation(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    if v.valid:
        dk, ek = kem.generate(seed=v.hex("seed"))
        if "ek" in v.test:
            assert ek == v.hex("ek")
        assert dk.decapsulate(v.hex("c")) == v.hex("K")
    else:  # a seed or ciphertext of the wrong length
        with pytest.raises(DecodeError):
            dk, _ = kem.generate(seed=v.hex("seed"))
            dk.decapsulate(v.hex("c"))


@pytest.mark.parametrize(("name", "backend", "v"), _params("_keygen_seed", "seed"))
def test_seeded_keygen(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    _, ek = kem.generate(seed=v.hex("seed"))
    assert ek == v.hex("ek")


@pytest.mark.parametrize(("name", "backend", "v"), _params("_encaps", where=lambda v: not v.valid))
def test_malformed_encapsulation_key_rejected(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    with pytest.raises(DTHQError):
        kem.encapsulate(v.hex("ek"))


@pytest.mark.parametrize(("name", "backend", "v"), _params("_semi_expanded_decaps", "expanded"))
def test_decapsulation_with_the_expanded_key(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    if v.valid:
        assert kem.from_expanded(v.hex("dk")).decapsulate(v.hex("c")) == v.hex("K")
    else:  # a key or ciphertext of the wrong length
        with pytest.raises(DecodeError):
            kem.from_expanded(v.hex("dk")).decapsulate(v.hex("c"))
