"""Post-quantum KEMs behind one registry: pyca/cryptography by default (ML-KEM-768/1024),
pqcrypto (PQClean: ML-KEM-512/768/1024, HQC-128/192/256), liboqs optional.

One module per backend (``pyca``, ``pqclean``, ``liboqs``), all built on ``spec``; this
package only registers them, so no backend imports another.
"""

from __future__ import annotations

from functools import cache

from dthq.crypto.kem import liboqs, pqclean, pyca
from dthq.crypto.kem.spec import (
    KEM,
    ML_KEM_512,
    ML_KEM_768,
    ML_KEM_1024,
    SPECS,
    DecapsulationKey,
    KEMSpec,
    spec_for_wire_id,
)
from dthq.crypto.registry import Registry

KEMS: Registry[KEM] = Registry("KEM")


def _register() -> None:
    reason = pyca.unsupported_reason()
    for spec in (ML_KEM_768, ML_KEM_1024):
        if reason:
            KEMS.register_unavailable(spec.name, "cryptography", reason)
        else:
            KEMS.register(spec.name, "cryptography", lambda spec=spec: pyca.PycaKEM(spec))
    KEMS.register_unavailable(
        ML_KEM_512.name, "cryptography", "cryptography offers ML-KEM-768 and ML-KEM-1024 only"
    )
    reason = pqclean.unsupported_reason()
    for spec in SPECS.values():
        if reason:
            KEMS.register_unavailable(spec.name, "pqcrypto", reason)
        else:
            KEMS.register(spec.name, "pqcrypto", lambda spec=spec: pqclean.PqcryptoKEM(spec))
    liboqs.register(KEMS, [s for s in SPECS.values() if s.name.startswith("ML-KEM")])


_register()


@cache
def get_kem(name: str, backend: str | None = None) -> KEM:
    """A KEM instance; cached, as backends hold no per-call state."""
    return KEMS.get(name, backend)


__all__ = ["KEM", "KEMS", "SPECS", "DecapsulationKey", "KEMSpec", "get_kem", "spec_for_wire_id"]
