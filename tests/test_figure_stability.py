"""Every figure carries its stability: a Distribution's cv and warnings from known rounds,
through results.json and its migration, and flagged in the report."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from test_reports import fake_benchmark_json, results

from bench.ingest import distribution, from_benchmark_json
from dthq.harness.results import Distribution, Metric, Primitive
from dthq.harness.results_json import from_dict, plain, to_dict
from dthq.harness.stability import Stability
from reports import primitives, stability
from reports.render.text import spread


def _stats(data: list[float], iterations: int) -> dict[str, Any]:
    ordered = sorted(data)
    return {
        "median": ordered[len(data) // 2],
        "iqr": 0.0,
        "min": ordered[0],
        "q1": ordered[0],
        "q3": ordered[-1],
        "rounds": len(data),
        "iterations": iterations,
        "data": data,
    }


def test_a_benchmark_figure_is_assessed_from_its_rounds() -> None:
    # 30 rounds, ten blocks of three: block means 1 (x9) and 2 (the last block)
    data = [1e-3] * 27 + [2e-3] * 3
    got = distribution(_stats(data, 1), 1e3)
    assert got.cv == pytest.approx(0.2874798)
    assert got.warnings == (
        "the standard deviation is 29% of the mean (10% or more)",
        "the maximum is 82% above the mean",
    )
    assert got.stable is False
    steady = distribution(_stats([1e-3] * 30, 1), 1e3)
    assert (steady.cv, steady.warnings, steady.stable) == (0.0, (), True)


def test_the_shortest_raw_value_is_the_fastest_round_times_its_calls() -> None:
    at = distribution(_stats([1e-6] * 30, 1000), 1e6)  # 1,000 calls of 1 us: 1 ms
    assert at.warnings == ()
    under = distribution(_stats([1e-6] * 30, 999), 1e6)
    assert under.warnings == ("the shortest raw value is only 0.999 ms (under 1 ms)",)


def test_a_raw_file_without_rounds_is_not_assessed() -> None:
    stats = _stats([1e-3] * 30, 1)
    del stats["data"]
    got = distribution(stats, 1e3)
    assert (got.cv, got.warnings, got.stable) == (None, None, None)


def test_a_rate_carries_its_time_s_stability() -> None:
    time = Distribution(2.0, 0.2, 10, q1=1.9, q3=2.1).assessed(Stability(0.3, ("w",)))
    rate = time.as_rate()
    assert (rate.cv, rate.warnings, rate.stable) == (0.3, ("w",), False)


def test_a_histogram_s_latencies_are_not_assessed() -> None:
    from hdrh.histogram import HdrHistogram

    hist = HdrHistogram(1, 10**9, 3)
    for ns in (1000, 2000, 3000):
        hist.record_value(ns)
    assert Distribution.from_histogram(hist, 1e3).warnings is None


def test_stability_round_trips_and_is_left_out_where_not_assessed() -> None:
    r = results()
    data = to_dict(r)
    handshake = data["table3"][0]["timings"]["handshake_ms"]
    assert handshake["cv"] == pytest.approx(r.table3[0][Metric.HANDSHAKE].cv)
    assert handshake["warnings"] == []
    assert from_dict(data) == r
    bare = plain(Distribution(1.0, 0.1, 5))
    assert bare == {"median": 1.0, "iqr": 0.1, "rounds": 5}


def _without_stability(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_stability(v) for k, v in value.items() if k not in ("cv", "warnings")}
    if isinstance(value, list):
        return [_without_stability(v) for v in value]
    return value


def test_a_schema_12_file_loads_with_nothing_assessed() -> None:
    r = results()
    data = _without_stability(to_dict(r))
    data["schema_version"] = 12
    del data["paired"]  # version 13's section: a version-12 file has none
    loaded = from_dict(copy.deepcopy(data))
    assert loaded.paired == ()
    assert stability.assessed(loaded) == 0 and stability.unstable(loaded) == {}
    assert stability.section(loaded) is None
    first = loaded.table3[0][Metric.HANDSHAKE]
    assert first == dataclasses.replace(r.table3[0][Metric.HANDSHAKE], cv=None, warnings=None)


def _unstable_primitive(r: Any) -> Any:
    shaky = r.primitives[0].time_us.assessed(Stability(0.25, ("the standard deviation is 25%",)))
    return dataclasses.replace(
        r, primitives=(dataclasses.replace(r.primitives[0], time_us=shaky), *r.primitives[1:])
    )


def test_unstable_names_each_unstable_figure_with_its_warnings() -> None:
    r = results()
    tls = ("the standard deviation is 32% of the mean (10% or more)",)
    # the paired ratio targets.md calls unstable is listed here too
    assert stability.unstable(r) == {"paired handshake/tls": tls}
    assert stability.assessed(r) == 259 + len(r.paired)
    shaky = _unstable_primitive(r)
    assert stability.unstable(shaky) == {
        "primitive aead/AES-256-GCM/cryptography/small": ("the standard deviation is 25%",),
        "paired handshake/tls": tls,
    }
    row = r.table3[0]
    slow = dataclasses.replace(
        row,
        timings={**row.timings, Metric.HANDSHAKE: row[Metric.HANDSHAKE].assessed(
            Stability(None, ("only 2 values: no spread to judge",)))},
    )  # fmt: skip
    both = dataclasses.replace(shaky, table3=(slow, *r.table3[1:]))
    assert list(stability.unstable(both)) == [
        "primitive aead/AES-256-GCM/cryptography/small",
        f"table3 {row.key} handshake_ms",
        "paired handshake/tls",
    ]


def test_the_report_flags_an_unstable_figure() -> None:
    r = _unstable_primitive(results())
    section = stability.section(r)
    assert section is not None and section.title == "Stability"
    assert section.tables[0].rows == [
        ["primitive aead/AES-256-GCM/cryptography/small", "the standard deviation is 25%"],
        ["paired handshake/tls", "the standard deviation is 32% of the mean (10% or more)"],
    ]
    assert section.blocks[0].lines[0] == "2 of 263 assessed figures are unstable."  # type: ignore[union-attr]
    table = primitives.section(r).tables[0]  # type: ignore[union-attr]
    flags = {row[0]: (row[3], row[-1]) for row in table.rows}
    assert flags["aead/AES-256-GCM/cryptography/small"] == ("25.0%", "UNSTABLE")
    assert flags["kem/ML-KEM-768/keygen"][1] == "stable"
    time = r.primitives[0].time_us
    assert spread(time) == "2 [1.96, 2.04] (unstable)"
    assert spread(dataclasses.replace(time, warnings=())) == "2 [1.96, 2.04]"
    assert spread(dataclasses.replace(time, warnings=None)) == "2 [1.96, 2.04]"


def test_a_primitive_not_cross_checked_or_not_assessed_says_so() -> None:
    p = Primitive("x", Distribution(1.0, 0.1, 5))
    assert primitives.deviation(p) is None
    row = primitives.COLUMNS
    assert [c.value(p) for c in row][3:] == ["-", "-", "-", 5, "not assessed"]


def test_raw_json_of_the_one_primitives_benchmark_is_read_back() -> None:
    raw = fake_benchmark_json()
    measured = results().primitives
    raw["benchmarks"] = [b for b in raw["benchmarks"] if b["extra_info"]["suite"] != "primitives"]
    raw["benchmarks"].append(
        {
            "name": "test_primitives",
            "stats": _stats([30.0], 1),
            "extra_info": {"suite": "primitives", "primitives": plain(list(reversed(measured)))},
        }
    )
    assert from_benchmark_json(raw).primitives == measured  # sorted by name, as before
