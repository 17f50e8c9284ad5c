"""The reading half of the tag contract, and the one reader of results files.

:func:`from_benchmark_json` turns pytest-benchmark's JSON (tagged by bench/tags.py)
into :class:`~dthq.harness.results.Results`, computing every derived value once
(throughput, amortised latency, bits on the wire, modelled link times, and what
:data:`~bench.tags.TAGGED` declares). :func:`read_results` is what every command reads
results with: a results.json of any schema version, or raw pytest-benchmark JSON.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dthq
from bench.tags import FIGURES, LISTED, MS, PRIMITIVES_KEY, TABLE4_TAGGED, TAGGED, US, Suite
from dthq.harness.linkmodel import link_for
from dthq.harness.results import (
    Distribution,
    FlightSize,
    Metadata,
    Metric,
    Primitive,
    Results,
    Table3Row,
    Table4Cell,
    quantile,
)
from dthq.harness.results_json import ResultsError, decode, from_dict, validate
from dthq.harness.scenarios import profile
from dthq.harness.stability import Stability, blocks, check

BLOCKS = 10  # stability values of a pytest-benchmark figure


class _RawShapeError(ResultsError):
    """Raw pytest-benchmark JSON without what the bench suites tag: the field path."""


class _Node(dict):  # type: ignore[type-arg]
    """A raw JSON object that names its path when a key is missing (``node[key]``)."""

    path = ""

    def __missing__(self, key: str) -> Any:
        raise _RawShapeError(f"{self.path}.{key}: missing")


def _node(value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _RawShapeError(f"{path}: expected an object")
    node = _Node(value)
    node.path = path
    return node


def _raw_nodes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The raw JSON with each benchmark, its stats and extra_info, and machine_info as
    :class:`_Node`: a missing key is an error naming its path (benchmark by name)."""
    benches = raw.get("benchmarks")
    if not isinstance(benches, list):
        raise _RawShapeError("benchmarks: expected a list")
    out = []
    for i, b in enumerate(benches):
        b = _node(b, f"benchmarks[{i}]")
        if isinstance(b.get("name"), str):
            b.path = f"benchmarks[{i}] ({b['name']})"
        b["stats"] = _node(b["stats"], f"{b.path}.stats")
        b["extra_info"] = info = _node(b["extra_info"], f"{b.path}.extra_info")
        if info["suite"] not in set(Suite):
            raise _RawShapeError(
                f"{info.path}.suite: unknown suite {info['suite']!r} (known: {', '.join(Suite)})"
            )
        for key in ("median", "iqr", "min", "q1", "q3"):
            value = b["stats"][key]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise _RawShapeError(
                    f"{b.path}.stats.{key}: expected a duration >= 0, got {value!r}"
                )
        out.append(b)
    machine = _node(raw["machine_info"], "machine_info")
    machine["dthq"] = _node(machine["dthq"], "machine_info.dthq")
    return {**raw, "benchmarks": out, "machine_info": machine}


def distribution(stats: Mapping[str, Any], scale: float) -> Distribution:
    """pytest-benchmark's summary (its quartile method, as its console shows) plus p95/p99,
    and its stability when the rounds are there (``--benchmark-json`` writes them)."""
    data = stats.get("data") or [stats["median"]]
    summary = Distribution(
        median=stats["median"] * scale,
        iqr=stats["iqr"] * scale,
        rounds=stats["rounds"],
        min=stats["min"] * scale,
        q1=stats["q1"] * scale,
        q3=stats["q3"] * scale,
        p95=quantile(data, 0.95) * scale,
        p99=quantile(data, 0.99) * scale,
    )
    if not stats.get("data"):
        return summary  # not assessed: an older raw file without its rounds
    return summary.assessed(round_stability(data, stats.get("iterations") or 1))


def round_stability(data: list[float], iterations: int) -> Stability:
    """pyperf's checks on a pytest-benchmark figure: its values are the means of BLOCKS
    blocks of its rounds in the order they ran (pyperf's values are means too), its
    shortest raw value its fastest round (time per call x calls a round)."""
    return check(blocks(data, BLOCKS), shortest_raw_s=min(data) * iterations)


def from_benchmark_json(raw: Mapping[str, Any], *, wall_time_s: float | None = None) -> Results:
    """The results of one bench run. Profile and M come from what the run recorded."""
    raw = _raw_nodes(raw)
    by_suite: dict[str, list[Mapping[str, Any]]] = {}
    for bench in raw["benchmarks"]:
        by_suite.setdefault(bench["extra_info"]["suite"], []).append(bench)
    metadata = _metadata(raw, wall_time_s)
    tagged = {s: _tagged(s, by_suite.get(s, [])) for s in TAGGED}
    figures = {s: _figures(s, by_suite.get(s, [])) for s in FIGURES if s is not Suite.PRIMITIVES}
    return Results(
        metadata=metadata,
        primitives=_primitives(by_suite.get(Suite.PRIMITIVES, [])),
        table3=_table3(by_suite.get(Suite.TABLE3, []), metadata.messages_per_session),
        table4=_table4(by_suite.get(Suite.TABLE4, [])),
        bulk=tuple(sorted(tagged[Suite.BULK], key=lambda r: r.total_bytes)),
        forged_hello=tagged[Suite.FORGED_HELLO],
        qkd_sweep=figures[Suite.QKD_SWEEP],
        qkd_keys=tagged[Suite.QKD_KEY],
        cascade=tagged[Suite.CASCADE],
        pipeline=figures[Suite.PIPELINE],
        fleet=figures[Suite.FLEET],
        policy_sweep=figures[Suite.POLICY_SWEEP],
        soak=figures[Suite.SOAK],
        chaos=figures[Suite.CHAOS],
        failover=figures[Suite.FAILOVER],
        held=figures[Suite.HELD],
        fhir_cost=figures[Suite.FHIR_COST],
        schemes=figures[Suite.SCHEMES],
        store=figures[Suite.STORE],
        paired=figures[Suite.PAIRED],
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        generator=f"dthq-bench {dthq.__version__}",
    )


def _tagged(suite: Suite, benches: list[Mapping[str, Any]]) -> tuple[Any, ...]:
    """A :data:`TAGGED` suite's model objects, as its declaration says."""
    spec, out = TAGGED[suite], []
    for b in benches:
        info = b["extra_info"]
        values = {k: info[k] for k in spec.keys - set(spec.inputs)}
        values[spec.timed] = distribution(b["stats"], spec.scale)
        if spec.derive is not None:
            values.update(spec.derive(info, values[spec.timed]))
        out.append(spec.model(**values))
    return tuple(out)


def _figures(suite: Suite, benches: list[Mapping[str, Any]]) -> tuple[Any, ...]:
    """A :data:`FIGURES` suite's results, read strictly from their tags."""
    key, model = FIGURES[suite]
    out = []
    for b in benches:
        value, where = b["extra_info"][key], f"benchmark {b.get('name', suite)}"
        items = value if key in LISTED else [value]
        if not isinstance(items, list):
            raise ResultsError(f"{where}: {key}: expected a list")
        out += [decode(model, item, where) for item in items]
    return tuple(out)


def _metadata(raw: Mapping[str, Any], wall_time_s: float | None) -> Metadata:
    machine = dict(raw["machine_info"]["dthq"])
    run = {k: machine.pop(k, None) for k in ("profile", "messages_per_session", "slowdown")}
    if run["profile"] is None:
        raise _RawShapeError("machine_info.dthq.profile: missing")
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
    """The primitives suite's one benchmark holds them all (tagged as figures); an older
    raw file had a benchmark for each, timed by pytest-benchmark."""
    out: list[Primitive] = []
    for b in benches:
        info = b["extra_info"]
        if PRIMITIVES_KEY in info:
            out += _figures(Suite.PRIMITIVES, [b])
            continue
        out.append(
            Primitive(
                name=info["name"],
                time_us=distribution(b["stats"], US),
                timeit_median_us=info.get("timeit_median_us"),
                timeit_min_us=info.get("timeit_min_us"),
                params=info.get("params", {}),
            )
        )
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
                timings={
                    Metric.AL: distribution(got[Metric.AL]["stats"], MS),
                    Metric.CC: distribution(got[Metric.CC]["stats"], MS),
                    Metric.THROUGHPUT: distribution(got[Metric.AL]["stats"], 1.0).as_rate(),
                },
                comm_bits=info["record_bytes"] * 8,
                modelled_link_ms=link.transfer_ms(info["record_bytes"]),
                link=link.name,
                kem=info.get("kem", "ML-KEM-768"),  # tagged since the QKD sources joined
                **{k: info[k] for k in TABLE4_TAGGED},
            )
        )
    return tuple(cells)


def _is_benchmark_json(data: Any) -> bool:
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def read_results(path: str | Path) -> Results:
    """Results from a results.json of any schema version (migrated to the current one) or
    from the raw pytest-benchmark JSON of these bench suites. Every problem (no such
    file, not JSON, neither kind, a malformed field) is one ResultsError naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror})") from None
    return results_from_bytes(raw, str(path))


def results_from_bytes(raw: bytes, where: str) -> Results:
    """:func:`read_results` on bytes already read (the fuzzer's entry)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{where}: not valid JSON (truncated?) at line {exc.lineno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ResultsError(f"{where}: JSON nested too deeply") from None
    if not _is_benchmark_json(data):
        return from_dict(data, where)
    try:
        results = from_benchmark_json(data)
    except _RawShapeError as exc:
        raise ResultsError(
            f"{where}: pytest-benchmark JSON not from these bench suites: {exc}"
        ) from None
    except ResultsError as exc:
        raise ResultsError(f"{where}: {exc}") from None
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ResultsError(
            f"{where}: pytest-benchmark JSON not from these bench suites "
            f"({type(exc).__name__}: {exc})"
        ) from None
    validate(results, where)  # the same checks a results file gets: both come from outside
    return results
