"""Schemes provisioned once per configuration: key generation (RSA, ML-DSA, certificates,
PSKs) is provisioning, outside every timed region."""

from __future__ import annotations

from functools import cache
from typing import Any

import dthq


@cache
def scheme(name: str, **options: Any) -> Any:
    return dthq.SCHEMES.get(name)(**options)
