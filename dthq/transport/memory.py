"""An in-memory transport: ordered byte queues between A and B, with a log of flights.

The first :class:`~dthq.transport.base.Transport`: the in-process benchmarks use it;
loopback TCP and MQTT transports implement the same ``send``/``receive`` pair.
"""

from __future__ import annotations

from collections import deque

from dthq.errors import StateError
from dthq.transport.base import ROLES, Flight, peer_of


class MemoryTransport:
    def __init__(self) -> None:
        self._inbox: dict[str, deque[bytes]] = {role: deque() for role in ROLES}
        self.log: list[Flight] = []
        self.bytes_sent = {role: 0 for role in ROLES}

    def send(self, sender: str, data: bytes, name: str = "record") -> None:
        self._inbox[peer_of(sender)].append(data)
        self.log.append(Flight(sender, name, data))
        self.bytes_sent[sender] += len(data)

    def receive(self, receiver: str) -> bytes:
        peer_of(receiver)  # validates the role
        if not self._inbox[receiver]:
            raise StateError(f"nothing to receive for {receiver}")
        return self._inbox[receiver].popleft()
