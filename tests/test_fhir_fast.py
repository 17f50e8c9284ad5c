"""The fast FHIR path keeps full validation's guarantee: over generated readings, valid
and invalid (built directly, past Reading's own checks, so R4B's rules are what is
tested), the fast verdict is full validation's, and bundle() answers exactly as
fhir.resources' R4B Bundle.model_validate does: the same JSON, or the same error."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any

import fhir_core.constraints
import pytest
from fhir.resources.R4B.device import DeviceDeviceName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from dthq.twin import fhir, fhir_ids, fhir_rules
from dthq.twin.reading import Reading

CI = settings(derandomize=True, database=None, deadline=None)
YEAR_1 = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z in ms since the epoch
YEAR_10000 = 253_402_300_800_000  # one past 9999-12-31T23:59:59.999Z


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


# The models' own field types, as the Bundle validates them.
STRING = TypeAdapter(Identifier.model_fields["value"].annotation)
NAME = TypeAdapter(DeviceDeviceName.model_fields["name"].annotation)
ID = TypeAdapter(Patient.model_fields["id"].annotation)
DECIMAL = TypeAdapter(Quantity.model_fields["value"].annotation)


def test_the_string_rule_is_fhir_cores_on_every_code_point() -> None:
    disagree = [
        hex(c) for c in range(0x110000) if fhir_rules.is_string(chr(c)) != _accepts(STRING, chr(c))
    ]
    assert disagree == []
    # The ones refused alone: Unicode White_Space other than space, tab, CR, LF; surrogates.
    refused = [c for c in range(0x110000) if not fhir_rules.is_string(chr(c))]
    assert len(refused) == 21 + 2048 and 0x0B in refused and 0x3000 in refused
    assert all(fhir_rules.is_string(c) for c in " \t\r\n\x00\x1c\x7f")


_CHARS = st.sampled_from([*"a \t\r\n\x00\x0b\x0c\x85\xa0\u1680\u2000\u2028\u3000\u00e9", "\ud800"])


@CI
@given(st.one_of(st.text(_CHARS, max_size=6), st.text(st.characters(codec=None), max_size=6)))
def test_the_string_rule_on_strings(text: str) -> None:
    assert fhir_rules.is_string(text) == _accepts(STRING, text) == _accepts(NAME, text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", False),
        ("\x0b\x0c", False),  # blanks alone
        ("\u3000a", True),
        ("P\ud800", False),
        (" ", True),  # fhir_core lets whitespace through, as long as it is one of these
        ("\n", True),
        ("x" * 1_048_577, True),  # FHIR's 1 MiB limit is not checked by fhir_core
    ],
)
def test_string_boundaries(value: str, expected: bool) -> None:
    assert fhir_rules.is_string(value) == _accepts(STRING, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a" * 255, True),  # fhir_core's limit, not FHIR's 64
        ("a" * 256, False),
        ("", False),
        ("a\n", False),  # "$" would pass it in Python; Rust's does not
        ("a_b", False),
        ("sha256-x.Y-0", True),
        ("\u00e9", False),
    ],
)
def test_id_boundaries(value: str, expected: bool) -> None:
    assert fhir_rules.is_id(value) == _accepts(ID, value) == expected


@CI
@given(st.text(st.sampled_from([*"aZ09-._ \n\u00e9"]), max_size=260))
def test_the_id_rule(text: str) -> None:
    assert fhir_rules.is_id(text) == _accepts(ID, text)


@CI
@given(st.floats())
def test_the_decimal_rule_on_every_kind_of_float(value: float) -> None:
    assert fhir_rules.is_decimal(value) == _accepts(DECIMAL, value)


@pytest.mark.parametrize(
    "value", [0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e16, 1e-7, math.nan, math.inf, -math.inf]
)
def test_decimal_boundaries(value: float) -> None:
    assert fhir_rules.is_decimal(value) == _accepts(DECIMAL, value) == math.isfinite(value)


def test_a_patched_fhir_core_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fhir_rules.enabled()
    monkeypatch.setattr(fhir_core.constraints, "TYPES_ID_MAX_LENGTH", 64)
    assert not fhir_rules.enabled()


# Readings past Reading's checks: names FHIR refuses, FHIR's edges, times at the years'.
_NAMES = st.one_of(
    st.sampled_from(["", " ", "\x0b", "\xa0\u3000", "P 9", "P\x00", "P\n", "\ud800", "bed_1"]),
    st.sampled_from(["a" * 64, "a" * 65, "sha256-x", "x" * 255, "x" * 256, "\t\u2028"]),
    st.text(_CHARS, min_size=0, max_size=5),
    st.text(st.characters(codec=None), max_size=8),
)
_TIMES = st.one_of(
    st.sampled_from([0, -1, YEAR_1, YEAR_1 - 1, YEAR_10000 - 1, YEAR_10000, 10**30]),
    st.integers(YEAR_1 - 10, YEAR_10000 + 10),
    st.integers(0, 4_102_444_800_000),
)
_VALUES = st.one_of(
    st.floats(),
    st.sampled_from([0.0, -0.0, 5e-324, 1e308, math.nan, math.inf, -math.inf, 72.0]),
)
_READINGS = st.builds(Reading, _NAMES, _TIMES, _VALUES, _VALUES, _VALUES, dev=_NAMES)
# Types Reading never holds: the fast path leaves them to full validation.
_ODD = st.one_of(st.integers(-(10**6), 10**6), st.booleans(), st.sampled_from(["72", "x"]))
_ODD_READINGS = st.builds(
    Reading, _NAMES, st.one_of(_TIMES, st.booleans()), st.one_of(_VALUES, _ODD), _VALUES, _VALUES
)


def _full(readings: list[Reading]) -> tuple[str, Any]:
    """What the path before the fast one answered: each reading's resources() as PUT
    entries (deduplicated by fullUrl), then fhir.resources in full."""
    try:
        entries: dict[str, Any] = {}
        for reading in readings:
            for resource in fhir.resources(reading):
                url = f"{resource['resourceType']}/{resource['id']}"
                entries[url] = {
                    "fullUrl": url,
                    "resource": resource,
                    "request": {"method": "PUT", "url": url},
                }
        data = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries.values())}
        fhir.validate(data)
    except fhir.FHIRError as exc:
        return "refused", str(exc)
    return "accepted", json.dumps(data, separators=(",", ":"))


def _fast(readings: list[Reading]) -> tuple[str, Any]:
    try:
        data = fhir.bundle(readings)
    except fhir.FHIRError as exc:
        return "refused", str(exc)
    return "accepted", json.dumps(data, separators=(",", ":"))


def _verdict(readings: list[Reading]) -> bool | None:
    """The fast path's own verdict, before any fallback (None: no bundle to judge)."""
    try:
        _, valid = fhir._assemble(readings)
    except fhir.FHIRError:
        return None
    return valid


@settings(CI, max_examples=1000)
@given(_READINGS)
def test_one_reading_fast_answers_as_full_validation(reading: Reading) -> None:
    full = _full([reading])
    assert _fast([reading]) == full
    if (verdict := _verdict([reading])) is not None:
        assert verdict == (full[0] == "accepted")  # exact: never defers a valid reading


@settings(CI, max_examples=150)
@given(
    st.lists(
        st.one_of(_READINGS, st.sampled_from([Reading("P1", 0, 72.0, 97.0, 36.6)])), max_size=4
    )
)
def test_bundles_of_readings_answer_as_full_validation(readings: list[Reading]) -> None:
    full = _full(readings)
    assert _fast(readings) == full
    if readings and (verdict := _verdict(readings)) is not None:
        assert verdict == (full[0] == "accepted")


@settings(CI, max_examples=150)
@given(_ODD_READINGS)
def test_odd_types_are_left_to_full_validation(reading: Reading) -> None:
    assert _fast([reading]) == _full([reading])


def test_a_bundle_refused_is_refused_by_name() -> None:
    reading = Reading("P1", 0, math.nan, 97.0, 36.6)
    with pytest.raises(
        fhir.FHIRError,
        match=r"^FHIR R4B Bundle invalid at entry\.2\.resource\.valueQuantity\.value: ",
    ):
        fhir.bundle([reading])
    with pytest.raises(fhir.FHIRError, match=r"deviceName\.0\.name"):
        fhir.bundle([Reading("P1", 0, 72.0, 97.0, 36.6, dev="\u3000")])
    with pytest.raises(
        fhir.FHIRError, match=r"^FHIR R4B Bundle invalid at Observation\.effectiveDateTime: "
    ):
        fhir.bundle([Reading("P1", YEAR_10000, 72.0, 97.0, 36.6)])


def test_an_ordinary_bundle_takes_no_full_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    full = fhir.validate
    monkeypatch.setattr(fhir, "validate", lambda data: calls.append(data) or full(data))
    fhir._template_valid()  # the once-only template, before counting
    fhir.bundle([Reading("P1", 1_767_225_601_000, 72.0, 97.0, 36.6, dev="d")])
    assert calls == []
    with pytest.raises(fhir.FHIRError, match=r"deviceName\.0\.name"):
        fhir.bundle([Reading("P1", 1_767_225_601_000, 72.0, 97.0, 36.6, dev="\x0b")])
    assert len(calls) == 1  # refused here: validated in full, which names why


def test_without_the_template_every_bundle_is_validated_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    full = fhir.validate
    monkeypatch.setattr(fhir, "validate", lambda data: calls.append(data) or full(data))
    monkeypatch.setattr(fhir_rules, "enabled", lambda: False)
    fhir._template_valid.cache_clear()
    try:
        fhir.bundle([Reading("P1", 0, 72.0, 97.0, 36.6)])
        fhir.bundle([])
    finally:
        fhir._template_valid.cache_clear()
    assert len(calls) == 2


# The bytes that leave, pinned (as the sink encodes them): computed with the path before
# the fast one, so this also shows the fast path changed no output.
PINNED = [
    (
        [Reading("P00001", 1_767_225_601_000, 72.0, 97.0, 36.6, dev="MAX30102+MLX90614")],
        3113,
        "7c7a53611f2af8eea3a655fab4e7b014da3fa1ca8715a54f9c401fb16dc0b507",
    ),
    (
        [
            Reading("P 9", 1_767_225_601_000, 72.5, 97.0, 36.6),
            Reading("P 9", 1_767_225_602_250, 73.0, 96.0, 36.7),
            Reading("bed-2", 0, 20.0, 100.0, 43.0, dev="d"),
        ],
        9136,
        "7c7889503fc5b4b0cab47a87b746a9fe466cf8a531ebae49c7479577f29efa21",
    ),
]


@pytest.mark.parametrize(("readings", "size", "sha256"), PINNED)
def test_the_bundle_bytes_are_pinned(readings: list[Reading], size: int, sha256: str) -> None:
    raw = json.dumps(fhir.bundle(readings), separators=(",", ":")).encode()
    assert (len(raw), hashlib.sha256(raw).hexdigest()) == (size, sha256)


def test_times_are_exact_to_the_millisecond_at_the_years_edges() -> None:
    assert fhir._when(YEAR_1) == "0001-01-01T00:00:00.000+00:00"
    assert fhir._when(YEAR_10000 - 1) == "9999-12-31T23:59:59.999+00:00"
    assert fhir._when(-1) == "1969-12-31T23:59:59.999+00:00"
    # Seconds as a float put this one at .560.
    assert fhir._when(64_413_577_724_561) == "4011-03-09T12:28:44.561+00:00"
    for ts in (YEAR_1 - 1, YEAR_10000, 10**30):
        with pytest.raises(fhir.FHIRError, match="effectiveDateTime"):
            fhir._when(ts)


@CI
@given(st.binary(min_size=32, max_size=32))
def test_base32_is_b32encode(digest: bytes) -> None:
    expected = base64.b32encode(digest).decode().rstrip("=").lower()
    assert fhir_ids._base32(digest) == expected


@pytest.mark.parametrize("digest", [bytes(32), b"\xff" * 32, bytes(range(32))])
def test_base32_edges(digest: bytes) -> None:
    assert fhir_ids._base32(digest) == base64.b32encode(digest).decode().rstrip("=").lower()


@CI
@given(_NAMES, _NAMES, st.one_of(st.integers(-(10**20), 10**20), st.booleans()))
def test_observation_ids_from_the_pairs_hash_are_the_hashed_ids(
    pid: str, dev: str, ts: int
) -> None:
    party = fhir_ids.party_of(pid, dev)
    codes = ["8867-4", "59408-5"]
    expected = [fhir_ids.hashed_id("Observation", pid, dev, ts, code) for code in codes]
    assert fhir_ids.observation_ids(party, pid, dev, ts, codes) == expected
