"""The paper's §7.1 as it ran it: the system with and without the digital twin "when data
size varied (1 KB to 100 MB)" (Fig. 4a-c). Each gateway policy at each message size, the
figures the paper names (latency, throughput, efficiency) under each plausible reading of
its words, and the change with the twin spelled out in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dthq.harness.results import PipelineRun, Results
from dthq.harness.scenarios import SWEEP_BYTES_PER_S, SWEEP_POLICIES
from dthq.pipeline.gateway import POLICIES
from reports.render.plot import plt, save
from reports.render.text import fmt, ms
from reports.section import Figure, Heading, Section, Table, Text

WITHOUT = "no-twin"  # the paper's system "without integration of DT"
WITH = "adaptive"  # the twin drives the edge: the paper's DT-integrated system
TWIN_UNUSED = "fixed"  # a twin at the cloud the edge ignores: the twin's cost alone


def _latency(run: PipelineRun) -> float | None:
    return run.end_to_end.median if run.end_to_end else None


def _relevant(run: PipelineRun) -> float | None:
    return run.alert_relevant.median if run.alert_relevant else None


def _per_cpu_second(run: PipelineRun) -> float | None:
    cpu = run.cpu_ms_per_reading
    return 1000 / cpu if cpu else None


def _per_wire_mb(run: PipelineRun) -> float | None:
    wire = sum(run.bytes_up.values())
    return run.counts.get("delivered", 0) / (wire / 1e6) if wire else None


@dataclass(frozen=True)
class Quantity:
    """One figure of a run, as one reading of the paper's words defines it."""

    name: str  # as the verdict's words name it
    unit: str
    definition: str
    value: Callable[[PipelineRun], float | None]
    higher_is_better: bool


LATENCY = Quantity(
    "latency over all readings",
    "ms",
    "median time from a reading's acquisition at the device to its commit at the cloud "
    "(compress, encrypt, both MQTT hops, the gateway's batch and re-compression, decrypt, "
    "the twin if any, FHIR, store), over every delivered reading; each device's session is "
    "established once before it sends, the same under every policy, and is not included",
    _latency,
    False,
)
LATENCY_RELEVANT = Quantity(
    "latency of alert-relevant readings",
    "ms",
    "the same median over the readings whose partial NEWS2 total is 2 or more (the ones "
    "the adaptive policy sends at once by design): a subset, never the headline",
    _relevant,
    False,
)
THROUGHPUT_OFFERED = Quantity(
    "throughput at the offered load",
    "messages/s",
    "§6.4's 'protected telemetry messages processed per second', read as messages "
    "delivered per second of the run at the sweep's offered load",
    lambda run: run.delivered_per_s,
    True,
)
THROUGHPUT_CPU = Quantity(
    "throughput per CPU-second",
    "messages/CPU-s",
    "§6.4's words read as capacity: messages delivered per CPU-second of all parties "
    "(device, gateway, cloud), what this machine could process",
    _per_cpu_second,
    True,
)
DATA_USAGE = Quantity(
    "messages per MB on the wire",
    "messages/MB",
    "§7.1.3's 'minimised data usage': messages delivered per MB of records on every hop, "
    "both directions (device -> gateway, gateway -> cloud, the watch list back)",
    _per_wire_mb,
    True,
)
QUANTITIES = (LATENCY, LATENCY_RELEVANT, THROUGHPUT_OFFERED, THROUGHPUT_CPU, DATA_USAGE)


def grid(results: Results) -> dict[int, dict[str, PipelineRun]]:
    """{message bytes: {policy: run}}, sizes ascending."""
    out: dict[int, dict[str, PipelineRun]] = {}
    for point in sorted(results.policy_sweep, key=lambda p: p.message_bytes):
        out.setdefault(point.message_bytes, {})[point.run.policy] = point.run
    return out


def direction(ratio: float) -> str:
    """A ratio in words: 1.82 is '82 % higher', 0.6 is '40 % lower'."""
    if abs(ratio - 1) < 0.005:
        return "the same (within 0.5 %)"
    return f"{abs(ratio - 1) * 100:.0f} % {'higher' if ratio > 1 else 'lower'}"


def in_words(quantity: Quantity, ratio: float, policy: str = WITH) -> str:
    """A ratio (this policy / without the twin) as a sentence."""
    subject = "with the twin" if policy == WITH else f"with the {policy} policy"
    return f"{subject}, {quantity.name} is {direction(ratio)}"


@dataclass(frozen=True)
class Change:
    """A quantity under ``policy`` against without the twin, per size and over the sweep."""

    quantity: Quantity
    per_size: Mapping[int, float]  # policy / without, at each size both measured
    policy: str = WITH

    @property
    def overall(self) -> float:
        """The geometric mean of the per-size ratios: every size weighs the same."""
        return math.exp(sum(math.log(r) for r in self.per_size.values()) / len(self.per_size))

    def words(self) -> str:
        return in_words(self.quantity, self.overall, self.policy)

    def sizes_meeting(self, claimed: float) -> int:
        return sum(meets(self.quantity, r, claimed) for r in self.per_size.values())


def meets(quantity: Quantity, ratio: float, claimed: float) -> bool:
    """Whether a ratio (with / without) is the paper's change or better: ``claimed`` 0.40 is
    40 % lower for a latency, 0.30 is 30 % higher for a rate."""
    return ratio >= 1 + claimed if quantity.higher_is_better else ratio <= 1 - claimed


def change(results: Results, quantity: Quantity, policy: str = WITH) -> Change | None:
    """None when no size has both runs with the figure."""
    per_size = {}
    for size, runs in grid(results).items():
        if policy in runs and WITHOUT in runs:
            ours, base = quantity.value(runs[policy]), quantity.value(runs[WITHOUT])
            if ours is not None and base:
                per_size[size] = ours / base
    return Change(quantity, per_size, policy) if per_size else None


def size_label(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


HEADERS = [
    "Message",
    "Policy",
    "Devices x Hz",
    "Sent / delivered",
    "Alert-relevant",
    "Latency p50 ms (all readings)",
    "Latency p99 ms (all readings)",
    "Latency p50 ms (alert-relevant)",
    "Delivered /s",
    "Messages per CPU-s",
    "Messages per MB on the wire",
]


def rows(results: Results) -> list[list[str]]:
    out = []
    for size, runs in grid(results).items():
        for policy in (p for p in SWEEP_POLICIES if p in runs):
            r = runs[policy]
            e2e, rel = r.end_to_end, r.alert_relevant
            out.append(
                [
                    size_label(size),
                    policy,
                    f"{r.patients} x {r.rate_hz:g}",
                    f"{r.counts.get('sent', 0)} / {r.counts.get('delivered', 0)}",
                    str(rel.rounds if rel else 0),
                    ms(e2e.median if e2e else None),
                    ms((e2e.p99 or e2e.median) if e2e else None),
                    ms(rel.median if rel else None),
                    fmt(r.delivered_per_s),
                    fmt(_per_cpu_second(r)),
                    fmt(_per_wire_mb(r)),
                ]
            )
    return out


def change_rows(results: Results, policy: str) -> tuple[list[str], list[list[str]]]:
    """One row per quantity: the change at each size and over the sweep, in words."""
    sizes = list(grid(results))
    headers = ["Figure", *(size_label(s) for s in sizes), "Whole sweep (geometric mean)"]
    out = []
    for q in QUANTITIES:
        c = change(results, q, policy)
        if c is None:
            continue
        cells = [direction(c.per_size[s]) if s in c.per_size else "-" for s in sizes]
        out.append([q.name, *cells, direction(c.overall)])
    return headers, out


_F, _A = POLICIES[TWIN_UNUSED], POLICIES[WITH]
SETUP = (
    "Three gateway policies, each its own run over Mosquitto on loopback at each message "
    "size (a reading's JSON with its PPG window, in decimal units): no-twin, the paper's "
    "system without the digital twin (the cloud keeps no twin: readings are mapped to FHIR "
    "and stored, nothing is scored, nothing goes back to the edge; the gateway batches as "
    "fixed does); fixed (a twin at the cloud, which the gateway ignores: every reading "
    f"waits for a {_F.window_ms} ms batch, Brotli {_F.quality}); adaptive (the twin's watch "
    "list drives the gateway: watched patients' readings go at once, Brotli "
    f"{_A.urgent_quality}, the others wait up to {_A.window_ms} ms, Brotli {_A.quality}). "
    "With the twin is adaptive; without is no-twin. A quarter of the patients deteriorate "
    "from the start (SIMULATED, sped up). The offered load is at most "
    f"{SWEEP_BYTES_PER_S / 1e6:g} MB/s (see the Devices x Hz column); a ratio is taken at "
    "one size, between runs of the same load."
)


def section(results: Results) -> Section | None:
    if not results.policy_sweep:
        return None
    with_headers, with_rows = change_rows(results, WITH)
    fixed_headers, fixed_rows = change_rows(results, TWIN_UNUSED)
    return Section(
        "The paper's §7.1 as it ran it: with and without the digital twin, by message size",
        [
            Text([SETUP]),
            Table(HEADERS, rows(results)),
            Heading("With the twin (adaptive) against without (no-twin)"),
            Table(with_headers, with_rows),
            Heading("The twin's cost alone: fixed (twin, unused by the edge) against no-twin"),
            Table(fixed_headers, fixed_rows),
            Heading("Definitions"),
            Text([f"**{q.name}** ({q.unit}): {q.definition}." for q in QUANTITIES], bullets=True),
        ],
        file="section71.md",
        figures=[Figure("figure-section71.png", figure)],
    )


def figure(results: Results, path: Path) -> Path | None:
    """Latency, throughput per CPU-second and messages per wire MB against size, per policy."""
    table = grid(results)
    if not table:
        return None
    panels = (LATENCY, THROUGHPUT_CPU, DATA_USAGE)
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.5))
    for ax, q in zip(axes, panels, strict=True):
        for policy in SWEEP_POLICIES:
            points = [
                (size, v)
                for size, runs in table.items()
                if policy in runs and (v := q.value(runs[policy])) is not None
            ]
            if points:
                ax.plot(*zip(*points, strict=True), "o-", label=policy)
        ax.set(xscale="log", yscale="log", xlabel="message size, bytes (log)")
        ax.set_ylabel(f"{q.name} ({q.unit}, log)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    title = "§7.1 with and without the digital twin, by message size (measured)"
    return save(fig, path, title)
