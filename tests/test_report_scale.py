"""The report's cluster section: the failover table, one row per node killed and one for
the whole stream, its verdict, and its round trip through results.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_reports import results

from bench.ingest import read_results
from dthq.harness.results import FailoverRun, NodeKill
from dthq.harness.results_json import dump
from reports import scale


def failover_run(**changes: object) -> FailoverRun:
    kills = (
        NodeKill("dthq-0a1b2c3d-0@localhost", 1, (0.104,), 6.71, 293, 0, 0),
        NodeKill("dthq-0a1b2c3d-1@localhost", 2, (0.575, 0.617), 6.4, 293, 0, 2),
        NodeKill("dthq-0a1b2c3d-2@localhost", 0, (), 6.52, 290, 0, 0),
    )
    run = FailoverRun("RabbitMQ cluster of 3 nodes", 3, 100.0, 2.0, 977, 977, 0, 2, kills)
    return dataclasses.replace(run, **changes)


def test_a_row_per_node_killed_and_one_for_the_stream() -> None:
    assert scale.failover_rows(failover_run()) == [
        ["dthq-0a1b2c3d-0@localhost", 1, "0.10 / 0.10", "6.7", "293", "0", "0"],
        ["dthq-0a1b2c3d-1@localhost", 2, "0.60 / 0.62", "6.4", "293", "0", "2"],
        ["dthq-0a1b2c3d-2@localhost", 0, "- (no client on it)", "6.5", "290", "0", "0"],
        ["whole stream", 3, "0.57 / 0.62", "", "977 of 977 sent", "0", "2"],
    ]


def test_the_verdict_says_nothing_was_lost_or_how_many_were() -> None:
    assert scale.verdict(failover_run()) == (
        "RabbitMQ cluster of 3 nodes: each of 3 nodes killed in turn under 100 messages/s; "
        "977 acknowledged, nothing acknowledged was lost, 2 duplicates removed"
    )
    assert ", 1 LOST," in scale.verdict(failover_run(lost=1))
    assert scale.verdict(failover_run(duplicates_removed=1)).endswith(", 1 duplicate removed")
    assert scale.verdict(failover_run(duplicates_removed=0)).endswith(", 0 duplicates removed")


def test_no_failover_run_is_no_section_and_one_is_scale_md() -> None:
    assert scale.section(results()) is None
    section = scale.section(dataclasses.replace(results(), failover=(failover_run(),)))
    assert section is not None and section.file == "scale.md"


def test_a_failover_run_reads_back_as_written(tmp_path: Path) -> None:
    run = dataclasses.replace(results(), failover=(failover_run(),))
    assert read_results(dump(run, tmp_path / "results.json")).failover == (failover_run(),)
