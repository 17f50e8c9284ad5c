"""A broker URL naming several nodes: the client starts on a node that answers, and a
node that goes away moves it to the next with its subscriptions (two Mosquittos stand
in for two nodes here; tests/test_cluster.py does it on a RabbitMQ cluster)."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from dthq.transport.brokers import LOOPBACK, MosquittoBroker, free_port
from dthq.transport.bus import BusError
from dthq.transport.mqtt import MQTTBus

pytestmark = pytest.mark.requires("mosquitto")


def test_a_dead_first_node_is_skipped_at_connect() -> None:
    dead = free_port()
    with MosquittoBroker() as live:
        url = f"mqtt://{LOOPBACK}:{dead},{LOOPBACK}:{live.port}"
        # Whichever node its id hashes to first, it ends on the one that answers.
        for client in ("a", "b", "c", "d"):
            with closing(MQTTBus(url, f"rot-{client}")) as bus:
                assert bus.connected and bus.port == live.port


def test_a_node_that_closes_before_its_connack_is_skipped_at_connect() -> None:
    import socket

    with socket.socket() as closer, MosquittoBroker() as live:
        closer.bind((LOOPBACK, 0))
        closer.listen()
        stop = threading.Event()

        def accept_and_close() -> None:  # a dying node, or a proxy in front of a dead one
            closer.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = closer.accept()
                    conn.close()
                except OSError:
                    pass

        thread = threading.Thread(target=accept_and_close)
        thread.start()
        try:
            url = f"mqtt://{LOOPBACK}:{closer.getsockname()[1]},{LOOPBACK}:{live.port}"
            for client in ("a", "b", "c", "d"):
                with closing(MQTTBus(url, f"rot-closed-{client}", protocol=4)) as bus:
                    assert bus.connected and bus.port == live.port
        finally:
            stop.set()
            thread.join()


def test_no_node_answering_names_the_url() -> None:
    url = f"mqtt://u:secret@{LOOPBACK}:{free_port()},{LOOPBACK}:{free_port()}"
    with pytest.raises(BusError, match=r"no MQTT broker at 127\.0\.0\.1:") as refused:
        MQTTBus(url, "rot-none")
    assert "secret" not in str(refused.value) and "u:***@" in str(refused.value)


def test_a_node_that_goes_away_hands_the_client_to_the_next() -> None:
    with MosquittoBroker() as a, MosquittoBroker() as b:
        url = f"mqtt://{LOOPBACK}:{a.port},{LOOPBACK}:{b.port}"
        got = threading.Event()
        bus = MQTTBus(url, "rot-moving", connect=False)
        bus.subscribe("dthq/v1/rot", lambda m: got.set(), qos=1)
        bus.connect()
        with closing(bus):
            first = a if bus.port == a.port else b
            other = b if first is a else a
            first.stop()
            deadline = time.monotonic() + 10
            while not (bus.connected and bus.port == other.port):
                assert time.monotonic() < deadline, "the client never moved to the other node"
                time.sleep(0.02)
            assert bus.stats.disconnects == 1 and bus.stats.connects == 2
            with closing(MQTTBus(other.url, "rot-publisher")) as pub:  # renewed subscription
                assert pub.publish_acked("dthq/v1/rot", b"x", 1, 5.0)
            assert got.wait(5.0)
