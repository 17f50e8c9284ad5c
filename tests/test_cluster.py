"""A real 3-node RabbitMQ cluster on loopback (Debian's rabbitmq-server; .ci/run installs
it), started by the tests as ``dthq cluster up`` starts one: it forms one cluster, listens
on 127.0.0.1 only, survives ``kill -9`` of each node in turn with every acknowledged
message delivered, and stops every process it started."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from dthq.cli.main import main
from dthq.transport import cluster_layout
from dthq.transport.bus import BusError, Message
from dthq.transport.cluster import RabbitCluster
from dthq.transport.cluster_probe import round_trip
from dthq.transport.mqtt import MQTTBus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires("rabbitmq"),
    pytest.mark.xdist_group("rabbitmq-cluster"),  # one cluster, its tests in this order
]
MQTT_311 = 4
RECONNECT_BOUND_S = 10.0  # the stated bound: a client is connected again within this


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    with RabbitCluster(tmp_path_factory.mktemp("cluster"), 3) as c:
        yield c


def _pids(c: RabbitCluster) -> list[int]:
    layout = c.layout
    assert layout is not None
    return [n.pid for n in layout.nodes if n.pid] + [layout.epmd_pid or 0]


def test_the_nodes_form_one_cluster(cluster: RabbitCluster) -> None:
    status = cluster.status()
    assert [s.running and s.listening for s in status] == [True, True, True]
    for a in cluster.nodes:  # a message crosses from every node to every other
        for b in cluster.nodes:
            if a != b:
                assert round_trip(a.mqtt_url, b.mqtt_url, 5.0), (a.name, b.name)


def test_every_listener_is_on_loopback_only(cluster: RabbitCluster) -> None:
    layout = cluster.layout
    assert layout is not None
    listening: set[tuple[str, int]] = set()
    for pid in _pids(cluster):
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                listening.add((conn.laddr.ip, conn.laddr.port))
    assert {("127.0.0.1", p) for p in layout.ports} <= listening  # AMQP, MQTT, dist, epmd
    # epmd adds the IPv6 loopback to the addresses it is given, where IPv6 is up.
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::1"}, listening


def test_status_reads_the_state_file_from_another_process(cluster: RabbitCluster) -> None:
    result = CliRunner().invoke(main, ["cluster", "status", "--dir", str(cluster.folder), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["up"] is True and out["url"] == cluster.url
    assert [n["node"] for n in out["nodes"]] == [n.name for n in cluster.nodes]


def test_the_bare_paho_pair_logs_in_as_the_urls_user(cluster: RabbitCluster) -> None:
    from dthq.harness import pair

    client = pair.connect(cluster.url, MQTT_311, f"pair-{os.urandom(3).hex()}")
    try:  # RabbitMQ refuses a user name without the password the URL carries
        assert client.is_connected() and client.port == cluster.nodes[0].mqtt
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_second_cluster_in_the_same_folder_is_refused(cluster: RabbitCluster) -> None:
    with pytest.raises(BusError, match=r"already running .*`dthq cluster down`"):
        RabbitCluster(cluster.folder, 3).start()
    assert all(s.running for s in cluster.status())  # and the running one is untouched


def test_a_node_out_of_range_is_refused_in_one_line(cluster: RabbitCluster) -> None:
    result = CliRunner().invoke(main, ["cluster", "kill", "3", "--dir", str(cluster.folder)])
    assert result.exit_code == 2
    assert result.output.strip() == "error: node 3: the cluster has nodes 0..2"


class _Stream:
    """A persistent QoS 1 subscriber and a publisher, both on the cluster's URL: what
    each message's sequence number did (acknowledged by the broker, received)."""

    def __init__(self, url: str) -> None:
        tag = os.urandom(3).hex()
        self.topic = f"dthq/v1/failover/{tag}"
        self.acked: set[int] = set()
        self.received: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.sub = MQTTBus(url, f"ft-{tag}-sub", persistent=True, protocol=MQTT_311)
        self.sub.subscribe(self.topic, self._got, qos=1)  # returns with the SUBACK: bound
        self.pub = MQTTBus(url, f"ft-{tag}-pub", persistent=True, protocol=MQTT_311)
        self.sent = 0

    def _got(self, message: Message) -> None:
        with self._lock:
            self.received[int(message.payload)] += 1

    def send(self, seconds: float, rate: float = 100.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seq = self.sent
            self.pub.publish(self.topic, b"%d" % seq, 1, on_taken=lambda s=seq: self.acked.add(s))
            self.sent += 1
            time.sleep(1 / rate)

    def buses_on(self, port: int) -> list[MQTTBus]:
        return [b for b in (self.sub, self.pub) if b.port == port]


def _reconnect_s(buses: list[MQTTBus], before: dict[str, tuple[int, float]]) -> list[float]:
    """Each bus's time disconnected since ``before`` (its drops and down time then), as
    the bus itself counts it, once it has dropped and is connected again."""
    out = []
    deadline = time.monotonic() + RECONNECT_BOUND_S
    for bus in buses:
        drops, down_ms = before[bus.client_id]
        while bus.stats.disconnects <= drops or not bus.connected:
            assert time.monotonic() < deadline, f"{bus.client_id} not back in {RECONNECT_BOUND_S} s"
            time.sleep(0.01)
        out.append((bus.stats.down_ms - down_ms) / 1000)
    return out


def test_kill_9_of_each_node_in_turn_loses_no_acknowledged_message(
    cluster: RabbitCluster,
) -> None:
    stream = _Stream(cluster.url)
    reconnects: list[float] = []
    with closing(stream.sub), closing(stream.pub):
        stream.send(1.0)
        for node in cluster.nodes:
            victims = stream.buses_on(node.mqtt)
            before = {b.client_id: (b.stats.disconnects, b.stats.down_ms) for b in victims}
            cluster.kill(node.index)
            stream.send(2.0)
            reconnects += _reconnect_s(victims, before)
            for bus in victims:
                assert bus.port != node.mqtt  # it moved to another node
            cluster.restart(node.index)
            stream.send(1.0)
        deadline = time.monotonic() + 60
        while not stream.acked <= set(stream.received) and time.monotonic() < deadline:
            time.sleep(0.1)
    lost = stream.acked - set(stream.received)
    assert not lost, f"{len(lost)} acknowledged messages never arrived: {sorted(lost)[:10]}"
    assert len(stream.acked) >= stream.sent * 0.9  # the publisher's own kept being taken
    duplicates = sum(n - 1 for n in stream.received.values())
    assert duplicates <= stream.sent  # at least once, each counted; never a flood
    assert reconnects, "no client was on a killed node"
    assert max(reconnects) < RECONNECT_BOUND_S
    print(
        f"sent {stream.sent}, acknowledged {len(stream.acked)}, duplicates {duplicates}, "
        f"reconnects (s) {sorted(round(r, 3) for r in reconnects)}"
    )


def test_a_failed_start_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = cluster_layout.plan(tmp_path, 1)
    monkeypatch.setattr(cluster_layout, "plan", lambda folder, size: layout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", layout.nodes[0].mqtt))
        s.listen()
        with pytest.raises(BusError, match=f"port {layout.nodes[0].mqtt} on 127.0.0.1 is already"):
            RabbitCluster(tmp_path, 1).start()
    assert not (tmp_path / "cluster.json").exists()
    assert not list(tmp_path.glob("nodes/*"))


def test_down_stops_every_process_it_started(cluster: RabbitCluster) -> None:
    pids = _pids(cluster)
    folder = cluster.folder
    result = CliRunner().invoke(main, ["cluster", "down", "--dir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stopped"] == [n.name for n in cluster.nodes]
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
        assert time.monotonic() < deadline, "a cluster process outlived down"
        time.sleep(0.1)
    result = CliRunner().invoke(main, ["cluster", "status", "--dir", str(folder)])
    assert result.exit_code == 2
    assert "no cluster here" in result.output
