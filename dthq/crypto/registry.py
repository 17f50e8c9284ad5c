"""A name -> implementation registry (after noiseprotocol's backend tables).

Backends and schemes are dictionary entries, not ``if`` chains. An entry may be
registered as unavailable with a reason, so listings can say *why* it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from dthq.errors import UnsupportedError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    backend: str
    factory: Callable[[], T] | None
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.factory is not None


class Registry(Generic[T]):
    """Entries keyed by (name, backend); the first registered backend is the default."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[tuple[str, str], Entry[T]] = {}

    def register(self, name: str, backend: str, factory: Callable[[], T]) -> None:
        self._entries[(name, backend)] = Entry(name, backend, factory)

    def register_unavailable(self, name: str, backend: str, reason: str) -> None:
        self._entries[(name, backend)] = Entry(name, backend, None, reason)

    def entries(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def names(self, *, available_only: bool = True) -> list[str]:
        seen: dict[str, None] = {}
        for entry in self._entries.values():
            if entry.available or not available_only:
                seen.setdefault(entry.name)
        return list(seen)

    def backends(self, name: str) -> list[str]:
        return [e.backend for e in self._entries.values() if e.name == name and e.available]

    def get(self, name: str, backend: str | None = None) -> T:
        """Instantiate ``name`` from ``backend`` (default: the first available one)."""
        if backend is None:
            candidates = [e for e in self._entries.values() if e.name == name]
            if not candidates:
                raise UnsupportedError(
                    f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}"
                )
            usable = [e for e in candidates if e.available]
            if not usable:
                reasons = "; ".join(f"{e.backend}: {e.reason}" for e in candidates)
                raise UnsupportedError(f"{self.kind} {name!r} is unavailable ({reasons})")
            entry = usable[0]
        else:
            found = self._entries.get((name, backend))
            if found is None:
                raise UnsupportedError(
                    f"{self.kind} {name!r} has no backend {backend!r}; "
                    f"available: {', '.join(self.backends(name)) or 'none'}"
                )
            if found.factory is None:
                raise UnsupportedError(
                    f"{self.kind} {name!r} from {backend!r} is unavailable: {found.reason}"
                )
            entry = found
        assert entry.factory is not None
        return entry.factory()
