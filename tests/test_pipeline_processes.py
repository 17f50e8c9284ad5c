"""A ``processes=True`` pipeline run: the parties as separate OS processes, their exports
merged into one run (the merge on fixed exports), a party that fails at start named with
its own error and no child left behind, and every config field reaching the parties."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from dthq.errors import RunAborted, UnsupportedError
from dthq.harness.results import LOAD_GENERATOR, PipelineRun
from dthq.pipeline.child import PartyFailed
from dthq.pipeline.metrics_export import FIELDS, PartyMetrics, export, keep_for, merge
from dthq.pipeline.party import decode_config, encode_config
from dthq.pipeline.processes import _slices
from dthq.pipeline.run import SimConfig, simulate

MS = 1_000_000  # ns


def _party_children() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "dthq.pipeline.party" in " ".join(p.cmdline())
    ]


@pytest.mark.requires("mosquitto")
def test_a_run_in_processes_through_mosquitto_delivers_all_once_with_its_figures() -> None:
    run = simulate(
        SimConfig(
            patients=5,
            rate_hz=2.0,
            duration_s=2.0,
            embedded="mosquitto",
            policy="immediate",
            processes=True,
            pin="split" if len(os.sched_getaffinity(0)) > 1 else "none",
        )
    )
    c = run.counts
    assert c["sent"] > 0
    assert c["delivered"] == c["sent"]
    assert c["duplicated"] == 0 and c["lost"] == 0 and c["rejected"] == 0
    assert run.end_to_end is not None and run.end_to_end.rounds == c["sent"]
    for stage in ("acquire", "compress", "encrypt", "transmit", "gateway", "decrypt", "store"):
        assert run.stages[stage].rounds == c["sent"], stage
    assert set(run.cpu_s) == {"broker", "gateway", "cloud", LOAD_GENERATOR}
    assert run.processes and run.protocol == "MQTT 5"
    assert run.broker.startswith("mosquitto")
    assert run.bytes_up["device"] > 0 and run.bytes_up["gateway"] > 0
    assert not _party_children()


@pytest.mark.requires("mosquitto")
def test_a_party_that_fails_at_start_aborts_the_run_with_its_own_error(tmp_path: Path) -> None:
    config = SimConfig(
        patients=2,
        duration_s=1.0,
        embedded="mosquitto",
        processes=True,
        store=tmp_path / "missing" / "twin.db",
        master_secret=b"k" * 32,
    )
    with pytest.raises(PartyFailed) as err:
        simulate(config)
    assert str(err.value) == (
        f"the cloud exited with 1: dthq party cloud: {tmp_path / 'missing'}: "
        "no such folder for the store"
    )
    assert isinstance(err.value, RunAborted)
    assert not _party_children()


def _row(pid: str, ts: int, **stamps: Any) -> list[Any]:
    return [pid, ts, *(stamps.get(f, 0) for f in FIELDS)]


def _export(**parts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "counts": {},
        "rejected": {},
        "examples": {},
        "failures": {},
        "bytes_up": {},
        "wire": {},
        "onsets": {},
        "alerts": [],
        "alert_count": 0,
        "evicted": 0,
        "in_flight": [],
        "done": [],
        "refused": [],
    }
    return {**base, **parts}


def _fixed_exports() -> list[dict[str, Any]]:
    """Three readings sent: two delivered (100 ms and 300 ms end to end), one refused at
    the gateway; one more refused that was never sent here (a resend's second refusal)."""
    devices = _export(
        counts={"sent": 3},
        bytes_up={"device": 300},
        onsets={"P00001": 1_000},
        in_flight=[
            _row("P00001", 1_000, start_ns=1 * MS, acquire=0.001, sent_ns=2 * MS),
            _row("P00002", 1_000, start_ns=1 * MS, sent_ns=2 * MS),
            _row("P00003", 1_000, start_ns=1 * MS, sent_ns=2 * MS),
        ],
    )
    gateway = _export(
        counts={"forwarded": 2},
        rejected={"gateway: invalid reading": 1},
        examples={"gateway: invalid reading": "SpO2 101"},
        bytes_up={"gateway": 120},
        in_flight=[
            _row("P00001", 1_000, gw_in_ns=3 * MS, gw_out_ns=5 * MS),
            _row("P00002", 1_000, gw_in_ns=3 * MS, gw_out_ns=5 * MS),
        ],
        refused=[["P00003", 1_000], ["P00003", 1_000], [None, None]],
    )
    cloud = _export(
        counts={"duplicated": 1},
        alerts=[["P00001", 1_500, 7, "score 5"], ["P00001", 900, 6, "before"]],
        alert_count=2,
        done=[
            _row("P00001", 1_000, cloud_in_ns=6 * MS, store=0.002, done_ns=101 * MS),
            _row("P00002", 1_000, cloud_in_ns=6 * MS, done_ns=301 * MS),
        ],
    )
    return [devices, gateway, cloud]


def test_the_merge_joins_each_readings_stamps_and_counts_it_once() -> None:
    m = merge(_fixed_exports())
    run = m.summary(
        transport="mqtt",
        broker="b",
        protocol="",
        patients=3,
        rate_hz=1.0,
        duration_s=1.0,
        qos=1,
        policy="immediate",
        offered_per_s=3.0,
    )
    # 2 delivered; P00003 refused once (sent, in flight), the key-less refusal counted
    assert run.counts == {
        "sent": 3,
        "delivered": 2,
        "rejected": 1,
        "lost": 0,
        "duplicated": 1,
        "dropped": 0,
        "unsettled_dropped": 0,
    }
    assert m.counts["rejected_sent"] == 2
    e2e = run.end_to_end
    assert e2e is not None and e2e.rounds == 2
    # the HDR histograms' values (3 significant digits), interpolated between the two
    assert (e2e.min, e2e.median, e2e.p99) == pytest.approx(
        (99.9751675, 199.9994875, 298.0233211), rel=1e-6
    )
    # transmit: (gw_in - sent) + (cloud_in - gw_out) = 1 ms + 1 ms; gateway: 2 ms
    assert run.stages["transmit"].median == pytest.approx(2.0, rel=1e-3)
    assert run.stages["gateway"].median == pytest.approx(2.0, rel=1e-3)
    assert run.stages["store"].rounds == 2
    assert run.bytes_up == {"device": 300, "gateway": 120}
    assert run.rejection_examples == {"gateway: invalid reading": "SpO2 101"}
    assert run.alerts == 2
    # the first alert at or after P00001's onset (1,000 ms) came 0.5 s after it
    assert run.detection_delay_s is not None and run.detection_delay_s.median == 0.5
    assert [a[2] for a in m.alerts] == [6, 7]  # as raised, with their own stamps


def test_a_delivered_reading_no_export_saw_sent_is_not_counted_delivered() -> None:
    devices, gateway, cloud = _fixed_exports()
    devices["in_flight"] = devices["in_flight"][1:]  # P00001's send stamps missing
    devices["counts"] = {"sent": 2}
    m = merge([devices, gateway, cloud])
    assert m.delivered == 1
    assert m.histograms["end to end"].get_total_count() == 1  # P00002's only


def test_a_party_keeps_the_runs_stamps_and_counts_what_goes_past_the_bound() -> None:
    m = PartyMetrics(keep=2)
    for ts in (1, 2, 3):
        m.trace(("P1", ts)).done_ns = ts
        m.deliver(("P1", ts))
    m.refuse("P1", 4)
    m.refuse("P1", 5)
    m.refuse("P1", 6)
    assert list(m.done) == [("P1", 2), ("P1", 3)]
    assert m.counts["stamps dropped"] == 2
    assert m.status() == {"sent": 0, "delivered": 2, "refused": 2}
    out = export(m, protocol="")
    assert [r[:2] for r in out["done"]] == [["P1", 2], ["P1", 3]]
    assert out["refused"] == [["P1", 4], ["P1", 5]]


def test_the_stamps_kept_are_bounded_by_the_run() -> None:
    assert keep_for(10, 1.0, 10.0) == 10_200
    assert keep_for(100_000, 100.0, 86_400.0) == 2_000_000


def _differing(f: dataclasses.Field[Any]) -> Any:
    value = f.default
    if f.name in ("store", "store_head", "fhir_dir"):
        return Path(f"/x/{f.name}")
    if f.name == "master_secret":
        return b"\x00\xff" * 16
    if f.name in ("broker", "fhir_url"):
        return "mqtt://127.0.0.1:1" if f.name == "broker" else "http://127.0.0.1:1/fhir"
    if f.name == "onset_s":
        return 1.5
    if f.name == "devices_per_connection":
        return 7
    if f.name in ("embedded", "transport", "policy", "pin"):
        return {"embedded": "mosquitto", "transport": "mqtt", "policy": "adaptive"}.get(
            f.name, "split"
        )
    if f.name == "qos":
        return 0
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return type(value)(value + 1)
    return value


def test_every_config_field_reaches_the_parties_as_it_was() -> None:
    fields = {f.name: _differing(f) for f in dataclasses.fields(SimConfig)}
    fields["cloud"] = True  # processes need their own cloud
    fields["fhir"] = True  # a FHIR destination (set) needs the Bundles built
    fields["scheme"] = "dthq"  # the TLS schemes need this run's own mosquitto (a broker is set)
    fields["deteriorating"], fields["fault_rate"] = 0.5, 0.25
    config = SimConfig(**fields)
    assert decode_config(encode_config(config)) == config
    same = {f.name for f in dataclasses.fields(SimConfig) if getattr(config, f.name) == f.default}
    assert same == {"cloud", "transport", "fhir", "scheme"}  # what the others above require


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pin": "split"}, "--pin places the parties' processes: it needs --processes"),
        ({"pin": "cores"}, "unknown pinning 'cores'; choose one of ('none', 'split')"),
        ({"processes": True, "transport": "memory"}, "--processes needs --transport mqtt"),
        ({"processes": True, "device_processes": 0}, "device processes must be 1..64"),
        ({"processes": True, "device_processes": 6}, "device processes must be 1..64"),
        ({"patients": 100, "device_processes": 65}, "device processes must be 1..64"),
    ],
)
def test_process_settings_out_of_bounds_are_refused(kwargs: Any, message: str) -> None:
    with pytest.raises(UnsupportedError, match="^" + re.escape(message)):
        SimConfig(**{"patients": 5, **kwargs})


def test_process_settings_at_their_bounds_are_taken() -> None:
    assert SimConfig(patients=5, processes=True, device_processes=5).device_processes == 5
    assert SimConfig(patients=100, processes=True, device_processes=64).device_processes == 64
    assert SimConfig(patients=5, processes=True, pin="split").pin == "split"


def test_the_devices_are_sliced_as_evenly_as_they_go() -> None:
    assert _slices(5, 1) == [(0, 5)]
    assert _slices(5, 2) == [(0, 3), (3, 2)]
    assert _slices(7, 3) == [(0, 3), (3, 2), (5, 2)]


def _pipeline_run(**kw: Any) -> PipelineRun:
    return PipelineRun(**{  # type: ignore[arg-type]
        "transport": "mqtt", "broker": "b", "protocol": "", "patients": 1, "rate_hz": 1.0,
        "duration_s": 1.0, "qos": 1, "policy": "fixed", "stages": {}, "end_to_end": None,
        "alert_relevant": None, "offered_per_s": 1.0, "sent_per_s": 1.0,
        "delivered_per_s": 1.0, "counts": {"delivered": 1000}, "rejected": {}, "alerts": 0,
        "detection_delay_s": None, "bytes_up": {}, "cpu_s": {}, **kw,
    })  # fmt: skip


def test_the_report_says_how_the_load_points_ran() -> None:
    from reports.pipeline import PIPELINE_NOTE, _note

    one = _pipeline_run(policy="immediate")
    apart = _pipeline_run(policy="immediate", processes=True, pin="split")
    assert _note((one,)) == PIPELINE_NOTE
    note = _note((one, apart, _pipeline_run(processes=True, pin="none")))
    assert note.startswith(
        "Measured on loopback, the load points with each party its own process (the broker, "
        "the cloud, the gateway, and the devices as the load generator; pinned: split), "
    )
    assert note.endswith(PIPELINE_NOTE.split("all parties in one process", 1)[1])


def test_the_systems_cpu_per_reading_leaves_out_the_load_generator() -> None:
    run = _pipeline_run(
        cpu_s={
            "broker": 0.5,
            "gateway": 1.0,
            "gateway handshakes": 0.25,  # within "gateway"
            "cloud": 1.0,
            "device": 2.0,
            LOAD_GENERATOR: 3.0,
        },
    )
    assert run.cpu_ms_per_reading == 2.5


@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("how", ["SIGTERM", "stdin closed"])
def test_a_party_stopped_by_a_signal_or_its_runners_end_writes_its_export(
    tmp_path: Path, how: str
) -> None:
    from dthq.pipeline.child import Child
    from dthq.pipeline.run import provision
    from dthq.transport.brokers import MosquittoBroker

    with MosquittoBroker() as broker:
        provision(2).save(tmp_path / "registry.json")
        run = {
            "config": encode_config(SimConfig(patients=2, processes=True)),
            "registry": str(tmp_path / "registry.json"),
            "broker": broker.url,
            "protocol": broker.protocol,
            "tag": "t1",
            "slices": [[0, 2]],
            "cpus": {},
        }
        (tmp_path / "run.json").write_text(json.dumps(run))
        argv = [
            sys.executable, "-m", "dthq.pipeline.party", "cloud",
            "--run", str(tmp_path / "run.json"), "--export", str(tmp_path / "cloud.json"),
            "--parent", str(os.getpid()),
        ]  # fmt: skip
        child = Child("cloud", argv, tmp_path / "cloud.log")
        try:
            assert child.ask("start", 60)["pid"] == child.proc.pid
            assert child.ask("status") == {
                "reply": "status", "sent": 0, "delivered": 0, "refused": 0, "pending": 0,
            }  # fmt: skip
            if how == "SIGTERM":
                child.proc.send_signal(signal.SIGTERM)
            else:
                assert child.proc.stdin is not None
                child.proc.stdin.close()
            assert child.proc.wait(30) == 0
        finally:
            child.end(0.0)
    out = json.loads((tmp_path / "cloud.json").read_text())
    assert (out["done"], out["refused"], out["fhir_unsent"]) == ([], [], 0)
