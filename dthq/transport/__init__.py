"""Transports: the interface, and the in-memory one (TCP and MQTT plug in beside it)."""

from dthq.transport.base import ROLES, Flight, Transport
from dthq.transport.memory import MemoryTransport

__all__ = ["ROLES", "Flight", "MemoryTransport", "Transport"]
