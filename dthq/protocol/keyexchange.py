"""Key establishment modes (paper Eq. 2) behind one seam.

A mode turns A's key share into a shared secret on both sides. Its factories receive
the party's whole configuration (not just a KEM id), so a mode can use whatever
provisioning gave it: the KEM and its backend for ``mlkem``, a key provider (the
QKD key manager, role Q) for ``qkd``, both for ``qkd+mlkem``. A mode registers by
adding its factories to :data:`MODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from dthq.crypto.kem import KEM, DecapsulationKey, get_kem, spec_for_wire_id
from dthq.errors import AuthenticationError, DecodeError, DTHQError, StateError, UnsupportedError
from dthq.protocol.config import InitiatorConfig, KeyProvider, Mode, ResponderConfig


class InitiatorExchange(Protocol):
    def share(self) -> bytes:
        """A's key share for HELLO."""
        ...

    def finish(self, response: bytes) -> bytes:
        """The shared secret, from B's response."""
        ...


class ResponderExchange(Protocol):
    def respond(self, share: bytes) -> tuple[bytes, bytes]:
        """(response for REPLY, shared secret), from A's share."""
        ...


class MLKEMInitiator:
    def __init__(self, kem: KEM) -> None:
        self._kem = kem
        self._dk: DecapsulationKey | None = None

    def share(self) -> bytes:
        self._dk, ek = self._kem.generate()
        return ek

    def finish(self, response: bytes) -> bytes:
        if self._dk is None:
            raise StateError("no ML-KEM key pair: share() was not called")
        dk, self._dk = self._dk, None  # ephemeral: used once, then dropped
        return dk.decapsulate(response)


class MLKEMResponder:
    def __init__(self, kem: KEM) -> None:
        self._kem = kem

    def respond(self, share: bytes) -> tuple[bytes, bytes]:
        return self._kem.encapsulate(share)


QKD_KEY_SIZE = 32  # Kq: 256 bits from Q
QKD_ID_SIZE = 16  # a UUID


def _provider(config: InitiatorConfig | ResponderConfig) -> KeyProvider:
    if config.key_provider is None:
        raise UnsupportedError("QKD modes need a key provider (Q, the key manager)")
    return config.key_provider


class QKDInitiator:
    """A asks Q for a new key; its id is the share, Kq the secret."""

    def __init__(self, provider: KeyProvider) -> None:
        self._provider = provider
        self._key: bytes | None = None

    def share(self) -> bytes:
        key_id, self._key = self._provider.enc_keys(QKD_KEY_SIZE)
        return key_id

    def finish(self, response: bytes) -> bytes:
        if response:
            raise DecodeError(f"a QKD REPLY carries no key material, got {len(response)} bytes")
        if self._key is None:
            raise StateError("no QKD key: share() was not called")
        key, self._key = self._key, None
        return key


class QKDResponder:
    """B fetches Kq from Q by the id A sent; a key id Q does not know fails the handshake."""

    def __init__(self, provider: KeyProvider) -> None:
        self._provider = provider

    def respond(self, share: bytes) -> tuple[bytes, bytes]:
        if len(share) != QKD_ID_SIZE:
            raise DecodeError(f"a QKD key id is {QKD_ID_SIZE} bytes, got {len(share)}")
        try:
            return b"", self._provider.dec_keys(share, QKD_KEY_SIZE)
        except DTHQError as exc:
            raise AuthenticationError(f"Q refused the QKD key id: {exc}") from None


class HybridInitiator:
    """qkd+mlkem: the share is Q's key id then an ML-KEM key; the secret is Kq || ss, so
    the session stays secret if either Q or ML-KEM holds (both go into HKDF-Extract)."""

    def __init__(self, qkd: QKDInitiator, mlkem: MLKEMInitiator) -> None:
        self._qkd, self._mlkem = qkd, mlkem

    def share(self) -> bytes:
        return self._qkd.share() + self._mlkem.share()

    def finish(self, response: bytes) -> bytes:
        return self._qkd.finish(b"") + self._mlkem.finish(response)


class HybridResponder:
    def __init__(self, qkd: QKDResponder, mlkem: MLKEMResponder) -> None:
        self._qkd, self._mlkem = qkd, mlkem

    def respond(self, share: bytes) -> tuple[bytes, bytes]:
        _, kq = self._qkd.respond(share[:QKD_ID_SIZE])
        ciphertext, ss = self._mlkem.respond(share[QKD_ID_SIZE:])
        return ciphertext, kq + ss


def _mlkem_initiator(config: InitiatorConfig) -> MLKEMInitiator:
    return MLKEMInitiator(get_kem(config.kem, config.kem_backend))


def _mlkem_responder(config: ResponderConfig, kem_id: int) -> MLKEMResponder:
    return MLKEMResponder(get_kem(spec_for_wire_id(kem_id).name, config.kem_backend))


class ModeFactories(NamedTuple):
    """How each side of one mode is built: A from its config; B from its config and
    the KEM id A's HELLO named."""

    initiator: Callable[[InitiatorConfig], InitiatorExchange]
    responder: Callable[[ResponderConfig, int], ResponderExchange]


MODES: dict[Mode, ModeFactories] = {
    Mode.MLKEM: ModeFactories(_mlkem_initiator, _mlkem_responder),
    Mode.QKD: ModeFactories(
        lambda config: QKDInitiator(_provider(config)),
        lambda config, _kem_id: QKDResponder(_provider(config)),
    ),
    Mode.QKD_MLKEM: ModeFactories(
        lambda config: HybridInitiator(QKDInitiator(_provider(config)), _mlkem_initiator(config)),
        lambda config, kem_id: HybridResponder(
            QKDResponder(_provider(config)), _mlkem_responder(config, kem_id)
        ),
    ),
}


def parse_mode(value: int) -> Mode:
    try:
        mode = Mode(value)
    except ValueError:
        raise UnsupportedError(f"unknown key establishment mode {value}") from None
    if mode not in MODES:
        raise UnsupportedError(f"key establishment mode {mode.name.lower()} is not available")
    return mode
