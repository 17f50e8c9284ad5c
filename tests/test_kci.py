"""Key-compromise impersonation against the real machines, both directions.

An attacker who stole A's long-term keys plays B against a real Initiator; one who stole
B's plays A against a real Responder. He builds his side from what he stole, what is
public (the other side's public keys, ids) and keys of his own. Outcomes per mode are
the model's (formal/claims.json, pinned in test_formal_claims.py): in psk mode a stolen
PSK impersonates either side (a shared key); in kem-psk B's long-term keys include the
device's PSK, so holding them impersonates A to B.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from dthq.crypto import signatures
from dthq.crypto.kem import get_kem
from dthq.errors import DTHQError
from dthq.protocol.config import PeerRecord, ResponderConfig
from dthq.protocol.handshake import Initiator, Responder
from dthq.qkd.kme import KeyManager
from dthq.qkd.scheme import QKDScheme
from dthq.schemes.dthq import DTHQScheme
from tests.helpers import scheme

# Does the attacker get the victim to complete the handshake with him?
IMPERSONATES_B_TO_A = {
    "psk": True, "mldsa": False, "kem-psk": False, "kem": False, "qkd": False, "qkd+mlkem": False
}  # fmt: skip
IMPERSONATES_A_TO_B = {
    "psk": True, "mldsa": False, "kem-psk": True, "kem": False, "qkd": False, "qkd+mlkem": False
}  # fmt: skip
CLAIMS_JSON = Path(__file__).resolve().parent.parent / "formal" / "claims.json"


class HisOwnQ:
    """The attacker is no SAE of the victims' Q: any key he names is his own guess."""

    def enc_keys(self, size: int) -> tuple[bytes, bytes]:
        return os.urandom(16), os.urandom(size)

    def dec_keys(self, key_id: bytes, size: int) -> bytes:
        return os.urandom(size)


def provisioned(mode: str) -> DTHQScheme:
    if mode in ("qkd", "qkd+mlkem"):  # psk authentication, Kq from Q
        s = QKDScheme(mode=mode, key_manager=KeyManager("device-A", "service-B", seed=21))
        s.top_up(2)
        return s
    return scheme(mode)


def fake_service(s: DTHQScheme) -> Responder:
    """B as the thief of A's long-term keys can build it: A's record as B holds it (the
    PSK, if any, is A's; the rest is public), with his own signing, static KEM and Q."""
    real = s.responder_config
    auth = s.initiator_config.peer.auth
    own_signing = {auth: signatures.generate(auth.signature.name)} if auth.signature else {}
    own_static = {s.kem: get_kem(s.kem).generate()[0]} if auth.static_kem else {}
    config = ResponderConfig(
        real.id_b,
        {s.initiator_config.id_a: real.devices[s.initiator_config.id_a]},
        signing_keys=own_signing,
        static_kem_keys=own_static,
        key_provider=HisOwnQ() if real.key_provider is not None else None,
    )
    return Responder(config)


def fake_device(s: DTHQScheme) -> Initiator:
    """A as the thief of B's long-term keys can build it: B's record of the service (the
    PSK, if any, is B's too; B's keys are public), with his own signing, static KEM and Q."""
    c = s.initiator_config
    changes: dict[str, object] = {}
    if c.signing_key is not None:
        changes["signing_key"] = signatures.generate(c.signing_key.spec.name)
    if c.static_kem_key is not None:
        changes["static_kem_key"] = get_kem(c.kem).generate()[0]
    if c.key_provider is not None:
        changes["key_provider"] = HisOwnQ()
    return Initiator(dataclasses.replace(c, **changes))


def attempt(a: Initiator, b: Responder) -> tuple[bool, bool]:
    """Run the handshake until one side refuses: (A established, B established)."""
    try:
        reply = b.receive(a.start(), 0)
        assert reply is not None
        finish = a.receive(reply)
        b.receive(finish, 0)
    except DTHQError:
        pass
    return a.established, b.established


@pytest.mark.parametrize("mode", sorted(IMPERSONATES_B_TO_A))
def test_holding_a_s_key_impersonate_b_to_a(mode: str) -> None:
    s = provisioned(mode)
    a_accepts, _ = attempt(Initiator(s.initiator_config), fake_service(s))
    assert a_accepts is IMPERSONATES_B_TO_A[mode]


@pytest.mark.parametrize("mode", sorted(IMPERSONATES_A_TO_B))
def test_holding_b_s_key_impersonate_a_to_b(mode: str) -> None:
    s = provisioned(mode)
    _, b_accepts = attempt(fake_device(s), Responder(s.responder_config))
    assert b_accepts is IMPERSONATES_A_TO_B[mode]


def test_the_impostor_reads_what_a_sends_in_psk_mode() -> None:
    """The psk-mode KCI is not only a completed handshake: the keys are the thief's."""
    s = scheme("psk")
    a, thief = Initiator(s.initiator_config), fake_service(s)
    assert attempt(a, thief) == (True, True)
    assert a.session_keys().a2b == thief.session_keys().a2b


def test_the_thief_s_record_holds_only_what_he_stole() -> None:
    """fake_service takes A's PeerRecord as B holds it: in mldsa mode that is public."""
    record: PeerRecord = scheme("mldsa").responder_config.devices[b"device-A"]
    assert record.psk is None and record.verify_key


@pytest.mark.parametrize(
    ("role", "table"), [("A", IMPERSONATES_B_TO_A), ("B", IMPERSONATES_A_TO_B)]
)
def test_the_code_and_the_model_agree(role: str, table: dict[str, bool]) -> None:
    """What the real machines do is what spin found (formal/claims.json's kci entries)."""
    model = {
        c["mode"]: c["outcome"]
        for c in json.loads(CLAIMS_JSON.read_text())["claims"]
        if c["property"] == "kci" and c["role"] == role
    }
    assert model == {mode: "fails" if falls else "holds" for mode, falls in table.items()}
