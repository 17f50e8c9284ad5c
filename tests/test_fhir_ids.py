"""FHIR ids are injective: distinct patients, devices and observations never share a
resource id, every id is a valid FHIR id, and a bundle keeps every Observation."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dthq.twin import fhir
from dthq.twin.reading import Reading

VALID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CODES = [code for code, *_ in fhir.VITALS.values()]


def _reading(pid: str, ts: int = 1_767_225_601_000, dev: str = "MAX30102+MLX90614") -> Reading:
    return Reading(pid, ts, 72.0, 97.0, 36.6, dev=dev)


@pytest.mark.parametrize(
    ("pid", "expected"),
    [
        ("P00001", "P00001"),  # ordinary ids stay as they were
        ("bed-1", "bed-1"),
        ("a.b-C.9", "a.b-C.9"),
        ("a" * 64, "a" * 64),  # at the length limit: verbatim
        ("bed_1", "sha256-s7v5fvtd2sken766i5tgsf6higv3x6hmtphselbpwvrdjduov4jq"),
        ("P 9", "sha256-mvzwvauobd45efcg2c7h5ozgcwjr7bqv4pkfmy7rz3b3jbf2pcdq"),
        ("a" * 65, "sha256-geyukk75nvsd4sdsz2lqj6tucn4t2ygairape4ex3usaf4p4l2aq"),  # one past it
        ("sha256-x", "sha256-rgs7i4tzg7dkmilktayfbrupy6h6b6iag5pq2ddhjony42k225za"),  # the prefix
        (
            "P1\n",
            "sha256-fhyy4lm5lpzqbw3emhxew4zys7cnjyyl2puz5rpnkljxljahj3cq",
        ),  # "$" would pass it
    ],
)
def test_patient_ids_pinned(pid: str, expected: str) -> None:
    assert fhir.patient_id(pid) == expected


def test_the_hash_is_sha256_of_the_json_key_in_lower_base32() -> None:
    digest = hashlib.sha256(b'["Patient","bed_1"]').digest()
    expected = "sha256-" + base64.b32encode(digest).decode().rstrip("=").lower()
    assert fhir.patient_id("bed_1") == expected and len(expected) == 59


def test_device_and_observation_ids_pinned() -> None:
    assert (
        fhir.device_id("P00001", "MAX30102+MLX90614")
        == "sha256-fxal2glrzh2ayeivppxj5rbfsw5cldrj4no2jh5ibctyndybkika"
    )
    assert (
        fhir.observation_id("P00001", "MAX30102+MLX90614", 1_767_225_601_000, "8867-4")
        == "sha256-w7o77aw5fr3pjp3oi7t2h2acxyvmzikby7t4ixy5stm5ay5rte3q"
    )


def test_the_ids_that_collided_on_main_are_distinct() -> None:
    assert fhir.patient_id("bed_1") != fhir.patient_id("bed-1")
    long = "x" * 64
    assert fhir.patient_id(long + "a") != fhir.patient_id(long + "b")
    assert fhir.device_id("P1", "") != fhir.device_id("P1", "device")  # "" was named "device"
    # The old joins with "-": ("a-b", "c") and ("a", "b-c") were one Device.
    assert fhir.device_id("a-b", "c") != fhir.device_id("a", "b-c")


def test_a_verbatim_id_never_equals_a_hashed_one() -> None:
    hashed = fhir.patient_id("bed_1")
    # A patient whose id *is* another's hashed id is hashed in turn: it cannot take it over.
    assert fhir.patient_id(hashed) != hashed and fhir.patient_id(hashed).startswith("sha256-")


# Adversarial ids: FHIR's own characters and near misses, unicode, the 64-character edge.
_ALPHABET = st.sampled_from([*"aA0-._ /\u00e9e\u0301\U0001f600\n", "\ud800"])
_IDS = st.one_of(
    st.text(_ALPHABET, min_size=1, max_size=8),
    st.text(min_size=1, max_size=70),
    st.sampled_from([63, 64, 65, 200]).flatmap(
        lambda n: st.text(_ALPHABET, min_size=1, max_size=1).map(lambda c: "p" * (n - 1) + c)
    ),
)


def _variants(base: str) -> list[str]:
    """Ids one character apart, and prefixes of each other."""
    out = [base, base[:-1] or "x", base + "-", base + "_", base + "."]
    out += [base[:i] + c + base[i + 1 :] for i in (0, len(base) - 1) for c in "-_."]
    return out


@given(st.lists(_IDS, min_size=1, max_size=6), st.lists(st.text(max_size=8), max_size=3))
def test_distinct_inputs_distinct_valid_ids_and_every_observation_kept(
    bases: list[str], devs: list[str]
) -> None:
    pids = sorted({v for b in bases for v in _variants(b)})
    devs = sorted(set(devs) | {"", "d"})
    patients = {p: fhir.patient_id(p) for p in pids}
    assert len(set(patients.values())) == len(pids)  # injective on patients
    devices = {(p, d): fhir.device_id(p, d) for p in pids for d in devs}
    assert len(set(devices.values())) == len(devices)
    keys = [(p, d, ts, c) for p, d in devices for ts in (0, 1, 10) for c in CODES]
    observations = {fhir.observation_id(*k) for k in keys}
    assert len(observations) == len(keys)
    for rid in [*patients.values(), *devices.values(), *observations]:
        assert VALID.fullmatch(rid), rid
    # A reading's ids are printable (Reading.from_dict refuses the rest): the others have
    # ids above, but no FHIR string can carry them in ``identifier``.
    texts = {(p, d) for p, d in devices if (p + d).isprintable()}
    pids = sorted({p for p, _ in texts})
    readings = [Reading(p, ts, 72.0, 97.0, 36.6, dev=d) for p, d in texts for ts in (0, 1)]
    data = fhir.bundle(readings)  # validates with fhir.resources' R4B models
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    assert kinds.count("Observation") == 3 * len(readings)
    assert kinds.count("Patient") == len(pids) and kinds.count("Device") == len(texts)
    # And the original patient id is kept where the id is hashed.
    for entry in data["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            original = resource["identifier"][0]["value"]
            assert patients[original] == resource["id"]


def test_a_reading_sent_twice_is_one_set_of_entries() -> None:
    reading = _reading("bed_1")
    once = fhir.bundle([reading])
    assert fhir.bundle([reading, reading]) == once and len(once["entry"]) == 5


def test_a_patient_id_fhir_cannot_carry_is_refused_by_name() -> None:
    with pytest.raises(fhir.FHIRError, match=r"identifier\.0\.value"):
        fhir.bundle([_reading("P\ud800")])
