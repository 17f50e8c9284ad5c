"""The formal model's claims (formal/claims.json, written by ``formal/check.py
--write-claims``), read strictly: the file's exact shape or a ValueError, never a guess."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where the repository keeps it; an installed package has no formal/ beside reports/.
CLAIMS_FILE = Path(__file__).resolve().parents[2] / "formal" / "claims.json"

PROPERTIES = frozenset(
    {"secrecy", "alive", "weakagree", "niagree", "nisynch", "kci", "mitm", "replay",
     "impersonation", "tampering", "eavesdropping"}
)  # fmt: skip
ROLES = frozenset({"A", "B", "Q"})
TERMS = frozenset({"session key", "nA", "nB", "Kq"})
MODES = frozenset({"psk", "mldsa", "kem", "kem-psk", "qkd", "qkd+mlkem"})
OUTCOMES = frozenset({"holds", "fails"})
FIELDS = ("id", "property", "role", "term", "mode", "outcome", "bounds", "trace")


@dataclass(frozen=True)
class FormalClaim:
    id: str
    property: str
    role: str | None
    term: str | None
    mode: str
    holds: bool
    bounds: str  # sessions and attacker
    trace: str | None  # the counterexample, when it fails


@dataclass(frozen=True)
class FormalClaims:
    model: str  # what was checked, and its bounds
    claims: tuple[FormalClaim, ...]


def _one_of(entry: dict[str, Any], key: str, allowed: frozenset[str], nullable: bool) -> Any:
    value = entry[key]
    if value is None and nullable:
        return None
    if value not in allowed:
        raise ValueError(f"claim {entry['id']!r}: {key} {value!r} is not one of {sorted(allowed)}")
    return value


def _text(entry: dict[str, Any], key: str, nullable: bool = False) -> str | None:
    value = entry[key]
    if (value is None and nullable) or isinstance(value, str):
        return value
    raise ValueError(f"claim {entry.get('id')!r}: {key} must be a string")


def _claim(entry: Any) -> FormalClaim:
    if not isinstance(entry, dict) or set(entry) != set(FIELDS):
        raise ValueError(f"a claim must have exactly the fields {FIELDS}: {entry!r}")
    _text(entry, "id")
    return FormalClaim(
        id=entry["id"],
        property=_one_of(entry, "property", PROPERTIES, nullable=False),
        role=_one_of(entry, "role", ROLES, nullable=True),
        term=_one_of(entry, "term", TERMS, nullable=True),
        mode=_one_of(entry, "mode", MODES, nullable=False),
        holds=_one_of(entry, "outcome", OUTCOMES, nullable=False) == "holds",
        bounds=_text(entry, "bounds"),  # type: ignore[arg-type]
        trace=_text(entry, "trace", nullable=True),
    )


def parse(data: Any) -> FormalClaims:
    if not isinstance(data, dict) or set(data) != {"model", "claims"}:
        raise ValueError('formal claims must be an object with exactly "model" and "claims"')
    if not isinstance(data["model"], str) or not isinstance(data["claims"], list):
        raise ValueError('"model" must be a string and "claims" a list')
    claims = tuple(_claim(e) for e in data["claims"])
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError("formal claim ids must be unique")
    return FormalClaims(data["model"], claims)


def load(path: Path | None = None) -> FormalClaims | None:
    """The model's claims, or None where the file is absent (an installed package)."""
    path = path or CLAIMS_FILE
    return parse(json.loads(path.read_text())) if path.is_file() else None
