"""ECC-256: ephemeral ECDH on P-256 (both sides fresh keys, so forward-secret)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from baselines.classical import ClassicalScheme
from dthq import DecodeError

POINT = 65  # uncompressed SEC1 point


def _point(data: bytes) -> ec.EllipticCurvePublicKey:
    if len(data) != POINT:
        raise DecodeError(f"P-256 point must be {POINT} bytes, got {len(data)}")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise DecodeError("P-256 point is not on the curve") from None


def _fresh() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class ECC256Scheme(ClassicalScheme):
    name = "ecc-256"

    def _initiate(self) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        return _fresh()

    def _respond(self, share: bytes) -> tuple[bytes, bytes]:
        peer = _point(share)
        key, public = _fresh()
        return key.exchange(ec.ECDH(), peer), public

    def _finish(self, state: ec.EllipticCurvePrivateKey, response: bytes) -> bytes:
        return state.exchange(ec.ECDH(), _point(response))
