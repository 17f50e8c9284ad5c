"""Fleets on Locust's distributed engine, end to end: a Locust master (with the twin)
and two worker processes, a gateway process and a broker process, all on loopback.

Every device must complete its handshake, the twin must receive every QoS 1 reading
exactly once, and Locust's own statistics must agree with the twin's counts. The
Mosquitto runs skip (with the reason) only where it is not installed; .ci/run installs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dthq.cli.main import main
from dthq.errors import UnsupportedError
from dthq.fleet.config import FleetConfig
from dthq.fleet.run import run_fleet

pytestmark = pytest.mark.requires("locust")
BROKERS = [
    pytest.param("amqtt", id="amqtt"),
    pytest.param(
        "mosquitto",
        id="mosquitto",
        marks=pytest.mark.requires("mosquitto"),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("broker", BROKERS)
def test_a_short_fleet_delivers_every_reading_once(broker: str, tmp_path: Path) -> None:
    devices = 50
    run = run_fleet(
        FleetConfig(devices=devices, workers=2, duration_s=10, embedded=broker), tmp_path
    )
    c = run.counts
    assert run.workers == 2
    # Every device completed its handshake, first try, and each is a patient at the twin.
    assert c["handshakes"] == devices and c["handshake_failures"] == 0
    assert run.gateway_work["established"] == devices
    assert c["patients"] == devices
    # Every reading PUBACKed by the broker reached the twin, exactly once.
    assert c["publish_failures"] == 0
    assert c["published"] >= devices * 9  # 10 s at 1 Hz each, give or take pacing
    assert c["delivered"] == c["published"]
    assert c["duplicated"] == 0 and c["undelivered"] == 0 and c["rejected"] == 0
    # Locust's own statistics count what the twin counted.
    assert run.locust["handshake"] == devices
    assert run.locust["publish"] == c["published"]
    assert run.locust["end-to-end"] == c["delivered"]
    assert run.end_to_end is not None and run.end_to_end.rounds == c["delivered"]
    assert run.handshake is not None and run.handshake.rounds == devices
    # Locust's CSV and HTML report were written, and name our events.
    stats = (tmp_path / "locust_stats.csv").read_text()
    assert "end-to-end" in stats and "handshake" in stats and "publish" in stats
    assert (tmp_path / "locust.html").stat().st_size > 0
    # Every process was measured.
    assert {"broker", "gateway", "twin", "workers"} <= set(run.cpu)
    assert run.costs["bytes_per_reading"] > 0 and run.costs["bytes_per_handshake"] > 0


@pytest.mark.slow
def test_a_handshake_storm_with_cookies_recovers_and_bounds_the_replays(tmp_path: Path) -> None:
    devices = 20
    run = run_fleet(
        FleetConfig(
            scenario="handshake-storm-cookie",
            devices=devices,
            duration_s=6,
            replayed_per_s=50,
        ),
        tmp_path,
    )
    c, work = run.counts, run.gateway_work
    assert c["handshakes"] == 2 * devices  # at the start, and again after the storm
    assert run.storm_recovery is not None and run.storm_recovery.rounds == devices
    assert run.recovery_s is not None
    assert c["replayed"] > 0
    # Each replayed HELLO cost a cookie (or, the replay of a half-open one, its stored
    # REPLY again), never an encapsulation or a half-open state.
    assert work["reply"] == 2 * devices
    assert work["retry"] + work["repeated"] >= c["replayed"] + 2 * devices
    assert work["half_open"] == 0
    assert c["delivered"] == c["published"] and c["duplicated"] == 0


@pytest.mark.slow
@pytest.mark.requires("mosquitto")
def test_a_gateway_pool_behind_a_shared_subscription_loses_nothing(tmp_path: Path) -> None:
    devices = 40
    run = run_fleet(
        FleetConfig(devices=devices, duration_s=6, embedded="mosquitto", gateways=2), tmp_path
    )
    c = run.counts
    assert run.gateways == 2 and c["members_used"] == 2  # the devices' sessions are split
    assert run.gateway_work["established"] == devices
    assert c["handed"] > 0  # the broker's round robin landed messages on non-owners
    assert c["delivered"] == c["published"] and c["undelivered"] == 0 and c["duplicated"] == 0
    assert c["rejected"] == 0


def test_fleet_refuses_bad_options() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["fleet", "--scenario", "tornado"])
    assert bad.exit_code == 2 and "'tornado' is not one of 'steady'," in bad.output
    bad = runner.invoke(main, ["fleet", "--devices", "0"])
    assert bad.exit_code == 2 and "--devices" in bad.output and "1<=x<=20000" in bad.output
    with pytest.raises(UnsupportedError, match="shared subscriptions"):
        FleetConfig(gateways=2, embedded="amqtt")


@pytest.mark.slow
def test_fleet_json() -> None:
    runner = CliRunner()
    ok = runner.invoke(
        main, ["fleet", "--devices", "4", "--duration", "2", "--workers", "1", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    run = json.loads(ok.output)
    counts = run["counts"]
    assert run["scenario"] == "steady" and counts["published"] > 0
    assert counts["delivered"] == counts["published"]


def test_a_fleet_whose_devices_raised_reads_their_exceptions(tmp_path: Path) -> None:
    from dthq.fleet.run import _device_exceptions

    csv = tmp_path / "locust_exceptions.csv"
    assert _device_exceptions(csv) is None  # Locust wrote none: nothing raised
    csv.write_text("Count,Message,Traceback,Nodes\n")
    assert _device_exceptions(csv) is None
    csv.write_text(
        "Count,Message,Traceback,Nodes\n"
        '3,"TypeError(\'missing clock\')","tb",w0\n'
        "2,KeyError('x'),tb,w1\n"
    )
    assert _device_exceptions(csv) == (5, "TypeError('missing clock')")


@pytest.mark.slow
def test_a_gateway_killed_mid_run_is_reported_not_a_failed_run(tmp_path: Path) -> None:
    import os
    import signal
    import threading
    import time

    import psutil

    def kill_the_gateway() -> None:
        deadline = time.monotonic() + 90
        while not (tmp_path / "gw-1.ready").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # mid-run
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info["cmdline"] or []
            if "dthq.fleet.service" in cmd and "gateway" in cmd and str(tmp_path) in " ".join(cmd):
                os.kill(proc.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_gateway, daemon=True)
    killer.start()
    run = run_fleet(FleetConfig(devices=10, workers=1, duration_s=6), tmp_path)
    killer.join(5)
    assert run.counts["parts_killed"] == 1
    assert run.rejection_examples["part killed"].startswith("gateway gw-1 (")
    assert run.counts["delivered"] < run.counts["published"]  # what it took, lost with it
