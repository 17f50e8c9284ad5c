"""DTHQ bench: a minimal, real DTHQ protocol and the harness that measures it.

The public API (what ``baselines`` and ``bench`` may import) is re-exported here.
"""

from dthq import linkmodel, scenarios
from dthq.aead import AEADS, get_aead
from dthq.compression import EDGE_PROFILES, compress_adaptive, edge_profile, make_codec
from dthq.dthq_scheme import DTHQScheme
from dthq.errors import (
    AuthenticationError,
    DecodeError,
    DTHQError,
    ReplayError,
    StateError,
    UnsupportedError,
)
from dthq.handshake import Auth, Initiator, InitiatorConfig, PeerRecord, Responder, ResponderConfig
from dthq.kem import KEMS, get_kem
from dthq.keyschedule import hkdf
from dthq.record import Record, RecordLayer, RekeyPolicy
from dthq.scheme import SCHEMES, Channel, Scheme, Session, load_plugins
from dthq.suites import KEY_LENGTHS, Suite, suite_for
from dthq.telemetry import TelemetryGenerator
from dthq.transport import Flight, MemoryTransport

__version__ = "0.1.0"

SCHEMES.register("dthq", "dthq", lambda: DTHQScheme)

__all__ = [
    "AEADS",
    "KEMS",
    "SCHEMES",
    "EDGE_PROFILES",
    "KEY_LENGTHS",
    "Auth",
    "AuthenticationError",
    "Channel",
    "DecodeError",
    "DTHQError",
    "DTHQScheme",
    "Flight",
    "Initiator",
    "InitiatorConfig",
    "MemoryTransport",
    "PeerRecord",
    "Record",
    "RecordLayer",
    "RekeyPolicy",
    "ReplayError",
    "Responder",
    "ResponderConfig",
    "Scheme",
    "Session",
    "StateError",
    "Suite",
    "TelemetryGenerator",
    "UnsupportedError",
    "compress_adaptive",
    "edge_profile",
    "get_aead",
    "get_kem",
    "hkdf",
    "linkmodel",
    "scenarios",
    "load_plugins",
    "make_codec",
    "suite_for",
]
