"""The cluster's layout and state file, its user's password hash and the cluster URLs
clients rotate through: no RabbitMQ needed (tests/test_cluster.py starts one)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dthq.errors import UnsupportedError
from dthq.transport import cluster_layout
from dthq.transport.bus import BusError
from dthq.transport.cluster_config import password_hash
from dthq.transport.mqtt import BrokerAddress, parse_broker, parse_broker_url


def test_a_password_hash_is_rabbitmqs_sha256_form() -> None:
    # The RabbitMQ passwords guide's own example: salt 908DC60A, password "test12".
    assert (
        password_hash("test12", bytes.fromhex("908DC60A"))
        == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    )
    assert password_hash("test12") != password_hash("test12")  # a fresh salt each time
    with pytest.raises(ValueError, match="4 bytes, not 5"):
        password_hash("x", b"12345")


@pytest.mark.parametrize("size", [1, 3, 5])
def test_a_plan_has_distinct_ports_and_names_of_its_own(tmp_path: Path, size: int) -> None:
    layout = cluster_layout.plan(tmp_path, size)
    assert len(layout.nodes) == size
    assert len(set(layout.ports)) == 1 + 3 * size
    assert [n.name for n in layout.nodes] == [
        f"dthq-{layout.tag}-{i}@localhost" for i in range(size)
    ]
    assert cluster_layout.plan(tmp_path, size).tag != layout.tag
    hosts = parse_broker(layout.url).hosts
    assert hosts == tuple(("127.0.0.1", n.mqtt) for n in layout.nodes)


@pytest.mark.parametrize("size", [0, 6])
def test_a_plan_outside_one_to_five_nodes_is_refused(tmp_path: Path, size: int) -> None:
    with pytest.raises(BusError, match=f"1 to 5 nodes, not {size}"):
        cluster_layout.plan(tmp_path, size)


def _written(tmp_path: Path) -> cluster_layout.Layout:
    layout = cluster_layout.plan(tmp_path, 3)
    nodes = tuple(replace(n, pid=1000 + n.index) for n in layout.nodes)
    layout = replace(layout, nodes=nodes, epmd_pid=999, started="2026-12-02T16:00:00+00:00")
    cluster_layout.write(layout)
    return layout


def test_the_state_file_reads_back_as_written(tmp_path: Path) -> None:
    layout = _written(tmp_path)
    assert cluster_layout.read(tmp_path) == layout
    obj = json.loads((tmp_path / "cluster.json").read_text())
    assert obj["version"] == 1 and obj["url"] == layout.url
    assert obj["nodes"][2] == {
        "name": f"dthq-{layout.tag}-2@localhost",
        "amqp": layout.nodes[2].amqp,
        "mqtt": layout.nodes[2].mqtt,
        "dist": layout.nodes[2].dist,
        "pid": 1002,
    }


def test_no_state_file_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(BusError, match=r"no cluster here .*`dthq cluster up`"):
        cluster_layout.read(tmp_path)


def _edit(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cluster.json"
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda o: o.update(version=2), "not a version-1"),
        (lambda o: o.update(tag="ABCDEF12"), "not 8 hex digits"),
        (lambda o: o.update(tag="abc"), "not 8 hex digits"),
        (lambda o: o.pop("epmd"), "epmd and nodes are missing"),
        (lambda o: o.update(nodes=[]), "1 to 5 nodes expected, got 0"),
        (lambda o: o.update(nodes=o["nodes"] * 2), "1 to 5 nodes expected, got 6"),
        (lambda o: o["nodes"][0].update(mqtt=0), "mqtt 0 is not a port"),
        (lambda o: o["nodes"][0].update(mqtt=65_536), "mqtt 65536 is not a port"),
        (lambda o: o["nodes"][0].update(amqp=True), "amqp True is not a port"),
        (lambda o: o["nodes"][0].update(dist="5672"), "dist '5672' is not a port"),
        (lambda o: o["nodes"][1].update(pid=0), "pid 0 is not a PID"),
        (lambda o: o["nodes"][1].update(pid=4_194_305), "pid 4194305 is not a PID"),
        (lambda o: o["epmd"].update(pid=-1), "pid -1 is not a PID"),
        (lambda o: o["nodes"][1].update(name="rabbit@localhost"), "node 1 is named"),
        (lambda o: o["nodes"][1].update(mqtt=o["nodes"][0]["mqtt"]), "share a port"),
        (lambda o: o.update(extra=1), "the file has an unknown key 'extra'"),
        (lambda o: o["epmd"].update(host="0.0.0.0"), "epmd has an unknown key 'host'"),
        (lambda o: o["nodes"][2].update(cmd="x"), "node 2 has an unknown key 'cmd'"),
        (lambda o: o.update(started=5), "started 5 is not an ISO 8601 time"),
    ],
)
def test_a_state_file_that_is_not_exactly_ours_is_refused(
    tmp_path: Path,
    change,
    error: str,  # type: ignore[no-untyped-def]
) -> None:
    _written(tmp_path)
    _edit(tmp_path, change)
    with pytest.raises(BusError, match=error):
        cluster_layout.read(tmp_path)


def test_the_boundaries_of_a_pid_and_a_port_are_accepted(tmp_path: Path) -> None:
    _written(tmp_path)

    def edge(o) -> None:  # type: ignore[no-untyped-def]
        o["nodes"][0].update(pid=4_194_304, mqtt=65_535)
        o["nodes"][1].update(pid=1, mqtt=1)
        o["nodes"][2].update(pid=None)

    _edit(tmp_path, edge)
    layout = cluster_layout.read(tmp_path)
    assert [n.pid for n in layout.nodes] == [4_194_304, 1, None]
    assert [n.mqtt for n in layout.nodes[:2]] == [65_535, 1]


def test_a_state_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text("{")
    with pytest.raises(BusError, match="not a cluster state file"):
        cluster_layout.read(tmp_path)


def test_a_busy_port_is_found_before_anything_starts(tmp_path: Path) -> None:
    import socket

    layout = cluster_layout.plan(tmp_path, 1)
    assert cluster_layout.busy_ports(layout) == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", layout.nodes[0].mqtt))
        s.listen()
        assert cluster_layout.busy_ports(layout) == [layout.nodes[0].mqtt]


def test_a_cluster_url_names_every_node_and_its_user() -> None:
    hosts = (("127.0.0.1", 2001), ("127.0.0.1", 2002), ("localhost", 1883))
    url = "mqtt://dthq:dthq@127.0.0.1:2001,127.0.0.1:2002,localhost"
    assert parse_broker(url) == BrokerAddress(hosts, "dthq", "dthq")
    assert parse_broker("mqtt://h:1") == BrokerAddress((("h", 1),))
    assert parse_broker_url("mqtt://a:p@h1:7,h2:8") == ("h1", 7)
    assert parse_broker("mqtt://u:@h").password == ""  # an empty password is one
    # percent-encoded, as URLs carry them; a user may hold "@", a host cannot
    assert parse_broker("mqtt://u%3Ax:p%40ss@h:1") == BrokerAddress((("h", 1),), "u:x", "p@ss")
    assert parse_broker("mqtt://u:p@ss@h:1").password == "p@ss"


def test_a_password_is_never_shown() -> None:
    from dthq.transport.mqtt import redacted

    assert redacted("mqtt://dthq:secret@h:1,h:2") == "mqtt://dthq:***@h:1,h:2"
    assert redacted("mqtt://h:1") == "mqtt://h:1"
    with pytest.raises(UnsupportedError) as refused:
        parse_broker("mqtt://dthq:secret@h:99999")
    assert "secret" not in str(refused.value) and "dthq:***@" in str(refused.value)


def test_a_secret_file_is_this_users_only_from_the_start(tmp_path: Path) -> None:
    import os

    from dthq.transport.cluster_folder import write_secret

    path = tmp_path / ".erlang.cookie"
    os.umask(old := os.umask(0o022))  # whatever the umask, never briefly readable
    write_secret(path, "one")
    assert path.read_text() == "one" and path.stat().st_mode & 0o777 == 0o400
    target = tmp_path / "target"
    target.write_text("theirs")
    path.unlink()
    path.symlink_to(target)
    write_secret(path, "two")  # the link is replaced, never followed
    assert target.read_text() == "theirs" and not path.is_symlink()
    assert old is not None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mqtt://h:1,h:1", "names a node twice"),
        ("mqtt://h:1,,h:2", "'' is not HOST"),
        ("mqtt://h:1,h:99999", "not a number 1..65535"),
        ("mqtt://user@h:1", "a user goes as USER:PASSWORD@"),
        ("mqtt://:pw@h:1", "a user goes as USER:PASSWORD@"),
        ("mqtt://u:p@", "names no host"),
        ("mqtt://u:p@h:1,,h:2", "'' is not HOST"),
        ("mqtts://h:1", "the scheme must be mqtt://"),
        ("mqtt://h:1/x", "only mqtt://HOST:PORT"),
    ],
)
def test_a_broker_url_that_is_not_one_is_refused_with_the_reason(url: str, error: str) -> None:
    with pytest.raises(UnsupportedError, match=error):
        parse_broker(url)


def test_broker_cluster_reads_the_running_clusters_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = _written(tmp_path / "dthq" / "cluster")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert cluster_layout.default_folder() == tmp_path / "dthq" / "cluster"
    assert cluster_layout.broker_url("cluster") == layout.url
    assert cluster_layout.broker_url(f"cluster:{layout.folder}") == layout.url
    assert cluster_layout.broker_url("mqtt://h:1") == "mqtt://h:1"  # a URL is itself
    with pytest.raises(BusError, match="no cluster here"):
        cluster_layout.broker_url(f"cluster:{tmp_path / 'none'}")


def test_simulate_on_a_cluster_that_is_not_up_fails_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    result = CliRunner().invoke(main, ["simulate", "--broker", f"cluster:{tmp_path}"])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path}: no cluster here")
    assert len(result.output.strip().splitlines()) == 1
