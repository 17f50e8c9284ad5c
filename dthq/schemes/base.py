"""The interface every scheme offers, DTHQ and the baselines alike, and their registry.

A scheme establishes a session in-process and returns both endpoints' channels
and the bytes of every flight; channels then ``seal``/``open`` records. Schemes
are found by name; third-party ones register through the ``dthq.schemes`` entry
point group (each entry point names a class with this interface).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from dthq.crypto.registry import Registry
from dthq.transport import Flight

QUANTUM_SAFE = ("no", "hybrid", "yes")


class Channel(Protocol):
    @property
    def overhead(self) -> int:
        """Bytes one record adds to its payload (header + tag, before compression)."""
        ...

    def seal(self, payload: bytes, now_ms: int) -> bytes: ...

    def open(self, record: bytes, now_ms: int) -> bytes:
        """The payload of a verified record received at ``now_ms``."""
        ...


@dataclass
class Session:
    scheme: str
    initiator: Channel
    responder: Channel
    flights: list[Flight]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def handshake_bytes(self) -> int:
        return sum(f.size for f in self.flights)


class Scheme(Protocol):
    name: str
    quantum_safe: str  # one of QUANTUM_SAFE

    def establish(self, now_ms: int) -> Session: ...


SCHEMES: Registry[Callable[..., Scheme]] = Registry("scheme")
ENTRY_POINT_GROUP = "dthq.schemes"


def load_plugins() -> None:
    """Register the schemes installed distributions offer as ``dthq.schemes`` entry
    points (this project's baselines among them); idempotent. The runner and the CLI
    call it, so an installed third-party scheme appears in ``dthq bench``."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in SCHEMES.names(available_only=False):
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the listing
            SCHEMES.register_unavailable(ep.name, ep.value, f"failed to load: {exc}")
        else:
            SCHEMES.register(ep.name, ep.value, lambda cls=cls: cls)
