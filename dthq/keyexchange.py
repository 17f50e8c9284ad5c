"""Key establishment modes (paper Eq. 2) behind one seam.

A mode turns A's key share into a shared secret on both sides. ``mlkem`` is
here; the simulated-QKD mode (a later addition) registers itself the same way,
with its key id as the share and ``Kq`` as the secret.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Protocol

from dthq.errors import StateError, UnsupportedError
from dthq.kem import KEM, DecapsulationKey, get_kem, spec_for_wire_id


class Mode(IntEnum):
    MLKEM = 1
    QKD = 2


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


# mode -> (initiator factory, responder factory), each taking (kem wire id, backend).
ExchangeFactories = tuple[
    Callable[[int, str | None], InitiatorExchange], Callable[[int, str | None], ResponderExchange]
]
MODES: dict[Mode, ExchangeFactories] = {
    Mode.MLKEM: (
        lambda kem_id, backend: MLKEMInitiator(get_kem(spec_for_wire_id(kem_id).name, backend)),
        lambda kem_id, backend: MLKEMResponder(get_kem(spec_for_wire_id(kem_id).name, backend)),
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
