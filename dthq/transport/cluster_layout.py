"""What a loopback RabbitMQ cluster is made of, and its state file: the nodes' names and
ports, the private epmd's port, the PIDs. ``dthq cluster up`` writes it; ``status`` and
``down``, in later processes, read it strictly (a file that is not exactly this is
refused, and nothing is signalled on its word).

Each cluster has its own tag: its node names (``dthq-TAG-I@localhost``) and its epmd
port are its own, so two clusters on one machine never join or stop each other.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dthq.transport.brokers import LOOPBACK, free_port
from dthq.transport.bus import BusError

STATE_FILE = "cluster.json"
STATE_VERSION = 1
MAX_NODES = 5  # a quorum of 3 tolerates one loss; more than 5 on a 2-core box shows nothing
# The broker user every client of ours logs in as. RabbitMQ refuses an MQTT user name
# without a password, so there is one; it is a name, not a secret, like the user name
# on the other brokers' plain listeners: on loopback anyone may connect, and what
# protects a reading is DTHQ's own authentication.
USER = PASSWORD = "dthq"
_TAG = re.compile(r"^[0-9a-f]{8}$")
_KEYS = frozenset({"version", "tag", "started", "url", "epmd", "nodes"})
_EPMD_KEYS = frozenset({"port", "pid"})
_NODE_KEYS = frozenset({"name", "amqp", "mqtt", "dist", "pid"})


@dataclass(frozen=True)
class Node:
    """One node: its index in the cluster, its listeners (AMQP 0-9-1, MQTT 3.1.1, the
    Erlang distribution) and, once started, its PID."""

    tag: str
    index: int
    amqp: int
    mqtt: int
    dist: int
    pid: int | None = None

    @property
    def name(self) -> str:
        return f"dthq-{self.tag}-{self.index}@localhost"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{USER}:{PASSWORD}@{LOOPBACK}:{self.mqtt}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://{USER}:{PASSWORD}@{LOOPBACK}:{self.amqp}/%2F"

    @property
    def ports(self) -> tuple[int, int, int]:
        return self.amqp, self.mqtt, self.dist


@dataclass(frozen=True)
class Layout:
    """The cluster: its folder, tag, epmd and nodes."""

    folder: Path
    tag: str
    epmd_port: int
    nodes: tuple[Node, ...]
    epmd_pid: int | None = None
    started: str = field(default="")  # ISO 8601, UTC

    @property
    def url(self) -> str:
        """The broker URL clients rotate through: every node's MQTT listener."""
        nodes = ",".join(f"{LOOPBACK}:{n.mqtt}" for n in self.nodes)
        return f"mqtt://{USER}:{PASSWORD}@{nodes}"

    @property
    def ports(self) -> list[int]:
        return [self.epmd_port] + [p for n in self.nodes for p in n.ports]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "tag": self.tag,
            "started": self.started,
            "url": self.url,
            "epmd": {"port": self.epmd_port, "pid": self.epmd_pid},
            "nodes": [
                {"name": n.name, "amqp": n.amqp, "mqtt": n.mqtt, "dist": n.dist, "pid": n.pid}
                for n in self.nodes
            ],
        }


def default_folder() -> Path:
    """Where ``dthq cluster`` keeps its cluster unless told: $XDG_STATE_HOME/dthq/cluster."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dthq" / "cluster"


def broker_url(value: str) -> str:
    """``--broker``'s value: ``cluster`` (the default folder's running cluster),
    ``cluster:DIR`` (the one in DIR), or a broker URL, returned as it is."""
    if value == "cluster":
        return read(default_folder()).url
    if value.startswith("cluster:"):
        return read(Path(value.removeprefix("cluster:"))).url
    return value


def plan(folder: Path, size: int) -> Layout:
    """A new layout: a fresh tag and 1 + 3 x ``size`` distinct free loopback ports."""
    if not 1 <= size <= MAX_NODES:
        raise BusError(f"a cluster has 1 to {MAX_NODES} nodes, not {size}")
    ports: list[int] = []
    while len(ports) < 1 + 3 * size:
        port = free_port()
        if port not in ports:
            ports.append(port)
    tag = os.urandom(4).hex()
    nodes = tuple(Node(tag, i, *ports[1 + 3 * i : 4 + 3 * i]) for i in range(size))
    return Layout(folder, tag, ports[0], nodes)


def busy_ports(layout: Layout) -> list[int]:
    """The layout's ports something else listens on now (checked before anything starts)."""
    busy = []
    for port in layout.ports:
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                busy.append(port)
    return busy


def write(layout: Layout) -> None:
    layout.folder.mkdir(parents=True, exist_ok=True)
    path = layout.folder / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(layout.to_json(), indent=2) + "\n")
    tmp.replace(path)  # a reader sees the old state or the new, never half of one


def _int(obj: dict[str, Any], key: str, what: str, *, pid: bool = False) -> Any:
    value = obj.get(key)
    if pid and value is None:
        return None
    if type(value) is not int or not (1 <= value <= (4_194_304 if pid else 65_535)):
        raise BusError(f"{what}: {key} {value!r} is not a {'PID' if pid else 'port'}")
    return value


def read(folder: Path) -> Layout:
    """The layout ``up`` wrote in ``folder``; a :class:`BusError` naming what is wrong."""
    path = folder / STATE_FILE
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise BusError(
            f"{folder}: no cluster here (no {STATE_FILE}); start one with `dthq cluster up`"
        ) from None
    except (OSError, ValueError) as exc:
        raise BusError(f"{path}: not a cluster state file: {exc}") from None
    what = str(path)
    if not isinstance(obj, dict) or obj.get("version") != STATE_VERSION:
        raise BusError(f"{what}: not a version-{STATE_VERSION} cluster state file")
    tag, nodes, epmd = obj.get("tag"), obj.get("nodes"), obj.get("epmd")
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise BusError(f"{what}: tag {tag!r} is not 8 hex digits")
    if not isinstance(epmd, dict) or not isinstance(nodes, list):
        raise BusError(f"{what}: epmd and nodes are missing")
    if not 1 <= len(nodes) <= MAX_NODES or not all(isinstance(n, dict) for n in nodes):
        raise BusError(f"{what}: 1 to {MAX_NODES} nodes expected, got {len(nodes)}")
    for keys, known, where in [
        (obj.keys(), _KEYS, "the file"),
        (epmd.keys(), _EPMD_KEYS, "epmd"),
        *((n.keys(), _NODE_KEYS, f"node {i}") for i, n in enumerate(nodes)),
    ]:
        if unknown := sorted(set(keys) - known):
            raise BusError(f"{what}: {where} has an unknown key {unknown[0]!r}")
    parsed = tuple(
        Node(
            tag,
            i,
            _int(n, "amqp", what),
            _int(n, "mqtt", what),
            _int(n, "dist", what),
            _int(n, "pid", what, pid=True),
        )
        for i, n in enumerate(nodes)
    )
    for i, n in enumerate(nodes):
        if n.get("name") != parsed[i].name:
            raise BusError(f"{what}: node {i} is named {n.get('name')!r}, not {parsed[i].name!r}")
    started = obj.get("started", "")
    if not isinstance(started, str):
        raise BusError(f"{what}: started {started!r} is not an ISO 8601 time")
    layout = Layout(
        folder,
        tag,
        _int(epmd, "port", what),
        parsed,
        _int(epmd, "pid", what, pid=True),
        started,
    )
    if len(set(layout.ports)) != len(layout.ports):
        raise BusError(f"{what}: two listeners share a port")
    return layout
