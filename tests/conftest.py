"""Shared fixtures: provisioned DTHQ configurations and fresh handshake machines."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, settings

from dthq.errors import StateError
from dthq.protocol.handshake import Initiator, Responder
from dthq.protocol.record import RecordLayer
from dthq.schemes.dthq import DTHQScheme

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("default")


@cache
def scheme(
    auth: str = "psk", key_length: int = 256, kem: str = "ML-KEM-768", mode: str = "mlkem"
) -> DTHQScheme:
    """Provisioning is slow for ML-DSA (key generation), so each configuration is made once.
    The QKD modes get Q, a key manager fed by the simulated link (seeded)."""
    if mode == "mlkem":
        return DTHQScheme(auth=auth, key_length=key_length, kem=kem)
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.scheme import QKDScheme

    kme = KeyManager("device-A", "service-B", seed=11)
    return QKDScheme(mode=mode, key_manager=kme, auth=auth, key_length=key_length, kem=kem)


def machines(s: DTHQScheme) -> tuple[Initiator, Responder]:
    return Initiator(s.initiator_config), Responder(s.responder_config)


def run(s: DTHQScheme) -> tuple[Initiator, Responder, list[bytes]]:
    """A complete honest handshake: (A, B, [HELLO, REPLY, FINISH])."""
    a, b = machines(s)
    hello = a.start()
    reply = b.receive(hello)
    assert reply is not None
    finish = a.receive(reply)
    assert b.receive(finish) is None
    return a, b, [hello, reply, finish]


def channel(party: Initiator | Responder, now_ms: int = 0, **options: object) -> RecordLayer:
    """The record layer of an established party, built from its released keys."""
    return RecordLayer.from_keys(party.session_keys(), now_ms, **options)  # type: ignore[arg-type]


def assert_no_keys(*parties: Initiator | Responder) -> None:
    """No session key is released by any of these machines."""
    for party in parties:
        assert not party.established
        with pytest.raises(StateError):
            party.session_keys()


# The attack sets run over these: every auth mode, every key length, both pyca KEMs,
# both ML-DSA levels, KEM authentication of B alone and of both.
ATTACKED = [
    pytest.param(("psk", 256, "ML-KEM-768"), id="psk"),
    pytest.param(("mldsa", 256, "ML-KEM-768"), id="mldsa"),
    pytest.param(("psk", 128, "ML-KEM-768"), id="psk-128"),
    pytest.param(("psk", 512, "ML-KEM-768"), id="psk-512"),
    pytest.param(("psk", 256, "ML-KEM-1024"), id="psk-mlkem1024"),
    pytest.param(("mldsa44", 512, "ML-KEM-1024"), id="mldsa44-512-mlkem1024"),
    pytest.param(("psk", 256, "ML-KEM-768", "qkd"), id="qkd-psk"),
    pytest.param(("mldsa", 256, "ML-KEM-768", "qkd"), id="qkd-mldsa"),
    pytest.param(("psk", 256, "ML-KEM-768", "qkd+mlkem"), id="qkd+mlkem-psk"),
    pytest.param(("kem", 256, "ML-KEM-768"), id="kem"),
    pytest.param(("kem-psk", 256, "ML-KEM-768"), id="kem-psk"),
    pytest.param(("kem", 128, "ML-KEM-1024"), id="kem-128-mlkem1024"),
    pytest.param(("kem", 256, "ML-KEM-768", "qkd"), id="qkd-kem"),
]


@pytest.fixture(params=ATTACKED)
def auth_scheme(request: pytest.FixtureRequest) -> DTHQScheme:
    return scheme(*request.param)
