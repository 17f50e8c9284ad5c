"""Configuration-time checks: ids, the PSK policy, and wiping of key-schedule secrets."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from helpers import assert_no_keys, machines, scheme

from dthq.errors import UnsupportedError
from dthq.protocol.config import Auth, PeerRecord, ResponderConfig
from dthq.protocol.handshake import Initiator, Responder
from dthq.protocol.keyschedule import KeySchedule
from dthq.protocol.suites import suite_for
from dthq.protocol.wire import MAX_ID_SIZE


@pytest.mark.parametrize("bad", [b"", b"x" * (MAX_ID_SIZE + 1), b"x" * 256])
def test_ids_are_checked_when_configured(bad: bytes) -> None:
    s = scheme()
    with pytest.raises(UnsupportedError, match=f"1..{MAX_ID_SIZE} bytes"):
        replace(s.initiator_config, id_a=bad)
    with pytest.raises(UnsupportedError, match=f"1..{MAX_ID_SIZE} bytes"):
        replace(s.initiator_config, id_b=bad)
    with pytest.raises(UnsupportedError, match=f"1..{MAX_ID_SIZE} bytes"):
        ResponderConfig(bad, {})
    peer = s.responder_config.devices[b"device-A"]
    with pytest.raises(UnsupportedError, match="registered device id"):
        ResponderConfig(b"service-B", {bad: peer})


def test_longest_id_works() -> None:
    s = scheme()
    long_id = b"d" * MAX_ID_SIZE
    peer = s.responder_config.devices[b"device-A"]
    a = Initiator(replace(s.initiator_config, id_a=long_id))
    b = Responder(replace(s.responder_config, devices={long_id: peer}))
    reply = b.receive(a.start(), 0)
    assert reply is not None
    b.receive(a.receive(reply), 0)
    assert a.established and b.established


def test_a_psk_shorter_than_the_suite_hash_is_refused_by_default() -> None:
    s = scheme(key_length=512)  # SHA-512: 64-byte PSK
    short = PeerRecord(Auth.PSK, psk=os.urandom(32))
    with pytest.raises(UnsupportedError, match="never a password"):
        replace(s.initiator_config, peer=short)
    # B refuses it too when the device asks for a suite the registered PSK is too short for.
    allowed = replace(short, allow_short_psk=True)
    a = Initiator(replace(s.initiator_config, peer=allowed))
    b = Responder(replace(s.responder_config, devices={b"device-A": short}))
    with pytest.raises(UnsupportedError, match="at least 64"):
        b.receive(a.start(), 0)
    assert_no_keys(b)
    # Explicitly allowed on both sides, it works.
    a = Initiator(replace(s.initiator_config, peer=allowed))
    b = Responder(replace(s.responder_config, devices={b"device-A": allowed}))
    reply = b.receive(a.start(), 0)
    assert reply is not None
    b.receive(a.receive(reply), 0)
    assert b.established


def test_psk_stays_out_of_repr() -> None:
    psk = os.urandom(32)
    assert psk.hex() not in repr(PeerRecord(Auth.PSK, psk=psk))


def test_wipe_overwrites_the_schedule_secrets() -> None:
    schedule = KeySchedule(suite_for(256), os.urandom(32))
    schedule.mix_shared_secret(os.urandom(32))
    early, handshake = schedule._early, schedule._handshake
    assert any(early) and handshake is not None and any(handshake)
    schedule.wipe()
    assert not any(early) and not any(handshake)  # the buffers themselves are zero


def test_a_completed_handshake_keeps_no_secrets_after_release() -> None:
    a, b = machines(scheme())
    reply = b.receive(a.start(), 0)
    assert reply is not None
    b.receive(a.receive(reply), 0)
    for party in (a, b):
        assert party._schedule is None or not any(party._schedule._early)
        party.session_keys()
        assert party._keys is None
