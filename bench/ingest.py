"""The tag contract between the bench suites and the results model, both halves in one place.

Writing: every benchmark tags itself through one of the ``tag_*`` functions below (the
suite, its scenario key, the metric it measures, the byte counts it saw). Reading:
:func:`from_benchmark_json` turns pytest-benchmark's JSON into
:class:`~dthq.harness.results.Results`, computing every derived value once
(throughput, amortised latency, bits on the wire, modelled link times).
"""

from __future__ import annotations

import dataclasses
import datetime
import statistics
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import dthq
from dthq.harness.linkmodel import link_for
from dthq.harness.results import (
    BulkRun,
    CascadeRun,
    Distribution,
    FleetRun,
    FlightSize,
    ForgedHello,
    Metadata,
    Metric,
    PipelineRun,
    Primitive,
    QKDKeyCost,
    QKDPoint,
    Results,
    Table3Row,
    Table4Cell,
    quantile,
)
from dthq.harness.results_json import (
    ResultsError,
    fleet_run,
    from_dict,
    pipeline_run,
    plain,
    read_json,
)
from dthq.harness.scenarios import Table3Scenario, Table4Scenario, profile
from dthq.schemes import Session

MS, US = 1e3, 1e6  # seconds -> unit


class Suite(StrEnum):
    PRIMITIVES = "primitives"
    TABLE3 = "table3"
    TABLE4 = "table4"
    BULK = "bulk"
    FORGED_HELLO = "forged_hello"
    QKD_SWEEP = "qkd_sweep"
    QKD_KEY = "qkd_key"
    CASCADE = "cascade"
    PIPELINE = "pipeline"
    FLEET = "fleet"


# --- writing: what each benchmark records about itself -----------------------------------


def tag_primitive(benchmark: Any, name: str, **params: Any) -> None:
    benchmark.extra_info.update(suite=Suite.PRIMITIVES.value, name=name, params=params)


def tag_timeit(benchmark: Any, median_us: float, min_us: float) -> None:
    """The direct ``timeit`` cross-check of a primitive."""
    benchmark.extra_info.update(timeit_median_us=median_us, timeit_min_us=min_us)


def tag_table3(
    benchmark: Any,
    row: Table3Scenario,
    metric: Metric,
    *,
    quantum_safe: str | None = None,
    session: Session | None = None,
    record: bytes = b"",
    payload: bytes = b"",
) -> None:
    """A Table 3 figure; the session, record and payload give the row's byte counts."""
    info: dict[str, Any] = {
        "suite": Suite.TABLE3.value,
        "row": row.key,
        "label": row.label,
        "paper_row": row.paper,
        "edge": row.edge,
        "metric": metric.value,
    }
    if session is not None:
        info.update(
            quantum_safe=quantum_safe,
            flights=[[f.sender, f.name, f.size] for f in session.flights],
            handshake_bytes=session.handshake_bytes,
            record_overhead_bytes=session.initiator.overhead,
            record_bytes=len(record),
            payload_bytes=len(payload),
            params={k: v for k, v in session.params.items() if v is not None},
        )
    benchmark.extra_info.update(info)


def tag_table4(
    benchmark: Any,
    cell: Table4Scenario,
    metric: Metric,
    *,
    codec: str,
    aead: str,
    compressed: bool,
    payload_bytes: int,
    compressed_bytes: int,
    record_bytes: int,
) -> None:
    benchmark.extra_info.update(
        suite=Suite.TABLE4.value,
        cell=cell.key,
        kem=cell.kem.label,
        key_length=cell.key_length,
        edge=cell.edge,
        size=cell.size,
        metric=metric.value,
        codec=codec,
        aead=aead,
        compressed=compressed,
        payload_bytes=payload_bytes,
        compressed_bytes=compressed_bytes,
        record_bytes=record_bytes,
    )


def tag_bulk(
    benchmark: Any, *, total_bytes: int, records: int, codec: str, key_length: int
) -> None:
    benchmark.extra_info.update(
        suite=Suite.BULK.value,
        total_bytes=total_bytes,
        records=records,
        codec=codec,
        key_length=key_length,
    )


def tag_forged_hello(
    benchmark: Any, *, auth: str, retry: str, hello_bytes: int, response_bytes: int
) -> None:
    benchmark.extra_info.update(
        suite=Suite.FORGED_HELLO.value,
        auth=auth,
        retry=retry,
        hello_bytes=hello_bytes,
        response_bytes=response_bytes,
    )


def tag_qkd_sweep(benchmark: Any, points: list[QKDPoint]) -> None:
    """A SIMULATED sweep: its points are the figures; the benchmark's time is the sweep's."""
    benchmark.extra_info.update(
        suite=Suite.QKD_SWEEP.value, points=[dataclasses.asdict(p) for p in points]
    )


def tag_qkd_key(
    benchmark: Any, *, key_bits: int, qber: float, raw_pulses: int, rounds: int, keys: int
) -> None:
    benchmark.extra_info.update(
        suite=Suite.QKD_KEY.value,
        key_bits=key_bits,
        qber=qber,
        raw_pulses=raw_pulses,
        rounds=rounds,
        keys=keys,
    )


def tag_cascade(
    benchmark: Any,
    *,
    schedule: str,
    bits: int,
    qber: float,
    efficiencies: list[float],
    rounds: int,
    block_sizes: tuple[int, ...],
) -> None:
    benchmark.extra_info.update(
        suite=Suite.CASCADE.value,
        schedule=schedule,
        bits=bits,
        qber=qber,
        efficiencies=efficiencies,
        rounds=rounds,
        block_sizes=list(block_sizes),
    )


def tag_pipeline(benchmark: Any, run: PipelineRun) -> None:
    """A pipeline run: its figures are the run's own (the benchmark's time is the run's)."""
    benchmark.extra_info.update(suite=Suite.PIPELINE.value, run=plain(run))


def tag_fleet(benchmark: Any, run: FleetRun) -> None:
    """A fleet run on Locust: its figures are the run's own, as for the pipeline."""
    benchmark.extra_info.update(suite=Suite.FLEET.value, run=plain(run))


# --- reading: pytest-benchmark JSON -> Results --------------------------------------------


def distribution(stats: Mapping[str, Any], scale: float) -> Distribution:
    """pytest-benchmark's summary (its quartile method, as its console shows) plus p95/p99."""
    data = stats.get("data") or [stats["median"]]
    return Distribution(
        median=stats["median"] * scale,
        iqr=stats["iqr"] * scale,
        rounds=stats["rounds"],
        min=stats["min"] * scale,
        q1=stats["q1"] * scale,
        q3=stats["q3"] * scale,
        p95=quantile(data, 0.95) * scale,
        p99=quantile(data, 0.99) * scale,
    )


def from_benchmark_json(raw: Mapping[str, Any], *, wall_time_s: float | None = None) -> Results:
    """The results of one bench run. Profile and M come from what the run recorded."""
    by_suite: dict[str, list[Mapping[str, Any]]] = {}
    for bench in raw.get("benchmarks", []):
        by_suite.setdefault(bench["extra_info"]["suite"], []).append(bench)
    metadata = _metadata(raw, wall_time_s)
    return Results(
        metadata=metadata,
        primitives=_primitives(by_suite.get(Suite.PRIMITIVES, [])),
        table3=_table3(by_suite.get(Suite.TABLE3, []), metadata.messages_per_session),
        table4=_table4(by_suite.get(Suite.TABLE4, [])),
        bulk=_bulk(by_suite.get(Suite.BULK, [])),
        forged_hello=tuple(
            ForgedHello(
                auth=b["extra_info"]["auth"],
                retry=b["extra_info"]["retry"],
                cpu_us=distribution(b["stats"], US),
                hello_bytes=b["extra_info"]["hello_bytes"],
                response_bytes=b["extra_info"]["response_bytes"],
            )
            for b in by_suite.get(Suite.FORGED_HELLO, [])
        ),
        qkd_sweep=tuple(
            QKDPoint(**point)
            for b in by_suite.get(Suite.QKD_SWEEP, [])
            for point in b["extra_info"]["points"]
        ),
        qkd_keys=tuple(
            QKDKeyCost(
                key_bits=b["extra_info"]["key_bits"],
                qber=b["extra_info"]["qber"],
                raw_pulses=b["extra_info"]["raw_pulses"],
                time_ms=distribution(b["stats"], MS),
                rounds=b["extra_info"]["rounds"],
                keys=b["extra_info"]["keys"],
            )
            for b in by_suite.get(Suite.QKD_KEY, [])
        ),
        cascade=tuple(
            CascadeRun(
                schedule=b["extra_info"]["schedule"],
                bits=b["extra_info"]["bits"],
                qber=b["extra_info"]["qber"],
                time_ms=distribution(b["stats"], MS),
                efficiency=statistics.fmean(b["extra_info"]["efficiencies"]),
                efficiency_max=max(b["extra_info"]["efficiencies"]),
                runs=len(b["extra_info"]["efficiencies"]),
                rounds=b["extra_info"]["rounds"],
                block_sizes=tuple(b["extra_info"]["block_sizes"]),
            )
            for b in by_suite.get(Suite.CASCADE, [])
        ),
        pipeline=tuple(
            pipeline_run(b["extra_info"]["run"], f"benchmark {b['name']}")
            for b in by_suite.get(Suite.PIPELINE, [])
        ),
        fleet=tuple(
            fleet_run(b["extra_info"]["run"], f"benchmark {b['name']}")
            for b in by_suite.get(Suite.FLEET, [])
        ),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        generator=f"dthq-bench {dthq.__version__}",
    )


def _metadata(raw: Mapping[str, Any], wall_time_s: float | None) -> Metadata:
    machine = dict(raw["machine_info"]["dthq"])
    run = {k: machine.pop(k, None) for k in ("profile", "messages_per_session", "slowdown")}
    if run["profile"] is None:
        raise KeyError("machine_info.dthq.profile")
    return Metadata(
        profile=run["profile"],
        messages_per_session=run["messages_per_session"]
        or profile(run["profile"]).messages_per_session,
        machine=machine,
        wall_time_s=wall_time_s,
        commit=(raw.get("commit_info") or {}).get("id"),
        node=raw["machine_info"].get("node"),
        benchmark_datetime=raw.get("datetime"),
        pytest_benchmark=raw.get("version"),
        slowdown=run["slowdown"],
    )


def _primitives(benches: list[Mapping[str, Any]]) -> tuple[Primitive, ...]:
    out = [
        Primitive(
            name=b["extra_info"]["name"],
            time_us=distribution(b["stats"], US),
            timeit_median_us=b["extra_info"].get("timeit_median_us"),
            timeit_min_us=b["extra_info"].get("timeit_min_us"),
            params=b["extra_info"].get("params", {}),
        )
        for b in benches
    ]
    return tuple(sorted(out, key=lambda p: p.name))


def _grouped(benches: list[Mapping[str, Any]], key: str) -> dict[str, dict[Metric, Mapping]]:
    """{row or cell key: {metric: benchmark}}, in the order the suites ran."""
    out: dict[str, dict[Metric, Mapping]] = {}
    for b in benches:
        info = b["extra_info"]
        out.setdefault(info[key], {})[Metric(info["metric"])] = b
    return out


TABLE3_MEASURED = (Metric.HANDSHAKE, Metric.LATENCY, Metric.MESSAGE, Metric.COMP_OVERHEAD)


def _table3(benches: list[Mapping[str, Any]], m: int) -> tuple[Table3Row, ...]:
    rows = []
    for key, got in _grouped(benches, "row").items():
        if not set(TABLE3_MEASURED) <= got.keys():
            continue  # a subset run (--only) measured part of this row
        info = got[Metric.HANDSHAKE]["extra_info"]
        timings = {metric: distribution(b["stats"], MS) for metric, b in got.items()}
        message_s = distribution(got[Metric.MESSAGE]["stats"], 1.0)
        timings[Metric.THROUGHPUT] = message_s.as_rate()
        rows.append(
            Table3Row(
                key=key,
                scheme=info["label"],
                quantum_safe=info["quantum_safe"],
                timings=timings,
                latency_amortised_ms=timings[Metric.HANDSHAKE].median / m
                + timings[Metric.MESSAGE].median,
                handshake_bytes=info["handshake_bytes"],
                record_overhead_bytes=info["record_overhead_bytes"],
                record_bytes=info["record_bytes"],
                payload_bytes=info["payload_bytes"],
                modelled_link_ms=link_for(info["edge"]).transfer_ms(
                    info["handshake_bytes"] + info["record_bytes"], round_trips=2
                ),
                paper_row=info.get("paper_row"),
                flights=tuple(FlightSize(*f) for f in info["flights"]),
                params=info.get("params", {}),
            )
        )
    return tuple(rows)


def _table4(benches: list[Mapping[str, Any]]) -> tuple[Table4Cell, ...]:
    cells = []
    for key, got in _grouped(benches, "cell").items():
        if not {Metric.AL, Metric.CC} <= got.keys():
            continue
        info = got[Metric.AL]["extra_info"]
        link = link_for(info["edge"])
        cells.append(
            Table4Cell(
                key=key,
                key_length=info["key_length"],
                edge=info["edge"],
                size=info["size"],
                codec=info["codec"],
                aead=info["aead"],
                timings={
                    Metric.AL: distribution(got[Metric.AL]["stats"], MS),
                    Metric.CC: distribution(got[Metric.CC]["stats"], MS),
                    Metric.THROUGHPUT: distribution(got[Metric.AL]["stats"], 1.0).as_rate(),
                },
                comm_bits=info["record_bytes"] * 8,
                modelled_link_ms=link.transfer_ms(info["record_bytes"]),
                link=link.name,
                payload_bytes=info["payload_bytes"],
                compressed_bytes=info["compressed_bytes"],
                record_bytes=info["record_bytes"],
                compressed=info["compressed"],
                kem=info.get("kem", "ML-KEM-768"),
            )
        )
    return tuple(cells)


def _bulk(benches: list[Mapping[str, Any]]) -> tuple[BulkRun, ...]:
    out = []
    for b in benches:
        info = b["extra_info"]
        time_ms = distribution(b["stats"], MS)
        out.append(
            BulkRun(
                total_bytes=info["total_bytes"],
                records=info["records"],
                codec=info["codec"],
                key_length=info["key_length"],
                time_ms=time_ms,
                mb_per_s=info["total_bytes"] / 1e6 / (time_ms.median / MS),
            )
        )
    return tuple(sorted(out, key=lambda r: r.total_bytes))


def is_benchmark_json(data: Any) -> bool:
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def load_any(path: str | Path) -> Results:
    """Results from our results.json or from the raw pytest-benchmark JSON of these suites."""
    data = read_json(path)
    if not is_benchmark_json(data):
        return from_dict(data, str(path))
    try:
        return from_benchmark_json(data)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ResultsError(
            f"{path}: pytest-benchmark JSON not from these bench suites "
            f"({type(exc).__name__}: {exc})"
        ) from None
