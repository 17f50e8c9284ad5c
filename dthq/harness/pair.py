"""The bare paho pair: the reference the pipeline's held rate is judged against.

A publisher process and a subscriber process using paho-mqtt directly (not the
project's MQTTBus), through the same broker, at the same QoS and with the same payload
size as the pipeline's readings on the wire. The publisher paces messages at the offered
rate for a fixed window, each carrying its sequence number and its send time
(``perf_counter_ns``: CLOCK_MONOTONIC on Linux, one clock for every process); the
subscriber counts each sequence number once, the duplicates, and the latency of each
first arrival. :func:`probe` runs one window and returns it as a :class:`HeldProbe`.

Run each side alone with ``python -m dthq.harness.pair_subscriber`` and
``python -m dthq.harness.pair_publisher`` (``--help``).
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dthq.harness.results import HeldProbe
from dthq.transport.bus import BusError
from dthq.transport.mqtt import USERNAME, parse_broker

HEADER = struct.Struct(">QQ")  # sequence number, send time (ns)
MIN_PAYLOAD = HEADER.size
READY = "ready"
START_TIMEOUT_S = 20.0
INFLIGHT = 1000  # as MQTTBus sets it


def payload(seq: int, sent_ns: int, size: int) -> bytes:
    return HEADER.pack(seq, sent_ns) + bytes(size - HEADER.size)


def connect(url: str, protocol: int, client_id: str) -> paho.Client:
    """A paho client connected (CONNACK received) with its network thread running, on
    the URL's first node, as the URL's user (else ours)."""
    address = parse_broker(url)
    host, port = address.hosts[0]
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if protocol == 5 else paho.MQTTv311,
    )
    # amqtt refuses anonymous clients; RabbitMQ, a user name without a password
    client.username_pw_set(address.username or USERNAME, address.password)
    client.max_inflight_messages_set(INFLIGHT)
    client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not connected.wait(START_TIMEOUT_S):
        client.loop_stop()
        raise BusError(f"no CONNACK from {url} in {START_TIMEOUT_S:g} s")
    return client


def _source_env() -> dict[str, str]:
    """The children import this very dthq (a worktree's, not an installed one)."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _side(module: str, *args: object) -> list[str]:
    return [sys.executable, "-m", f"dthq.harness.{module}", *(str(a) for a in args)]


def probe(
    url: str,
    protocol: int,
    rate: float,
    *,
    window_s: float,
    payload_bytes: int,
    qos: int = 1,
    drain_s: float = 2.0,
    system_cores: set[int] | None = None,
    load_cores: set[int] | None = None,
) -> HeldProbe:
    """One window of the pair at ``rate`` messages/s: the subscriber started and
    subscribed first, then the publisher; the subscriber waits up to ``drain_s`` after
    the publisher's last PUBACK for what is still on its way. ``system_cores`` and
    ``load_cores`` place the subscriber and the publisher (the load) as a pipeline run's
    ``pin`` places its parties (see :mod:`dthq.harness.placement`)."""
    topic = f"dthq/pair/{os.urandom(4).hex()}"
    common = ("--url", url, "--protocol", protocol, "--topic", topic, "--qos", qos)
    publisher = ("--rate", rate, "--seconds", window_s, "--payload", payload_bytes)
    env = _source_env()
    sub = subprocess.Popen(
        _side("pair_subscriber", *common, "--drain", drain_s),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        if system_cores is not None:
            os.sched_setaffinity(sub.pid, system_cores)
        _wait_ready(sub)
        pub = subprocess.run(
            _side("pair_publisher", *common, *publisher, "--drain", drain_s),
            capture_output=True,
            text=True,
            env=env,
            timeout=window_s + drain_s + START_TIMEOUT_S,
            preexec_fn=None if load_cores is None else lambda: os.sched_setaffinity(0, load_cores),
        )
        if pub.returncode != 0:
            raise BusError(f"the pair's publisher failed: {_last_line(pub.stderr)}")
        sent = json.loads(pub.stdout)
        out, err = sub.communicate(f"{sent['sent']}\n", timeout=drain_s + START_TIMEOUT_S)
        if sub.returncode != 0:
            raise BusError(f"the pair's subscriber failed: {_last_line(err)}")
        got = json.loads(out.splitlines()[-1])
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    return HeldProbe(
        offered_per_s=rate,
        sent=sent["sent"],
        sent_per_s=sent["sent"] / max(sent["elapsed_s"], window_s),
        delivered_once=got["unique"],
        duplicated=got["duplicated"],
        lost=max(0, sent["sent"] - got["unique"]),
        p50_ms=got["p50_ms"],
        p99_ms=got["p99_ms"],
    )


def _wait_ready(sub: subprocess.Popen[str]) -> None:
    assert sub.stdout is not None
    ready, _, _ = select.select([sub.stdout], [], [], START_TIMEOUT_S)
    line = sub.stdout.readline().strip() if ready else ""
    if line != READY:
        sub.kill()
        _, err = sub.communicate()
        raise BusError(f"the pair's subscriber did not subscribe: {_last_line(err) or line}")


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def wait_until(predicate: Any, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True
