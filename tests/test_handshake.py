"""Every (KEM, auth, key length) establishes a session and round-trips records;
the state machine refuses flights out of order."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import pytest
from helpers import assert_no_keys, channel, machines, run, scheme

from dthq.crypto.kem import KEMS
from dthq.errors import AuthenticationError, DecodeError, StateError, UnsupportedError
from dthq.harness.telemetry import TelemetryGenerator
from dthq.protocol.config import InitiatorConfig, Mode, ResponderConfig
from dthq.protocol.handshake import Initiator, Responder, State
from dthq.protocol.keyexchange import MODES, ModeFactories
from dthq.protocol.suites import KEY_LENGTHS

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
    sa, sb = channel(a, 5), channel(b, 5)
    readings = TelemetryGenerator(seed=key_length)
    for i in range(5):
        payload = readings.payload("small")
        assert sb.open(sa.seal(payload, 10 + i), 10 + i) == payload
        assert sa.open(sb.seal(payload[::-1], 10 + i), 10 + i) == payload[::-1]
    assert sa.suite.key_length == key_length


def test_directions_use_different_keys() -> None:
    a, b, _ = run(scheme())
    sa, sb = channel(a), channel(b)
    # A's record opened by A itself (a reflection) must fail: direction keys differ.
    record = sa.seal(b"reading", 1)
    with pytest.raises(AuthenticationError):
        sa.open(record, 1)
    assert sb.open(record, 1) == b"reading"


def test_sessions_have_fresh_keys() -> None:
    s = scheme()
    (a1, _, f1), (a2, _, f2) = run(s), run(s)
    assert f1 != f2
    r1, r2 = channel(a1).seal(b"x", 1), channel(a2).seal(b"x", 1)
    assert r1 != r2


def test_no_keys_before_completion() -> None:
    a, b = machines(scheme())
    assert_no_keys(a, b)
    reply = b.receive(a.start(), 0)
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
            b.receive(finish, 0)
        assert b.state is State.CLOSED
    else:
        with pytest.raises(StateError):
            b.receive(reply, 0)
    assert_no_keys(b)


def test_closed_machine_stays_closed() -> None:
    a, b = machines(scheme())
    with pytest.raises(DecodeError):
        b.receive(b"\x01garbage", 0)
    assert b.state is State.CLOSED
    with pytest.raises(StateError, match="closed"):
        b.receive(a.start(), 0)


def test_flight_after_established_closes_the_machine() -> None:
    # A replayed or stray flight to an established machine is an attack or a bug:
    # the machine closes, and keys it has not yet released are never released.
    a, b, (_hello, reply, finish) = run(scheme())
    with pytest.raises(StateError, match="after the handshake completed"):
        b.receive(finish, 0)
    with pytest.raises(StateError, match="after the handshake completed"):
        a.receive(reply)
    assert a.state is b.state is State.CLOSED
    assert_no_keys(a, b)


def test_session_keys_are_released_exactly_once() -> None:
    a, b, _ = run(scheme())
    keys_a, keys_b = a.session_keys(), b.session_keys()
    with pytest.raises(StateError, match="already released"):
        a.session_keys()
    with pytest.raises(StateError, match="already released"):
        b.session_keys()
    # Both ends hold the same keys, each knowing its own direction.
    assert (keys_a.role, keys_b.role) == ("A", "B")
    assert keys_a.send_secret == keys_b.receive_secret != keys_a.receive_secret
    assert keys_a.transcript_hash == keys_b.transcript_hash
    assert (keys_a.id_a, keys_a.id_b) == (keys_b.id_a, keys_b.id_b) == (b"device-A", b"service-B")
    assert keys_a.suite == keys_b.suite
    assert keys_a.send_secret.hex() not in repr(keys_a)  # secrets stay out of logs


def test_session_keys_after_release_then_stray_flight() -> None:
    a, _b, (_hello, reply, _finish) = run(scheme())
    a.session_keys()
    with pytest.raises(StateError):
        a.receive(reply)
    assert a.state is State.CLOSED
    with pytest.raises(StateError):
        a.session_keys()


def test_unknown_kem_or_chacha_misuse_is_unsupported() -> None:
    from dthq.schemes.dthq import DTHQScheme

    with pytest.raises(UnsupportedError):
        DTHQScheme(kem="ML-KEM-9999").establish(0)
    with pytest.raises(UnsupportedError):
        DTHQScheme(key_length=128, chacha=True)
    with pytest.raises(UnsupportedError):
        DTHQScheme(key_length=384)


def test_chacha_alternative_round_trips() -> None:
    from dthq.schemes.dthq import DTHQScheme

    session = DTHQScheme(key_length=256, chacha=True).establish(0)
    assert session.params["aead"] == "ChaCha20-Poly1305"
    assert session.responder.open(session.initiator.seal(b"hr=71", 3), 3) == b"hr=71"


class _KeyTable:
    """A KeyProvider as a QKD key manager would be (ETSI GS QKD 014's shape): A asks for
    a fresh key and gets its id; B fetches the same key by that id."""

    def __init__(self) -> None:
        self.keys: dict[bytes, bytes] = {}

    def enc_keys(self, size: int) -> tuple[bytes, bytes]:
        key_id = os.urandom(16)
        self.keys[key_id] = os.urandom(size)
        return key_id, self.keys[key_id]

    def dec_keys(self, key_id: bytes, size: int) -> bytes:
        if key_id not in self.keys:
            raise AuthenticationError("unknown key id")
        return self.keys[key_id][:size]


class _ProviderInitiator:
    def __init__(self, config: InitiatorConfig) -> None:
        assert config.key_provider is not None
        self._provider, self._key = config.key_provider, b""

    def share(self) -> bytes:
        key_id, self._key = self._provider.enc_keys(32)
        return key_id

    def finish(self, response: bytes) -> bytes:
        return self._key


class _ProviderResponder:
    def __init__(self, config: ResponderConfig) -> None:
        assert config.key_provider is not None
        self._provider = config.key_provider

    def respond(self, share: bytes) -> tuple[bytes, bytes]:
        return b"", self._provider.dec_keys(share, 32)


def test_a_mode_receives_its_key_provider_through_the_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seam the QKD mode plugs into: a mode is built from the party's config, so a key
    provider given at provisioning reaches it, and the handshake keys come from it."""
    monkeypatch.setitem(
        MODES,
        Mode.QKD,
        ModeFactories(_ProviderInitiator, lambda config, _kem_id: _ProviderResponder(config)),
    )
    table = _KeyTable()
    s = scheme()
    a_config = replace(s.initiator_config, mode=Mode.QKD, key_provider=table)
    b_config = replace(s.responder_config, key_provider=table)
    a, b = Initiator(a_config), Responder(b_config)
    hello = a.start()
    reply = b.receive(hello, 0)
    assert reply is not None
    b.receive(a.receive(reply), 0)
    assert len(table.keys) == 1 and next(iter(table.keys)) in hello  # the key id travelled
    sa, sb = channel(a), channel(b)
    assert sb.open(sa.seal(b"temp=36.9", 1), 1) == b"temp=36.9"
    # Without the provider's key B cannot follow: a forgotten key id fails the handshake.
    a2, b2 = Initiator(a_config), Responder(b_config)
    hello2 = a2.start()
    table.keys.clear()
    with pytest.raises(AuthenticationError, match="unknown key id"):
        b2.receive(hello2, 0)
    assert_no_keys(a2, b2)
