"""Wycheproof ML-KEM vectors through our KEM backends (dthq.crypto.kem).

Decapsulation and seeded key generation for every available backend; the
encapsulation-key validity check (FIPS 203 modulus check) for the invalid
encapsulation vectors. Valid encapsulation vectors need a derandomized
encapsulate, which neither library exposes, so they are not collected.
"""

from __future__ import annotations

import pytest
from vectors import Vector, wycheproof

from dthq.crypto.kem import KEMS
from dthq.errors import DecodeError, DTHQError

LEVELS = ("768", "1024")


def _params(kind: str, **kw) -> list:
    """(KEM name, backend, vector) for every registered backend of each parameter set;
    an unavailable backend's cases skip with its reason."""
    params = []
    for entry in KEMS.entries():
        level = entry.name.removeprefix("ML-KEM-")
        if level not in LEVELS:
            continue
        marks = [] if entry.available else [pytest.mark.skip(reason=entry.reason)]
        path = f"Protocol/wycheproof/mlkem_{level}{kind}_test.json"
        for p in wycheproof(path, entry.name, entry.backend, **kw):
            params.append(pytest.param(*p.values, marks=marks, id=f"{p.id}-{entry.backend}"))
    return params


@pytest.mark.parametrize(("name", "backend", "v"), _params(""))
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


@pytest.mark.parametrize(("name", "backend", "v"), _params("_keygen_seed"))
def test_seeded_keygen(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    _, ek = kem.generate(seed=v.hex("seed"))
    assert ek == v.hex("ek")


@pytest.mark.parametrize(("name", "backend", "v"), _params("_encaps", where=lambda v: not v.valid))
def test_malformed_encapsulation_key_rejected(name: str, backend: str, v: Vector) -> None:
    kem = KEMS.get(name, backend)
    with pytest.raises(DTHQError):
        kem.encapsulate(v.hex("ek"))
