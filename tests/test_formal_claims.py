"""formal/claims.json, read strictly: its shape, its coverage of the paper's 24 Scyther
claims per mode, and the KCI outcomes. No spin here: `nox -s formal` runs the models
and fails when the committed file differs from what they give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CLAIMS_JSON = Path(__file__).resolve().parent.parent / "formal" / "claims.json"
PROPERTIES = {
    "secrecy", "alive", "weakagree", "niagree", "nisynch", "kci",
    "mitm", "replay", "impersonation", "tampering", "eavesdropping",
}  # fmt: skip
ROLES = {"A", "B", "Q", None}
TERMS = {"session key", "nA", "nB", "Kq", None}
MODES = ("psk", "mldsa", "kem-psk", "kem", "qkd", "qkd+mlkem")
QKD_MODES = ("qkd", "qkd+mlkem")
KEYS = {"id", "property", "role", "term", "mode", "outcome", "bounds", "trace"}

# The paper's Figure 2, claim by claim: what stands for it here, or why nothing does.
# (property, role, term) or a reason; Kq only in the QKD modes.
SCYTHER = {
    "A2 Secret secKeyA": ("secrecy", "A", "session key"),
    "A3 Secret nB": ("secrecy", "A", "nB"),
    "A4 Secret nA": ("secrecy", "A", "nA"),
    "A5 Secret reqKey": "no such term: DTHQ has no request key",
    "A6 Secret Kq": ("secrecy", "A", "Kq"),
    "A7 Alive": ("alive", "A", None),
    "A8 Weakagree": ("weakagree", "A", None),
    "A9 Niagree": ("niagree", "A", None),
    "A10 Nisynch": ("nisynch", "A", None),
    "B2 Secret nB": ("secrecy", "B", "nB"),
    "B3 Secret Kq": ("secrecy", "B", "Kq"),
    "B4 Secret nA": ("secrecy", "B", "nA"),
    "B5 Alive": ("alive", "B", None),
    "B6 Weakagree": ("weakagree", "B", None),
    "B7 Niagree": ("niagree", "B", None),
    "B8 Nisynch": ("nisynch", "B", None),
    "Q2 Secret secKeyA": "Q is a trusted key manager, not a protocol role (formal/README.md)",
    "Q3 Secret Kq": "as Q2",
    "Q4 Secret nA": "as Q2",
    "Q5 Secret reqKey": "as A5 and Q2",
    "Q6 Alive": "as Q2",
    "Q7 Weakagree": "as Q2",
    "Q8 Niagree": "as Q2",
    "Q9 Nisynch": "as Q2",
}

# What the model finds, and what the README says of psk mode.
KCI = {
    ("A", "psk"): "fails", ("B", "psk"): "fails",
    ("A", "mldsa"): "holds", ("B", "mldsa"): "holds",
    ("A", "kem-psk"): "holds", ("B", "kem-psk"): "fails",
    ("A", "kem"): "holds", ("B", "kem"): "holds",
    ("A", "qkd"): "holds", ("B", "qkd"): "holds",
    ("A", "qkd+mlkem"): "holds", ("B", "qkd+mlkem"): "holds",
}  # fmt: skip


@pytest.fixture(scope="module")
def claims() -> list[dict]:
    data = json.loads(CLAIMS_JSON.read_text())
    assert set(data) == {"model", "claims"}
    assert isinstance(data["model"], str) and data["model"]
    assert isinstance(data["claims"], list) and data["claims"]
    return data["claims"]


def by_key(claims: list[dict]) -> dict[tuple, dict]:
    return {(c["property"], c["role"], c["term"], c["mode"]): c for c in claims}


def test_every_entry_has_the_shape(claims: list[dict]) -> None:
    for c in claims:
        assert set(c) == KEYS, c.get("id")
        assert isinstance(c["id"], str) and c["id"]
        assert c["property"] in PROPERTIES
        assert c["role"] in ROLES and c["term"] in TERMS
        assert c["mode"] in MODES
        assert c["outcome"] in ("holds", "fails")
        assert isinstance(c["bounds"], str) and "sessions of B" in c["bounds"]
        # a failure carries its counterexample; a claim that holds has none
        assert (c["trace"] is None) == (c["outcome"] == "holds"), c["id"]
        if c["trace"] is not None:
            assert isinstance(c["trace"], str) and "claims" in c["trace"]


def test_ids_and_claims_are_unique(claims: list[dict]) -> None:
    assert len({c["id"] for c in claims}) == len(claims)
    assert len(by_key(claims)) == len(claims)


@pytest.mark.parametrize("mode", MODES)
def test_the_scyther_claims_are_covered_per_mode(claims: list[dict], mode: str) -> None:
    assert len(SCYTHER) == 24
    found = by_key(claims)
    for claim, stands_for in SCYTHER.items():
        if isinstance(stands_for, str):
            continue
        if stands_for[2] == "Kq" and mode not in QKD_MODES:
            assert (*stands_for, mode) not in found, claim  # no Kq outside the QKD modes
            continue
        assert (*stands_for, mode) in found, (claim, mode)


@pytest.mark.parametrize("mode", MODES)
def test_the_resistance_claims_have_entries_per_mode(claims: list[dict], mode: str) -> None:
    found = by_key(claims)
    for prop in ("mitm", "replay", "impersonation", "tampering", "eavesdropping"):
        assert (prop, None, None, mode) in found


@pytest.mark.parametrize(("role", "mode"), sorted(KCI))
def test_kci_outcomes(claims: list[dict], role: str, mode: str) -> None:
    c = by_key(claims)[("kci", role, None, mode)]
    assert c["outcome"] == KCI[role, mode]
    if c["outcome"] == "fails":
        assert "forged" in c["trace"]  # the thief builds the flight the victim accepts
    assert "long-term keys" in c["bounds"]


def test_nonces_travel_in_clear(claims: list[dict]) -> None:
    """nA and nB are on the wire (HELLO, REPLY), so their secrecy fails in every mode;
    the session key's holds in every mode without a compromised key."""
    found = by_key(claims)
    for mode in MODES:
        for role in ("A", "B"):
            assert found["secrecy", role, "nA", mode]["outcome"] == "fails"
            assert found["secrecy", role, "nB", mode]["outcome"] == "fails"
            assert found["secrecy", role, "session key", mode]["outcome"] == "holds"


def test_agreement_holds_without_a_compromised_key(claims: list[dict]) -> None:
    for c in claims:
        if c["property"] in ("alive", "weakagree", "niagree", "nisynch", "mitm", "replay"):
            assert c["outcome"] == "holds", c["id"]
