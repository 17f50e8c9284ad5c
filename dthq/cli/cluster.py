"""``dthq cluster``: a RabbitMQ cluster on loopback (up, status, kill, start, down), for
the pipeline to run on through ``--broker cluster``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode
from dthq.transport.cluster_layout import default_folder

DIR = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_folder,
    show_default="$XDG_STATE_HOME/dthq/cluster",
    help="The cluster's folder: its state file, node data and logs.",
)


@click.group()
def cluster() -> None:
    """A RabbitMQ cluster on 127.0.0.1 (MQTT 3.1.1) for --broker cluster.

    \b
    Examples:
      dthq cluster up --nodes 3
      dthq simulate --broker cluster --patients 20
      dthq cluster kill 1 && dthq cluster start 1
      dthq cluster down
    """


def _rows(c: Any) -> list[dict[str, Any]]:
    return [
        {
            "node": s.node.name,
            "pid": s.node.pid,
            "running": s.running,
            "listening": s.listening,
            "mqtt": s.node.mqtt,
            "amqp": s.node.amqp,
        }
        for s in c.status()
    ]


def _show(c: Any, as_json: bool, **facts: Any) -> int:
    rows = _rows(c)
    up = all(r["running"] and r["listening"] for r in rows)
    if as_json:
        render.emit_json({"folder": str(c.folder), "url": c.url, "up": up, "nodes": rows, **facts})
    else:
        cells = [
            [
                r["node"],
                r["pid"] or "-",
                "yes" if r["running"] else "NO",
                "yes" if r["listening"] else "NO",
                r["mqtt"],
                r["amqp"],
            ]
            for r in rows
        ]
        click.echo(render.table(cells, ["node", "pid", "running", "listening", "MQTT", "AMQP"]))
        click.echo(f"\nbroker URL: {c.url}")
    return ExitCode.OK if up else ExitCode.FAILED


@cluster.command()
@click.option(
    "--nodes",
    type=click.IntRange(1, 5),
    default=3,
    show_default=True,
    help="How many nodes (3: a quorum survives the loss of one).",
)
@DIR
@options.json_flag()
def up(nodes: int, folder: Path, as_json: bool) -> int:
    """Start the cluster and wait until every node passes a message to the next."""
    from dthq.transport.cluster import RabbitCluster

    folder.mkdir(parents=True, exist_ok=True)
    c = RabbitCluster(folder, nodes, detach=True)
    if not as_json:
        click.echo(
            f"starting {nodes} RabbitMQ node{'s' if nodes != 1 else ''} in {folder} "
            "(about 25 s on 2 cores)...",
            err=True,
        )
    c.start()
    return _show(c, as_json)


@cluster.command()
@DIR
@options.json_flag()
def status(folder: Path, as_json: bool) -> int:
    """Each node's PID and listener; exits 1 if any is down."""
    from dthq.transport.cluster import RabbitCluster

    return _show(RabbitCluster.attach(folder), as_json)


@cluster.command()
@click.argument("node", type=click.IntRange(min=0))
@DIR
@options.json_flag()
def kill(node: int, folder: Path, as_json: bool) -> int:
    """kill -9 one node, as a crash would (the others keep the cluster)."""
    from dthq.transport.cluster import RabbitCluster

    c = RabbitCluster.attach(folder)
    _check_node(c, node)
    c.kill(node)
    _show(c, as_json, killed=node)
    return ExitCode.OK  # a node down is what was asked


@cluster.command()
@click.argument("node", type=click.IntRange(min=0))
@DIR
@options.json_flag()
def start(node: int, folder: Path, as_json: bool) -> int:
    """Start one stopped node again, with its data, and wait for its round trip."""
    from dthq.transport.cluster import RabbitCluster

    c = RabbitCluster.attach(folder)
    _check_node(c, node)
    c.restart(node)
    return _show(c, as_json, started=node)


@cluster.command()
@DIR
@options.json_flag()
def down(folder: Path, as_json: bool) -> None:
    """Stop every node (SIGTERM, then SIGKILL after 30 s) and the cluster's epmd."""
    from dthq.transport.cluster import RabbitCluster

    c = RabbitCluster.attach(folder)
    names = [s.node.name for s in c.status() if s.running]  # what was still running
    c.stop()
    if as_json:
        render.emit_json({"folder": str(folder), "stopped": names})
    else:
        click.echo(f"stopped {len(names)} node{'s' if len(names) != 1 else ''} in {folder}")


def _check_node(c: Any, node: int) -> None:
    if node >= len(c.nodes):
        raise click.UsageError(f"node {node}: the cluster has nodes 0..{len(c.nodes) - 1}")


COMMANDS = (cluster,)
