"""results.json: every field of the model round-trips, reading is strict, each older
schema migrates, and the one reader takes raw pytest-benchmark JSON too."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_reports import fake_benchmark_json, results

from bench.ingest import read_results
from bench.tags import TAGGED, Suite, tag
from dthq.cli.main import main
from dthq.harness.results import Results
from dthq.harness.results_history import MIGRATIONS, SCHEMA_VERSION
from dthq.harness.results_json import ResultsError, dump, from_dict, plain, to_dict

DATA = Path(__file__).parent / "data"

# What each version added at the top level: a file of an older version without them
# loads with them empty.
ADDED = {
    3: ("instructions",),
    4: ("forged_hello",),
    5: ("qkd_sweep", "qkd_keys", "cascade"),
    6: ("pipeline",),
    7: ("fleet",),
    8: ("policy_sweep",),
    9: (),  # no section: each pipeline run's failures and FHIR backlog (test below)
    10: ("soak",),
    11: ("chaos",),
    12: (
        "held",
        "fhir_cost",
        "schemes",
        "store",
    ),  # and each pipeline run's processes, pin (test below)
    13: ("paired",),  # and each distribution's optional cv and warnings, the optional
    # cascade[].efficiencies and store[].round_ms (tests below)
    14: ("failover",),
}


def _example(tp: Any, default: Any, seen: list[type]) -> Any:
    """A value of type ``tp`` other than ``default`` (every field of every dataclass
    reached is filled, so a field added later is covered without editing this test)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _example(next(a for a in args if a is not type(None)), default, seen)
    if dataclasses.is_dataclass(tp):
        seen.append(tp)  # type: ignore[arg-type]
        hints = typing.get_type_hints(tp)
        return tp(  # type: ignore[operator]
            **{f.name: _example(hints[f.name], _default(f), seen) for f in dataclasses.fields(tp)}
        )
    if origin is tuple:
        return (_example(args[0], None, seen), _example(args[0], None, seen))
    if origin is Mapping or origin is dict:
        key, value = args
        keys = list(key) if isinstance(key, type) and issubclass(key, enum.Enum) else ["k1", "k2"]
        return {k: _example(value, None, seen) for k in keys}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(m for m in tp if m != default)
    return {bool: not default, int: 7, float: 2.5, str: "x", Any: {"a": [1, "b", None]}}[tp]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def test_every_field_of_the_model_round_trips(tmp_path: Path) -> None:
    seen: list[type] = []
    full = _example(Results, None, seen)
    assert len(set(seen)) >= 14  # every dataclass of the model was reached
    for cls in set(seen):
        for f in dataclasses.fields(cls):
            default = _default(f)
            value = getattr(next(v for v in _walk(full) if type(v) is cls), f.name)
            assert default is None or value != default, f"{cls.__name__}.{f.name}"
    # Primitives, rows, cells and paired ratios are looked up by name or key: each once.
    full = dataclasses.replace(
        full,
        primitives=tuple(
            dataclasses.replace(p, name=f"p{i}") for i, p in enumerate(full.primitives)
        ),
        table3=tuple(dataclasses.replace(r, key=f"r{i}") for i, r in enumerate(full.table3)),
        table4=tuple(dataclasses.replace(c, key=f"c{i}") for i, c in enumerate(full.table4)),
        # a Cascade run's f is its instances' mean, and its runs their count
        cascade=tuple(dataclasses.replace(c, runs=2) for c in full.cascade),
        # a store size is looked up by its rows: each once
        store=tuple(dataclasses.replace(p, rows=i) for i, p in enumerate(full.store)),
        # a paired ratio's interval is a confidence's, below 1, over 10 or more rounds
        # (the reader checks both)
        paired=tuple(
            dataclasses.replace(p, figure=f"f{i}", confidence=0.95, ratios=(2.5,) * 10)
            for i, p in enumerate(full.paired)
        ),
    )
    path = dump(full, tmp_path / "results.json")
    assert read_results(path) == full
    assert dump(read_results(path), tmp_path / "again.json").read_bytes() == path.read_bytes()


def _walk(value: Any) -> list[Any]:
    """Every dataclass instance inside a value."""
    if dataclasses.is_dataclass(value):
        inner = [getattr(value, f.name) for f in dataclasses.fields(value)]
        return [value, *(v for i in inner for v in _walk(i))]
    if isinstance(value, Mapping):
        return [v for i in value.values() for v in _walk(i)]
    if isinstance(value, tuple | list):
        return [v for i in value for v in _walk(i)]
    return []


def test_a_file_of_the_old_writer_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    """results-v3.json was written by the hand-written writer of schema 3 (with a fleet
    run, the section added within 3): read and written again, only the version moves
    and the sections added since 7 appear, empty."""
    old = (DATA / "results-v3.json").read_text()
    again = dump(read_results(DATA / "results-v3.json"), tmp_path / "r.json").read_text()
    assert again == old.replace(
        '"schema_version": 3,', f'"schema_version": {SCHEMA_VERSION},'
    ).replace(
        '\n "instructions": [',
        '\n "policy_sweep": [],\n "soak": [],\n "chaos": [],\n "failover": [],\n "held": [],'
        '\n "fhir_cost": [],'
        '\n "schemes": [],\n "store": [],\n "paired": [],\n "instructions": [',
    ).replace(
        '\n   "rejection_examples": {}\n',
        '\n   "rejection_examples": {},\n   "failures": {},\n   "fhir_unsent": 0,'
        '\n   "fhir_oldest_unsent_s": null,\n   "processes": false,\n   "pin": "none",'
        '\n   "scheme": "dthq",\n   "broker_bytes": null\n',
        1,  # the pipeline run (the fleet's own run has no such fields)
    )
    assert read_results(DATA / "results-v3.json").fleet


def test_the_written_shape_is_the_fields_in_order() -> None:
    data = to_dict(results())
    assert list(data)[:2] == ["format", "schema_version"]
    assert list(data)[2:] == [f.name for f in dataclasses.fields(Results)]
    p99_free = plain(results().table3[0].timings)["throughput_msg_s"]  # a rate: no min/p95/p99
    # ... but its time's stability (the fake rounds are there, so it was assessed)
    assert set(p99_free) == {"median", "iqr", "rounds", "q1", "q3", "cv", "warnings"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.update(schema_version=SCHEMA_VERSION + 1),
            "schema_version 15, this build reads 1 to 14",
        ),
        (lambda d: d.update(schema_version="14"), "schema_version '14', this build reads 1 to 14"),
        (lambda d: d["metadata"].update(host="x"), "metadata.host: unknown key"),
        (lambda d: d.update(extra=[]), "extra: unknown key"),
        (lambda d: d["bulk"].append({}), "bulk[0].total_bytes: missing"),
        (lambda d: d["table4"][0].pop("compressed"), "table4[0].compressed: missing"),
        (
            lambda d: d["table4"][0].update(compressed=1),
            "table4[0].compressed: expected true or false, got 1",
        ),
        (
            lambda d: d["table3"][0].update(handshake_bytes=True),
            "table3[0].handshake_bytes: expected an integer, got true",
        ),
        (
            lambda d: d["qkd_sweep"][0].update(sifted="1"),
            'qkd_sweep[0].sifted: expected an integer, got "1"',
        ),
        (
            lambda d: d["metadata"].update(machine=[]),
            "metadata.machine: expected an object, got a list",
        ),
        (
            lambda d: d["table3"][0]["timings"]["handshake_ms"].update(median=-5.0),
            "table3[0].timings.handshake_ms.median: must not be negative, got -5.0",
        ),
        (
            lambda d: d["table3"][1].update(key=d["table3"][0]["key"]),
            f"table3[1]: {results().table3[0].key!r} again (first at table3[0])",
        ),
        (
            lambda d: d["primitives"].append(d["primitives"][0]),
            f"primitives[{len(results().primitives)}]: {results().primitives[0].name!r} again",
        ),
    ],
)
def test_strict_reading_names_file_and_field(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = to_dict(results())
    mutate(data)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="^" + re.escape(f"{path}: {message}")) as err:
        read_results(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read (No such file or directory)"),
        ("hello", "not valid JSON (truncated?) at line 1: Expecting value"),
        ('{"some": "thing"}', "not a dthq-bench-results file (format=None)"),
        ("[1]", "top level must be an object"),
    ],
)
def test_missing_unreadable_and_foreign_files(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsError, match="^" + re.escape(f"{path}: {message}")):
        read_results(path)


def test_every_version_has_one_migration_to_the_next() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION))
    assert sorted(ADDED) == list(range(3, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("version", range(2, SCHEMA_VERSION))
def test_an_older_file_loads_with_the_later_sections_empty(version: int) -> None:
    full = results()
    data = to_dict(full)
    data["schema_version"] = version
    later = [s for v, sections in ADDED.items() if v > version for s in sections]
    for section in later:
        del data[section]
    if version < 3:
        del data["metadata"]["valgrind"]
    if version < 5:
        for cell in data["table4"]:
            del cell["kem"]
    loaded = from_dict(data)
    assert all(getattr(loaded, s) == () for s in later)
    names = [f.name for f in dataclasses.fields(Results) if f.name not in later]
    kept = {name: getattr(full, name) for name in names}
    if version < 5:  # before the QKD sources, every cell's key came from ML-KEM-768
        assert {c.kem for c in loaded.table4} == {"ML-KEM-768"}
        kept.pop("table4")
    assert {k: getattr(loaded, k) for k in kept} == kept


@pytest.mark.parametrize("version", [2, 3])
def test_files_labelled_2_or_3_that_hold_later_sections_keep_them(version: int) -> None:
    full = results()
    data = to_dict(full)
    data["schema_version"] = version
    assert from_dict(data) == full


def test_version_1_loads_with_every_later_section_empty() -> None:
    r = read_results(DATA / "results-v1.json")
    assert all(getattr(r, s) == () for sections in ADDED.values() for s in sections)
    assert r.metadata.valgrind is None and {c.kem for c in r.table4} == {"ML-KEM-768"}


def test_a_version_8_pipeline_run_loads_with_no_failure_and_no_fhir_backlog() -> None:
    full = results()
    data = to_dict(full)
    data["schema_version"] = 8
    for run in [*data["pipeline"], *(p["run"] for p in data["policy_sweep"])]:
        for key in ("failures", "fhir_unsent", "fhir_oldest_unsent_s"):
            del run[key]
    loaded = from_dict(data)
    runs = [*loaded.pipeline, *(p.run for p in loaded.policy_sweep)]
    assert runs and {(tuple(r.failures), r.fhir_unsent, r.fhir_oldest_unsent_s) for r in runs} == {
        ((), 0, None)
    }


def test_a_version_11_pipeline_run_loads_as_one_run_in_one_process() -> None:
    full = results()
    data = to_dict(full)
    data["schema_version"] = 11
    for run in [*data["pipeline"], *(p["run"] for p in data["policy_sweep"])]:
        del run["processes"], run["pin"]
    loaded = from_dict(data)
    runs = [*loaded.pipeline, *(p.run for p in loaded.policy_sweep)]
    assert runs and {(r.processes, r.pin) for r in runs} == {(False, "none")}


def test_raw_benchmark_json_is_read_wherever_results_are(tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps(fake_benchmark_json()))
    got = read_results(raw)
    assert got.table3 and got.qkd_sweep and got.pipeline
    dump(got, tmp_path / "same.json")
    # dthq compare reads raw JSON like dthq report does
    out = CliRunner().invoke(main, ["compare", str(raw), str(tmp_path / "same.json")])
    assert out.exit_code == 0, out.output


class _Benchmark:
    def __init__(self) -> None:
        self.extra_info: dict[str, Any] = {}


def test_a_tag_holds_exactly_what_its_model_declares() -> None:
    b = _Benchmark()
    tag(b, Suite.FORGED_HELLO, auth="psk", retry="never", hello_bytes=40, response_bytes=90)
    assert b.extra_info == {
        "suite": "forged_hello",
        "auth": "psk",
        "retry": "never",
        "hello_bytes": 40,
        "response_bytes": 90,
    }
    assert TAGGED[Suite.CASCADE].keys == {
        "schedule", "bits", "qber", "efficiencies", "rounds", "block_sizes"
    }  # fmt: skip
    with pytest.raises(TypeError, match=r"lacks \['response_bytes'\] and has unknown \['size'\]"):
        tag(b, Suite.FORGED_HELLO, auth="psk", retry="never", hello_bytes=40, size=1)
    with pytest.raises(TypeError, match=r"^a bulk tag lacks \['records'\]$"):
        tag(b, Suite.BULK, total_bytes=1, codec="lz4", key_length=256)


def test_a_distribution_s_tail_is_its_p99_else_its_median() -> None:
    from dthq.harness.results import Distribution

    measured = Distribution.from_samples([float(i) for i in range(1, 101)])
    assert measured.tail == measured.p99 > measured.q3
    migrated = Distribution(median=3.0, iqr=1.0, rounds=5)  # a version-1 primitive
    assert migrated.tail == 3.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["benchmarks"][0]["stats"].pop("median"),
            "benchmarks[0] (b0).stats.median: missing",
        ),
        (lambda d: d["machine_info"].pop("dthq"), "machine_info.dthq: missing"),
        (
            lambda d: d["benchmarks"][1]["extra_info"].update(suite="nosuch"),
            "benchmarks[1] (b1).extra_info.suite: unknown suite 'nosuch'",
        ),
        (
            lambda d: d["benchmarks"][2]["stats"].update(min=-1.0),
            "benchmarks[2] (b2).stats.min: expected a duration >= 0, got -1.0",
        ),
        (
            lambda d: d["benchmarks"][0]["extra_info"].pop("name"),
            "benchmarks[0] (b0).extra_info.name: missing",
        ),
    ],
)
def test_raw_benchmark_json_errors_name_the_benchmark_and_field(
    tmp_path: Path,
    mutate,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    raw = fake_benchmark_json()
    for i, b in enumerate(raw["benchmarks"]):
        b["name"] = f"b{i}"
    mutate(raw)
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(raw))
    foreign = "pytest-benchmark JSON not from these bench suites"
    with pytest.raises(ResultsError, match="^" + re.escape(f"{path}: {foreign}: {message}")):
        read_results(path)
