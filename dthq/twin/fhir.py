"""Readings as FHIR R4B resources (``fhir.resources``' R4B models: R4B is the closest to the
R4 most hospital systems speak; the package's default models are R5).

Each reading becomes three vital-signs ``Observation`` s (LOINC 8867-4 heart rate,
59408-5 SpO2, 8310-5 body temperature; UCUM units; effective time from the reading),
with the ``Patient`` and the ``Device``, in one transaction ``Bundle``. Every entry is a
PUT to an id derived from the reading, so sending a bundle twice changes nothing.

Ids are injective (README, "FHIR ids"): a Patient keeps its patient id verbatim when that
is a valid FHIR id not starting with ``sha256-``; every other Patient id, and every Device
and Observation id, is ``sha256-`` and the whole SHA-256 of the resource's key in base32
(59 characters). Distinct keys never share an id: verbatim ids are the identity, hashed
ones start with a prefix no verbatim id has, and a SHA-256 collision is out of reach.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
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
_VALID_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4B's id, matched whole (no "\n" at the end)
HASHED = "sha256-"


class FHIRError(DecodeError):
    """A resource that does not validate against the FHIR R4B models."""


def hashed_id(kind: str, *key: str | int) -> str:
    """``sha256-`` and the SHA-256 of the resource type and its key, base32 (lower case,
    unpadded: 52 characters; lower case because some FHIR servers compare ids without case).
    The key is hashed as a JSON array, ASCII-escaped: one encoding per tuple, and one for
    any string, lone surrogates included. All 256 bits are kept: no truncation to argue."""
    canonical = json.dumps([kind, *key], ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return HASHED + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def patient_id(pid: str) -> str:
    """The patient id itself when it is a valid FHIR id outside the hashed form's prefix,
    else its hash (the original stays in the Patient's ``identifier``)."""
    if _VALID_ID.fullmatch(pid) and not pid.startswith(HASHED):
        return pid
    return hashed_id("Patient", pid)


def device_id(pid: str, dev: str) -> str:
    return hashed_id("Device", pid, dev)


def observation_id(pid: str, dev: str, ts: int, code: str) -> str:
    return hashed_id("Observation", pid, dev, ts, code)


def _when(ts_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}


def resources(reading: Reading) -> list[dict[str, Any]]:
    """Patient, Device and the three Observations of one reading, as FHIR JSON."""
    patient, device = patient_id(reading.pid), device_id(reading.pid, reading.dev)
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient,
            "identifier": [{"system": "urn:dthq:patient", "value": reading.pid}],
        },
        {
            "resourceType": "Device",
            "id": device,
            "deviceName": [{"name": reading.dev or "unknown", "type": "model-name"}],
            "patient": {"reference": f"Patient/{patient}"},
        },
    ]
    for field, (code, display, ucum, unit) in VITALS.items():
        out.append(
            {
                "resourceType": "Observation",
                "id": observation_id(reading.pid, reading.dev, reading.ts, code),
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
                "subject": {"reference": f"Patient/{patient}"},
                "device": {"reference": f"Device/{device}"},
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
