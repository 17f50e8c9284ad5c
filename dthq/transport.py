"""An in-memory transport: ordered byte queues between A and B, with a log of flights.

It is the transport the in-process benchmarks use; real transports (loopback
TCP, MQTT) implement the same ``send``/``receive`` pair.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dthq.errors import StateError

ROLES = ("A", "B")


@dataclass(frozen=True)
class Flight:
    sender: str
    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class MemoryTransport:
    def __init__(self) -> None:
        self._inbox: dict[str, deque[bytes]] = {role: deque() for role in ROLES}
        self.log: list[Flight] = []
        self.bytes_sent = {role: 0 for role in ROLES}

    def send(self, sender: str, data: bytes, name: str = "record") -> None:
        if sender not in ROLES:
            raise StateError(f"unknown role {sender!r}; roles are A and B")
        receiver = "B" if sender == "A" else "A"
        self._inbox[receiver].append(data)
        self.log.append(Flight(sender, name, data))
        self.bytes_sent[sender] += len(data)

    def receive(self, receiver: str) -> bytes:
        if receiver not in ROLES:
            raise StateError(f"unknown role {receiver!r}; roles are A and B")
        if not self._inbox[receiver]:
            raise StateError(f"nothing to receive for {receiver}")
        return self._inbox[receiver].popleft()
