"""The memory bus's queue is bounded: a publisher waits once MAX_QUEUED messages are
undelivered (as at a full broker), a handler's own publishes never wait."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from dthq.transport import bus as bus_module
from dthq.transport.bus import MemoryBus, Message


def test_a_publisher_waits_one_past_the_bound_and_a_handler_never_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "MAX_QUEUED", 2)
    entered, gate = threading.Event(), threading.Event()
    got: list[str] = []

    with closing(MemoryBus()) as bus:

        def on_a(message: Message) -> None:
            got.append(message.topic)
            if message.payload == b"first":
                entered.set()
                gate.wait()
                for i in range(3):  # more than the room left: must not wait on itself
                    bus.publish("b", str(i).encode())

        bus.subscribe("a", on_a)
        bus.subscribe("b", lambda m: got.append(m.topic))
        bus.publish("a", b"first")
        assert entered.wait(10)  # taken off the queue: its room is free again
        bus.publish("a", b"1")
        bus.publish("a", b"2")  # at the bound: did not wait
        third = threading.Thread(target=bus.publish, args=("a", b"3"))
        third.start()
        third.join(0.2)
        assert third.is_alive()  # one past: waits for room
        gate.set()
        third.join(10)
        assert not third.is_alive()
        bus.drain()
    assert got == ["a", "a", "a", "b", "b", "b", "a"]
