"""The baselines behind the scheme interface: they establish, round-trip records,
record their flights, and reject tampering."""

from __future__ import annotations

from functools import cache

import pytest

import dthq
from dthq.errors import DTHQError, UnsupportedError
from dthq.harness.scenarios import TABLE3
from dthq.harness.telemetry import TelemetryGenerator

dthq.load_plugins()  # the baselines are entry points, as a third-party scheme would be


@cache
def make(name: str, **options: object):  # type: ignore[no-untyped-def]
    return dthq.SCHEMES.get(name)(**options)


ROWS = [pytest.param(row, id=row.key) for row in TABLE3]


@pytest.mark.parametrize("row", ROWS)
def test_table3_schemes_establish_and_round_trip(row) -> None:  # type: ignore[no-untyped-def]
    scheme = make(row.scheme, **row.options)
    session = scheme.establish(now_ms=0)
    assert len(session.flights) >= 3 and session.handshake_bytes > 0
    assert scheme.quantum_safe in dthq.schemes.base.QUANTUM_SAFE
    reading = TelemetryGenerator(1).payload("small")
    record = session.initiator.seal(reading, 1)
    assert reading not in record
    assert session.responder.open(record, 1) == reading
    assert session.initiator.open(session.responder.seal(b"ack", 2), 2) == b"ack"


@pytest.mark.parametrize("group", ["X25519", "X25519MLKEM768", "MLKEM768"])
def test_tls_negotiates_the_requested_group(group: str) -> None:
    scheme = make("tls13", group=group)
    session = scheme.establish(0)
    assert session.params["negotiated_group"].lower() == group.lower()
    assert session.params["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert session.params["certificate"] == ("ECDSA P-256" if group == "X25519" else "ML-DSA-65")
    assert {f.sender for f in session.flights} == {"A", "B"}
    assert (
        scheme.quantum_safe
        == {"X25519": "no", "X25519MLKEM768": "hybrid", "MLKEM768": "yes"}[group]
    )


def test_tls_over_loopback_tcp() -> None:
    assert make("tls13", group="X25519MLKEM768").handshake_over_tcp().lower() == "x25519mlkem768"


def test_tls_key_length_128_and_tampered_record() -> None:
    session = make("tls13", group="X25519", key_length=128).establish(0)
    assert session.params["cipher"] == "TLS_AES_128_GCM_SHA256"
    record = bytearray(session.initiator.seal(b"hello", 1))
    record[-1] ^= 1
    with pytest.raises(dthq.AuthenticationError):
        session.responder.open(bytes(record), 1)


@pytest.mark.parametrize("name", ["rsa-2048", "ecc-256"])
def test_classical_records_reject_tampering(name: str) -> None:
    session = make(name).establish(0)
    record = bytearray(session.initiator.seal(b"hr=70", 1))
    record[-1] ^= 1
    with pytest.raises(dthq.AuthenticationError):
        session.responder.open(bytes(record), 1)


def test_rsa_is_flagged_not_forward_secret() -> None:
    assert make("rsa-2048").params["forward_secret"] is False
    assert make("ecc-256").params["forward_secret"] is True


def test_bad_baseline_options() -> None:
    with pytest.raises(UnsupportedError):
        dthq.SCHEMES.get("tls13")(group="P-999")
    with pytest.raises(UnsupportedError):
        dthq.SCHEMES.get("ecc-256")(key_length=512)
    with pytest.raises(DTHQError):
        dthq.SCHEMES.get("tls13")(codec="lz4")
