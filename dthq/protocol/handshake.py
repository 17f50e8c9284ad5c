"""The DTHQ handshake as two sans-I/O state machines (after h11).

Bytes in, bytes out: ``Initiator.start()`` gives HELLO, ``Responder.receive(HELLO, now_ms)``
gives REPLY, ``Initiator.receive(REPLY)`` gives FINISH, ``Responder.receive(FINISH, now_ms)``
completes B. No sockets, no clocks: B's caller says what time it is. Once established, a
machine hands its keys out exactly once as :class:`~dthq.protocol.keyschedule.SessionKeys`
(after aioquic's key callbacks): the caller builds the record layer, or whatever else
consumes them.

Any failure (a malformed, unexpected, forged or downgraded flight) raises a
:class:`~dthq.errors.DTHQError` and moves the machine to CLOSED, dropping every
secret; so does any flight after establishment. A closed or unfinished machine never
releases keys, and neither does one that already released them.
"""

from __future__ import annotations

import copy
import enum
import hmac
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Self

from dthq.crypto.kem import SPECS as KEM_SPECS
from dthq.crypto.kem import get_kem, spec_for_wire_id
from dthq.crypto.signatures import verify
from dthq.errors import AuthenticationError, DecodeError, StateError, UnsupportedError
from dthq.protocol.config import (
    Auth,
    InitiatorConfig,
    PeerRecord,
    ResponderConfig,
    check_psk,
    parse_auth,
)
from dthq.protocol.cookie import RetryPolicy
from dthq.protocol.keyexchange import MODES, InitiatorExchange, parse_mode
from dthq.protocol.keyschedule import KeySchedule, SessionKeys
from dthq.protocol.suites import Suite, suite_by_id
from dthq.protocol.wire import (
    FINISH,
    HELLO,
    MESSAGE_NAMES,
    NONCE_SIZE,
    REPLY,
    RETRY,
    VERSION,
    Finish,
    Hello,
    Reply,
    Retry,
    confirmed_prefix,
    message_type,
    with_confirm,
)

Random = Callable[[int], bytes]
SIG_CONTEXT = {REPLY: b"dthq1 REPLY", FINISH: b"dthq1 FINISH"}


class State(enum.Enum):
    START = "start"
    WAIT_REPLY = "wait-reply"
    WAIT_HELLO = "wait-hello"
    WAIT_FINISH = "wait-finish"
    ESTABLISHED = "established"
    RETRY_SENT = "retry-sent"  # B answered with a cookie and keeps nothing: terminal
    CLOSED = "closed"


class _Machine:
    """What both roles share: state, the transcript, closing on failure."""

    role = ""  # "A" or "B"

    def __init__(self, state: State, random: Random) -> None:
        self.state = state
        self._random = random
        self._schedule: KeySchedule | None = None
        self._keys: SessionKeys | None = None  # until released, exactly once
        self._released = False
        self._suite: Suite | None = None
        self.peer_id: bytes | None = None

    @property
    def established(self) -> bool:
        return self.state is State.ESTABLISHED

    @property
    def suite(self) -> Suite:
        if self._suite is None:
            raise StateError("no suite negotiated yet")
        return self._suite

    def _expect(self, flight: bytes, state: State, kind: int) -> None:
        got = message_type(flight)
        if self.state is not state or got != kind:
            raise StateError(
                f"unexpected {MESSAGE_NAMES[got]} in state {self.state.value}"
                + ("" if self.state is not state else f" (expected {MESSAGE_NAMES[kind]})")
            )

    def _step(
        self, flight: bytes, state: State, kind: int, handler: Callable[[bytes], bytes | None]
    ) -> bytes | None:
        """Run one flight's handler; any failure, or any flight once established,
        closes the machine."""
        if self.state is State.CLOSED:
            raise StateError("handshake is closed after an earlier failure")
        if self.state is State.RETRY_SENT:
            raise StateError("this machine sent a RETRY; the repeated HELLO starts a new one")
        if self.state is State.ESTABLISHED:
            self._close()
            raise StateError("unexpected flight after the handshake completed; closed")
        try:
            self._expect(flight, state, kind)
            return handler(flight)
        except BaseException:
            self._close()
            raise

    def fork(self) -> Self:
        """A copy in exactly this state, to try a flight on: whatever the copy does (fail,
        close, wipe its secrets) leaves this machine as it was. The configuration and
        what it provisions are shared; only what a flight changes is copied."""
        clone = copy.copy(self)
        clone._schedule = copy.deepcopy(self._schedule)  # wipe() zeroes it in place
        return clone

    def _close(self) -> None:
        self.state = State.CLOSED
        if self._schedule is not None:
            self._schedule.wipe()
        self._schedule = None
        self._keys = None

    def _establish(self, keys: SessionKeys) -> None:
        self._keys = keys
        self.state = State.ESTABLISHED

    def session_keys(self) -> SessionKeys:
        """This party's :class:`SessionKeys`, released once; StateError before the
        handshake completed, after a failure, or on a second request."""
        if self._released:
            raise StateError("session keys were already released")
        if self.state is not State.ESTABLISHED or self._keys is None:
            raise StateError(f"no session keys in state {self.state.value}")
        keys, self._keys = self._keys, None
        self._released = True
        return keys


def _fork_exchange(exchange: InitiatorExchange | None) -> InitiatorExchange | None:
    """A shallow copy of an exchange and of the exchanges it is made of (a hybrid's):
    ``finish`` only drops references it holds, it never changes the keys themselves."""
    if exchange is None:
        return None
    clone = copy.copy(exchange)
    for name, value in vars(exchange).items():
        if hasattr(value, "finish") and hasattr(value, "share"):
            setattr(clone, name, _fork_exchange(value))
    return clone


def _check_version(version: int, what: str) -> None:
    if version != VERSION:
        raise UnsupportedError(
            f"{what} has protocol version {version}; this build speaks {VERSION}"
        )


def _check_confirm(
    schedule: KeySchedule, suite: Suite, role: bytes, got: bytes, th: bytes, what: str
) -> None:
    if len(got) != suite.hash_len:
        raise DecodeError(f"{what} confirmation is {len(got)} bytes, expected {suite.hash_len}")
    if not hmac.compare_digest(got, schedule.confirm_mac(role, th)):
        raise AuthenticationError(f"{what} key confirmation failed")


def _check_signature(
    auth: Auth,
    peer: PeerRecord,
    signature: bytes,
    message: Callable[[], bytes],
    kind: int,
    backend: str | None,
) -> None:
    """``message`` is called only in a signed mode: psk and KEM modes hash nothing here."""
    spec = auth.signature
    if spec is None:
        if signature:
            raise DecodeError(f"{MESSAGE_NAMES[kind]} carries a signature in {auth.name} mode")
        return
    assert peer.verify_key is not None  # PeerRecord guarantees it
    verify(spec, peer.verify_key, signature, message(), SIG_CONTEXT[kind], backend)


class Initiator(_Machine):
    """Role A, the device."""

    role = "A"

    def __init__(self, config: InitiatorConfig, *, random: Random = os.urandom) -> None:
        super().__init__(State.START, random)
        if config.peer.auth.signature is not None and config.signing_key is None:
            raise UnsupportedError("ML-DSA authentication needs the device's signing key")
        if (
            config.peer.auth.signature
            and config.signing_key
            and (config.signing_key.spec != config.peer.auth.signature)
        ):
            raise UnsupportedError("device signing key does not match the chosen ML-DSA level")
        self.config = config
        self._suite = config.suite
        self._hello = b""
        self._reply = b""
        self._exchange: InitiatorExchange | None = None
        self._retried = False
        self._static_secret = b""  # KEM authentication: what HELLO encapsulated to B

    def _close(self) -> None:
        self._static_secret = b""
        super()._close()

    def fork(self) -> Self:
        clone = super().fork()
        # REPLY drops the exchange's ephemeral key (and a hybrid's two): copy the holders.
        clone._exchange = _fork_exchange(self._exchange)
        return clone

    def start(self) -> bytes:
        if self.state is not State.START:
            raise StateError(f"start() in state {self.state.value}")
        try:
            return self._start()
        except BaseException:
            self._close()
            raise

    def _start(self) -> bytes:
        c = self.config
        kem_id = KEM_SPECS[c.kem].wire_id if c.kem in KEM_SPECS else -1
        if kem_id < 0:
            raise UnsupportedError(f"unknown KEM {c.kem!r}; choose {', '.join(KEM_SPECS)}")
        self._exchange = MODES[c.mode].initiator(c)
        auth_ciphertext = b""
        if c.peer.auth.static_kem:
            assert c.peer.kem_key is not None  # InitiatorConfig guarantees it
            kem = get_kem(c.kem, c.kem_backend)
            auth_ciphertext, self._static_secret = kem.encapsulate(c.peer.kem_key)
        hello = Hello(
            VERSION,
            c.mode,
            c.peer.auth,
            kem_id,
            c.suite.wire_id,
            c.id_a,
            self._random(NONCE_SIZE),
            self._exchange.share(),
            auth_ciphertext=auth_ciphertext,
        )
        self._hello = hello.to_bytes()
        self.state = State.WAIT_REPLY
        return self._hello

    def receive(self, flight: bytes) -> bytes:
        """REPLY in, FINISH out; afterwards A is established. Or, once, RETRY in and the
        same HELLO with B's cookie out (A is still waiting for REPLY)."""
        kind = RETRY if flight[:1] == bytes([RETRY]) else REPLY
        handler = self._on_retry if kind == RETRY else self._on_reply
        result = self._step(flight, State.WAIT_REPLY, kind, handler)
        assert result is not None
        return result

    def _on_retry(self, flight: bytes) -> bytes:
        if self._retried:
            raise StateError("a second RETRY: B already had our cookie'd HELLO")
        retry = Retry.from_bytes(flight)
        _check_version(retry.version, "RETRY")
        # The same HELLO (nonce, key share) with the cookie; it, not the first, is in
        # the transcript both sides hash.
        self._hello = replace(Hello.from_bytes(self._hello), cookie=retry.cookie).to_bytes()
        self._retried = True
        return self._hello

    def _on_reply(self, flight: bytes) -> bytes:
        c = self.config
        reply = Reply.from_bytes(flight)
        _check_version(reply.version, "REPLY")
        if reply.id_b != c.id_b:
            raise AuthenticationError(f"REPLY comes from {reply.id_b!r}, expected {c.id_b!r}")
        assert self._exchange is not None
        # Ephemeral secret, then (KEM authentication) the one only B could decapsulate,
        # then the one only A can: B's ciphertext to A's static key, in REPLY's
        # signature field. Each side's confirmation MAC depends on all of them.
        shared = self._exchange.finish(reply.kem_ciphertext) + self._static_secret
        self._static_secret = b""
        reply_signature = reply.signature
        if c.peer.auth is Auth.KEM:
            assert c.static_kem_key is not None  # InitiatorConfig guarantees it
            if not reply.signature:
                raise DecodeError("REPLY carries no ciphertext to the device's static KEM key")
            shared += c.static_kem_key.decapsulate(reply.signature)
            reply_signature = b""  # consumed: it was a ciphertext, not a signature
        schedule = KeySchedule(c.suite, None, salt=c.peer.early_salt(c.suite.hash_name))
        self._schedule = schedule
        schedule.mix_shared_secret(shared)
        schedule.absorb(self._hello)
        th = schedule.hash_with  # each flight is hashed once, however many hashes are taken
        _check_signature(
            c.peer.auth,
            c.peer,
            reply_signature,
            lambda: th(reply.signed_part()),
            REPLY,
            c.sig_backend,
        )
        confirmed = confirmed_prefix(flight, reply.confirm)
        _check_confirm(schedule, c.suite, b"b", reply.confirm, th(confirmed), "REPLY")
        schedule.absorb(flight)
        signature = b""
        if c.signing_key is not None:
            message = th(Finish(VERSION, b"", b"").signed_part())
            signature = c.signing_key.sign(message, SIG_CONTEXT[FINISH])
        confirmed = Finish(VERSION, signature, b"").confirmed_part()
        out = with_confirm(confirmed, schedule.confirm_mac(b"a", th(confirmed)))
        transcript_hash = th(out)
        a2b, b2a = schedule.traffic_secrets(transcript_hash)
        schedule.wipe()
        self.peer_id = c.id_b
        self._establish(SessionKeys("A", c.suite, a2b, b2a, c.id_a, c.id_b, transcript_hash))
        return out


class Responder(_Machine):
    """Role B, the edge or cloud service."""

    role = "B"

    def __init__(self, config: ResponderConfig, *, random: Random = os.urandom) -> None:
        super().__init__(State.WAIT_HELLO, random)
        self.config = config
        self._peer: PeerRecord | None = None
        self._auth = Auth.PSK
        self._now_ms = 0
        self._under_load = False
        self._hello_ms: int | None = None  # when REPLY went out, for half-open expiry

    def receive(self, flight: bytes, now_ms: int, *, under_load: bool = False) -> bytes | None:
        """HELLO in, REPLY (or, under the retry policy, RETRY) out; then FINISH in, nothing
        out, and B is established. ``now_ms`` dates cookies and half-open handshakes;
        ``under_load`` is the server's say for the UNDER_LOAD retry policy."""
        self._now_ms, self._under_load = now_ms, under_load
        if self.state is State.WAIT_FINISH:
            return self._step(flight, State.WAIT_FINISH, FINISH, self._on_finish)
        return self._step(flight, State.WAIT_HELLO, HELLO, self._on_hello)

    def expired(self, now_ms: int) -> bool:
        """A half-open handshake (REPLY sent, no FINISH) past its time: drop it."""
        return (
            self.state is State.WAIT_FINISH
            and self._hello_ms is not None
            and now_ms - self._hello_ms > self.config.half_open_ms
        )

    def _wants_retry(self, hello: Hello) -> bool:
        policy = self.config.retry
        if hello.cookie:
            return False
        return policy is RetryPolicy.ALWAYS or (
            policy is RetryPolicy.UNDER_LOAD and self._under_load
        )

    def _on_hello(self, flight: bytes) -> bytes:
        c = self.config
        hello = Hello.from_bytes(flight)
        _check_version(hello.version, "HELLO")
        # Before any expensive work: answer with a cookie, or check the one echoed back.
        if self._wants_retry(hello):
            assert c.cookies is not None  # ResponderConfig guarantees it
            self.state = State.RETRY_SENT
            return Retry(VERSION, c.cookies.make(hello, self._now_ms)).to_bytes()
        if hello.cookie:
            if c.cookies is None:
                raise UnsupportedError("HELLO carries a cookie, and this service issues none")
            c.cookies.check(hello, self._now_ms)
        mode = parse_mode(hello.mode)
        suite = suite_by_id(hello.suite_id)
        if suite.wire_id not in c.suites:
            raise UnsupportedError(f"suite {suite.name} is not accepted by this service")
        kem = spec_for_wire_id(hello.kem_id)
        if kem.name not in c.kems:
            raise UnsupportedError(f"{kem.name} is not accepted by this service")
        auth = parse_auth(hello.auth)
        peer = c.devices.get(hello.id_a)
        if peer is None:
            raise AuthenticationError(f"device {hello.id_a!r} is not registered")
        if peer.auth is not auth:
            raise AuthenticationError(
                f"device {hello.id_a!r} is registered for {peer.auth.name}, HELLO asks {auth.name}"
            )
        signing_key = c.signing_keys.get(auth)
        if auth.signature is not None and signing_key is None:
            raise UnsupportedError(f"this service has no {auth.name} signing key")
        check_psk(peer, suite)  # the device's registered PSK against the suite it asks for
        static_key = c.static_kem_keys.get(kem.name) if auth.static_kem else None
        if auth.static_kem and static_key is None:
            raise UnsupportedError(f"this service has no static {kem.name} key")
        exchange = MODES[mode].responder(c, hello.kem_id)
        ciphertext, shared = exchange.respond(hello.key_share)
        to_device = b""
        if static_key is not None:
            # A wrong ciphertext decapsulates to a pseudorandom secret (implicit
            # rejection): A's check of REPLY's confirmation then fails.
            shared += static_key.decapsulate(hello.auth_ciphertext)
        if auth is Auth.KEM:
            assert peer.kem_key is not None  # PeerRecord guarantees it
            to_device, secret = get_kem(kem.name, c.kem_backend).encapsulate(peer.kem_key)
            shared += secret
        schedule = KeySchedule(suite, None, salt=peer.early_salt(suite.hash_name))
        self._schedule = schedule
        schedule.mix_shared_secret(shared)
        schedule.absorb(flight)
        th = schedule.hash_with
        nonce = self._random(NONCE_SIZE)
        signature = to_device  # the signature field: a signature, or KEM mode's ciphertext
        if signing_key is not None:
            message = th(Reply(VERSION, c.id_b, nonce, ciphertext, b"", b"").signed_part())
            signature = signing_key.sign(message, SIG_CONTEXT[REPLY])
        confirmed = Reply(VERSION, c.id_b, nonce, ciphertext, signature, b"").confirmed_part()
        out = with_confirm(confirmed, schedule.confirm_mac(b"b", th(confirmed)))
        schedule.absorb(out)
        self._suite, self._peer, self._auth = suite, peer, auth
        self.peer_id = hello.id_a
        self._hello_ms = self._now_ms
        self.state = State.WAIT_FINISH
        return out

    def _on_finish(self, flight: bytes) -> None:
        if self.expired(self._now_ms):
            raise StateError(f"half-open handshake expired after {self.config.half_open_ms} ms")
        finish = Finish.from_bytes(flight)
        _check_version(finish.version, "FINISH")
        schedule, peer = self._schedule, self._peer
        assert schedule is not None and peer is not None
        th = schedule.hash_with
        _check_signature(
            self._auth,
            peer,
            finish.signature,
            lambda: th(finish.signed_part()),
            FINISH,
            self.config.sig_backend,
        )
        confirmed = confirmed_prefix(flight, finish.confirm)
        _check_confirm(schedule, self.suite, b"a", finish.confirm, th(confirmed), "FINISH")
        transcript_hash = th(flight)
        a2b, b2a = schedule.traffic_secrets(transcript_hash)
        schedule.wipe()
        assert self.peer_id is not None
        self._establish(
            SessionKeys("B", self.suite, a2b, b2a, self.peer_id, self.config.id_b, transcript_hash)
        )
        return None
