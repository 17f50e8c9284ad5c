"""FHIR resource ids, injective (README, "FHIR ids"): a Patient keeps its patient id
verbatim when that is a valid FHIR id not starting with ``sha256-``; every other Patient
id, and every Device and Observation id, is ``sha256-`` and the whole SHA-256 of the
resource's key in base32 (59 characters). Distinct keys never share an id: verbatim ids
are the identity, hashed ones start with a prefix no verbatim id has, and a SHA-256
collision is out of reach.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dthq.twin import fhir_rules

_VALID_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4B's id, matched whole (no "\n" at the end)
HASHED = "sha256-"
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567".ljust(256, b"?"))  # digit -> letter


def _spread() -> list[tuple[int, int, int]]:
    """Six (keep, move, shift) steps that move the 52 five-bit digits of a 260-bit number
    one to a byte: digit i (from the low end) goes up 3*i bits, 96, 48, ..., 3 at a time."""
    at, steps = [5 * i for i in range(52)], []
    for bit in range(5, -1, -1):
        moving = [i for i in range(52) if i >> bit & 1]
        move = sum(31 << at[i] for i in moving)
        steps.append((~move, move, 3 << bit))
        for i in moving:
            at[i] += 3 << bit
    return steps


(
    (_K0, _M0, _S0),
    (_K1, _M1, _S1),
    (_K2, _M2, _S2),
    (_K3, _M3, _S3),
    (_K4, _M4, _S4),
    (_K5, _M5, _S5),
) = _spread()


def _base32(digest: bytes) -> str:
    """``base64.b32encode`` of 32 bytes, lower case and unpadded, at a quarter of its cost
    (three of these a reading): the digits spread one to a byte, then translated."""
    n = int.from_bytes(digest, "big") << 4  # 4 bits of padding, as b32encode pads
    n = (n & _K0) | ((n & _M0) << _S0)
    n = (n & _K1) | ((n & _M1) << _S1)
    n = (n & _K2) | ((n & _M2) << _S2)
    n = (n & _K3) | ((n & _M3) << _S3)
    n = (n & _K4) | ((n & _M4) << _S4)
    n = (n & _K5) | ((n & _M5) << _S5)
    return n.to_bytes(52, "big").translate(_BASE32).decode("ascii")


def hashed_id(kind: str, *key: str | int) -> str:
    """``sha256-`` and the SHA-256 of the resource type and its key, base32 (lower case,
    unpadded: 52 characters; lower case because some FHIR servers compare ids without case).
    The key is hashed as a JSON array, ASCII-escaped: one encoding per tuple, and one for
    any string, lone surrogates included. All 256 bits are kept: no truncation to argue."""
    canonical = json.dumps([kind, *key], ensure_ascii=True, separators=(",", ":"))
    return HASHED + _base32(hashlib.sha256(canonical.encode("ascii")).digest())


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


@dataclass(frozen=True, slots=True)
class Party:
    """What a (patient, device) pair puts in every bundle, worked out once."""

    patient: str
    device: str
    key: Any  # SHA-256 over '["Observation",pid,dev,', the start of each Observation's key
    valid: bool  # the patient id, pid and device name pass R4B's rules


def _party(pid: str, dev: str) -> Party:
    patient = patient_id(pid)
    start = json.dumps(["Observation", pid, dev, 0], ensure_ascii=True, separators=(",", ":"))
    valid = (
        fhir_rules.is_id(patient)
        and fhir_rules.is_string(pid)
        and fhir_rules.is_string(dev or "unknown")
    )
    key = hashlib.sha256(start[:-2].encode("ascii"))  # without the 0]
    return Party(patient, device_id(pid, dev), key, valid)


class _Tails(dict[str, bytes]):
    """A code's end of the key, '"<code>"]', made once."""

    def __missing__(self, code: str) -> bytes:
        tail = self[code] = json.dumps(code).encode("ascii") + b"]"
        return tail


_TAILS = _Tails()
_cached_party = functools.lru_cache(maxsize=4096)(_party)


def party_of(pid: str, dev: str) -> Party:
    if type(pid) is str and type(dev) is str:  # exact types: a subclass may hash otherwise
        return _cached_party(pid, dev)
    return _party(pid, dev)


def observation_ids(party: Party, pid: str, dev: str, ts: int, codes: Iterable[str]) -> list[str]:
    """``observation_id`` of each code, from the pair's hash of the key's start."""
    if type(ts) is not int:  # the JSON of an int is its digits; of anything else, json's
        return [observation_id(pid, dev, ts, code) for code in codes]
    out, stem = [], b"%d," % ts
    for code in codes:
        digest = party.key.copy()
        digest.update(stem + _TAILS[code])
        out.append(HASHED + _base32(digest.digest()))
    return out
