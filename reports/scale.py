"""The cluster in the report ("more than one machine"): failover on a RabbitMQ cluster,
each node killed in turn, and what the scale-out figures do not yet cover."""

from __future__ import annotations

import statistics

from dthq.harness.results import FailoverRun, NodeKill, Results
from reports.section import Block, Heading, Section, Table, Text

NOTE = (
    "Measured on this machine: every node of the cluster on loopback, sharing its cores, "
    "so these are failover figures, not capacity. A QoS 1 stream (a publisher and a "
    "persistent subscriber, MQTT 3.1.1) runs while each node is killed with kill -9 and "
    "started again before the next (a quorum of the queues' replicas must stay). "
    "Reconnect: each client that was on the killed node, from its drop until it is "
    "connected to another node, as its own connection counts it. Lost: acknowledged by "
    "the broker (PUBACK) and never received. Duplicates removed: received more than once "
    "(QoS 1 is at least once) and dropped by sequence number."
)
NOT_YET = (
    "Not in this report yet: twin-stage throughput with 1, 2 and 3 partitioned twin processes, "
    "the pipeline's held rate on 1 node against 3, and the 100,000-device region "
    "re-derived from this cluster's costs (fleet.md's MODELLED region still starts from "
    "the single-broker runs)."
)
HEADERS = [
    "node killed",
    "clients moved",
    "reconnect p50 / max (s)",
    "node back (s)",
    "acknowledged",
    "lost",
    "duplicates removed",
]


def _reconnect(kill: NodeKill) -> str:
    if not kill.reconnect_s:
        return "- (no client on it)"
    return f"{statistics.median(kill.reconnect_s):.2f} / {max(kill.reconnect_s):.2f}"


def failover_rows(run: FailoverRun) -> list[list[object]]:
    rows: list[list[object]] = [
        [
            k.node,
            k.clients_moved,
            _reconnect(k),
            f"{k.restart_s:.1f}",
            f"{k.acknowledged:,}",
            f"{k.lost:,}",
            f"{k.duplicates_removed:,}",
        ]
        for k in run.kills
    ]
    every = [s for k in run.kills for s in k.reconnect_s]
    whole = f"{statistics.median(every):.2f} / {max(every):.2f}" if every else "-"
    rows.append(
        ["whole stream", sum(k.clients_moved for k in run.kills), whole, "",
         f"{run.acknowledged:,} of {run.sent:,} sent", f"{run.lost:,}",
         f"{run.duplicates_removed:,}"]
    )  # fmt: skip
    return rows


def verdict(run: FailoverRun) -> str:
    word = "nothing acknowledged was lost" if run.lost == 0 else f"{run.lost:,} LOST"
    return (
        f"{run.broker}: each of {run.nodes} nodes killed in turn under {run.rate_per_s:g} "
        f"messages/s; {run.acknowledged:,} acknowledged, {word}, "
        f"{run.duplicates_removed:,} duplicate{'' if run.duplicates_removed == 1 else 's'} removed"
    )


def section(results: Results) -> Section | None:
    if not results.failover:
        return None
    blocks: list[Block] = [Heading("The cluster: failover")]
    blocks.append(Text([verdict(r) for r in results.failover], bullets=True))
    for run in results.failover:
        blocks.append(Table(HEADERS, failover_rows(run)))
    blocks.append(Text([NOTE, NOT_YET]))
    return Section("The cluster: failover", blocks, "scale.md")
