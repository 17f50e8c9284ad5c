"""The scheme interface and registry, with DTHQ registered."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import dthq
from dthq.errors import UnsupportedError
from dthq.schemes import base as scheme_module
from dthq.transport import MemoryTransport, Transport


def test_dthq_is_registered_and_establishes() -> None:
    cls = dthq.SCHEMES.get("dthq")
    session = cls(key_length=128, edge="far").establish(now_ms=0)
    assert [f.name for f in session.flights] == ["HELLO", "REPLY", "FINISH"]
    assert [f.sender for f in session.flights] == ["A", "B", "A"]
    assert session.handshake_bytes == sum(len(f.data) for f in session.flights)
    assert session.params["codec"] == "lz4" and session.params["aead"] == "AES-128-GCM"
    assert cls.quantum_safe in dthq.schemes.base.QUANTUM_SAFE
    record = session.initiator.seal(b"spo2=97", 1)
    assert len(record) == len(b"spo2=97") + session.initiator.overhead
    assert session.responder.open(record, 1) == b"spo2=97"


def test_unknown_scheme_is_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="unknown scheme"):
        dthq.SCHEMES.get("rot13")


class _PluginScheme:
    name = "plugin"
    quantum_safe = "no"


def test_entry_point_plugins_register(monkeypatch: pytest.MonkeyPatch) -> None:
    good = EntryPoint("plugin", f"{__name__}:_PluginScheme", scheme_module.ENTRY_POINT_GROUP)
    bad = EntryPoint("broken", "no_such_module:Nothing", scheme_module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(scheme_module, "entry_points", lambda group: [good, bad])
    monkeypatch.setattr(scheme_module, "SCHEMES", registry := scheme_module.Registry("scheme"))
    scheme_module.load_plugins()
    assert registry.get("plugin") is _PluginScheme
    with pytest.raises(UnsupportedError, match="failed to load"):
        registry.get("broken")


def test_memory_transport_is_ordered_and_counts_bytes() -> None:
    t: Transport = MemoryTransport()
    t.send("A", b"one", "HELLO")
    t.send("A", b"three", "record")
    t.send("B", b"xy")
    assert t.receive("B") == b"one" and t.receive("B") == b"three" and t.receive("A") == b"xy"
    assert t.bytes_sent == {"A": 8, "B": 2}
    with pytest.raises(dthq.StateError):
        t.receive("B")
    with pytest.raises(dthq.StateError):
        t.send("C", b"")


class _LoggingTransport(MemoryTransport):
    """A second Transport: any object with send/receive/log carries a handshake."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def send(self, sender: str, data: bytes, name: str = "record") -> None:
        self.calls.append(("send", sender))
        super().send(sender, data, name)

    def receive(self, receiver: str) -> bytes:
        self.calls.append(("receive", receiver))
        return super().receive(receiver)


def test_a_scheme_establishes_over_any_transport() -> None:
    transport = _LoggingTransport()
    session = dthq.DTHQScheme().establish(now_ms=0, transport=transport)
    assert transport.calls == [
        ("send", "A"),
        ("receive", "B"),
        ("send", "B"),
        ("receive", "A"),
        ("send", "A"),
        ("receive", "B"),
    ]
    assert session.flights == transport.log
    assert session.responder.open(session.initiator.seal(b"hr=61", 1), 1) == b"hr=61"
