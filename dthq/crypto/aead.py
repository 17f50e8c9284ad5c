"""AEAD algorithms behind one interface, from two independent backends.

Output layout follows each algorithm's standard: ``ciphertext || tag`` for
AES-GCM and ChaCha20-Poly1305, ``tag || ciphertext`` (V || C) for AES-SIV
(RFC 5297), whose nonce is the last associated-data component. Both backends
must produce identical bytes; the interop tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn, Protocol

from dthq.crypto.registry import Registry
from dthq.errors import AuthenticationError, UnsupportedError


@dataclass(frozen=True)
class AEADSpec:
    name: str
    key_size: int
    nonce_size: int  # the size our record layer uses
    tag_size: int = 16
    tag_first: bool = False
    # Usage limits per key (RFC 8446 §5.5, RFC 9147 §4.5.3, draft-irtf-cfrg-aead-limits),
    # for an attacker advantage of at most 2^-60. Confidentiality: total 16-byte blocks
    # encrypted (None: no limit below our 32-bit sequence). Integrity: forgery attempts,
    # i.e. records that fail to decrypt.
    confidentiality_blocks: float | None = None
    integrity_limit: int = 2**36

    def max_records(self, max_record_bytes: int) -> int:
        """Records one key may protect when each carries up to ``max_record_bytes``."""
        if self.confidentiality_blocks is None:
            return 2**32 - 1
        blocks = -(-max_record_bytes // 16) + 1  # payload blocks + the tag/counter block
        return max(1, min(2**32 - 1, int(self.confidentiality_blocks / blocks)))


GCM_BLOCKS = 2**34.5  # RFC 8446 §5.5: 2^24.5 full-size (2^14-byte) records
AES_128_GCM = AEADSpec("AES-128-GCM", 16, 12, confidentiality_blocks=GCM_BLOCKS)
AES_256_GCM = AEADSpec("AES-256-GCM", 32, 12, confidentiality_blocks=GCM_BLOCKS)
CHACHA20_POLY1305 = AEADSpec("ChaCha20-Poly1305", 32, 12)
# SIV's synthetic IV is a PRF of the message: no nonce-collision bound below our sequence.
AES_256_SIV = AEADSpec("AES-256-SIV", 64, 12, tag_first=True)

SPECS: dict[str, AEADSpec] = {
    s.name: s for s in (AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, AES_256_SIV)
}


class Cipher(Protocol):
    """A keyed AEAD instance."""

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes: ...


@dataclass(frozen=True)
class AEADBackend:
    """One algorithm from one library: ``new(key)`` returns a keyed :class:`Cipher`."""

    spec: AEADSpec
    backend: str
    nonce_sizes: range  # nonce lengths (bytes) this library accepts for the algorithm
    _make: Callable[[bytes], Cipher]

    def accepts_nonce(self, size: int) -> bool:
        return size in self.nonce_sizes

    def new(self, key: bytes) -> Cipher:
        if len(key) != self.spec.key_size:
            raise UnsupportedError(
                f"{self.spec.name} takes a {self.spec.key_size}-byte key, got {len(key)} bytes"
            )
        return self._make(key)


def _bad_nonce(backend: str, spec: AEADSpec, sizes: range, nonce: bytes) -> NoReturn:
    """Callers check ``len(nonce) not in sizes`` inline (seal/open's hot path)."""
    raise UnsupportedError(
        f"{backend} {spec.name} takes nonces of {sizes.start}..{sizes.stop - 1} bytes, "
        f"got {len(nonce)}"
    )


def _check_length(spec: AEADSpec, ciphertext: bytes) -> None:
    if len(ciphertext) < spec.tag_size:
        raise AuthenticationError(
            f"{spec.name} ciphertext is {len(ciphertext)} bytes, shorter than its "
            f"{spec.tag_size}-byte tag"
        )


# --- pyca/cryptography -------------------------------------------------------

_PYCA_GCM_NONCES = range(8, 129)  # AESGCM's documented limits
_TWELVE = range(12, 13)
_PYCA_SIV_NONCES = range(0, 2**16)  # any length; empty means deterministic (no nonce)


class _PycaCipher:
    """AES-GCM / ChaCha20-Poly1305: the library's own (nonce, data, aad) call order."""

    __slots__ = ("_decrypt", "_encrypt", "_invalid_tag", "_nonces", "_spec")

    def __init__(self, impl: Any, spec: AEADSpec, nonces: range, invalid_tag: type) -> None:
        self._encrypt = impl.encrypt
        self._decrypt = impl.decrypt
        self._spec = spec
        self._nonces = nonces
        self._invalid_tag = invalid_tag

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        if len(nonce) not in self._nonces:
            _bad_nonce("cryptography", self._spec, self._nonces, nonce)
        return self._encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(nonce) not in self._nonces:
            _bad_nonce("cryptography", self._spec, self._nonces, nonce)
        _check_length(self._spec, ciphertext)
        try:
            return self._decrypt(nonce, ciphertext, aad)
        except self._invalid_tag:
            raise AuthenticationError(f"{self._spec.name} tag did not verify") from None


class _PycaSIV(_PycaCipher):
    """AES-SIV: associated data is a list, the nonce its last component (RFC 5297)."""

    __slots__ = ()

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._encrypt(plaintext, [aad, nonce] if nonce else [aad])

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        _check_length(self._spec, ciphertext)
        try:
            return self._decrypt(ciphertext, [aad, nonce] if nonce else [aad])
        except self._invalid_tag:
            raise AuthenticationError(f"{self._spec.name} tag did not verify") from None


def _pyca_backend(spec: AEADSpec) -> AEADBackend:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import aead

    impl_class, nonces = {
        "AES-128-GCM": (aead.AESGCM, _PYCA_GCM_NONCES),
        "AES-256-GCM": (aead.AESGCM, _PYCA_GCM_NONCES),
        "ChaCha20-Poly1305": (aead.ChaCha20Poly1305, _TWELVE),
        "AES-256-SIV": (aead.AESSIV, _PYCA_SIV_NONCES),
    }[spec.name]
    return AEADBackend(
        spec,
        "cryptography",
        nonces,
        lambda key: (_PycaSIV if spec.tag_first else _PycaCipher)(
            impl_class(key), spec, nonces, InvalidTag
        ),
    )


# --- PyCryptodome --------------------------------------------------------------

_PYCRYPTODOME_GCM_NONCES = range(1, 2**16)


class _PycryptodomeCipher:
    """PyCryptodome cipher objects are single-use, so one is made per call."""

    __slots__ = ("_key", "_new", "_nonces", "_spec")

    def __init__(self, key: bytes, spec: AEADSpec, nonces: range, new: Callable) -> None:
        self._key = key
        self._spec = spec
        self._nonces = nonces
        self._new = new

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        if len(nonce) not in self._nonces:
            _bad_nonce("pycryptodome", self._spec, self._nonces, nonce)
        cipher = self._new(self._key, nonce)
        cipher.update(aad)
        ct, tag = cipher.encrypt_and_digest(plaintext)
        return tag + ct if self._spec.tag_first else ct + tag

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(nonce) not in self._nonces:
            _bad_nonce("pycryptodome", self._spec, self._nonces, nonce)
        _check_length(self._spec, ciphertext)
        size = self._spec.tag_size
        if self._spec.tag_first:
            tag, body = ciphertext[:size], ciphertext[size:]
        else:
            body, tag = ciphertext[:-size], ciphertext[-size:]
        cipher = self._new(self._key, nonce)
        cipher.update(aad)
        try:
            return cipher.decrypt_and_verify(body, tag)
        except ValueError:  # PyCryptodome's "MAC check failed"
            raise AuthenticationError(f"{self._spec.name} tag did not verify") from None


def _pycryptodome_backend(spec: AEADSpec) -> AEADBackend:
    from Crypto.Cipher import AES, ChaCha20_Poly1305

    def gcm(key: bytes, nonce: bytes) -> object:
        return AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)

    def chacha(key: bytes, nonce: bytes) -> object:
        return ChaCha20_Poly1305.new(key=key, nonce=nonce)

    def siv(key: bytes, nonce: bytes) -> object:
        return AES.new(key, AES.MODE_SIV, nonce=nonce or None)

    new, nonces = {
        "AES-128-GCM": (gcm, _PYCRYPTODOME_GCM_NONCES),
        "AES-256-GCM": (gcm, _PYCRYPTODOME_GCM_NONCES),
        # PyCryptodome also takes 8- and 24-byte nonces, but those are other
        # algorithms (original ChaCha20 / XChaCha20); we offer the RFC 8439 one.
        "ChaCha20-Poly1305": (chacha, _TWELVE),
        "AES-256-SIV": (siv, range(0, 2**16)),
    }[spec.name]
    return AEADBackend(
        spec, "pycryptodome", nonces, lambda key: _PycryptodomeCipher(key, spec, nonces, new)
    )


AEADS: Registry[AEADBackend] = Registry("AEAD")


def _register() -> None:
    for spec in SPECS.values():
        for backend, build in (
            ("cryptography", _pyca_backend),
            ("pycryptodome", _pycryptodome_backend),
        ):
            try:
                made = build(spec)
            except ImportError as exc:
                AEADS.register_unavailable(
                    spec.name, backend, f"{backend} is not installed ({exc})"
                )
            else:
                AEADS.register(spec.name, backend, lambda made=made: made)


_register()


@cache
def get_aead(name: str, backend: str | None = None) -> AEADBackend:
    """An AEAD backend; cached, as it holds no key or per-call state."""
    return AEADS.get(name, backend)
