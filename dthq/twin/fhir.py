"""Readings as FHIR R4B resources (``fhir.resources``' R4B models: R4B is the closest to the
R4 most hospital systems speak; the package's default models are R5).

Each reading becomes three vital-signs ``Observation`` s (LOINC 8867-4 heart rate,
59408-5 SpO2, 8310-5 body temperature; UCUM units; effective time from the reading),
with the ``Patient`` and the ``Device``, in one transaction ``Bundle``. Every entry is a
PUT to an id derived from the reading, so sending a bundle twice changes nothing.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from dthq.errors import DecodeError
from dthq.twin.reading import Reading

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = {  # reading field -> (LOINC code, display, UCUM code, unit shown)
    "hr": ("8867-4", "Heart rate", "/min", "beats/minute"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%"),
    "temp": ("8310-5", "Body temperature", "Cel", "C"),
}
_ID = re.compile(r"[^A-Za-z0-9\-.]")


class FHIRError(DecodeError):
    """A resource that does not validate against the FHIR R4B models."""


def _id(*parts: object) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from the parts."""
    return _ID.sub("-", "-".join(str(p) for p in parts))[:64]


def _when(ts_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}


def resources(reading: Reading) -> list[dict[str, Any]]:
    """Patient, Device and the three Observations of one reading, as FHIR JSON."""
    patient_id, device_id = _id(reading.pid), _id(reading.pid, reading.dev or "device")
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": "urn:dthq:patient", "value": reading.pid}],
        },
        {
            "resourceType": "Device",
            "id": device_id,
            "deviceName": [{"name": reading.dev or "unknown", "type": "model-name"}],
            "patient": {"reference": f"Patient/{patient_id}"},
        },
    ]
    for field, (code, display, ucum, unit) in VITALS.items():
        out.append(
            {
                "resourceType": "Observation",
                "id": _id(reading.pid, reading.ts, code),
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "subject": {"reference": f"Patient/{patient_id}"},
                "device": {"reference": f"Device/{device_id}"},
                "effectiveDateTime": _when(reading.ts),
                "valueQuantity": {
                    "value": getattr(reading, field),
                    "unit": unit,
                    "system": UCUM,
                    "code": ucum,
                },
            }
        )
    return out


def bundle(readings: list[Reading]) -> dict[str, Any]:
    """One validated transaction Bundle for the readings (Patient/Device once each)."""
    entries: dict[str, dict[str, Any]] = {}
    for reading in readings:
        for resource in resources(reading):
            entry = _put(resource)
            entries[entry["fullUrl"]] = entry
    data = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries.values())}
    validate(data)
    return data


def validate(data: dict[str, Any]) -> Bundle:
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
