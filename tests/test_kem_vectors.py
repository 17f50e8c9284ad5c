"""Wycheproof ML-KEM vectors through our KEM backends (dthq.crypto.kem).

Decapsulation and seeded key generation for every available backend that generates
from a seed (pqcrypto does not: its cases skip, saying so); decapsulation with the
semi-expanded keys for every backend that takes one; the encapsulation-key validity
check (FIPS 203 modulus check) for the invalid encapsulation vectors. Valid
encapsulation vectors need a derandomized encapsulate, which no library exposes, so
they are not collected.
"""

from __future__ import annotations

import pytest
from vectors import Vector, wycheproof

from dthq.crypto.kem import KEMS
from dthq.errors import DecodeError, DTHQError

LEVELS = ("512", "768", "1024")


def _lacks(entry, capability: str | None) -> str:  # type: ignore[no-untyped-def]
    """Why this backend cannot run a case needing ``capability`` ("" if it can): the one
    capability gate, so every skip says which backend lacks what."""
    if not entry.available:
        return entry.reason
    kem = KEMS.get(entry.name, entry.backend)
    if capability == "seed" and not getattr(kem, "seeded", True):
        return f"{entry.backend} offers no seeded key generation"
    if capability == "expanded" and not hasattr(kem, "from_expanded"):
        return f"{entry.backend} takes no expanded decapsulation key"
    return ""


def _params(kind: str, capability: str | None = None, **kw) -> list:
    """(KEM name, backend, vector) for every registered backend of each parameter set;
    a backend that is unavailable, or lacks the capability, skips with the reason."""
    params = []
    for entry in KEMS.entries():
        level = entry.name.removeprefix("ML-KEM-")
        if level not in LEVELS:
            continue
        reason = _lacks(entry, capability)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        path = f"Protocol/wycheproof/mlkem_{level}{kind}_test.json"
        for p in wycheproof(path, entry.name, entry.backend, **kw):
            params.append(pytest.param(*p.values, marks=marks, id=f"{p.id}-{entry.backend}"))
    return params


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
