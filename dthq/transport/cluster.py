"""A RabbitMQ cluster on loopback, started and stopped by the project itself, as it
manages Mosquitto: ``dthq cluster up|down|status`` and the tests' fixture are this class.

Why RabbitMQ (Debian's 3.10, with its MQTT and consistent-hash exchange plugins): it
clusters, its MQTT listener keeps persistent sessions in quorum queues (replicated on
every node, so a node killed with ``kill -9`` loses nothing), and its AMQP side has what
partitioned twins need: a consistent-hash exchange pins each patient to one queue, and
single-active consumers keep each queue in order with a standby. NATS clusters too and
starts faster, but has no single-active consumer, and losing its stream leader stalled
publishing for seconds.

Each node is ``/usr/lib/rabbitmq/bin/rabbitmq-server`` run directly (the ``/usr/sbin``
wrapper switches user), in a folder of its own under the cluster's, with every listener
on 127.0.0.1: AMQP, MQTT, the Erlang distribution (``inet_dist_use_interface``) and the
cluster's own epmd (``-address 127.0.0.1``, started first, on a port of its own, so the
nodes do not start a shared one that outlives them). The nodes find each other by their
names (classic config peer discovery: the first node boots alone, the others then join
it). Every process is stopped by its PID, checked to be the one this cluster started.

Ready means a real round trip: for each node, a message published on the next node
reaches a subscriber on this one (so the nodes are one cluster, not three brokers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from dthq.transport import cluster_folder, cluster_layout
from dthq.transport.brokers import LOOPBACK, TAIL_BYTES, Lifecycle, _die_with_starter, listening
from dthq.transport.bus import BusError
from dthq.transport.cluster_config import node_env, write_shared
from dthq.transport.cluster_layout import Layout, Node
from dthq.transport.cluster_probe import round_trip
from dthq.transport.mqtt import MQTT_311

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQ_MISSING = (
    f"RabbitMQ is not installed ({RABBITMQ_SERVER}: Debian package rabbitmq-server; "
    ".ci/run installs it)"
)
EPMD_PATHS = ("/usr/bin/epmd", "/usr/lib/erlang/bin/epmd")
START_S = 180.0  # a cold start of 3 nodes on a loaded 2-core machine (about 25 s idle)
STOP_S = 30.0  # a graceful stop, then SIGKILL
ROUND_TRIP_S = 3.0


def find_rabbitmq() -> Path | None:
    return RABBITMQ_SERVER if RABBITMQ_SERVER.exists() else None


def _epmd() -> str:
    found = next((p for p in EPMD_PATHS if Path(p).exists()), None) or shutil.which("epmd")
    if found is None:
        raise BusError("epmd is not installed (Debian package erlang-base)")
    return found


def _proc_file(pid: int | None, name: str) -> bytes | None:
    if pid is None:
        return None
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def _is_node(pid: int | None, name: str) -> bool:
    """``pid`` is alive and is the node ``name``: its environment holds exactly that node
    name (each cluster's names carry its own random tag). A PID from a state file may
    since name another process, which must not be signalled."""
    environ = _proc_file(pid, "environ")
    return environ is not None and f"RABBITMQ_NODENAME={name}".encode() in environ.split(b"\0")


def _epmd_argv(port: int) -> list[str]:
    return [_epmd(), "-address", LOOPBACK, "-port", str(port)]


def _is_epmd(pid: int | None, port: int) -> bool:
    """``pid`` is alive and runs exactly the command line this cluster's epmd was given."""
    cmdline = _proc_file(pid, "cmdline")
    return cmdline is not None and cmdline.split(b"\0")[:5] == [
        a.encode() for a in _epmd_argv(port)
    ]


@dataclass(frozen=True)
class NodeStatus:
    node: Node
    running: bool  # its PID is alive and is this node
    listening: bool  # its MQTT port accepts connections


class RabbitCluster(Lifecycle):
    """``size`` nodes in ``folder``. ``detach=True`` (``dthq cluster up``) leaves them
    running after this process exits; otherwise they get SIGTERM when it ends."""

    name = "rabbitmq"
    protocol = MQTT_311  # 3.10 closes the connection on MQTT 5

    def __init__(self, folder: Path, size: int = 3, *, detach: bool = False) -> None:
        self.folder = Path(folder)
        self.size = size
        self.detach = detach
        self.layout: Layout | None = None
        self._procs: dict[int, subprocess.Popen[bytes]] = {}  # index -> a child of ours
        self._epmd: subprocess.Popen[bytes] | None = None

    @classmethod
    def attach(cls, folder: Path) -> RabbitCluster:
        """The cluster ``up`` started in ``folder`` (from its state file)."""
        layout = cluster_layout.read(Path(folder))
        cluster = cls(Path(folder), len(layout.nodes), detach=True)
        cluster.layout = layout
        return cluster

    @property
    def url(self) -> str:
        return self._layout.url

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self._layout.nodes

    @property
    def version(self) -> str:
        nodes = "node" if self.size == 1 else "nodes"
        return f"RabbitMQ cluster of {self.size} {nodes}"

    @property
    def _layout(self) -> Layout:
        if self.layout is None:
            raise BusError("the cluster is not started")
        return self.layout

    # starting

    def start(self) -> None:
        if find_rabbitmq() is None:
            raise BusError(RABBITMQ_MISSING)
        with cluster_folder.locked(self.folder):
            self._refuse_running()
            layout = cluster_layout.plan(self.folder, self.size)
            if busy := cluster_layout.busy_ports(layout):
                raise BusError(f"port {busy[0]} on {LOOPBACK} is already in use")
            cluster_folder.fresh_nodes(self.folder)
            write_shared(self.folder)
            self.layout = replace(layout, started=datetime.now(UTC).isoformat(timespec="seconds"))
            try:
                self._start_all(layout)
            except BaseException:  # a Ctrl-C too: a start that fails leaves nothing behind
                self.stop()
                raise

    def _start_all(self, layout: Layout) -> None:
        self._epmd = epmd = self._spawn(_epmd_argv(layout.epmd_port), self.folder / "epmd.log")
        self.layout = replace(self._layout, epmd_pid=epmd.pid)
        cluster_layout.write(self.layout)
        self._wait_port(layout.epmd_port, epmd, "epmd", time.monotonic() + 10)
        # The first node alone, then the rest: classic-config discovery has no lock, and
        # nodes that all boot at once may each found a cluster of their own.
        deadline = time.monotonic() + START_S
        first = layout.nodes[0]
        self._start_node(first)
        self._wait_port(first.mqtt, self._procs[0], first.name, deadline)
        for node in layout.nodes[1:]:
            self._start_node(node)
        self.wait_ready(max(1.0, deadline - time.monotonic()))

    def _refuse_running(self) -> None:
        """One cluster per folder: a running one is refused, never overwritten."""
        try:
            old = cluster_layout.read(self.folder)
        except BusError:
            return  # no state, or none worth keeping: the folder is free
        if any(_is_node(n.pid, n.name) for n in old.nodes) or _is_epmd(old.epmd_pid, old.epmd_port):
            raise BusError(
                f"a cluster is already running in {self.folder}: `dthq cluster down` stops it"
            )

    def _spawn(
        self, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                cwd=self.folder,
                start_new_session=self.detach,
                preexec_fn=None if self.detach else _die_with_starter,
            )

    def _start_node(self, node: Node) -> None:
        env = node_env(self.folder, self._layout, node)
        log = self.folder / "nodes" / str(node.index) / "stdout.log"
        proc = self._spawn([str(RABBITMQ_SERVER)], log, env)
        self._procs[node.index] = proc
        nodes = list(self._layout.nodes)
        nodes[node.index] = replace(node, pid=proc.pid)
        self.layout = replace(self._layout, nodes=tuple(nodes))
        cluster_layout.write(self.layout)

    def _wait_port(
        self, port: int, proc: subprocess.Popen[bytes] | None, what: str, deadline: float
    ) -> None:
        while True:
            if listening(port):
                return
            if proc is not None and proc.poll() is not None:
                raise BusError(
                    f"{what} exited with {proc.returncode} before it listened on "
                    f"port {port}: {self._last(what)}"
                )
            if time.monotonic() > deadline:
                raise BusError(
                    f"{what} did not listen on {LOOPBACK}:{port} in time: {self._last(what)}"
                )
            time.sleep(0.1)

    def _last(self, what: str) -> str:
        """The last lines a node (or epmd) wrote: its own words for a failure."""
        logs = {"epmd": [self.folder / "epmd.log"]}
        for node in self._layout.nodes if self.layout else ():
            home = self.folder / "nodes" / str(node.index)
            logs[node.name] = [home / "stdout.log", *sorted((home / "log").glob("*.log"))]
        for path in logs.get(what, []):
            with contextlib.suppress(OSError):
                text = path.read_bytes()[-TAIL_BYTES:].decode(errors="replace")
                lines = [line.strip() for line in text.splitlines() if line.strip()]
                if lines:
                    return " | ".join(lines[-3:])
        return "no output"

    def wait_ready(self, timeout: float) -> None:
        """Every node listening, and a message round trip from each node to the next."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._wait_port(node.mqtt, self._procs.get(node.index), node.name, deadline)
        for node in self.nodes:
            after = self.nodes[(node.index + 1) % len(self.nodes)]
            while not round_trip(after.mqtt_url, node.mqtt_url, ROUND_TRIP_S):
                for n in (node, after):
                    if not _is_node(n.pid, n.name):  # died (ours or an earlier command's)
                        raise BusError(f"{n.name} is not running: {self._last(n.name)}")
                if time.monotonic() > deadline:
                    raise BusError(
                        f"{node.name} never received what {after.name} published "
                        f"within {timeout:g} s: the nodes did not form one cluster: "
                        f"{self._last(node.name)}"
                    )
                time.sleep(0.5)

    # a node at a time (the failover tests)

    def kill(self, index: int) -> None:
        """``kill -9`` node ``index`` (as a crash would)."""
        node = self.nodes[index]
        if _is_node(node.pid, node.name) and node.pid is not None:
            os.kill(node.pid, signal.SIGKILL)
        proc = self._procs.pop(index, None)
        if proc is not None:
            proc.wait(10)
        # A node that is not our child (started by an earlier `dthq cluster`) is gone
        # once its listener is: the kernel closes its sockets as it tears it down.
        deadline = time.monotonic() + 10
        while listening(node.mqtt) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, index: int, timeout: float = START_S) -> None:
        """Start node ``index`` again (its data kept) and wait for its round trip."""
        node = self.nodes[index]
        if _is_node(node.pid, node.name):
            raise BusError(f"{node.name} is still running (pid {node.pid})")
        self._start_node(node)
        self.wait_ready(timeout)

    # stopping, and what is running

    def status(self) -> list[NodeStatus]:
        return [
            NodeStatus(n, _is_node(n.pid, n.name), listening(n.mqtt)) for n in self._layout.nodes
        ]

    def stop(self) -> None:
        """SIGTERM every node, SIGKILL any left after STOP_S, then the cluster's epmd."""
        if self.layout is None:
            return
        layout = self.layout
        live = [n for n in layout.nodes if _is_node(n.pid, n.name)]
        for node in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + STOP_S
        for node in live:
            while _is_node(node.pid, node.name) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.1)
            if _is_node(node.pid, node.name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGKILL)  # type: ignore[arg-type]
        self._reap()
        if _is_epmd(layout.epmd_pid, layout.epmd_port):
            with contextlib.suppress(ProcessLookupError):
                os.kill(layout.epmd_pid, signal.SIGTERM)  # type: ignore[arg-type]
        for proc in [*self._procs.values(), *([self._epmd] if self._epmd else [])]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        self._procs.clear()
        self._epmd = None
        (self.folder / cluster_layout.STATE_FILE).unlink(missing_ok=True)
        self.layout = None

    def _reap(self) -> None:
        for proc in self._procs.values():
            proc.poll()  # a child of ours that died is a zombie until reaped
