"""Record layer: tampering, replay, reordering, epochs, truncation, rekeying.

Every rejected record must leave the receiving session unchanged: the next
legitimate record still opens.
"""

from __future__ import annotations

import pytest
from helpers import channel, run, scheme

from dthq.errors import (
    AuthenticationError,
    DecodeError,
    FreshnessError,
    ReplayError,
    StateError,
)
from dthq.harness.telemetry import TelemetryGenerator
from dthq.protocol.compression import BROTLI_ID, LZ4_ID, NONE_ID, make_codec
from dthq.protocol.record import (
    HEADER_SIZE,
    REPLAY_WINDOW,
    EpochPolicy,
    Freshness,
    RecordLayer,
    RekeyPolicy,
)

NOW = 1_000  # the receiver's clock: records here are sealed at 0..1234 ms


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
        assert sb.open(sa.seal(b"x", i), i) == b"x"
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
            sb.open(tampered, NOW)
    assert sb.open_record(record, NOW).sequence == 0  # nothing moved


def test_duplicate_is_rejected() -> None:
    sa, sb = pair()
    record = sa.seal(b"one", 1)
    sb.open(record, NOW)
    with pytest.raises(ReplayError, match="already"):
        sb.open(record, NOW)


def test_reorder_inside_window_is_accepted() -> None:
    sa, sb = pair()
    records = [sa.seal(f"r{i}".encode(), i) for i in range(REPLAY_WINDOW)]
    order = list(range(REPLAY_WINDOW))[::-1]  # newest first, oldest last: all inside
    for i in order:
        assert sb.open_record(records[i], NOW).sequence == i
    for record in records:
        with pytest.raises(ReplayError):
            sb.open(record, NOW)


def test_reorder_beyond_window_is_rejected() -> None:
    sa, sb = pair()
    records = [sa.seal(b"x", i) for i in range(REPLAY_WINDOW + 1)]
    sb.open(records[-1], NOW)
    with pytest.raises(ReplayError, match="older"):
        sb.open(records[0], NOW)  # 64 behind the newest
    assert sb.open(records[1], NOW) == b"x"  # 63 behind: still inside


def test_wrong_epoch_is_rejected_and_session_unchanged() -> None:
    sa, sb = pair()
    record = sa.seal(b"reading", 5)
    for epoch in (1, 2, 0xFFFF):
        forged = record[:2] + epoch.to_bytes(2, "big") + record[4:]
        with pytest.raises(AuthenticationError):
            sb.open(forged, NOW)
    assert sb.receive_epoch == 0
    assert sb.open(record, NOW) == b"reading"


@pytest.mark.parametrize("key_length", [128, 512])
def test_truncated_records(key_length: int) -> None:
    sa, sb = pair(key_length)
    record = sa.seal(b"telemetry payload", 9)
    minimum = HEADER_SIZE + 16
    for length in range(len(record)):
        expected = DecodeError if length < minimum else AuthenticationError
        with pytest.raises(expected):
            sb.open(record[:length], NOW)
    assert sb.open(record, NOW) == b"telemetry payload"


def test_oversized_record_is_a_decode_error() -> None:
    sa, sb = pair(max_payload=1024)
    with pytest.raises(DecodeError):
        sa.seal(b"x" * 1025, 1)
    with pytest.raises(DecodeError, match="size limit"):
        sb.open(b"\x01" * (1024 + 30 + 65), NOW)


def test_rekey_by_record_count_is_followed_by_the_receiver() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=3))
    for i in range(10):
        record = sb.open_record(sa.seal(f"m{i}".encode(), i), i)
        assert (record.epoch, record.sequence) == divmod(i, 3)
    assert sa.send_epoch == sb.receive_epoch == 3


def test_rekey_by_age() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_age_ms=1000))
    assert sb.open_record(sa.seal(b"a", 10), 10).epoch == 0
    assert sb.open_record(sa.seal(b"b", 999), 999).epoch == 0
    assert sb.open_record(sa.seal(b"c", 1000), 1000).epoch == 1


def test_late_record_of_the_previous_epoch_opens_during_the_grace_period() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=2))
    old = [sa.seal(b"e0", i) for i in range(2)]
    sb.open(old[0], NOW)
    assert sb.open_record(sa.seal(b"e1", 3), 3).epoch == 1  # the switch
    late = sb.open_record(old[1], NOW)  # delayed past the switch: still opens
    assert (late.epoch, late.sequence, late.payload) == (0, 1, b"e0")
    with pytest.raises(ReplayError, match="already"):
        sb.open(old[1], NOW)  # the previous epoch keeps its own replay window
    assert sb.receive_epoch == 1


def test_previous_epoch_closes_after_its_grace_period() -> None:
    # By count: once the new epoch has accepted grace_records records.
    sa, sb = pair(rekey=RekeyPolicy(max_records=4), epochs=EpochPolicy(grace_records=2))
    old = [sa.seal(b"e0", i) for i in range(4)]
    new = [sa.seal(b"e1", 10 + i) for i in range(2)]
    sb.open(old[0], NOW)
    for record in new:
        sb.open(record, NOW)
    with pytest.raises(ReplayError, match="epoch 0"):
        sb.open(old[1], NOW)
    # By time: grace_ms after the switch.
    sa, sb = pair(rekey=RekeyPolicy(max_records=2), epochs=EpochPolicy(grace_ms=500))
    old = [sa.seal(b"e0", i) for i in range(2)]
    sb.open(old[0], 100)
    sb.open(sa.seal(b"e1", 200), 200)
    with pytest.raises(ReplayError, match="epoch 0"):
        sb.open(old[1], 700)


def test_a_lost_epoch_does_not_kill_the_session() -> None:
    # Every record of epochs 1 and 2 is lost (QoS 0 over radio): epoch 3 still opens.
    sa, sb = pair(rekey=RekeyPolicy(max_records=2))
    records = [sa.seal(f"m{i}".encode(), i) for i in range(8)]  # epochs 0,0,1,1,2,2,3,3
    assert sb.open_record(records[0], NOW).epoch == 0
    assert sb.open_record(records[6], NOW).epoch == 3
    assert sb.receive_epoch == 3
    assert sb.open(records[7], NOW) == b"m7"


def test_after_a_jump_every_epoch_passed_over_stays_open() -> None:
    """Records of epochs 0..2 overtaken by one of epoch 3: each late one still opens.
    (formal/epochs.pml found these cases: keeping only the epoch we jumped from, or only
    the one just before the new one, loses them.)"""
    sa, sb = pair(rekey=RekeyPolicy(max_records=2))
    records = [sa.seal(b"m%d" % i, i) for i in range(8)]  # epochs 0,0,1,1,2,2,3,3
    sb.open(records[0], NOW)
    assert sb.open_record(records[6], NOW).epoch == 3  # jumped 0 -> 3
    for late in (5, 2, 1):  # epochs 2, 1, 0, late
        assert sb.open_record(records[late], NOW).payload == b"m%d" % late
    with pytest.raises(ReplayError, match="already"):
        sb.open(records[5], NOW)  # each passed-over epoch has its own replay window
    assert sb.receive_epoch == 3 and set(sb._old) == {0, 1, 2}


def test_a_late_record_overtaken_across_two_switches_still_opens() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=2))
    records = [sa.seal(b"m%d" % i, i) for i in range(8)]  # epochs 0,0,1,1,2,2,3,3
    sb.open(records[0], NOW)
    sb.open(records[4], NOW)  # 0 -> 2: epoch 1 passed over
    sb.open(records[6], NOW)  # 2 -> 3
    assert sb.open_record(records[3], NOW).epoch == 1  # still within epoch 1's grace


def test_look_ahead_is_bounded_and_adopts_only_verified_epochs() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_records=1), epochs=EpochPolicy(lookahead=2))
    records = [sa.seal(b"x", i) for i in range(4)]  # epochs 0..3
    with pytest.raises(AuthenticationError, match="at most 2 ahead"):
        sb.open(records[3], NOW)
    forged = bytearray(records[2])
    forged[-1] ^= 1
    with pytest.raises(AuthenticationError):
        sb.open(bytes(forged), NOW)
    assert sb.receive_epoch == 0  # a forged record from ahead changes nothing
    assert sb.open_record(records[2], NOW).epoch == 2


def test_freshness_rejects_old_and_future_records_and_changes_nothing() -> None:
    sa, sb = pair(freshness=Freshness(max_age_ms=30_000, max_skew_ms=2_000))
    old, now, ahead = sa.seal(b"old", 10_000), sa.seal(b"now", 50_000), None
    with pytest.raises(FreshnessError, match="40000 ms old"):
        sb.open(old, 50_000)
    assert sb.open(now, 50_000) == b"now"
    ahead = sa.seal(b"ahead", 60_000)
    with pytest.raises(FreshnessError, match="in the future"):
        sb.open(ahead, 50_000)
    assert sb.open(ahead, 58_500) == b"ahead"  # within the skew, once the clock moves on
    # Off only when asked for: a held-back record then opens.
    sa, sb = pair(freshness=Freshness.OFF)
    assert sb.open(sa.seal(b"held back", 0), 10**9) == b"held back"


def test_default_freshness_is_thirty_seconds() -> None:
    sa, sb = pair()
    record = sa.seal(b"x", 0)
    with pytest.raises(FreshnessError):
        sb.open(record, 30_001)


def test_a_clock_stepping_back_neither_reverses_timestamps_nor_stalls_rekeying() -> None:
    sa, sb = pair(rekey=RekeyPolicy(max_age_ms=1000))  # the session starts at 0 ms
    assert sb.open_record(sa.seal(b"a", 500), 500).timestamp_ms == 500
    stepped = sb.open_record(sa.seal(b"b", 100), 500)  # NTP stepped the clock back 400 ms
    assert stepped.timestamp_ms == 500  # timestamps never go backwards
    assert sb.open_record(sa.seal(b"c", 599), 599).epoch == 0  # 500 + 499 ms have passed
    assert sb.open_record(sa.seal(b"d", 600), 600).epoch == 1  # 1000 ms: rekeyed on time


def test_rekey_happens_before_the_aead_usage_limit() -> None:
    # RFC 8446 §5.5: 2^24.5 records of 16 KiB for AES-GCM; larger records, fewer of them.
    sa, _ = pair(128, rekey=RekeyPolicy(max_records=10**12), max_payload=1 << 14)
    assert sa.records_per_epoch == pytest.approx(2**24.5, rel=1e-3)
    sa, _ = pair(128, rekey=RekeyPolicy(max_records=10**12), max_payload=1 << 24)
    assert sa.records_per_epoch == pytest.approx(2**14.5, rel=1e-3)  # 16 MiB records
    sa, _ = pair(512, rekey=RekeyPolicy(max_records=10**12))
    assert sa.records_per_epoch == 2**32 - 1  # AES-SIV: bounded by the 32-bit sequence


def test_integrity_limit_closes_the_session() -> None:
    a, b, _ = run(scheme())
    sa = channel(a)
    keys = b.session_keys()
    sb = RecordLayer(
        keys.suite, keys.send_secret, keys.receive_secret, keys.ids, 0, integrity_limit=3
    )
    record = sa.seal(b"x", 1)
    forged = record[:-1] + bytes([record[-1] ^ 1])
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            sb.open(forged, NOW)
    assert sb.failed_decryptions == 2 and not sb.closed
    with pytest.raises(StateError, match="integrity limit"):
        sb.open(forged, NOW)
    assert sb.closed
    with pytest.raises(StateError):
        sb.open(record, NOW)


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
        sa.open(b"x" * 40, NOW)


def test_timestamp_and_codec_travel_in_the_header() -> None:
    gen = TelemetryGenerator(3)
    sa, sb = pair(codec=make_codec("brotli"))
    medium = gen.payload("medium")
    record = sb.open_record(sa.seal(medium, 1_767_225_600_123), 1_767_225_600_123)
    assert record.timestamp_ms == 1_767_225_600_123
    assert record.codec_id == BROTLI_ID and record.payload == medium
    sa, sb = pair(codec=make_codec("lz4"))
    small = gen.payload("small")
    # A ~100-byte reading does not shrink under LZ4: it goes raw.
    assert sb.open_record(sa.seal(small, 1), 1).codec_id == NONE_ID
    assert sb.open_record(sa.seal(medium, 2), 2).codec_id == LZ4_ID


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
        receiver.open(bomb, NOW)
    assert receiver.open(sender.seal(b"fine", 2), 2) == b"fine"  # still usable


def test_a_saved_session_resumes_where_it_stopped() -> None:
    """save/resume (the cloud consumer's exactly-once across a crash): the replay window,
    the epochs and the sequence numbers carry over; nothing already seen opens twice."""
    a, b = pair(rekey=RekeyPolicy(max_records=4))
    sent = [a.seal(b"reading %d" % i, 10 + i) for i in range(10)]  # crosses two epochs
    for record in sent[:7]:
        b.open(record, 100)
    reply = b.seal(b"watch", 100)
    b2 = RecordLayer.resume(b.save(), 200)
    assert b2.receive_epoch == b.receive_epoch and b2.send_epoch == b.send_epoch
    with pytest.raises(ReplayError):
        b2.open(sent[6], 200)  # delivered again after the restart: refused
    assert [b2.open(r, 200) for r in sent[7:]] == [b"reading %d" % i for i in range(7, 10)]
    assert a.open(reply, 200) == b"watch"
    assert a.open(b2.seal(b"after", 200), 200) == b"after"  # no nonce reused: sequence went on


@pytest.mark.parametrize("cut", [0, 3, 20, -1])
def test_a_damaged_saved_session_is_refused(cut: int) -> None:
    _, b = pair()
    state = b.save()
    with pytest.raises(DecodeError):
        RecordLayer.resume(state[:cut] if cut >= 0 else state + b"\0", 0)
