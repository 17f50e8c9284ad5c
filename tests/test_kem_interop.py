"""The KEM backends interoperate: an encapsulation key from one, a ciphertext from
another, the same shared secret; and a DTHQ handshake with A and B on different
backends. Every pair of available backends of each ML-KEM parameter set."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from helpers import complete

from dthq.crypto.kem import KEMS
from dthq.protocol.handshake import Initiator, Responder
from dthq.schemes.dthq import DTHQScheme

PAIRS = [
    pytest.param(name, a, b, id=f"{name}-{a}-to-{b}")
    for name in ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024")
    for a, b in itertools.permutations(KEMS.backends(name), 2)
]


def _available(name: str, *backends: str) -> None:
    for backend in backends:
        entry = next(e for e in KEMS.entries() if (e.name, e.backend) == (name, backend))
        if not entry.available:
            pytest.skip(entry.reason)


@pytest.mark.parametrize(("name", "keys_from", "encaps_by"), PAIRS)
def test_a_ciphertext_from_one_backend_opens_with_another(
    name: str, keys_from: str, encaps_by: str
) -> None:
    _available(name, keys_from, encaps_by)
    dk, ek = KEMS.get(name, keys_from).generate()
    ct, shared = KEMS.get(name, encaps_by).encapsulate(ek)
    assert dk.decapsulate(ct) == shared


@pytest.mark.parametrize(("name", "a_backend", "b_backend"), PAIRS)
def test_a_handshake_across_backends(name: str, a_backend: str, b_backend: str) -> None:
    _available(name, a_backend, b_backend)
    s = DTHQScheme(kem=name)
    a = Initiator(replace(s.initiator_config, kem_backend=a_backend))
    b = Responder(replace(s.responder_config, kem_backend=b_backend))
    complete(a, b)
    assert a.session_keys().send_secret == b.session_keys().receive_secret


def test_pqcrypto_brings_ml_kem_512_and_hqc() -> None:
    for name in ("ML-KEM-512", "HQC-128", "HQC-192", "HQC-256"):
        session = DTHQScheme(kem=name).establish(0)
        assert session.responder.open(session.initiator.seal(b"x", 1), 1) == b"x"
