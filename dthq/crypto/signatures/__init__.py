"""ML-DSA (FIPS 204) signatures behind one registry, for the ``mldsa`` authentication
modes: pyca/cryptography (OpenSSL) by default, pqcrypto (PQClean) beside it.

One module per backend (``pyca``, ``pqclean``), both built on ``spec``; this package
only registers them. Keys and signatures are the standard encodings, so backends mix.
"""

from __future__ import annotations

from functools import cache

from dthq.crypto.registry import Registry
from dthq.crypto.signatures import pqclean, pyca
from dthq.crypto.signatures.spec import SPECS, SignatureSpec, Signer, SigningKey
from dthq.errors import UnsupportedError

SIGNATURES: Registry[Signer] = Registry("signature")


def _register() -> None:
    for backend, reason, make in (
        ("cryptography", pyca.unsupported_reason(), pyca.PycaSigner),
        ("pqcrypto", pqclean.unsupported_reason(), pqclean.PqcryptoSigner),
    ):
        for spec in SPECS.values():
            if reason:
                SIGNATURES.register_unavailable(spec.name, backend, reason)
            else:
                SIGNATURES.register(spec.name, backend, lambda spec=spec, make=make: make(spec))


_register()


@cache
def get_signer(name: str, backend: str | None = None) -> Signer:
    """A signature scheme from a backend (default: the first available); cached."""
    return SIGNATURES.get(name, backend)


def spec_named(name: str) -> SignatureSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise UnsupportedError(
            f"unknown signature scheme {name!r}; choose {', '.join(SPECS)}"
        ) from None


def generate(name: str = "ML-DSA-65", backend: str | None = None) -> SigningKey:
    return get_signer(name, backend).generate()


def verify(
    spec: SignatureSpec,
    public_key: bytes,
    signature: bytes,
    message: bytes,
    context: bytes,
    backend: str | None = None,
) -> None:
    """Raise DecodeError (sizes) or AuthenticationError unless ``signature`` is valid."""
    get_signer(spec.name, backend).verify(public_key, signature, message, context)


__all__ = [
    "SIGNATURES",
    "SPECS",
    "SignatureSpec",
    "Signer",
    "SigningKey",
    "generate",
    "get_signer",
    "spec_named",
    "verify",
]
