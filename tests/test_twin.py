"""The digital twin's core: partial NEWS2 at every band edge, strict readings, ordering
and idempotency by timestamp, alerts on a scripted deterioration (and none on a stable
patient), and FHIR R4B bundles that validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dthq.harness.telemetry import TelemetryGenerator
from dthq.twin import fhir, news2
from dthq.twin.reading import Reading, ReadingError
from dthq.twin.twin import HISTORY, PatientTwin, Twins


@pytest.mark.parametrize(
    ("bpm", "points"),
    [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_heart_rate_bands(bpm: int, points: int) -> None:
    assert news2.heart_rate(bpm) == points


@pytest.mark.parametrize(
    ("percent", "points"), [(91, 3), (91.5, 2), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0)]
)
def test_spo2_scale_1_bands(percent: float, points: int) -> None:
    assert news2.spo2_scale1(percent) == points


@pytest.mark.parametrize(
    ("celsius", "points"),
    [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)],
)
def test_temperature_bands(celsius: float, points: int) -> None:
    assert news2.temperature(celsius) == points


def test_the_score_says_it_is_partial() -> None:
    s = news2.score(135, 90, 39.5)
    assert (s.hr, s.spo2, s.temp, s.total) == (3, 3, 2, 8)
    assert s.red == ("hr", "spo2") and s.label == "partial NEWS2 (3 of 7 parameters)"


def _reading(**changes: object) -> dict[str, object]:
    return {"pid": "P1", "ts": 1000, "hr": 70, "spo2": 97.5, "temp": 36.8, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"pid": "P1"}, "lacks hr, spo2, temp, ts"),
        (_reading(extra=1), "unknown fields extra"),
        (_reading(pid=""), "pid must be"),
        (_reading(ts=-1), "ts must be"),
        (_reading(ts=True), "ts must be"),
        (_reading(hr="70"), "hr must be a number"),
        (_reading(hr=300), "hr 300 is outside 20..250"),
        (_reading(spo2=101), "spo2 101 is outside 50..100"),
        (_reading(temp=float("nan")), "temp nan is outside"),
        (_reading(dev="x" * 65), "dev must be"),
        (_reading(pid="P\x0b1"), "must be printable"),
        (_reading(pid="P\ud800"), "must be printable"),
        (_reading(dev="d\n"), "must be printable"),
    ],
)
def test_bad_readings_are_refused_with_the_reason(data: object, message: str) -> None:
    with pytest.raises(ReadingError, match=message):
        Reading.from_dict(data)


def test_readings_parse_from_bytes() -> None:
    assert Reading.from_bytes(json.dumps(_reading()).encode()).hr == 70.0
    with pytest.raises(ReadingError, match="not JSON"):
        Reading.from_bytes(b"\xff{")


def test_twin_orders_by_timestamp_and_ignores_duplicates() -> None:
    twin = PatientTwin("P1")
    for ts in (3000, 1000, 2000, 2000):
        twin.apply(Reading.from_dict(_reading(ts=ts, hr=60 + ts // 1000)))
    assert [r.ts for r in twin.history] == [1000, 2000, 3000]
    assert (twin.duplicates, twin.late) == (1, 2)
    assert twin.latest is not None and twin.latest.hr == 63  # the newest, not the last applied


def test_history_is_bounded_and_the_trend_follows_the_vitals() -> None:
    twin = PatientTwin("P1")
    for i in range(HISTORY + 50):
        twin.apply(Reading.from_dict(_reading(ts=i * 1000, hr=60 + i * 0.05)))
    assert len(twin.history) == HISTORY and twin.history[0].ts == 50_000
    assert twin.trend("hr") == pytest.approx(3.0)  # 0.05 bpm a second = 3 a minute


def test_a_deteriorating_patient_raises_alerts_in_order() -> None:
    twins = Twins()
    gen = TelemetryGenerator(3, "P7", deteriorate_after_s=60)
    alerts = [a for _ in range(400) if (a := twins.apply(Reading.from_dict(gen.reading())))]
    assert alerts, "a deteriorating patient must raise an alert"
    assert all(a.pid == "P7" for a in alerts)
    assert [a.ts for a in alerts] == sorted(a.ts for a in alerts)
    assert alerts[0].ts > 1_767_225_600_000 + 60_000  # after the onset, not before
    reasons = " | ".join(a.reason for a in alerts)
    assert "scores 3" in reasons and "rose from" in reasons
    assert twins["P7"].score is not None and twins["P7"].score.total >= 5


def test_a_stable_patient_raises_none_in_ten_minutes() -> None:
    twins = Twins()
    gen = TelemetryGenerator(4, "P2")
    raised = [twins.apply(Reading.from_dict(gen.reading())) for _ in range(600)]
    assert raised == [None] * 600


def test_an_edge_waverer_alerts_once() -> None:
    twins = Twins()
    for i in range(30):  # SpO2 alternating across the 91/92 boundary
        twins.apply(Reading.from_dict(_reading(ts=i * 1000, spo2=91 if i % 2 else 92)))
    assert len(twins["P1"].alerts) == 1 and twins["P1"].alerts[0].reason == "spo2 scores 3"


def test_fhir_bundle_validates_with_loinc_and_ucum(tmp_path: Path) -> None:
    gen = TelemetryGenerator(1, "P 9")
    readings = [Reading.from_dict(gen.reading()) for _ in range(3)]
    data = fhir.bundle(readings)
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    assert kinds.count("Patient") == 1 and kinds.count("Device") == 1
    assert kinds.count("Observation") == 9
    first = next(
        e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation"
    )
    assert first["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "8867-4",
        "display": "Heart rate",
    }
    assert first["valueQuantity"]["code"] == "/min"
    # "P 9" is not a FHIR id: hashed (tests/test_fhir_ids.py), the original in identifier.
    assert first["subject"]["reference"] == (
        "Patient/sha256-mvzwvauobd45efcg2c7h5ozgcwjr7bqv4pkfmy7rz3b3jbf2pcdq"
    )
    assert first["effectiveDateTime"] == "2026-01-01T00:00:01.000+00:00"
    codes = {
        e["resource"]["code"]["coding"][0]["code"] for e in data["entry"] if "code" in e["resource"]
    }
    assert codes == {"8867-4", "59408-5", "8310-5"}
    assert all(e["request"]["method"] == "PUT" for e in data["entry"])  # idempotent
    assert fhir.bundle(readings) == data  # same readings, same ids
    path = fhir.write(data, tmp_path)
    assert fhir.validate(json.loads(path.read_text())).type == "transaction"


def test_an_invalid_fhir_resource_is_refused_with_where() -> None:
    data = fhir.bundle([Reading.from_dict(_reading())])
    data["entry"][2]["resource"]["valueQuantity"]["value"] = "seventy"
    with pytest.raises(fhir.FHIRError, match=r"entry\.2\.resource\.valueQuantity\.value"):
        fhir.validate(data)


def test_a_reading_travels_as_its_fields_in_order() -> None:
    from dataclasses import asdict

    from dthq.twin.reading import Reading

    plain = Reading("P1", 5, 70.0, 97.0, 36.6, dev="d1")
    assert plain.to_dict() == {k: v for k, v in asdict(plain).items() if k != "ppg"}
    assert list(plain.to_dict()) == ["pid", "ts", "hr", "spo2", "temp", "dev"]
    waved = Reading("P1", 5, 70.0, 97.0, 36.6, ppg="AAAA")
    assert waved.to_dict() == asdict(waved)
    assert Reading.from_dict(waved.to_dict()) == waved
