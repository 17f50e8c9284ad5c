"""The floor: each KEM, signature, AEAD and codec alone, on the same payloads the
composite benchmarks use. Each median is cross-checked against ``timeit``."""

from __future__ import annotations

import os
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bench.calls import PAYLOADS, aead_seal_open, hkdf64, kem_op
from bench.tags import tag_primitive, tag_timeit
from dthq.crypto.kem import KEMS
from dthq.crypto.signatures import SIGNATURES, get_signer
from dthq.harness import scenarios
from dthq.harness.scenarios import SIZES
from dthq.protocol.compression import make_codec


def _timeit_us(fn: Callable[[], Any], number: int, rounds: int) -> tuple[float, float]:
    """A direct ``timeit`` of the same call, for the harness cross-check: (median, min)
    per call over as many rounds of ``number`` calls as the harness ran (its own
    calibration: sub-microsecond calls get thousands of calls a round). Same round size,
    same statistic, so a median of short rounds is set against a median of short rounds,
    not against seconds-long blocks that every preemption lands in."""
    timer = timeit.Timer(fn)  # timeit turns GC off, as the harness does (--benchmark-disable-gc)
    per_call = [t / number * 1e6 for t in timer.repeat(repeat=max(rounds, 5), number=number)]
    return statistics.median(per_call), min(per_call)


def _warm(fn: Callable[[], Any], seconds: float = 0.01) -> None:
    """Call ``fn`` for a few milliseconds first: pytest-benchmark calibrates its calls per
    round on the first call, and a cold first call (caches, lazy imports) made it time a
    sub-microsecond hash one call a round, timer overhead included."""
    deadline = time.perf_counter() + seconds
    for _ in range(10_000):
        fn()
        if time.perf_counter() > deadline:
            break


def run(benchmark: Any, name: str, fn: Callable[[], Any], **params: Any) -> None:
    tag_primitive(benchmark, name, **params)
    _warm(fn)
    benchmark(fn)
    stats = benchmark.stats
    tag_timeit(benchmark, *_timeit_us(fn, stats.iterations, stats.stats.rounds))


KEMS = [n for n in scenarios.KEMS if KEMS.backends(n)]  # those a backend offers here


@pytest.mark.parametrize("kem", KEMS)
@pytest.mark.parametrize("op", ["keygen", "encaps", "decaps"])
def test_kem(benchmark: Any, kem: str, op: str) -> None:
    fn, backend = kem_op(kem, op)
    run(benchmark, f"kem/{kem}/{op}", fn, kem=kem, op=op, backend=backend)


# The signature backend as an axis: the same ML-DSA through OpenSSL and through PQClean.
SIGNERS = [
    (level, backend)
    for level in ("ML-DSA-44", "ML-DSA-65")
    for backend in SIGNATURES.backends(level)
]


@pytest.mark.parametrize(("level", "backend"), SIGNERS)
@pytest.mark.parametrize("op", ["sign", "verify"])
def test_signature(benchmark: Any, level: str, backend: str, op: str) -> None:
    signer = get_signer(level, backend)
    key = signer.generate()
    message = os.urandom(64)
    sig = key.sign(message, b"ctx")
    fn = {
        "sign": lambda: key.sign(message, b"ctx"),
        "verify": lambda: signer.verify(key.public_bytes, sig, message, b"ctx"),
    }[op]
    run(benchmark, f"sig/{level}/{backend}/{op}", fn, op=op, backend=backend)


AEADS = ["AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305", "AES-256-SIV"]


@pytest.mark.parametrize("backend", ["cryptography", "pycryptodome"])
@pytest.mark.parametrize("aead", AEADS)
@pytest.mark.parametrize("size", SIZES)
def test_aead_seal_open(benchmark: Any, aead: str, backend: str, size: str) -> None:
    axes = {"aead": aead, "backend": backend, "size": size}
    run(
        benchmark,
        f"aead/{aead}/{backend}/{size}",
        aead_seal_open(aead, backend, size),
        **axes,
        bytes=len(PAYLOADS[size]),
    )


@pytest.mark.parametrize("codec", ["lz4", "brotli"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("op", ["compress", "decompress"])
def test_codec(benchmark: Any, codec: str, size: str, op: str) -> None:
    impl = make_codec(codec)
    data = PAYLOADS[size]
    packed = impl.compress(data)
    fn = {
        "compress": lambda: impl.compress(data),
        "decompress": lambda: impl.decompress(packed, len(data)),
    }[op]
    axes, sizes = {"codec": codec, "size": size, "op": op}, (len(data), len(packed))
    run(benchmark, f"codec/{codec}/{op}/{size}", fn, **axes, bytes_in=sizes[0], bytes_out=sizes[1])


def test_hkdf(benchmark: Any) -> None:
    run(benchmark, "kdf/HKDF-SHA256/64B", hkdf64())


def test_rsa_oaep(benchmark: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    public = key.public_key()
    secret = os.urandom(32)
    run(
        benchmark,
        "pke/RSA-2048-OAEP/encrypt+decrypt",
        lambda: key.decrypt(public.encrypt(secret, oaep), oaep),
    )


def test_ecdh_p256(benchmark: Any) -> None:
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()

    def keygen_exchange() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).exchange(ec.ECDH(), peer)

    run(benchmark, "kex/ECDH-P256/keygen+exchange", keygen_exchange)


def _pairing() -> Callable[[], Any] | None:
    """One BLS12-381 pairing through arkworks (py-arkworks-bls12381), when installed."""
    try:
        from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar
    except ImportError:
        return None
    p, q = G1Point() * Scalar(0x5EED), G2Point() * Scalar(0xFACE)
    return lambda: GT.pairing(p, q)


def _table5_terms() -> dict[str, Callable[[], Any] | None]:
    """The paper's Table 5 cost terms, each as one call (reports/table5.py names them)."""
    import hashlib
    import hmac

    from Crypto.PublicKey import ECC
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    own, peer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    p, q = ECC.generate(curve="P-256").pointQ, ECC.generate(curve="P-256").pointQ
    message, key = os.urandom(64), os.urandom(32)
    aead, nonce, reading = AESGCM(os.urandom(32)), os.urandom(12), PAYLOADS["small"]
    sealed = aead.encrypt(nonce, reading, None)
    return {
        # T_M, T_ECM, T_ECC, T_sm: a variable-base P-256 multiplication (OpenSSL's ECDH)
        "ec/P-256/scalar-mult": lambda: own.exchange(ec.ECDH(), peer.public_key()),
        "ec/P-256/point-add": lambda: p + q,  # T_ECA (pycryptodome; OpenSSL exposes none)
        "hash/SHA-256/64B": lambda: hashlib.sha256(message).digest(),  # T_H
        "mac/HMAC-SHA256/64B": lambda: hmac.digest(key, message, "sha256"),  # T_HMac
        "aead/AES-256-GCM/encrypt/small": lambda: aead.encrypt(nonce, reading, None),  # T_E
        "aead/AES-256-GCM/decrypt/small": lambda: aead.decrypt(nonce, sealed, None),  # T_D
        "pairing/BLS12-381": _pairing(),  # T_B
    }


@pytest.mark.parametrize("term", list(_table5_terms()))
def test_table5_term(benchmark: Any, term: str) -> None:
    fn = _table5_terms()[term]
    if fn is None:
        pytest.skip("py-arkworks-bls12381 is not installed: Table 5's pairing term T_B is absent")
    run(benchmark, term, fn)
