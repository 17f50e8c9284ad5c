"""Property tests: parse(serialize(x)) == x for every wire message, and arbitrary
bytes never raise anything but our DecodeError (records: our error hierarchy)."""

from __future__ import annotations

import contextlib

import pytest
from helpers import channel, run, scheme
from hypothesis import given
from hypothesis import strategies as st

from dthq.errors import DecodeError, DTHQError
from dthq.protocol.record import HEADER_SIZE, RecordLayer
from dthq.protocol.wire import (
    FINISH,
    HELLO,
    KEM_AUTHS,
    NONCE_SIZE,
    REPLY,
    Finish,
    Hello,
    Reply,
)

u8 = st.integers(0, 255)
ids = st.binary(min_size=1, max_size=64)
nonces = st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE)
confirms = st.binary(min_size=32, max_size=64)


@st.composite
def hellos(draw: st.DrawFn) -> Hello:
    # A's ciphertext to B's static key is on the wire under the KEM auth code points only.
    auth = draw(st.one_of(u8, st.sampled_from(sorted(KEM_AUTHS))))
    return Hello(
        draw(u8),
        draw(u8),
        auth,
        draw(st.integers(0, 0xFFFF)),
        draw(u8),
        draw(ids),
        draw(nonces),
        draw(st.binary(min_size=1, max_size=4096)),
        draw(st.binary(max_size=64)),
        draw(st.binary(min_size=1, max_size=2048)) if auth in KEM_AUTHS else b"",
    )


replies = st.builds(
    Reply, u8, ids, nonces, st.binary(max_size=4096), st.binary(max_size=8192), confirms
)
finishes = st.builds(Finish, u8, st.binary(max_size=8192), confirms)


@given(hellos())
def test_hello_round_trip(m: Hello) -> None:
    assert Hello.from_bytes(m.to_bytes()) == m


@given(replies)
def test_reply_round_trip(m: Reply) -> None:
    assert Reply.from_bytes(m.to_bytes()) == m


@given(finishes)
def test_finish_round_trip(m: Finish) -> None:
    assert Finish.from_bytes(m.to_bytes()) == m


def _only_decode_errors(data: bytes) -> None:
    for parser in (Hello.from_bytes, Reply.from_bytes, Finish.from_bytes):
        with contextlib.suppress(DecodeError):
            parser(data)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    _only_decode_errors(data)


@given(st.sampled_from([HELLO, REPLY, FINISH]), st.binary(max_size=2048))
def test_typed_arbitrary_bytes_raise_only_decode_error(kind: int, body: bytes) -> None:
    _only_decode_errors(bytes([kind, 1]) + body)


@given(st.one_of(hellos(), replies, finishes), st.data())
def test_mutated_messages_raise_only_decode_error(
    m: Hello | Reply | Finish, data: st.DataObject
) -> None:
    raw = bytearray(m.to_bytes())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(u8)
    cut = data.draw(st.integers(0, len(raw)))
    _only_decode_errors(bytes(raw[:cut]))


@pytest.fixture(scope="module")
def receiver() -> RecordLayer:
    _, b, _ = run(scheme())
    return channel(b)


@given(data=st.binary(max_size=HEADER_SIZE + 64))
def test_arbitrary_records_raise_only_our_errors(receiver: RecordLayer, data: bytes) -> None:
    with contextlib.suppress(DTHQError):
        receiver.open(data, 0)
