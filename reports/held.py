"""Held rates in the report: for each broker, the bare paho pair's and the pipeline's
highest held rate and their ratio, each search's probes in the order they ran, and the
cloud's CPU per reading with FHIR Bundles and without."""

from __future__ import annotations

from pathlib import Path

from dthq.harness.results import FHIRCost, HeldProbe, HeldRate, Results
from reports.render.plot import log_log, plt, save
from reports.render.text import ms
from reports.section import Block, Figure, Heading, Section, Table, Text

PAIR, PIPELINE = "paho pair", "pipeline"
PROBE_HEADERS = [
    "search", "offered /s", "held", "sent /s", "delivered once", "lost", "duplicated", "p50 ms",
    "p99 ms", "why not",
]  # fmt: skip
RATIO_HEADERS = ["broker", "paho pair held /s", "pipeline held /s", "pipeline / pair"]
FHIR_HEADERS = [
    "broker", "load", "cloud CPU ms/reading, FHIR", "without FHIR", "with / without",
]  # fmt: skip
NOTE = (
    "Measured on this machine, loopback. Held: every reading (message) sent delivered "
    "exactly once (none lost, none duplicated), the sender within 2 % of the offered rate "
    "over the probe's window, and the end-to-end p99 of what was delivered at most the "
    "limit. Each search doubles from its start rate until a probe fails (or halves until "
    "one holds), then bisects between the highest held and the lowest failed rate until "
    "they are within the precision: the held rate is the highest rate held, and the true "
    "one lies below the lowest failed. The pair is paho-mqtt alone, a publisher process "
    "and a subscriber process, timed by CLOCK_MONOTONIC send and receive stamps; the "
    "pipeline is devices -> gateway -> cloud twin, device acquisition to commit. Both "
    "through a fresh broker of the same kind per probe, same QoS, same payload size (a "
    "device's sealed reading frame), back to back, placed alike (where there are 2 cores: "
    "the load, the publisher or the devices, on one; the broker and the rest on the "
    "other). What differs is what the ratio measures: the pair is one publisher "
    "connection over one hop; the pipeline is 100 devices on 2 connections, two hops "
    "(device to gateway, gateway to cloud), the gateway's and the cloud's work, each "
    "reading's receipt back, and commit to disk before its acknowledgement, under the same "
    "p99 limit."
)


def rate(value: float | None) -> str:
    return "none held" if value is None else f"{value:,.0f}"


def probe_rows(searches: tuple[HeldRate, ...]) -> list[list[object]]:
    """Every probe of every search, each search's in the order they ran."""
    return [_probe_row(f"{s.subject}, {_broker(s)}", p) for s in searches for p in s.probes]


def _probe_row(search: str, p: HeldProbe) -> list[object]:
    return [
        search,
        f"{p.offered_per_s:,.0f}",
        "yes" if p.held else "NO",
        f"{p.sent_per_s:,.0f}",
        f"{p.delivered_once:,}",
        f"{p.lost:,}",
        f"{p.duplicated:,}",
        ms(p.p50_ms),
        ms(p.p99_ms),
        p.why_not,
    ]


def _broker(search: HeldRate) -> str:
    return search.broker.split()[0] if search.broker else ""


def pairs(results: Results) -> dict[str, tuple[HeldRate | None, HeldRate | None]]:
    """Per broker (its name), the pair's search and the pipeline's (the last of each)."""
    out: dict[str, tuple[HeldRate | None, HeldRate | None]] = {}
    for search in results.held:
        pair, pipeline = out.get(_broker(search), (None, None))
        if search.subject == PAIR:
            pair = search
        elif search.subject == PIPELINE:
            pipeline = search
        out[_broker(search)] = (pair, pipeline)
    return out


def ratio(pair: HeldRate | None, pipeline: HeldRate | None) -> float | None:
    """Pipeline over pair; 0 when the pipeline held nothing, None without a reference."""
    if pair is None or pipeline is None or not pair.held_per_s:
        return None
    return (pipeline.held_per_s or 0.0) / pair.held_per_s


def verdict(search: HeldRate) -> str:
    capped = " (the search's ceiling: it may hold more)" if search.capped else ""
    return (
        f"{search.subject} through {search.broker}: held {rate(search.held_per_s)}/s{capped}, "
        f"{len(search.probes)} probes of {search.probe_s:g} s, precision "
        f"{search.precision:.0%}, {search.payload_bytes} B at QoS {search.qos}, p99 <= "
        f"{search.p99_limit_ms:g} ms"
    )


def ratio_rows(results: Results) -> list[list[object]]:
    rows: list[list[object]] = []
    for broker, (pair, pipeline) in pairs(results).items():
        got = ratio(pair, pipeline)
        rows.append([
            broker,
            rate(pair.held_per_s) if pair else "-",
            rate(pipeline.held_per_s) if pipeline else "-",
            "-" if got is None else f"{got:.2f}",
        ])  # fmt: skip
    return rows


def fhir_rows(costs: tuple[FHIRCost, ...]) -> list[list[object]]:
    rows: list[list[object]] = []
    for cost in costs:
        on, off = (FHIRCost.cloud_ms_per_reading(r) for r in (cost.with_fhir, cost.without_fhir))
        run = cost.with_fhir
        rows.append([
            cost.broker, f"{run.patients} x {run.rate_hz:g} Hz, {run.duration_s:g} s",
            ms(on), ms(off), "-" if cost.ratio is None else f"{cost.ratio:.2f}",
        ])  # fmt: skip
    return rows


def section(results: Results) -> Section | None:
    if not results.held and not results.fhir_cost:
        return None
    blocks: list[Block] = []
    if results.held:
        blocks += [
            Heading("Held rates: the pipeline against a bare paho pair"),
            Table(RATIO_HEADERS, ratio_rows(results)),
            Text([verdict(s) for s in results.held], bullets=True),
            Heading("Each search's probes, in the order they ran"),
            Table(PROBE_HEADERS, probe_rows(results.held)),
        ]
    if results.fhir_cost:
        blocks += [
            Heading("The FHIR stage's cost: cloud CPU per reading with and without Bundles"),
            Table(FHIR_HEADERS, fhir_rows(results.fhir_cost)),
            Text([
                "Two pipeline runs back to back, same load: one building and validating an "
                "R4B transaction Bundle per batch (the default), one building none. Cloud "
                "CPU is the cloud's thread time over the readings it delivered."
            ]),
        ]  # fmt: skip
    blocks.append(Text([NOTE]))
    figures = [Figure("figure-held.png", figure)] if results.held else []
    return Section("Held rates", blocks, "held.md", figures=figures)


def figure(results: Results, path: Path) -> Path | None:
    """Each search's probes: p99 against the offered rate, held filled, not held hollow,
    the limit dashed."""
    searches = [s for s in results.held if any(p.p99_ms for p in s.probes)]
    if not searches:
        return None
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, search in enumerate(searches):
        colour = f"C{i}"
        timed = [p for p in search.probes if p.p99_ms]
        for held in (True, False):
            mine = [p for p in timed if p.held is held]
            if mine:
                ax.plot(
                    [p.offered_per_s for p in mine],
                    [p.p99_ms for p in mine],
                    "o",
                    color=colour,
                    fillstyle="full" if held else "none",
                    label=f"{search.subject}, {_broker(search)}" + ("" if held else " (not held)"),
                )
        if search.held_per_s:
            ax.axvline(search.held_per_s, color=colour, lw=0.8, ls=":")
    ax.axhline(searches[0].p99_limit_ms, color="#999", lw=0.8, ls="--")
    log_log(ax, "offered per second (log)", "end-to-end p99 ms (log)")
    return save(fig, path, "Held-rate searches: each probe's p99 (measured; dotted: held rate)")
