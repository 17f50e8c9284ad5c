"""Q, the ETSI GS QKD 014-shaped key manager (fed by the SIMULATED link), and the qkd and
qkd+mlkem handshake modes that use it. The attack sets run in these modes too
(tests/conftest.py ATTACKED)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from click.testing import CliRunner
from helpers import assert_no_keys, channel, machines, run

from dthq.cli.main import main
from dthq.errors import AuthenticationError, FreshnessError, UnsupportedError
from dthq.qkd.kme import KeyManager, KeyManagerError, SAEKeys
from dthq.qkd.scheme import QKDScheme
from dthq.schemes.dthq import DTHQScheme

STATUS_FIELDS = {
    "source_KME_ID",
    "target_KME_ID",
    "master_SAE_ID",
    "slave_SAE_ID",
    "key_size",
    "stored_key_count",
    "max_key_count",
    "max_key_per_request",
    "max_key_size",
    "min_key_size",
    "max_SAE_ID_count",
}


@pytest.fixture(scope="module")
def kme() -> KeyManager:
    return KeyManager("A", "B", seed=5)


def test_status_has_the_standard_fields(kme: KeyManager) -> None:
    status = kme.status("A")
    assert set(status) == STATUS_FIELDS
    assert (status["master_SAE_ID"], status["slave_SAE_ID"]) == ("A", "B")
    with pytest.raises(KeyManagerError, match="unknown SAE"):
        kme.status("Z")


def test_keys_reach_the_peer_once(kme: KeyManager) -> None:
    given = kme.enc_keys("B", number=3, size=256)["keys"]
    assert len(given) == 3 and all(len(base64.b64decode(k["key"])) == 32 for k in given)
    assert all(uuid.UUID(k["key_ID"]) for k in given)
    ids = [k["key_ID"] for k in given]
    assert kme.dec_keys("A", ids)["keys"] == given  # the same keys, by id
    with pytest.raises(KeyManagerError, match="unknown or already delivered"):
        kme.dec_keys("A", ids[:1])  # reused
    with pytest.raises(KeyManagerError, match="unknown or already delivered"):
        kme.dec_keys("A", [str(uuid.uuid4())])  # unknown


def test_wrong_peers_and_sizes_are_refused(kme: KeyManager) -> None:
    key_id = kme.enc_keys("B")["keys"][0]["key_ID"]
    with pytest.raises(KeyManagerError, match="another pair"):
        kme.dec_keys("B", [key_id])  # not the master that asked
    with pytest.raises(KeyManagerError, match="another pair"):
        kme.dec_keys("A", [key_id], caller="C")
    with pytest.raises(KeyManagerError, match="no key stream"):
        kme.enc_keys("C")
    for size in (100, 64, 1024):
        with pytest.raises(KeyManagerError, match="key size"):
            kme.enc_keys("B", size=size)
    with pytest.raises(KeyManagerError, match="number"):
        kme.enc_keys("B", number=kme.max_key_per_request + 1)
    assert kme.dec_keys("A", [key_id])["keys"]  # the refusals consumed nothing


def test_an_empty_pool_that_cannot_refill_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    dry = KeyManager("A", "B", seed=1)
    monkeypatch.setattr(dry, "refill", lambda min_bytes: None)  # the link is down
    with pytest.raises(KeyManagerError, match="no key available") as err:
        dry.enc_keys("B")
    assert err.value.status == 503


def test_the_pool_refills_in_the_background() -> None:
    kme = KeyManager("A", "B", seed=2)
    assert kme.stored_key_count == 0
    kme.start(interval_s=0.01, low_water_bytes=32 * 10)
    try:
        for _ in range(500):
            if kme.stored_key_count >= 10:
                break
            time.sleep(0.01)
    finally:
        kme.stop()
    assert kme.stored_key_count >= 10


@pytest.mark.parametrize("mode", ["qkd", "qkd+mlkem"])
@pytest.mark.parametrize("auth", ["psk", "mldsa"])
def test_qkd_modes_round_trip(mode: str, auth: str) -> None:
    s = QKDScheme(mode=mode, auth=auth, key_manager=KeyManager("device-A", "service-B", seed=3))
    session = s.establish(0)
    assert session.responder.open(session.initiator.seal(b"spo2=97", 1), 1) == b"spo2=97"
    assert session.params["qkd"] == "simulated" and session.params["mode"] == mode
    hello = session.flights[0].size
    assert hello == (67 if mode == "qkd" else 67 + 1184)  # key id (16 B) [+ ML-KEM key]


def test_a_replayed_qkd_hello_finds_its_key_consumed() -> None:
    s = QKDScheme(key_manager=KeyManager("device-A", "service-B", seed=4))
    a, b = machines(s)
    hello = a.start()
    assert b.receive(hello, 0) is not None
    _, b2 = machines(s)
    with pytest.raises(AuthenticationError, match="Q refused"):
        b2.receive(hello, 0)  # Q delivers a key to B once
    assert_no_keys(b2)


def test_hybrid_secret_is_kq_then_the_mlkem_secret() -> None:
    """qkd+mlkem feeds Kq || ss into HKDF-Extract, so either alone keeps the key secret."""
    from dthq.protocol.config import Mode
    from dthq.protocol.keyexchange import MODES, HybridInitiator, HybridResponder

    kme = KeyManager("device-A", "service-B", seed=6)
    s = QKDScheme(mode="qkd+mlkem", key_manager=kme)
    a = MODES[Mode.QKD_MLKEM].initiator(s.initiator_config)
    b = MODES[Mode.QKD_MLKEM].responder(s.responder_config, 0x0201)
    assert isinstance(a, HybridInitiator) and isinstance(b, HybridResponder)
    share = a.share()
    ciphertext, secret_b = b.respond(share)
    secret_a = a.finish(ciphertext)
    assert secret_a == secret_b and len(secret_a) == 32 + 32
    a2, b2, _ = run(s)
    assert channel(b2).open(channel(a2).seal(b"x", 1), 1) == b"x"


def test_qkd_mode_needs_key_providers() -> None:
    with pytest.raises(UnsupportedError, match="dthq-qkd"):
        DTHQScheme(mode="qkd")
    with pytest.raises(UnsupportedError, match="unknown key establishment mode"):
        DTHQScheme(mode="carrier-pigeon")


def test_sae_keys_check_the_key_id_length(kme: KeyManager) -> None:
    with pytest.raises(KeyManagerError, match="16 bytes"):
        SAEKeys(kme, "B", "A").dec_keys(b"short", 32)


@pytest.mark.parametrize("mode", ["qkd", "qkd+mlkem"])
def test_cli_handshake_modes(mode: str) -> None:
    out = CliRunner().invoke(main, ["handshake", "--mode", mode, "--json", "--rounds", "3"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["mode"] == mode and data["qkd"] == "simulated" and data["established"]
    text = CliRunner().invoke(main, ["handshake", "--mode", mode])
    assert "SIMULATED QKD" in text.output


@pytest.mark.parametrize("mode", ["qkd", "qkd+mlkem"])
def test_records_of_a_qkd_session_are_fresh_or_refused(mode: str) -> None:
    a, b, _ = run(QKDScheme(mode=mode, key_manager=KeyManager("device-A", "service-B", seed=9)))
    sa, sb = channel(a, 0), channel(b, 0)
    old = sa.seal(b"hr=62", 1_000)
    with pytest.raises(FreshnessError, match="old"):
        sb.open(old, 40_000)  # default 30 s window
    assert sb.open(sa.seal(b"hr=63", 40_000), 40_000) == b"hr=63"
