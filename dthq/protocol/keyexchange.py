"""Key establishment modes (paper Eq. 2) behind one seam.

A mode turns A's key share into a shared secret on both sides. Its factories receive
the party's whole configuration (not just a KEM id), so a mode can use whatever
provisioning gave it: the KEM and its backend for ``mlkem``, a key provider (the
QKD key manager, role Q) for ``qkd``. ``mlkem`` is here; a mode registers by adding
its factories to :data:`MODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from dthq.crypto.kem import KEM, DecapsulationKey, get_kem, spec_for_wire_id
from dthq.errors import StateError, UnsupportedError
from dthq.protocol.config import InitiatorConfig, Mode, ResponderConfig


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


class ModeFactories(NamedTuple):
    """How each side of one mode is built: A from its config; B from its config and
    the KEM id A's HELLO named."""

    initiator: Callable[[InitiatorConfig], InitiatorExchange]
    responder: Callable[[ResponderConfig, int], ResponderExchange]


MODES: dict[Mode, ModeFactories] = {
    Mode.MLKEM: ModeFactories(
        lambda config: MLKEMInitiator(get_kem(config.kem, config.kem_backend)),
        lambda config, kem_id: MLKEMResponder(
            get_kem(spec_for_wire_id(kem_id).name, config.kem_backend)
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
