"""Record layer: tampering, replay, reordering, epochs, truncation, rekeying.

Every rejected record must leave the receiving session unchanged: the next
legitimate record still opens.
"""

from __future__ import annotations

import pytest
from conftest import channel, run, scheme

from dthq.errors import AuthenticationError, DecodeError, ReplayError, StateError
from dthq.harness.telemetry import TelemetryGenerator
from dthq.protocol.compression import BROTLI_ID, LZ4_ID, NONE_ID, make_codec
from dthq.protocol.record import HEADER_SIZE, REPLAY_WINDOW, RecordLayer, RekeyPolicy


def pair(key_length: int = 256, **options) -> tuple[RecordLayer, RecordLayer]:
    a, b, _ = run(scheme("psk", key_length))
    return channel(a, 0, **options), channel(b, 0, **options)


class _Spy:
    """Records the nonces a cipher is asked to use."""

    def __init__(self, cipher) -> None:  # type: ignore[no-untyped-def]
        self.cipher, self.nonces = cipher, []

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        self.nonces.append(nonce)
        return self.cipher.encrypt(nonce, data, aad)


def test_nonce_is_iv_xor_sequence_and_never_repeats() -> None:
    sa, sb = pair()
    spy = sa._send.cipher = _Spy(sa._send.cipher)
    for i in range(1000):
        assert sb.open(sa.seal(b"x", i)) == b"x"
    iv = sa._send.keys.iv
    assert len(set(spy.nonces)) == 1000 and spy.nonces[0] == iv
    assert spy.nonces[5] == (int.from_bytes(iv, "big") ^ 5).to_bytes(12, "big")


@pytest.mark.parametrize("key_length", [128, 256, 512])
def test_flip_each_byte_of_a_record(key_length: int) -> None:
    sa, sb = pair(key_length)
    record = sa.seal(b'{"hr":72,"spo2":98.1}', 1234)
    for i in range(len(record)):
        tampered = record[:i] + bytes([record[i] ^ 0xFF]) + record[i + 1 :]
        expected = DecodeError if i < 2 else AuthenticationError  # version/flags, else the tag
        with pytest.raises(expected):
            sb.open(tampered)
    assert sb.open_record(record).sequence == 0  # nothing moved


def test_duplicate_is_rejected() -> None:
    sa, sb = pair()
    record = sa.seal(b"one", 1)
    sb.open(record)
    with pytest.raises(ReplayError, match="already"):
        sb.open(record)


def test_reorder_inside_window_is_accepted() -> None:
    sa, sb = pair()
    records = [sa.seal(f"r{i}".encode(), i) for i in range(REPLAY_WINDOW)]
    order = list(range(REPLAY_WINDOW))[::-1]  # newest first, oldest last: all inside
    for i in order:
        assert sb.open_record(records[i]).sequence == i
    for record in records:
        with pytest.raises(ReplayError):
            sb.open(record)


def test_reorder_beyond_window_is_rejected() -> None:
    sa, sb = pair()
    records = [sa.seal(b"x", i) for i in range(REPLAY_WINDOW + 1)]
    sb.open(records[-1])
    with pytest.raises(ReplayError, match="older"):
        sb.open(records[0])  # 64 behind the newest
    assert sb.open(records[1]) == b"x"  # 63 behind: still inside


def test_wrong_epoch_is_rejected_and_session_unchanged() -> None:
    sa, sb = pair()
    record = sa.seal(b"reading", 5)
    for epoch in (1, 2, 0xFFFF):
        forged = record[:2] + epoch.to_bytes(2, "big") + record[4:]
        with pytest.raises(AuthenticationError):
            sb.open(forged)
    assert sb.receive_epoch == 0
    assert sb.open(record) == b"reading"


@pytest.mark.parametrize("key_length", [128, 512])
def test_truncated_records(key_length: int) -> None:
    sa, sb = pair(key_length)
    record = sa.seal(b"telemetry payload", 9)
    minimum = HEADER_SIZE + 16
    for length in range(len(record)):
        expected = DecodeError if length < minimum else AuthenticationError
        with pytest.raises(expected):
            sb.open(record[:length])
    assert sb.open(record) == b"telemetry payload"


def test_oversized_record_is_a_decode_error() -> None:
    sa, sb = pair(max_payload=1024)
    with pytest.raises(DecodeError):
        sa.seal(b"x" * 1025, 1)
    with pytest.raises(DecodeError, match="size limit"):
        sb.open(b"\x01" * (1024 + 30 + 65))


def test_rekey_by_record_count_is_followed_by_the_receiver() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=3))
    for i in range(10):
        record = sb.open_record(sa.seal(f"m{i}".encode(), i))
        assert (record.epoch, record.sequence) == divmod(i, 3)
    assert sa.send_epoch == sb.receive_epoch == 3


def test_rekey_by_age() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_age_ms=1000))
    assert sb.open_record(sa.seal(b"a", 10)).epoch == 0
    assert sb.open_record(sa.seal(b"b", 999)).epoch == 0
    assert sb.open_record(sa.seal(b"c", 1000)).epoch == 1


def test_record_from_previous_epoch_is_stale() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=2))
    old = [sa.seal(b"e0", i) for i in range(2)]
    sb.open(old[0])
    sb.open(sa.seal(b"e1", 3))  # epoch 1
    with pytest.raises(ReplayError, match="epoch"):
        sb.open(old[1])


def test_rekey_happens_before_the_aead_usage_limit() -> None:
    sa, _ = pair(128, rekey=RekeyPolicy(max_records=10**12))
    assert sa.records_per_epoch == int(2**24.5)  # RFC 8446 §5.5 limit for AES-GCM


def test_new_epoch_keys_differ() -> None:
    sa, _ = pair(rekey=RekeyPolicy(max_records=1))
    sa.seal(b"a", 0)
    key0 = sa._send.keys.key
    sa.seal(b"b", 0)
    assert sa._send.keys.key != key0 and sa.send_epoch == 1


def test_closed_session_refuses() -> None:
    sa, _ = pair()
    sa.close()
    with pytest.raises(StateError):
        sa.seal(b"x", 0)
    with pytest.raises(StateError):
        sa.open(b"x" * 40)


def test_timestamp_and_codec_travel_in_the_header() -> None:
    gen = TelemetryGenerator(3)
    sa, sb = pair(codec=make_codec("brotli"))
    medium = gen.payload("medium")
    record = sb.open_record(sa.seal(medium, 1_767_225_600_123))
    assert record.timestamp_ms == 1_767_225_600_123
    assert record.codec_id == BROTLI_ID and record.payload == medium
    sa, sb = pair(codec=make_codec("lz4"))
    small = gen.payload("small")
    # A ~100-byte reading does not shrink under LZ4: it goes raw.
    assert sb.open_record(sa.seal(small, 1)).codec_id == NONE_ID
    assert sb.open_record(sa.seal(medium, 2)).codec_id == LZ4_ID


def test_timestamp_out_of_range() -> None:
    sa, _ = pair()
    with pytest.raises(DecodeError):
        sa.seal(b"x", 2**48)
    with pytest.raises(DecodeError):
        sa.seal(b"x", -1)


def test_decompression_bomb_is_refused_before_expanding() -> None:
    a, b, _ = run(scheme())
    sender = channel(a, 0, codec=make_codec("brotli"), max_payload=1 << 24)
    receiver = channel(b, 0, max_payload=4096)
    bomb = sender.seal(b"\x00" * (1 << 20), 1)
    assert len(bomb) < 200
    with pytest.raises(DecodeError, match="limit"):
        receiver.open(bomb)
    assert receiver.open(sender.seal(b"fine", 2)) == b"fine"  # still usable
