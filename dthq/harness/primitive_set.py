"""The primitive set, defined once: each KEM, signature, AEAD and codec alone on the
payloads the composite benchmarks use, the KDF, the baselines' public-key operations
and the paper's Table 5 cost terms.

A :class:`PrimitiveSpec` names a primitive, its parameters (what the report groups it
by) and a factory that builds its zero-argument call (keys generated, data prepared).
A factory returns None where its library is absent here. The bench's worker processes
(dthq.harness.primitive_worker) build the calls of the set in each process, so a
primitive's state never crosses a process boundary.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dthq.crypto.kem import KEMS as KEM_REGISTRY
from dthq.crypto.signatures import SIGNATURES
from dthq.harness import scenarios
from dthq.harness.scenarios import SIZES

Call = Callable[[], Any]


@dataclass(frozen=True)
class PrimitiveSpec:
    name: str
    build: Callable[[], Call | None]  # None: its library is not installed here
    params: dict[str, Any] = field(default_factory=dict)
    absent: str = ""  # why ``build`` may give None, for the skip message
    # Seconds a round lasts at least (None: the worker's default). Longer for a call whose
    # own cost varies (ML-DSA signing rejects and retries a random number of times), so
    # a round's mean is over enough calls to be steady.
    round_s: float | None = None


@functools.cache  # one reading of each size, built once (each factory uses them)
def payloads() -> dict[str, bytes]:
    from dthq.harness.telemetry import TelemetryGenerator

    return {size: TelemetryGenerator(seed=1).payload(size) for size in SIZES}


def kem_call(kem: str, op: str, backend: str | None = None) -> Call:
    from dthq.crypto.kem import get_kem

    impl = get_kem(kem, backend)
    dk, ek = impl.generate()
    ct, _ = impl.encapsulate(ek)
    return {
        "keygen": impl.generate,
        "encaps": lambda: impl.encapsulate(ek),
        "decaps": lambda: dk.decapsulate(ct),
    }[op]


def _signature(level: str, backend: str, op: str) -> Call:
    from dthq.crypto.signatures import get_signer

    signer = get_signer(level, backend)
    key = signer.generate()
    message = os.urandom(64)
    sig = key.sign(message, b"ctx")
    if op == "sign":
        return lambda: key.sign(message, b"ctx")
    return lambda: signer.verify(key.public_bytes, sig, message, b"ctx")


def aead_call(aead: str, backend: str, size: str) -> Call:
    from dthq.crypto.aead import get_aead

    impl = get_aead(aead, backend)
    cipher = impl.new(os.urandom(impl.spec.key_size))
    nonce, aad, data = os.urandom(12), os.urandom(30), payloads()[size]
    return lambda: cipher.decrypt(nonce, cipher.encrypt(nonce, data, aad), aad)


def _codec(codec: str, size: str, op: str) -> Call:
    from dthq.protocol.compression import make_codec

    impl, data = make_codec(codec), payloads()[size]
    packed = impl.compress(data)
    if op == "compress":
        return lambda: impl.compress(data)
    return lambda: impl.decompress(packed, len(data))


def _codec_sizes(codec: str, size: str) -> tuple[int, int]:
    from dthq.protocol.compression import make_codec

    data = payloads()[size]
    return len(data), len(make_codec(codec).compress(data))


def hkdf_call() -> Call:
    from dthq.crypto.hkdf import hkdf

    ikm = os.urandom(32)
    return lambda: hkdf("sha256", ikm, b"salt", b"info", 64)


def _rsa_oaep() -> Call:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    public, secret = key.public_key(), os.urandom(32)
    return lambda: key.decrypt(public.encrypt(secret, oaep), oaep)


def _ecdh_p256() -> Call:
    from cryptography.hazmat.primitives.asymmetric import ec

    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    return lambda: ec.generate_private_key(ec.SECP256R1()).exchange(ec.ECDH(), peer)


def _table5(term: str) -> Call | None:
    """The paper's Table 5 cost terms, each as one call (reports/cost_equations.py maps
    the terms to these names)."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    message, key = os.urandom(64), os.urandom(32)
    if term == "ec/P-256/scalar-mult":  # T_M, T_ECM, T_ECC, T_sm: OpenSSL's ECDH
        own, peer = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
        return lambda: own.exchange(ec.ECDH(), peer.public_key())
    if term == "ec/P-256/point-add":  # T_ECA (pycryptodome; OpenSSL exposes none)
        from Crypto.PublicKey import ECC

        p, q = ECC.generate(curve="P-256").pointQ, ECC.generate(curve="P-256").pointQ
        return lambda: p + q
    if term == "hash/SHA-256/64B":  # T_H
        return lambda: hashlib.sha256(message).digest()
    if term == "mac/HMAC-SHA256/64B":  # T_HMac
        return lambda: hmac.digest(key, message, "sha256")
    aead, nonce, reading = AESGCM(os.urandom(32)), os.urandom(12), payloads()["small"]
    if term == "aead/AES-256-GCM/encrypt/small":  # T_E
        return lambda: aead.encrypt(nonce, reading, None)
    if term == "aead/AES-256-GCM/decrypt/small":  # T_D
        sealed = aead.encrypt(nonce, reading, None)
        return lambda: aead.decrypt(nonce, sealed, None)
    return _pairing()  # T_B


def _pairing() -> Call | None:
    """One BLS12-381 pairing through arkworks (py-arkworks-bls12381), when installed."""
    try:
        from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar
    except ImportError:
        return None
    p, q = G1Point() * Scalar(0x5EED), G2Point() * Scalar(0xFACE)
    return lambda: GT.pairing(p, q)


TABLE5_TERMS = (
    "ec/P-256/scalar-mult",
    "ec/P-256/point-add",
    "hash/SHA-256/64B",
    "mac/HMAC-SHA256/64B",
    "aead/AES-256-GCM/encrypt/small",
    "aead/AES-256-GCM/decrypt/small",
    "pairing/BLS12-381",
)
AEADS = ("AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305", "AES-256-SIV")
AEAD_BACKENDS = ("cryptography", "pycryptodome")
CODECS = ("lz4", "brotli")
SIGNATURE_LEVELS = ("ML-DSA-44", "ML-DSA-65")
SIGN_ROUND_S = 20e-3  # 50 OpenSSL ML-DSA-44 signatures a round, 2 of PQClean


def primitive_set() -> tuple[PrimitiveSpec, ...]:
    """Every primitive, in the order the report lists them; KEMs and signature backends
    are those a backend offers here."""
    specs: list[PrimitiveSpec] = []
    for kem in (k for k in scenarios.KEMS if KEM_REGISTRY.backends(k)):
        backend = KEM_REGISTRY.backends(kem)[0]
        for op in ("keygen", "encaps", "decaps"):
            params = {"kem": kem, "op": op, "backend": backend}
            specs.append(PrimitiveSpec(f"kem/{kem}/{op}", _bound(kem_call, kem, op), params))
    for level in SIGNATURE_LEVELS:
        for backend in SIGNATURES.backends(level):
            for op in ("sign", "verify"):
                build = _bound(_signature, level, backend, op)
                params = {"op": op, "backend": backend}
                round_s = SIGN_ROUND_S if op == "sign" else None
                name = f"sig/{level}/{backend}/{op}"
                specs.append(PrimitiveSpec(name, build, params, round_s=round_s))
    readings = payloads()
    for size in SIZES:
        for aead in AEADS:
            for backend in AEAD_BACKENDS:
                axes = {"aead": aead, "backend": backend, "size": size}
                specs.append(
                    PrimitiveSpec(
                        f"aead/{aead}/{backend}/{size}",
                        _bound(aead_call, aead, backend, size),
                        {**axes, "bytes": len(readings[size])},
                    )
                )
    for op in ("compress", "decompress"):
        for size in SIZES:
            for codec in CODECS:
                bytes_in, bytes_out = _codec_sizes(codec, size)
                params = {"codec": codec, "size": size, "op": op}
                specs.append(
                    PrimitiveSpec(
                        f"codec/{codec}/{op}/{size}",
                        _bound(_codec, codec, size, op),
                        {**params, "bytes_in": bytes_in, "bytes_out": bytes_out},
                    )
                )
    specs += [
        PrimitiveSpec("kdf/HKDF-SHA256/64B", hkdf_call),
        PrimitiveSpec("pke/RSA-2048-OAEP/encrypt+decrypt", _rsa_oaep),
        PrimitiveSpec("kex/ECDH-P256/keygen+exchange", _ecdh_p256),
    ]
    absent = "py-arkworks-bls12381 is not installed: Table 5's pairing term T_B is absent"
    specs += [
        PrimitiveSpec(t, _bound(_table5, t), absent=absent if t.startswith("pairing") else "")
        for t in TABLE5_TERMS
    ]
    return tuple(specs)


def _bound(make: Callable[..., Call | None], *args: Any) -> Callable[[], Call | None]:
    return lambda: make(*args)


def by_name() -> dict[str, PrimitiveSpec]:
    return {s.name: s for s in primitive_set()}
