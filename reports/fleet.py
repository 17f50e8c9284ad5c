"""Fleets in the report: each scenario's figures, the capacity curve with its knee, and
the MODELLED 100,000-device region (labelled as a model everywhere it appears)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dthq.fleet.capacity import bottleneck, holds, knee
from dthq.fleet.model import Region, region
from dthq.harness.results import Distribution, FleetRun, Results
from reports.render.plot import plt, save
from reports.section import Block, Figure, Heading, Section, Table, Text

SCENARIO_NOTE = (
    "Measured: Locust workers (one MQTT connection per device) -> broker -> gateway "
    "process -> broker -> the twin inside the Locust master, all on this machine's loopback. "
    "Handshake: HELLO out to established, at the device. End to end: the reading's "
    "authenticated acquisition time to the twin's commit. Storm recovery: from the storm "
    "to the last device established again. Gateway work: ML-KEM encapsulations (each keeps "
    "a half-open state) and retry cookies (an HMAC, no state). CPU: cores used per process, "
    "mean over the run; the twin shares its process with the Locust master."
)
CAPACITY_NOTE = (
    "A size holds when the twin takes >= 95 % of the offered readings with end-to-end p99 "
    "within the paper's 500 ms budget; the knee is the last size that holds, and what ran "
    "out is read off the CPU per process (a Python process, GIL-bound, tops out at one core; "
    "so does Mosquitto). Larger sizes are not run past the first that does not hold."
)
MODEL_NOTE = (
    "MODELLED, not measured: this machine's per-unit costs scaled linearly to 100,000 "
    "devices at 1 Hz, each process at 70 % of one core. It ignores contention, fan-in and "
    "the network, so it is a floor on what a region needs."
)
SCENARIO_HEADERS = [
    "scenario",
    "broker",
    "devices",
    "delivered/s",
    "handshake p50/p99 ms",
    "end-to-end p50/p99 ms",
    "storm recovery s",
    "undelivered",
    "errors",
    "gateway work (reply/retry)",
    "CPU cores: gateway / broker / twin / workers",
]
CAPACITY_HEADERS = [
    "broker",
    "gateways",
    "devices",
    "offered/s",
    "delivered/s",
    "end-to-end p99 ms",
    "gateway CPU (cores)",
    "broker CPU",
    "twin CPU",
    "workers CPU",
    "undelivered",
]


def _pair(d: Distribution | None) -> str:
    if d is None:
        return "-"
    return f"{d.median:.1f} / {d.tail:.1f}"


def _cores(run: FleetRun, *roles: str) -> str:
    return " / ".join(f"{run.cpu.get(r, 0.0):.2f}" for r in roles)


def scenario_rows(runs: Sequence[FleetRun]) -> list[list[object]]:
    rows = []
    for r in runs:
        c = r.counts
        errors = c.get("handshake_failures", 0) + c.get("publish_failures", 0)
        rows.append(
            [
                r.scenario,
                r.broker.split()[0],
                r.devices,
                f"{r.throughput_per_s:.0f}",
                _pair(r.handshake),
                _pair(r.end_to_end),
                f"{r.recovery_s:.2f}" if r.recovery_s is not None else "-",
                c.get("undelivered", 0),
                errors,
                f"{r.gateway_work.get('reply', 0)} / {r.gateway_work.get('retry', 0)}",
                _cores(r, "gateway", "broker", "twin", "workers"),
            ]
        )
    return rows


def summary_lines(run: FleetRun) -> list[str]:
    c = run.counts
    lines = [
        f"{run.scenario}: {run.devices} devices at {run.rate_hz:g} Hz on {run.workers} Locust "
        f"workers, {run.gateways} gateway(s), {run.broker} ({run.protocol or 'probed'})",
        f"delivered {c['delivered']} of {c['published']} published "
        f"({run.throughput_per_s:.0f}/s; offered {run.offered_per_s:.0f}/s); not at the twin by "
        f"the end {c['undelivered']}, "
        f"duplicated {c['duplicated']}, refused {c['rejected']}",
        f"handshakes {c['handshakes']} (failed tries {c['handshake_failures']}): p50/p99 "
        f"{_pair(run.handshake)} ms; publish (PUBACK) {_pair(run.publish)} ms; "
        f"end to end at the twin {_pair(run.end_to_end)} ms",
    ]
    if run.recovery_s is not None:
        lines.append(
            f"storm: every device back in {run.recovery_s:.2f} s (p50/p99 per device "
            f"{_pair(run.storm_recovery)} ms); replayed HELLOs {c['replayed']}"
        )
    w = run.gateway_work
    lines.append(
        f"gateway work: {w.get('reply', 0)} encapsulations, {w.get('retry', 0)} retry cookies, "
        f"{w.get('established', 0)} established, {w.get('refused', 0)} refused"
    )
    lines.append(
        "CPU cores (mean / busiest second): "
        + ", ".join(
            f"{role} {run.cpu[role]:.2f}/{run.cpu_peak.get(role, 0):.2f}"
            for role in sorted(run.cpu)
        )
    )
    for reason, n in sorted(run.rejected.items()):
        example = run.rejection_examples.get(reason, "")
        lines.append(f"refused, {reason}: {n}" + (f" (e.g. {example})" if example else ""))
    return lines


def capacity_rows(runs: Sequence[FleetRun]) -> list[list[object]]:
    rows = []
    for r in sorted(runs, key=lambda r: (r.broker, r.gateways, r.devices)):
        e2e = r.end_to_end
        rows.append(
            [
                r.broker.split()[0],
                r.gateways,
                r.devices,
                f"{r.offered_per_s:.0f}",
                f"{r.throughput_per_s:.0f}",
                f"{e2e.tail:.1f}" if e2e else "-",
                f"{r.cpu.get('gateway', 0):.2f}",
                f"{r.cpu.get('broker', 0):.2f}",
                f"{r.cpu.get('twin', 0):.2f}",
                f"{r.cpu.get('workers', 0):.2f}",
                r.counts.get("undelivered", 0),
            ]
        )
    return rows


def knee_lines(runs: Sequence[FleetRun]) -> list[str]:
    lines = []
    for (broker, gateways), curve in _curves(runs).items():
        k = knee(curve)
        where = f"{broker}, {gateways} gateway(s)"
        first = holds(curve[0])
        if k is None and first is not None:
            lines.append(
                f"{where}: does not hold at its smallest size run, {curve[0].devices} "
                f"({first}; {bottleneck(curve[0])})"
            )
        elif k is None:
            lines.append(f"{where}: no knee within the sizes run (largest {curve[-1].devices})")
        else:
            lines.append(f"{where}: knee at {k.devices} devices ({k.reason})")
    return lines


def _curves(runs: Sequence[FleetRun]) -> dict[tuple[str, int], list[FleetRun]]:
    curves: dict[tuple[str, int], list[FleetRun]] = {}
    for r in runs:
        if r.scenario == "steady":
            curves.setdefault((r.broker.split()[0], r.gateways), []).append(r)
    return {k: sorted(v, key=lambda r: r.devices) for k, v in curves.items()}


MODEL_HEADERS = ["MODELLED (from measured per-unit costs)", "value", "from"]


def model_rows(m: Region) -> list[list[object]]:
    return [[name, value, source] for name, value, source in m.rows()]


def model_for(runs: Sequence[FleetRun]) -> Region | None:
    """The region model from the busiest steady run (its per-unit costs are the least
    diluted by idle time)."""
    steady = [r for r in runs if r.scenario == "steady" and r.counts.get("delivered")]
    if not steady:
        return None
    base = max(steady, key=lambda r: r.throughput_per_s)
    return region(base)


def scenario_runs(runs: Sequence[FleetRun]) -> list[FleetRun]:
    """The scenario runs, and the steady run of their size (not the capacity curve's)."""
    sizes = {r.devices for r in runs if r.scenario != "steady"}
    return [r for r in runs if r.scenario != "steady" or not sizes or r.devices in sizes]


def section(results: Results) -> Section | None:
    """The scenarios, the capacity curve (when there is one) and the MODELLED region."""
    runs = results.fleet
    if not runs:
        return None
    blocks: list[Block] = [
        Heading("Device fleets on Locust: scenarios"),
        Table(SCENARIO_HEADERS, scenario_rows(scenario_runs(runs))),
        Text([SCENARIO_NOTE], bullets=True),
    ]
    curve = [r for r in runs if r.scenario == "steady"]
    if len(curve) > 1:
        blocks += [
            Heading("Fleet capacity (measured on this machine)"),
            Table(CAPACITY_HEADERS, capacity_rows(curve)),
            Text([*knee_lines(curve), CAPACITY_NOTE], bullets=True),
        ]
    model = model_for(runs)
    if model is not None:
        blocks += [
            Heading("A 100,000-device region (MODELLED from measured per-unit costs)"),
            Table(MODEL_HEADERS, model_rows(model)),
            Text([MODEL_NOTE], bullets=True),
        ]
    figures = [Figure("figure-fleet-capacity.png", _capacity_figure)]
    return Section("Device fleets on Locust", blocks, "fleet.md", figures=figures)


def _capacity_figure(results: Results, path: Path) -> Path | None:
    return figure_capacity(results.fleet, path)


def figure_capacity(runs: Sequence[FleetRun], path: Path) -> Path | None:
    curves = _curves(runs)
    if not curves:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for (broker, gateways), curve in curves.items():
        label = f"{broker}, {gateways} gw"
        xs = [r.devices for r in curve]
        p99 = [r.end_to_end.tail if r.end_to_end else None for r in curve]
        ax1.plot(xs, p99, marker="o", label=label)
        ax2.plot(xs, [r.cpu.get("gateway", 0) for r in curve], marker="o", label=label)
        k = knee(curve)
        if k is not None:
            y = k.run.end_to_end.tail if k.run.end_to_end else 0
            ax1.annotate("knee", (k.devices, y), textcoords="offset points", xytext=(0, 10))
            ax1.axvline(k.devices, ls=":", lw=1)
    ax1.set(xscale="log", yscale="log", xlabel="devices at 1 Hz", ylabel="end-to-end p99 (ms)")
    ax2.set(xscale="log", xlabel="devices", ylabel="gateway CPU (cores)")
    ax2.axhline(1.0, color="grey", lw=0.8, ls="--")  # one core: a Python process's ceiling
    ax1.legend(fontsize=8)
    return save(fig, path, "Fleet capacity (measured on this machine)")
