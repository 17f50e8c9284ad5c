"""The signature backends interoperate: a key and signature from one verify through
another, a tampered one fails through both; and a signed DTHQ handshake whose keys come
from one backend verifies through the other. Every pair of available backends."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import pytest
from helpers import complete

from dthq.crypto.signatures import SIGNATURES, SPECS
from dthq.errors import AuthenticationError, UnsupportedError
from dthq.protocol.handshake import Initiator, Responder
from dthq.schemes.dthq import AUTH_CHOICES, DTHQScheme

PAIRS = [
    pytest.param(name, a, b, id=f"{name}-{a}-to-{b}")
    for name in SPECS
    for a, b in itertools.permutations(SIGNATURES.backends(name), 2)
]


def test_both_backends_are_here() -> None:
    # pqcrypto and cryptography are both hard dependencies: no pair may silently vanish.
    assert len(PAIRS) == 2 * len(SPECS)


@pytest.mark.parametrize(("name", "signed_by", "verified_by"), PAIRS)
def test_a_signature_from_one_backend_verifies_with_another(
    name: str, signed_by: str, verified_by: str
) -> None:
    key = SIGNATURES.get(name, signed_by).generate()
    verifier = SIGNATURES.get(name, verified_by)
    message, context = os.urandom(100), b"dthq test"
    sig = key.sign(message, context)
    verifier.verify(key.public_bytes, sig, message, context)
    with pytest.raises(AuthenticationError):
        verifier.verify(key.public_bytes, sig, message + b"!", context)
    with pytest.raises(AuthenticationError):
        verifier.verify(key.public_bytes, sig, message, b"other context")


@pytest.mark.parametrize("backend", SIGNATURES.backends("ML-DSA-44"))
def test_every_flipped_signature_byte_is_refused(backend: str) -> None:
    # The attack set runs the signed modes through the default backend; here each
    # backend's verification meets every single-byte forgery of one signature.
    verifier = SIGNATURES.get("ML-DSA-44", backend)
    key = verifier.generate()
    sig = key.sign(b"reading", b"ctx")
    for i in range(len(sig)):
        forged = sig[:i] + bytes([sig[i] ^ 0x01]) + sig[i + 1 :]
        with pytest.raises(AuthenticationError):
            verifier.verify(key.public_bytes, forged, b"reading", b"ctx")


# The protocol has auth code points for ML-DSA-44 and ML-DSA-65 (not 87).
SIGNED_AUTHS = {a.signature.name: label for label, a in AUTH_CHOICES.items() if a.signature}


@pytest.mark.parametrize(
    ("name", "keys_from", "verified_by"), [p for p in PAIRS if p.values[0] in SIGNED_AUTHS]
)
def test_a_signed_handshake_across_backends(name: str, keys_from: str, verified_by: str) -> None:
    s = DTHQScheme(auth=SIGNED_AUTHS[name], sig_backend=keys_from)
    a = Initiator(replace(s.initiator_config, sig_backend=verified_by))
    b = Responder(replace(s.responder_config, sig_backend=verified_by))
    complete(a, b)
    assert a.session_keys().send_secret == b.session_keys().receive_secret


def test_pqcrypto_refuses_the_longest_contexts_by_name() -> None:
    # pqcrypto 1.0.0 stops at 253 bytes; FIPS 204 allows 255. Not a failed signature.
    signer = SIGNATURES.get("ML-DSA-65", "pqcrypto")
    key = signer.generate()
    key.sign(b"m", bytes(253))
    with pytest.raises(UnsupportedError, match="at most 253 bytes"):
        key.sign(b"m", bytes(255))
    with pytest.raises(UnsupportedError, match="at most 253 bytes"):
        signer.verify(key.public_bytes, bytes(3309), b"m", bytes(254))
