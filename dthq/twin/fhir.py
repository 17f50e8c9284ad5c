"""Readings as FHIR R4B resources (``fhir.resources``' R4B models: R4B is the closest to the
R4 most hospital systems speak; the package's default models are R5).

Each reading becomes three vital-signs ``Observation`` s (LOINC 8867-4 heart rate,
59408-5 SpO2, 8310-5 body temperature; UCUM units; effective time from the reading),
with the ``Patient`` and the ``Device``, in one transaction ``Bundle``. Every entry is a
PUT to an id derived from the reading, so sending a bundle twice changes nothing.

Ids are injective (README, "FHIR ids"; dthq/twin/fhir_ids.py).

Every bundle that leaves is valid R4B, without the full models' cost on each: the
structure the resources share is validated in full once, and a bundle whose values pass
R4B's own rules for them (dthq/twin/fhir_rules.py) is then valid; any other is validated
in full, which accepts it or names what it refuses.
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from dthq.errors import DecodeError
from dthq.twin import fhir_rules
from dthq.twin.fhir_ids import HASHED as HASHED  # re-exported: callers name fhir.*
from dthq.twin.fhir_ids import Party, observation_ids, party_of
from dthq.twin.fhir_ids import device_id as device_id
from dthq.twin.fhir_ids import hashed_id as hashed_id
from dthq.twin.fhir_ids import observation_id as observation_id
from dthq.twin.fhir_ids import patient_id as patient_id
from dthq.twin.reading import Reading

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = {  # reading field -> (LOINC code, display, UCUM code, unit shown)
    "hr": ("8867-4", "Heart rate", "/min", "beats/minute"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%"),
    "temp": ("8310-5", "Body temperature", "Cel", "C"),
}
_CODES = [code for code, *_ in VITALS.values()]
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_EPOCH_DAY = _EPOCH.toordinal()


class FHIRError(DecodeError):
    """A resource that does not validate against the FHIR R4B models."""


def _out_of_range(ts_ms: object) -> FHIRError:
    return FHIRError(
        f"FHIR R4B Bundle invalid at Observation.effectiveDateTime: ts {ts_ms} ms "
        "is outside the years 1..9999"
    )


@functools.lru_cache(maxsize=64)
def _day(days: int) -> str:
    return datetime.date.fromordinal(_EPOCH_DAY + days).isoformat()


def _when(ts_ms: int) -> str:
    """The reading's time, exact to the millisecond (integers only: a float of
    milliseconds since the epoch loses them in the far future)."""
    if type(ts_ms) is not int:
        try:
            moment = _EPOCH + datetime.timedelta(milliseconds=ts_ms)
        except (OverflowError, ValueError):
            raise _out_of_range(ts_ms) from None
        return moment.isoformat(timespec="milliseconds")
    days, ms = divmod(ts_ms, 86_400_000)
    try:
        day = _day(days)
    except (OverflowError, ValueError):
        raise _out_of_range(ts_ms) from None
    s, ms = divmod(ms, 1000)
    # %-format: under half the cost of the f-string with the same padding specs
    return "%sT%02d:%02d:%02d.%03d+00:00" % (day, s // 3600, s // 60 % 60, s % 60, ms)  # noqa: UP031


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}


def _patient(party: Party, pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": party.patient,
        "identifier": [{"system": "urn:dthq:patient", "value": pid}],
    }


def _device(party: Party, dev: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": party.device,
        "deviceName": [{"name": dev or "unknown", "type": "model-name"}],
        "patient": {"reference": f"Patient/{party.patient}"},
    }


def _observations(party: Party, reading: Reading) -> list[dict[str, Any]]:
    when = _when(reading.ts)
    out = []
    ids = observation_ids(party, reading.pid, reading.dev, reading.ts, _CODES)
    for oid, (field, (code, display, ucum, unit)) in zip(ids, VITALS.items(), strict=True):
        out.append(
            {
                "resourceType": "Observation",
                "id": oid,
                "status": "final",
                "category": [{"coding": [{"system": _CATEGORY, "code": "vital-signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "subject": {"reference": f"Patient/{party.patient}"},
                "device": {"reference": f"Device/{party.device}"},
                "effectiveDateTime": when,
                "valueQuantity": {
                    "value": getattr(reading, field),
                    "unit": unit,
                    "system": UCUM,
                    "code": ucum,
                },
            }
        )
    return out


def resources(reading: Reading) -> list[dict[str, Any]]:
    """Patient, Device and the three Observations of one reading, as FHIR JSON."""
    party = party_of(reading.pid, reading.dev)
    return [
        _patient(party, reading.pid),
        _device(party, reading.dev),
        *_observations(party, reading),
    ]


def _assemble(readings: list[Reading]) -> tuple[dict[str, Any], bool]:
    """The transaction Bundle (Patient/Device once each, a repeated Observation at its
    first place with its last values), and whether every value passes R4B's rules."""
    entries: dict[str, dict[str, Any]] = {}
    valid = bool(readings)  # an empty Bundle is not the template's: validated in full
    is_decimal = fhir_rules.is_decimal
    for reading in readings:
        party = party_of(reading.pid, reading.dev)
        patient, device = f"Patient/{party.patient}", f"Device/{party.device}"
        if patient not in entries:  # same id, same pid: the same resource
            entries[patient] = _put(_patient(party, reading.pid))
        if device not in entries:
            entries[device] = _put(_device(party, reading.dev))
        for resource in _observations(party, reading):
            entry = _put(resource)
            entries[entry["fullUrl"]] = entry
        valid = (
            valid
            and party.valid
            and type(reading.ts) is int
            and is_decimal(reading.hr)
            and is_decimal(reading.spo2)
            and is_decimal(reading.temp)
        )
    data = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries.values())}
    return data, valid


@functools.cache
def _template_valid() -> bool:
    """The structure every bundle shares, validated in full once: both kinds of patient
    id, a device named and one not."""
    if not fhir_rules.enabled():
        return False
    samples = [
        Reading("P1", 0, 72.0, 97.0, 36.6),
        Reading("bed 1", 1_767_225_601_000, 20.0, 1e300, -0.0, dev="MAX30102"),
    ]
    try:
        validate(_assemble(samples)[0])
    except FHIRError:
        return False
    return True


def prepare() -> None:
    """Validate the template now (a quarter of a second, once a process), as a server
    does at start, rather than in the first batch's latency."""
    _template_valid()


def bundle(readings: list[Reading]) -> dict[str, Any]:
    """One valid transaction Bundle for the readings (Patient/Device once each): shown
    valid by its values against the template, or else validated in full."""
    data, valid = _assemble(readings)
    if not (valid and _template_valid()):
        validate(data)
    return data


def validate(data: dict[str, Any]) -> Bundle:
    """Full validation with fhir.resources' R4B models, for any Bundle."""
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FHIRError(f"FHIR R4B Bundle invalid at {where}: {first['msg']}") from None


def write(data: dict[str, Any], directory: Path) -> Path:
    """Write a bundle as ``bundle-<first observation id>.json`` (atomic rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = next(
        e["resource"]["id"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation"
    )
    path = directory / f"bundle-{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    tmp.replace(path)
    return path
