"""The transport interface: what carries flights and records between two named parties.

Protocol state machines never touch a transport (they are sans-I/O); schemes,
the pipeline and the load generator move their bytes through one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dthq.errors import StateError

ROLES = ("A", "B")  # A the device, B the service (the paper's Scyther roles)


@dataclass(frozen=True)
class Flight:
    """One message as it crossed the transport: who sent it, what it is, its bytes."""

    sender: str
    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def peer_of(role: str) -> str:
    if role not in ROLES:
        raise StateError(f"unknown role {role!r}; roles are A and B")
    return "B" if role == "A" else "A"


class Transport(Protocol):
    """Ordered delivery of byte strings between A and B.

    ``send`` names the sender (and what is sent, for the log); ``receive`` returns the
    next byte string addressed to ``receiver`` or raises :class:`StateError` when there
    is none. ``log`` holds every flight in the order sent.
    """

    log: list[Flight]

    def send(self, sender: str, data: bytes, name: str = "record") -> None: ...

    def receive(self, receiver: str) -> bytes: ...
