"""A real 3-node RabbitMQ cluster on loopback (Debian's rabbitmq-server; .ci/run installs
it), started by the tests as ``dthq cluster up`` starts one: it forms one cluster, listens
on 127.0.0.1 only, survives ``kill -9`` of each node in turn with every acknowledged
message delivered, and stops every process it started."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from dthq.cli.main import main
from dthq.harness import failover
from dthq.transport import cluster_layout
from dthq.transport.bus import BusError
from dthq.transport.cluster import RabbitCluster
from dthq.transport.cluster_probe import round_trip

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
    cookie = cluster.folder / ".erlang.cookie"  # the key to every node: this user's only
    assert cookie.stat().st_mode & 0o777 == 0o400
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


def test_kill_9_of_each_node_in_turn_loses_no_acknowledged_message(
    cluster: RabbitCluster,
) -> None:
    run = failover.measure(cluster, rate=100.0, window_s=2.0)
    assert [k.node for k in run.kills] == [n.name for n in cluster.nodes]
    assert run.lost == 0 and all(k.lost == 0 for k in run.kills), run
    assert run.acknowledged >= run.sent * 0.9  # the publisher's messages kept being taken
    assert sum(k.acknowledged for k in run.kills) == run.acknowledged  # windows cover all
    assert run.duplicates_removed == sum(k.duplicates_removed for k in run.kills)
    assert 0 < run.rate_per_s <= 101  # measured, not the rate asked for
    assert run.duplicates_removed <= run.sent  # at least once, each counted; never a flood
    moved = [s for k in run.kills for s in k.reconnect_s]
    assert moved and len(moved) == sum(k.clients_moved for k in run.kills)
    assert max(moved) < failover.RECONNECT_BOUND_S
    assert all(0 < k.restart_s < 180 for k in run.kills)


def test_a_busy_port_is_refused_before_anything_starts(
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


def test_a_node_that_dies_at_start_is_named_and_nothing_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dthq.transport import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "RABBITMQ_SERVER", Path("/bin/false"))
    c = RabbitCluster(tmp_path, 1)
    started: list[int] = []
    spawn = c._spawn
    monkeypatch.setattr(c, "_spawn", lambda *a, **k: started.append((p := spawn(*a, **k)).pid) or p)
    with pytest.raises(BusError, match=r"dthq-[0-9a-f]{8}-0@localhost exited with 1 before"):
        c.start()
    assert len(started) == 2  # epmd, then the node
    for pid in started:  # reaped, or a zombie of ours at most
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert not (tmp_path / "cluster.json").exists()


def test_down_never_signals_a_process_the_state_file_names_but_is_not_ours(
    tmp_path: Path,
) -> None:
    import subprocess
    from dataclasses import replace

    stranger = subprocess.Popen(["sleep", "60"])  # a PID reused, or a file crafted
    try:
        layout = cluster_layout.plan(tmp_path, 1)
        nodes = (replace(layout.nodes[0], pid=stranger.pid),)
        cluster_layout.write(replace(layout, nodes=nodes, epmd_pid=stranger.pid))
        c = RabbitCluster.attach(tmp_path)
        assert [s.running for s in c.status()] == [False]
        c.kill(0)
        c.stop()
        assert stranger.poll() is None  # alive: neither kill nor stop signalled it
        assert not (tmp_path / "cluster.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_up_refuses_a_folder_that_is_not_a_clusters(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BusError, match=r"not a cluster folder .*'notes\.txt'"):
        RabbitCluster(tmp_path, 1).start()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    other = tmp_path / "elsewhere"
    other.mkdir()
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "nodes").symlink_to(other)
    with pytest.raises(BusError, match="a link is refused"):
        RabbitCluster(folder, 1).start()
    link = tmp_path / "link"
    link.symlink_to(other)
    with pytest.raises(BusError, match="not a directory"):
        RabbitCluster(link, 1).start()


def test_down_stops_every_process_it_started(cluster: RabbitCluster) -> None:
    pids = _pids(cluster)
    folder = cluster.folder
    result = CliRunner().invoke(main, ["cluster", "down", "--dir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stopped"] == [n.name for n in cluster.nodes]
    assert oct(cluster.folder.stat().st_mode & 0o777) == "0o700"
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
        assert time.monotonic() < deadline, "a cluster process outlived down"
        time.sleep(0.1)
    result = CliRunner().invoke(main, ["cluster", "status", "--dir", str(folder)])
    assert result.exit_code == 2
    assert "no cluster here" in result.output
