"""The constraints FHIR R4B (as ``fhir.resources`` / ``fhir_core`` enforce them) puts on
the values a reading brings into its Bundle, reproduced exactly so that a bundle whose
structure was validated once needs only its values checked.

Each check answers True only where full validation accepts; False means "not shown
valid here" and the caller validates in full. tests/test_fhir_fast.py compares both
ways, over every code point for strings.
"""

from __future__ import annotations

import re
from typing import Any

import fhir_core.constraints
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.identifier import Identifier

# pydantic-core checks String's pattern "[ \r\n\t\S]+" with Rust's regex, unanchored: a
# string passes when one character is a space, tab, CR, LF, or not Unicode White_Space.
# These are the White_Space characters left, which cannot make a string on their own.
_BLANK = "\x0b\x0c\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INK = re.compile(f"[^{_BLANK}]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # pydantic cannot hand these to Rust: refused
_ID_MAX = 255  # fhir_core's default, not FHIR's 64
_ID = re.compile(rf"[A-Za-z0-9\-.]{{1,{_ID_MAX}}}")  # "^...+$" in Rust: $ is the very end

_CONFIG = {"extra": "forbid", "validate_assignment": True, "populate_by_name": True}


def enabled() -> bool:
    """Whether fhir_core is configured as the checks here assume; a patched one (it can
    be, before the models are imported) turns the fast path off rather than guess."""
    return (
        fhir_core.constraints.TYPES_ID_PATTERN == r"^[A-Za-z0-9\-.]+$"
        and fhir_core.constraints.TYPES_ID_MAX_LENGTH == _ID_MAX
        and fhir_core.constraints.TYPES_STRING_ALLOW_EMPTY_STR is False
        and dict(Bundle.model_config) == _CONFIG
        and dict(Identifier.model_config) == _CONFIG
    )


def is_string(value: Any) -> bool:
    """An R4B ``string``: valid unicode (no lone surrogate), with a character that is not
    one of the blanks above; control characters are allowed, as fhir_core allows them."""
    return (
        type(value) is str and _INK.search(value) is not None and _SURROGATE.search(value) is None
    )


def is_id(value: Any) -> bool:
    """An R4B ``id`` as fhir_core checks it: 1..255 of A-Z a-z 0-9 - ."""
    return type(value) is str and _ID.fullmatch(value) is not None


def is_decimal(value: Any) -> bool:
    """A float R4B's ``decimal`` takes: every finite one (its ``str`` matches the decimal
    pattern); other types are left to full validation."""
    return type(value) is float and value - value == 0.0  # inf - inf and nan are nan
