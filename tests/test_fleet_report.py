"""Fleets in the results model and the report: the capacity curve's knee and what ran
out, the MODELLED region's arithmetic, and the report's fleet sections, from fleet runs
constructed here with chosen figures (the real runs are tests/test_fleet.py's)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from test_reports import results

from bench.ingest import read_results
from dthq.fleet.capacity import holds, knee
from dthq.fleet.model import TARGET_UTILISATION, mqtt_publish_overhead, region
from dthq.harness.results import Distribution, FleetRun
from dthq.harness.results_json import dump
from reports.build import FLEET_FILES, write_report
from reports.fleet import capacity_rows, knee_lines, model_rows, scenario_runs

COSTS = {
    "gateway_ms_per_reading": 0.35,
    "gateway_ms_per_handshake": 0.6,
    "bytes_per_reading": 120.0,
    "bytes_per_handshake": 2400.0,
    "broker_ms_per_reading": 0.05,
    "twin_ms_per_reading": 1.2,
}


def dist(p99: float) -> Distribution:
    return Distribution(p99 / 3, p99 / 4, 100, p99 / 10, p99 / 4, p99 / 2, p99 * 0.9, p99)


def fleet_run(devices: int, *, delivered_share: float = 1.0, p99: float = 40.0,
              scenario: str = "steady", gateway_cpu: float = 0.3) -> FleetRun:  # fmt: skip
    offered = float(devices)
    return FleetRun(
        scenario=scenario, broker="mosquitto version 2.0.11", protocol="MQTT 5",
        devices=devices, workers=2, gateways=1, rate_hz=1.0, offered_per_s=offered,
        duration_s=30.0, wall_s=45.0, handshake=dist(30), publish=dist(5),
        end_to_end=dist(p99), storm_recovery=None, recovery_s=None,
        throughput_per_s=offered * delivered_share,
        counts={"delivered": int(offered * 30 * delivered_share), "undelivered": 0, "published": 1},
        rejected={}, gateway_work={"reply": devices, "retry": 0, "established": devices},
        cpu={"gateway": gateway_cpu, "broker": 0.1, "twin": 0.4, "workers": 0.8},
        cpu_peak={"gateway": 1.0, "broker": 0.2, "twin": 0.6, "workers": 1.2},
        costs=COSTS, locust={"publish": 1},
    )  # fmt: skip


CURVE = [
    fleet_run(10),
    fleet_run(100),
    fleet_run(1000, p99=180.0, gateway_cpu=0.62),
    fleet_run(2000, delivered_share=0.6, p99=4000.0, gateway_cpu=0.99),
]


def test_the_knee_is_the_last_size_that_holds_and_names_what_ran_out() -> None:
    assert [holds(r) for r in CURVE[:3]] == [None, None, None]
    assert "delivered 1200/s of 2000/s" in (holds(CURVE[3]) or "")
    k = knee(CURVE)
    assert k is not None and k.devices == 1000
    assert "at 2000" in k.reason and "gateway at 0.99 cores" in k.reason
    assert knee(CURVE[:3]) is None  # nothing broke: no knee within the sizes run
    assert "no knee" in knee_lines(CURVE[:3])[0]
    slow = fleet_run(500, p99=900.0)
    assert "p99 900 ms > 500 ms" in (holds(slow) or "")


def test_the_region_model_scales_the_measured_costs_and_says_it_is_a_model() -> None:
    m = region(CURVE[2])
    # 100,000 readings/s x 0.35 ms = 35 cores of gateway work, at 70 % each.
    assert m.gateways == math.ceil(100_000 * 0.35 / 1000 / TARGET_UTILISATION) == 50
    assert m.twins == math.ceil(100_000 * 1.2 / 1000 / TARGET_UTILISATION)
    assert m.brokers == math.ceil(100_000 * 0.05 / 1000 / TARGET_UTILISATION)
    per_reading = 120 + mqtt_publish_overhead("dthq/v1/dev/dev-w00-00000/up")
    assert math.isclose(m.uplink_mbit_s, 100_000 * per_reading * 8 / 1e6)
    # Every device handshakes again: 100,000 x 0.6 ms over 50 gateways.
    assert math.isclose(m.storm_recovery_s(1.0), 100_000 * 0.6 / 1000 / 50)
    rows = model_rows(m)
    assert all(str(name).startswith("MODELLED") for name, _, _ in rows)


def test_fleet_runs_round_trip_and_reach_the_report(tmp_path: Path) -> None:
    storm = dataclasses.replace(
        fleet_run(1000, scenario="handshake-storm-cookie"),
        recovery_s=2.5,
        storm_recovery=dist(2000),
    )
    r = dataclasses.replace(results(), fleet=(*CURVE, storm))
    assert read_results(dump(r, tmp_path / "results.json")).fleet == r.fleet
    assert [x.devices for x in scenario_runs(r.fleet)] == [1000, 1000]  # not the curve
    assert len(capacity_rows(CURVE)) == 4
    written = {p.name for p in write_report(r, tmp_path / "report")}
    assert set(FLEET_FILES) <= written
    md = (tmp_path / "report" / "fleet.md").read_text()
    assert "knee at 1000 devices" in md
    assert "MODELLED" in md and "100,000" in md
    assert "handshake-storm-cookie" in md and "2.50" in md
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Fleet capacity (measured on this machine)" in page
    assert "A 100,000-device region (MODELLED" in page
