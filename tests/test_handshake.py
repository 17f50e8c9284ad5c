"""Every (KEM, auth, key length) establishes a session and round-trips records;
the state machine refuses flights out of order."""

from __future__ import annotations

import itertools

import pytest
from conftest import assert_no_keys, machines, run, scheme

from dthq.errors import AuthenticationError, DecodeError, StateError, UnsupportedError
from dthq.handshake import State
from dthq.kem import KEMS
from dthq.suites import KEY_LENGTHS
from dthq.telemetry import TelemetryGenerator

KEMS_AVAILABLE = [n for n in ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024") if KEMS.backends(n)]
COMBOS = list(itertools.product(KEMS_AVAILABLE, ["psk", "mldsa44", "mldsa65"], KEY_LENGTHS))


@pytest.mark.parametrize(
    ("kem", "auth", "key_length"), COMBOS, ids=[f"{k}-{a}-{kl}" for k, a, kl in COMBOS]
)
def test_every_combination_round_trips(kem: str, auth: str, key_length: int) -> None:
    s = scheme(auth, key_length, kem)
    a, b, _flights = run(s)
    assert a.state is b.state is State.ESTABLISHED
    assert b.peer_id == s.initiator_config.id_a and a.peer_id == s.responder_config.id_b
    sa, sb = a.session(5), b.session(5)
    readings = TelemetryGenerator(seed=key_length)
    for i in range(5):
        payload = readings.payload("small")
        assert sb.open(sa.seal(payload, 10 + i)) == payload
        assert sa.open(sb.seal(payload[::-1], 10 + i)) == payload[::-1]
    assert sa.suite.key_length == key_length


def test_directions_use_different_keys() -> None:
    a, b, _ = run(scheme())
    sa, sb = a.session(0), b.session(0)
    # A's record opened by A itself (a reflection) must fail: direction keys differ.
    record = sa.seal(b"reading", 1)
    with pytest.raises(AuthenticationError):
        sa.open(record)
    assert sb.open(record) == b"reading"


def test_sessions_have_fresh_keys() -> None:
    s = scheme()
    (a1, _, f1), (a2, _, f2) = run(s), run(s)
    assert f1 != f2
    r1, r2 = a1.session(0).seal(b"x", 1), a2.session(0).seal(b"x", 1)
    assert r1 != r2


def test_no_keys_before_completion() -> None:
    a, b = machines(scheme())
    assert_no_keys(a, b)
    reply = b.receive(a.start())
    assert_no_keys(a, b)  # B has answered but has not yet verified A's FINISH
    assert reply is not None
    a.receive(reply)
    assert a.established
    assert_no_keys(b)


def test_start_twice_is_a_state_error() -> None:
    a, _ = machines(scheme())
    a.start()
    with pytest.raises(StateError):
        a.start()


@pytest.mark.parametrize("step", ["hello-to-a", "finish-first", "reply-to-b"])
def test_out_of_order_flights(step: str) -> None:
    s = scheme()
    a, b = machines(s)
    hello = a.start()
    if step == "hello-to-a":
        with pytest.raises(StateError):
            a.receive(hello)
        assert_no_keys(a)
        assert a.state is State.CLOSED
        return
    _, _, (_, reply, finish) = run(s)
    if step == "finish-first":
        with pytest.raises(StateError):
            b.receive(finish)
        assert b.state is State.CLOSED
    else:
        with pytest.raises(StateError):
            b.receive(reply)
    assert_no_keys(b)


def test_closed_machine_stays_closed() -> None:
    a, b = machines(scheme())
    with pytest.raises(DecodeError):
        b.receive(b"\x01garbage")
    assert b.state is State.CLOSED
    with pytest.raises(StateError, match="closed"):
        b.receive(a.start())


def test_flight_after_established_is_refused_without_closing() -> None:
    a, b, (_hello, reply, finish) = run(scheme())
    with pytest.raises(StateError):
        b.receive(finish)
    with pytest.raises(StateError):
        a.receive(reply)
    assert a.established and b.established


def test_unknown_kem_or_chacha_misuse_is_unsupported() -> None:
    from dthq.dthq_scheme import DTHQScheme

    with pytest.raises(UnsupportedError):
        DTHQScheme(kem="ML-KEM-9999").establish()
    with pytest.raises(UnsupportedError):
        DTHQScheme(key_length=128, chacha=True)
    with pytest.raises(UnsupportedError):
        DTHQScheme(key_length=384)


def test_chacha_alternative_round_trips() -> None:
    from dthq.dthq_scheme import DTHQScheme

    session = DTHQScheme(key_length=256, chacha=True).establish()
    assert session.params["aead"] == "ChaCha20-Poly1305"
    assert session.responder.open(session.initiator.seal(b"hr=71", 3)) == b"hr=71"
