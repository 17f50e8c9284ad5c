"""The stateless retry (anti-DoS): B answers a cookie-less HELLO with a small MAC'd
cookie and keeps nothing; only a HELLO carrying a valid cookie costs B an encapsulation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import assert_no_keys, channel, machines, scheme

from dthq.errors import AuthenticationError, DecodeError, StateError, UnsupportedError
from dthq.protocol.cookie import COOKIE_SIZE, CookieJar, RetryPolicy
from dthq.protocol.handshake import Initiator, Responder, State
from dthq.protocol.keyexchange import MODES
from dthq.protocol.wire import Hello, Retry
from dthq.schemes.dthq import DTHQScheme


def _retrying(auth: str = "psk", policy: RetryPolicy = RetryPolicy.ALWAYS, jar=None, mode="mlkem"):  # type: ignore[no-untyped-def]
    s = scheme(auth, mode=mode)
    config = replace(s.responder_config, retry=policy, cookies=jar or CookieJar(0))
    return s, config


class _CountingModes(dict):  # type: ignore[type-arg]
    """MODES, counting the responder exchanges built (each is one encapsulation)."""

    built = 0

    def __getitem__(self, mode):  # type: ignore[no-untyped-def]
        factories = super().__getitem__(mode)

        def responder(config, kem_id):  # type: ignore[no-untyped-def]
            _CountingModes.built += 1
            return factories.responder(config, kem_id)

        return factories._replace(responder=responder)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[_CountingModes]:
    import dthq.protocol.handshake as handshake

    _CountingModes.built = 0
    monkeypatch.setattr(handshake, "MODES", _CountingModes(MODES))
    return _CountingModes


@pytest.mark.parametrize(
    ("auth", "mode"),
    [("psk", "mlkem"), ("mldsa", "mlkem"), ("psk", "qkd"), ("mldsa", "qkd+mlkem")],
)
def test_retry_round_trip(auth: str, mode: str, counting: type[_CountingModes]) -> None:
    s, config = _retrying(auth, mode=mode)
    a = Initiator(s.initiator_config)
    first = Responder(config)
    hello = a.start()
    kme = getattr(s, "key_manager", None)
    waiting = kme.awaiting_delivery if kme else 0
    retry = first.receive(hello, 100)
    assert retry is not None and first.state is State.RETRY_SENT
    assert first._schedule is None and counting.built == 0  # no state, no encapsulation
    if kme:  # nor a key fetched from Q: a forged HELLO cannot burn the device's key
        assert kme.awaiting_delivery == waiting
    assert len(Retry.from_bytes(retry).cookie) == COOKIE_SIZE
    # No amplification: RETRY is tiny (a qkd HELLO carries a 16-byte key id, not a KEM key).
    assert len(retry) < len(hello) / (2 if mode == "qkd" else 40)
    hello2 = a.receive(retry)
    assert Hello.from_bytes(hello2).cookie and hello2[: len(hello) - 1] == hello[:-1]
    b = Responder(config)
    reply = b.receive(hello2, 200)
    assert reply is not None and counting.built == 1
    if kme:
        assert kme.awaiting_delivery == waiting - 1  # fetched now, once
    b.receive(a.receive(reply), 300)
    sa, sb = channel(a), channel(b)
    assert sb.open(sa.seal(b"spo2=98", 400), 400) == b"spo2=98"
    with pytest.raises(StateError, match="RETRY"):
        first.receive(hello2, 200)  # the retried machine is done


def test_a_cookie_is_bound_to_its_hello() -> None:
    s, config = _retrying()
    a1, a2 = Initiator(s.initiator_config), Initiator(s.initiator_config)
    cookie = Retry.from_bytes(Responder(config).receive(a1.start(), 0)).cookie  # type: ignore[arg-type]
    other = replace(Hello.from_bytes(a2.start()), cookie=cookie).to_bytes()  # another nonce/key
    b = Responder(config)
    with pytest.raises(AuthenticationError, match="does not match"):
        b.receive(other, 0)
    assert_no_keys(b)


def test_cookies_expire_and_secrets_rotate() -> None:
    jar = CookieJar(0, lifetime_ms=1_000, rotate_ms=5_000)
    s, config = _retrying(jar=jar)
    a = Initiator(s.initiator_config)
    hello = a.receive(Responder(config).receive(a.start(), 0))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError, match="ms old"):
        Responder(config).receive(hello, 1_001)
    parsed = Hello.from_bytes(hello)
    # Made just before a rotation, a cookie still checks under the previous secret...
    jar2 = CookieJar(0, lifetime_ms=1_000, rotate_ms=5_000)
    late = replace(parsed, cookie=jar2.make(parsed, 4_900))
    jar2.check(late, 5_100)
    # ...but not two rotations later.
    late2 = replace(parsed, cookie=jar2.make(parsed, 9_900))
    jar2._rotate(15_000)
    with pytest.raises(AuthenticationError, match="retired"):
        jar2.check(late2, 15_000)


def test_malformed_or_unasked_cookies_are_refused() -> None:
    s, config = _retrying()
    a = Initiator(s.initiator_config)
    hello = Hello.from_bytes(a.start())
    with pytest.raises(DecodeError, match="cookie is 3 bytes"):
        Responder(config).receive(replace(hello, cookie=b"abc").to_bytes(), 0)
    plain = Responder(s.responder_config)  # a service with no retry policy
    with pytest.raises(UnsupportedError, match="issues none"):
        plain.receive(replace(hello, cookie=b"x" * COOKIE_SIZE).to_bytes(), 0)
    with pytest.raises(UnsupportedError, match="needs a CookieJar"):
        replace(s.responder_config, retry=RetryPolicy.ALWAYS)


def test_under_load_asks_for_a_cookie_only_under_load() -> None:
    s, config = _retrying(policy=RetryPolicy.UNDER_LOAD)
    a = Initiator(s.initiator_config)
    hello = a.start()
    assert Responder(config).receive(hello, 0, under_load=False)[0] == 0x02  # type: ignore[index]
    assert Responder(config).receive(hello, 0, under_load=True)[0] == 0x04  # type: ignore[index]


def test_a_second_retry_is_refused() -> None:
    s, config = _retrying()
    a = Initiator(s.initiator_config)
    retry = Responder(config).receive(a.start(), 0)
    assert retry is not None
    a.receive(retry)
    with pytest.raises(StateError, match="second RETRY"):
        a.receive(retry)
    assert a.state is State.CLOSED


def test_half_open_handshakes_expire() -> None:
    s = scheme()
    a, b = machines(s)
    reply = b.receive(a.start(), 1_000)
    assert reply is not None
    assert not b.expired(1_000 + s.responder_config.half_open_ms)
    assert b.expired(1_001 + s.responder_config.half_open_ms)
    with pytest.raises(StateError, match="expired"):
        b.receive(a.receive(reply), 1_001 + s.responder_config.half_open_ms)
    assert_no_keys(b)


@pytest.mark.parametrize("auth", ["psk", "mldsa"])
def test_scheme_with_retry_policy(auth: str) -> None:
    session = DTHQScheme(auth=auth, retry="always").establish(0)
    assert [f.name for f in session.flights] == ["HELLO", "RETRY", "HELLO", "REPLY", "FINISH"]
    assert session.responder.open(session.initiator.seal(b"hr=60", 1), 1) == b"hr=60"
    with pytest.raises(UnsupportedError, match="unknown retry policy"):
        DTHQScheme(retry="sometimes")


def test_amplification_without_the_cookie() -> None:
    """Why the retry exists: in mldsa mode REPLY is ~3.6x HELLO, above QUIC's 3x limit."""
    flights = DTHQScheme(auth="mldsa").establish(0).flights
    hello, reply = flights[0].size, flights[1].size
    assert reply / hello > 3
    retried = DTHQScheme(auth="mldsa", retry="always").establish(0).flights
    assert retried[1].size / retried[0].size < 0.05
