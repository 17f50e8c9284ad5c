"""Active attacks on the handshake. Each asserts the specific error and that no
session key is released by either party."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest
from helpers import assert_no_keys, channel, fork, machines, run, scheme

from dthq import (
    Auth,
    AuthenticationError,
    DecodeError,
    DTHQError,
    Initiator,
    InitiatorConfig,
    PeerRecord,
    ReplayError,
    Responder,
    StateError,
    UnsupportedError,
)
from dthq.crypto import signatures
from dthq.crypto.kem import get_kem
from dthq.protocol.compression import make_codec
from dthq.protocol.handshake import State
from dthq.protocol.record import RekeyPolicy
from dthq.protocol.wire import MAX_FLIGHT_SIZE, NONCE_SIZE, Finish, Hello, Reply
from dthq.schemes.dthq import DTHQScheme

Spans = list[tuple[int, int, tuple[type[DTHQError], ...]]]
DECODE = (DecodeError,)
AUTH = (AuthenticationError,)
UNSUP = (UnsupportedError,)


def hello_spans(h: Hello) -> Spans:
    """Byte ranges of HELLO's fields and the error flipping a byte there must cause."""
    id_end = 8 + len(h.id_a)
    nonce_end = id_end + NONCE_SIZE
    share_end = nonce_end + 2 + len(h.key_share)
    auth_ct: Spans = []
    if h.auth_ciphertext:  # KEM authentication: A's ciphertext to B's static key
        ct_end = share_end + 2 + len(h.auth_ciphertext)
        auth_ct = [
            (share_end, share_end + 2, DECODE),  # its length
            # B decapsulates a wrong one to a pseudorandom secret: A's confirmation fails
            (share_end + 2, ct_end, (DecodeError, AuthenticationError)),
        ]
        share_end = ct_end
    return [
        (0, 1, DECODE),  # type: unknown message type
        (1, 3, UNSUP),  # version, mode: unknown after 0xff
        # auth: unknown after 0xff; leaving KEM authentication also drops a field the
        # parser then finds as trailing bytes
        (3, 4, (UnsupportedError, DecodeError) if h.auth_ciphertext else UNSUP),
        (4, 7, UNSUP),  # KEM id, suite id
        (7, 8, DECODE),  # id length
        (8, id_end, AUTH),  # id: an unregistered device
        (id_end, nonce_end, AUTH),  # nonce: B answers, A's transcript disagrees
        (nonce_end, nonce_end + 2, DECODE),  # key share length
        # key share: B rejects a malformed ML-KEM key, or A's transcript disagrees
        (nonce_end + 2, nonce_end + 2 + len(h.key_share), (DecodeError, AuthenticationError)),
        *auth_ct,
        (share_end, share_end + 1, DECODE),  # cookie length (the cookie is empty here)
    ]


def reply_spans(r: Reply) -> Spans:
    id_end = 3 + len(r.id_b)
    ct = id_end + NONCE_SIZE
    sig = ct + 2 + len(r.kem_ciphertext)
    conf = sig + 2 + len(r.signature)
    return [
        (0, 1, DECODE),
        (1, 2, UNSUP),
        (2, 3, DECODE),
        (3, id_end, AUTH),  # id: not the service A expects
        (id_end, ct, AUTH),  # nonce
        (ct, ct + 2, DECODE),  # ciphertext length
        (ct + 2, sig, AUTH),  # ciphertext: implicit rejection, then failed confirmation
        (sig, sig + 2, DECODE),  # signature length
        (sig + 2, conf, AUTH),  # signature
        (conf, conf + 1, DECODE),  # confirmation length
        (conf + 1, conf + 1 + len(r.confirm), AUTH),
    ]


def finish_spans(f: Finish) -> Spans:
    conf = 4 + len(f.signature)
    return [
        (0, 1, DECODE),
        (1, 2, UNSUP),
        (2, 4, DECODE),
        (4, conf, AUTH),
        (conf, conf + 1, DECODE),
        (conf + 1, conf + 1 + len(f.confirm), AUTH),
    ]


def expected_error(spans: Spans, index: int) -> tuple[type[DTHQError], ...]:
    for start, end, errors in spans:
        if start <= index < end:
            return errors
    raise AssertionError(f"byte {index} is in no field")


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


def test_spans_cover_every_byte(auth_scheme: DTHQScheme) -> None:
    _, _, (hello, reply, finish) = run(auth_scheme)
    for spans, flight in (
        (hello_spans(Hello.from_bytes(hello)), hello),
        (reply_spans(Reply.from_bytes(reply)), reply),
        (finish_spans(Finish.from_bytes(finish)), finish),
    ):
        assert spans[0][0] == 0 and spans[-1][1] == len(flight)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_flip_every_byte_of_hello(auth_scheme: DTHQScheme) -> None:
    probe, _ = machines(auth_scheme)
    original = probe.start()
    spans = hello_spans(Hello.from_bytes(original))
    for i in range(len(original)):
        a, b = machines(auth_scheme)
        hello = flip(a.start(), i)
        with pytest.raises(expected_error(spans, i)):
            reply = b.receive(hello, 0)  # B may accept a tampered nonce or key share...
            assert reply is not None
            a.receive(reply)  # ...but then A's transcript disagrees
        assert_no_keys(a, b)


def assert_copies_complete(
    waiting_a: Initiator, waiting_b: Responder, reply: bytes, finish: bytes = b""
) -> None:
    """The machines the attacked ones were copied from are as they were: copies of A
    waiting for REPLY and of B waiting for FINISH complete the honest handshake, and
    another copy of B takes the FINISH the attack started from."""
    a, b = fork(waiting_a), fork(waiting_b)
    assert b.receive(a.receive(reply), 0) is None
    ka, kb = a.session_keys(), b.session_keys()
    assert (ka.a2b, ka.b2a, ka.transcript_hash) == (kb.a2b, kb.b2a, kb.transcript_hash)
    if finish:
        assert fork(waiting_b).receive(finish, 0) is None


def test_flip_every_byte_of_reply(auth_scheme: DTHQScheme) -> None:
    a0, b0 = machines(auth_scheme)
    reply = b0.receive(a0.start(), 0)
    assert reply is not None
    spans = reply_spans(Reply.from_bytes(reply))
    # A waiting for REPLY is made once; each flip goes to a fresh copy of it (helpers.fork).
    for i in range(sum(e - s for s, e, _ in spans)):
        a = fork(a0)
        with pytest.raises(expected_error(spans, i)):
            a.receive(flip(reply, i))
        assert a.state is State.CLOSED
        assert_no_keys(a, b0)
    assert_copies_complete(a0, b0, reply)


def test_flip_every_byte_of_finish(auth_scheme: DTHQScheme) -> None:
    a0, b0 = machines(auth_scheme)
    reply = b0.receive(a0.start(), 0)
    assert reply is not None
    waiting_a = fork(a0)
    finish = a0.receive(reply)
    spans = finish_spans(Finish.from_bytes(finish))
    # B waiting for FINISH is made once; each flip goes to a fresh copy of it (helpers.fork).
    for i in range(len(finish)):
        b = fork(b0)
        with pytest.raises(expected_error(spans, i)):
            b.receive(flip(finish, i), 0)
        assert b.state is State.CLOSED
        assert_no_keys(b)
    assert_copies_complete(waiting_a, b0, reply, finish)


@pytest.mark.parametrize("flight", [0, 1, 2], ids=["HELLO", "REPLY", "FINISH"])
def test_truncate_every_flight_at_every_length(auth_scheme: DTHQScheme, flight: int) -> None:
    a0, b0 = machines(auth_scheme)
    hello = a0.start()
    waiting_a = fork(a0)
    reply = b0.receive(hello, 0)
    assert reply is not None
    finish = a0.receive(reply)
    data = (hello, reply, finish)[flight]
    # Each cut goes to a fresh machine: a new B for HELLO, else a copy (helpers.fork) of
    # A waiting for REPLY or of B waiting for FINISH.
    for length in range(len(data)):
        if flight == 0:
            target: Initiator | Responder = Responder(auth_scheme.responder_config)
        else:
            target = fork(waiting_a) if flight == 1 else fork(b0)
        cut = data[:length]
        with pytest.raises(DecodeError):
            if isinstance(target, Responder):
                target.receive(cut, 0)
            else:
                target.receive(cut)
        assert_no_keys(target)
    assert_copies_complete(waiting_a, b0, reply, finish)


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * MAX_FLIGHT_SIZE])
def test_oversized_or_padded_flights(extra: bytes) -> None:
    a, b = machines(scheme())
    with pytest.raises(DecodeError):
        b.receive(a.start() + extra, 0)
    assert_no_keys(a, b)
    a, b = machines(scheme())
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(DecodeError):
        a.receive(reply + extra)
    assert_no_keys(a, b)


def test_replayed_hello_to_the_same_service() -> None:
    a, b = machines(scheme())
    hello = a.start()
    b.receive(hello, 0)
    with pytest.raises(StateError):
        b.receive(hello, 0)
    assert b.state is State.CLOSED
    assert_no_keys(b)


def test_replayed_finish_from_an_old_session(auth_scheme: DTHQScheme) -> None:
    _, _, (_, _, old_finish) = run(auth_scheme)
    a, b = machines(auth_scheme)
    b.receive(a.start(), 0)
    with pytest.raises(AuthenticationError):
        b.receive(old_finish, 0)
    assert_no_keys(b)


def test_replayed_reply_from_an_old_session(auth_scheme: DTHQScheme) -> None:
    _, _, (_, old_reply, _) = run(auth_scheme)
    a, _ = machines(auth_scheme)
    a.start()
    with pytest.raises(AuthenticationError):
        a.receive(old_reply)
    assert_no_keys(a)


def test_reflect_reply_back_to_service(auth_scheme: DTHQScheme) -> None:
    a, b = machines(auth_scheme)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(StateError):
        b.receive(reply, 0)
    assert_no_keys(a, b)


def test_reflect_hello_back_to_device() -> None:
    a, _ = machines(scheme())
    with pytest.raises(StateError):
        a.receive(a.start())
    assert_no_keys(a)


def test_splice_flights_from_two_sessions(auth_scheme: DTHQScheme) -> None:
    a1, b1 = machines(auth_scheme)
    a2, b2 = machines(auth_scheme)
    reply1 = b1.receive(a1.start(), 0)
    reply2 = b2.receive(a2.start(), 0)
    assert reply1 is not None and reply2 is not None
    with pytest.raises(AuthenticationError):
        a2.receive(reply1)  # B1's answer to A1's HELLO, delivered to A2
    finish1 = a1.receive(reply1)
    with pytest.raises(AuthenticationError):
        b2.receive(finish1, 0)  # A1's FINISH delivered to B2
    assert_no_keys(a2, b2)


@pytest.mark.parametrize(
    ("auth", "wrong_peer", "match"),
    [
        ("psk", lambda: PeerRecord(Auth.PSK, psk=b"w" * 32), "confirmation"),
        (
            "mldsa",
            lambda: PeerRecord(
                Auth.MLDSA65, verify_key=signatures.generate("ML-DSA-65").public_bytes
            ),
            "signature",
        ),
    ],
    ids=["wrong-psk", "wrong-service-mldsa-key"],
)
def test_device_with_wrong_credentials_for_the_service(auth: str, wrong_peer, match: str) -> None:
    s = scheme(auth)
    a = Initiator(dataclasses.replace(s.initiator_config, peer=wrong_peer()))
    b = Responder(s.responder_config)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError, match=match):
        a.receive(reply)
    assert_no_keys(a, b)


def _another_service_key(config: InitiatorConfig) -> InitiatorConfig:
    # A encapsulates to a key that is not B's: B decapsulates to a pseudorandom secret
    # (implicit rejection) and A's check of REPLY's confirmation fails.
    _, stranger = get_kem("ML-KEM-768").generate()
    return dataclasses.replace(config, peer=dataclasses.replace(config.peer, kem_key=stranger))


def _an_impostor_static_key(config: InitiatorConfig) -> InitiatorConfig:
    # An impostor with A's id but another static key cannot decapsulate B's ciphertext to
    # A's registered key: its secret differs, B's REPLY does not verify, no FINISH.
    impostor_key, _ = get_kem("ML-KEM-768").generate()
    return dataclasses.replace(config, static_kem_key=impostor_key)


@pytest.mark.parametrize(
    ("auth", "forge"),
    [
        pytest.param("kem-psk", _another_service_key, id="device-holding-another-service-key"),
        pytest.param("kem", _an_impostor_static_key, id="impostor-without-the-static-key"),
    ],
)
def test_a_wrong_static_kem_key_fails_the_confirmation(
    auth: str, forge: Callable[[InitiatorConfig], InitiatorConfig]
) -> None:
    s = scheme(auth)
    a = Initiator(forge(s.initiator_config))
    b = Responder(s.responder_config)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError, match="confirmation"):
        a.receive(reply)
    assert_no_keys(a, b)


def test_kem_authentication_needs_its_keys() -> None:
    s, kem_psk = scheme("kem"), scheme("kem-psk").initiator_config
    with pytest.raises(UnsupportedError, match="service's static KEM key"):
        dataclasses.replace(kem_psk, peer=dataclasses.replace(kem_psk.peer, kem_key=None))
    with pytest.raises(UnsupportedError, match="device's static KEM key"):
        dataclasses.replace(s.initiator_config, static_kem_key=None)
    with pytest.raises(UnsupportedError, match="peer's static KEM key"):
        PeerRecord(Auth.KEM)
    with pytest.raises(UnsupportedError, match="KEM_PSK authentication needs a PSK"):
        PeerRecord(Auth.KEM_PSK, kem_key=b"k")
    b = Responder(dataclasses.replace(s.responder_config, static_kem_keys={}))
    with pytest.raises(UnsupportedError, match="no static ML-KEM-768 key"):
        b.receive(Initiator(s.initiator_config).start(), 0)
    assert_no_keys(b)


def test_kem_auth_reply_without_the_devices_ciphertext() -> None:
    s = scheme("kem")
    a, b = machines(s)
    reply = Reply.from_bytes(b.receive(a.start(), 0))  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="no ciphertext"):
        a.receive(dataclasses.replace(reply, signature=b"").to_bytes())
    assert_no_keys(a)


def test_kem_auth_downgrade_to_psk_is_rejected() -> None:
    # The same device registered for kem-psk: a HELLO rewritten to plain psk (its
    # ciphertext to B's static key dropped) is refused before B does any KEM work.
    s = scheme("kem-psk")
    a, b = machines(s)
    hello = dataclasses.replace(Hello.from_bytes(a.start()), auth=Auth.PSK, auth_ciphertext=b"")
    with pytest.raises(AuthenticationError, match="registered for KEM_PSK"):
        b.receive(hello.to_bytes(), 0)
    assert_no_keys(b)


def test_wrong_device_mldsa_key() -> None:
    s = scheme("mldsa")
    impostor = signatures.generate("ML-DSA-65")
    forged = dataclasses.replace(s.initiator_config, signing_key=impostor)
    a, b = Initiator(forged), Responder(s.responder_config)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError, match="signature"):
        b.receive(a.receive(reply), 0)
    assert_no_keys(b)


def _tamper_hello(s: DTHQScheme, **changes: int) -> tuple[Initiator, Responder, bytes]:
    a, b = machines(s)
    hello = Hello.from_bytes(a.start())
    return a, b, dataclasses.replace(hello, **changes).to_bytes()


def test_suite_downgrade_is_detected(auth_scheme: DTHQScheme) -> None:
    # e.g. AES-256-GCM -> AES-128-GCM: B accepts the weaker suite, A's transcript catches it.
    other = 0x01 if auth_scheme.suite.wire_id != 0x01 else 0x02
    a, b, hello = _tamper_hello(auth_scheme, suite_id=other)
    reply = b.receive(hello, 0)
    assert reply is not None
    # A's confirmation check fails (or, across hash lengths, its length check first).
    with pytest.raises((AuthenticationError, DecodeError)):
        a.receive(reply)
    assert_no_keys(a, b)


def test_suite_downgrade_refused_by_policy() -> None:
    s = scheme()
    strict = dataclasses.replace(s.responder_config, suites=frozenset({0x02}))
    a = Initiator(s.initiator_config)
    b = Responder(strict)
    hello = dataclasses.replace(Hello.from_bytes(a.start()), suite_id=0x01).to_bytes()
    with pytest.raises(UnsupportedError, match="not accepted"):
        b.receive(hello, 0)
    assert_no_keys(a, b)


def test_kem_id_change_is_rejected() -> None:
    # ML-KEM-768 -> ML-KEM-1024: the 768 key share has the wrong length for 1024.
    _, b, hello = _tamper_hello(scheme(), kem_id=0x0202)
    with pytest.raises(DecodeError, match="encapsulation key"):
        b.receive(hello, 0)
    assert_no_keys(b)


def test_auth_downgrade_to_psk_is_rejected() -> None:
    _, b, hello = _tamper_hello(scheme("mldsa"), auth=Auth.PSK)
    with pytest.raises(AuthenticationError, match="registered for"):
        b.receive(hello, 0)
    assert_no_keys(b)


def test_mode_and_version_changes_are_unsupported() -> None:
    for change in ({"mode": 9}, {"version": 2}):
        _, b, hello = _tamper_hello(scheme(), **change)
        with pytest.raises(UnsupportedError):
            b.receive(hello, 0)
        assert_no_keys(b)


def test_failed_handshake_drops_secrets() -> None:
    a, b = machines(scheme())
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError):
        a.receive(flip(reply, len(reply) - 1))
    assert a._schedule is None and a._keys is None


# --- attacks the hardening review found missing -------------------------------------


def test_kem_swap_with_a_key_share_of_matching_length() -> None:
    """ML-KEM-768 -> ML-KEM-1024 with a well-formed 1024 key share of the attacker's: B
    encapsulates to it, but A's transcript (and KEM secret) disagree."""
    s = scheme()
    a, b = machines(s)
    attacker_key = get_kem("ML-KEM-1024").generate()[1]
    hello = dataclasses.replace(
        Hello.from_bytes(a.start()), kem_id=0x0202, key_share=attacker_key
    ).to_bytes()
    reply = b.receive(hello, 0)
    assert reply is not None
    with pytest.raises((AuthenticationError, DecodeError)):
        a.receive(reply)
    assert_no_keys(a, b)


@pytest.mark.parametrize("field", ["nonce_b", "kem_ciphertext", "confirm", "signature"])
def test_splice_one_field_of_reply_from_another_session(field: str) -> None:
    s = scheme("mldsa")
    a1, b1 = machines(s)
    a2, b2 = machines(s)
    r1 = Reply.from_bytes(b1.receive(a1.start(), 0))  # type: ignore[arg-type]
    r2 = Reply.from_bytes(b2.receive(a2.start(), 0))  # type: ignore[arg-type]
    spliced = dataclasses.replace(r1, **{field: getattr(r2, field)}).to_bytes()
    with pytest.raises(AuthenticationError):
        a1.receive(spliced)
    assert_no_keys(a1, b1)


@pytest.mark.parametrize("field", ["nonce_a", "key_share"])
def test_splice_one_field_of_hello_from_another_session(field: str) -> None:
    s = scheme()
    a1, b1 = machines(s)
    a2, _ = machines(s)
    h1, h2 = Hello.from_bytes(a1.start()), Hello.from_bytes(a2.start())
    reply = b1.receive(dataclasses.replace(h1, **{field: getattr(h2, field)}).to_bytes(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError):
        a1.receive(reply)  # A's transcript has its own field
    assert_no_keys(a1, b1)


@pytest.mark.parametrize("auth", ["psk", "mldsa"])
def test_device_x_claiming_id_y_with_its_own_credentials(auth: str) -> None:
    """X and Y are both registered; X sends HELLO as Y but holds only X's PSK / key."""
    x, y = scheme(auth), DTHQScheme(auth=auth)
    service = y.responder_config  # B knows Y (and, below, X too)
    devices = {
        b"device-Y": service.devices[b"device-A"],
        b"device-X": x.responder_config.devices[b"device-A"],
    }
    signing = dict(service.signing_keys)
    b = Responder(dataclasses.replace(service, devices=devices, signing_keys=signing))
    # X's own credentials (its PSK, or its signing key with B's real public key), Y's id.
    trusted = x.initiator_config.peer if auth == "psk" else y.initiator_config.peer
    x_as_y = dataclasses.replace(x.initiator_config, id_a=b"device-Y", peer=trusted)
    a = Initiator(x_as_y)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError):
        b.receive(a.receive(reply), 0)
    assert_no_keys(b)


def test_device_stays_closed_after_a_failure_and_refuses_the_genuine_flight() -> None:
    s = scheme()
    a, b = machines(s)
    reply = b.receive(a.start(), 0)
    assert reply is not None
    with pytest.raises(AuthenticationError):
        a.receive(flip(reply, len(reply) - 1))
    with pytest.raises(StateError, match="closed"):
        a.receive(reply)  # the genuine REPLY, too late
    assert_no_keys(a, b)


@pytest.mark.parametrize("backend", ["cryptography", "pycryptodome"])
@pytest.mark.parametrize("key_length", [128, 256, 512])
def test_nonces_are_unique_across_rekeys_and_directions(backend: str, key_length: int) -> None:
    a, b, _ = run(scheme("psk", key_length))
    policy = RekeyPolicy(max_records=5)
    sa = channel(a, aead_backend=backend, rekey=policy)
    sb = channel(b, aead_backend=backend, rekey=policy)
    seen: set[tuple[bytes, bytes]] = set()  # (key, nonce)
    for i in range(23):
        for sender, receiver in ((sa, sb), (sb, sa)):
            record = sender.seal(b"r%d" % i, i)
            epoch, seq = int.from_bytes(record[2:4], "big"), int.from_bytes(record[4:8], "big")
            send = sender._send
            assert send.epoch == epoch
            nonce = (send.iv ^ seq).to_bytes(12, "big")
            assert (send.keys.key, nonce) not in seen
            seen.add((send.keys.key, nonce))
            assert receiver.open(record, i) == b"r%d" % i
    assert sa.send_epoch == sb.send_epoch == 4
    assert len({key for key, _ in seen}) == 10  # 5 epochs x 2 directions, all distinct


def test_loss_and_reordering_across_a_rekey() -> None:
    a, b, _ = run(scheme())
    policy = RekeyPolicy(max_records=3)
    sa, sb = channel(a, rekey=policy), channel(b, rekey=policy)
    records = [sa.seal(b"m%d" % i, i) for i in range(9)]  # epochs 0,0,0,1,1,1,2,2,2
    arrival = [0, 4, 2, 3, 7, 5, 8]  # 1 and 6 lost; 2 after 4, 3 after 4, 5 after 7
    got = [sb.open_record(records[i], 100) for i in arrival]
    assert [r.payload for r in got] == [b"m%d" % i for i in arrival]
    for i in arrival:  # and every one of them only once
        with pytest.raises(ReplayError):
            sb.open(records[i], 100)


def test_decompression_bomb_peak_memory_is_bounded() -> None:
    import tracemalloc

    a, b, _ = run(scheme())
    sender = channel(a, codec=make_codec("brotli"), max_payload=1 << 26)
    receiver = channel(b, max_payload=4096)
    bomb = sender.seal(b"\x00" * (64 << 20), 1)  # 64 MiB of zeros, a few hundred bytes sealed
    assert len(bomb) < 4096
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="limit"):
            receiver.open(bomb, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # refused within a MiB, never expanded
