"""The cluster's readiness check: a real QoS 1 round trip from one node to another."""

from __future__ import annotations

import os
import threading
from contextlib import closing

from dthq.transport.bus import BusError
from dthq.transport.mqtt import MQTT_311, MQTTBus


def round_trip(publish_url: str, subscribe_url: str, timeout: float) -> bool:
    """True if a message published at ``publish_url`` reached a subscriber at
    ``subscribe_url`` within ``timeout`` seconds; False if not, or either refused."""
    tag = os.urandom(4).hex()
    topic = f"dthq/v1/ready/{tag}"
    got = threading.Event()
    try:
        with closing(MQTTBus(subscribe_url, f"dthq-ready-{tag}-s", protocol=MQTT_311)) as sub:
            sub.subscribe(topic, lambda m: got.set(), qos=1)
            with closing(MQTTBus(publish_url, f"dthq-ready-{tag}-p", protocol=MQTT_311)) as pub:
                pub.publish_acked(topic, b"ready", 1, timeout)
                return got.wait(timeout)
    except BusError:
        return False
