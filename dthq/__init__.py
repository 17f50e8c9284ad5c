"""DTHQ bench: a minimal, real DTHQ protocol and the harness that measures it.

This module re-exports the public API: what a scheme author (``baselines`` is one)
or a user driving the protocol needs. Everything else is imported from its module:
``dthq.crypto`` (primitives), ``dthq.protocol`` (the protocol), ``dthq.harness``
(what the benchmarks measure).
"""

from dthq.crypto.hkdf import hkdf
from dthq.errors import (
    AuthenticationError,
    DecodeError,
    DTHQError,
    ReplayError,
    StateError,
    UnsupportedError,
)
from dthq.protocol.compression import edge_profile, make_codec
from dthq.protocol.config import (
    Auth,
    InitiatorConfig,
    KeyProvider,
    Mode,
    PeerRecord,
    ResponderConfig,
)
from dthq.protocol.handshake import Initiator, Responder
from dthq.protocol.keyschedule import SessionKeys
from dthq.protocol.record import Record, RecordLayer, RekeyPolicy
from dthq.protocol.suites import KEY_LENGTHS, Suite, suite_for
from dthq.schemes import SCHEMES, Channel, DTHQScheme, Scheme, Session, load_plugins
from dthq.transport import Flight, MemoryTransport, Transport

__version__ = "0.1.0"

__all__ = [
    "KEY_LENGTHS",
    "SCHEMES",
    "Auth",
    "AuthenticationError",
    "Channel",
    "DTHQError",
    "DTHQScheme",
    "DecodeError",
    "Flight",
    "Initiator",
    "InitiatorConfig",
    "KeyProvider",
    "MemoryTransport",
    "Mode",
    "PeerRecord",
    "Record",
    "RecordLayer",
    "RekeyPolicy",
    "ReplayError",
    "Responder",
    "ResponderConfig",
    "Scheme",
    "Session",
    "SessionKeys",
    "StateError",
    "Suite",
    "Transport",
    "UnsupportedError",
    "edge_profile",
    "hkdf",
    "load_plugins",
    "make_codec",
    "suite_for",
]
