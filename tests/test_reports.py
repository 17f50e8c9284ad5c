"""Reports: results conversion, strict loading, the report files, and the regression gate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dthq.cli import main
from dthq.harness.scenarios import TABLE3, TABLE4
from reports.build import FILES, write_report
from reports.compare import compare, parse_threshold
from reports.results import SCHEMA_VERSION, ResultsError, from_benchmark_json, load, validate


def _stats(median_s: float, spread: float = 0.02) -> dict[str, Any]:
    return {
        "median": median_s,
        "min": median_s * (1 - 2 * spread),
        "q1": median_s * (1 - spread),
        "q3": median_s * (1 + spread),
        "iqr": median_s * 2 * spread,
        "rounds": 50,
        "mean": median_s,
        "data": [median_s * (1 + spread * (i - 25) / 25) for i in range(50)],
    }


def fake_benchmark_json(scale: float = 1.0, dthq_slowdown: float = 1.0) -> dict[str, Any]:
    """A pytest-benchmark JSON shaped like the bench suites' output, with chosen speeds:
    ``scale`` slows the whole machine, ``dthq_slowdown`` only DTHQ's own figures."""
    benches = []
    for name, us in (
        ("aead/AES-256-GCM/cryptography/small", 2.0),
        ("kem/ML-KEM-768/keygen", 40.0),
        ("kem/ML-KEM-768/encaps", 45.0),
        ("kem/ML-KEM-768/decaps", 50.0),
        ("kdf/HKDF-SHA256/64B", 3.0),
        ("codec/lz4/compress/small", 1.0),
    ):
        benches.append(
            {
                "extra_info": {
                    "suite": "primitives",
                    "name": name,
                    "timeit_median_us": us * scale * 1.02,
                },
                "stats": _stats(us * 1e-6 * scale),
            }
        )
    for i, row in enumerate(TABLE3):
        slow = dthq_slowdown if row.scheme == "dthq" else 1.0
        for figure, ms in (
            ("handshake", 0.3 + i),
            ("latency", 0.35 + i),
            ("message", 0.01),
            ("crypto", 0.34 + i),
        ):
            info = {
                "suite": "table3",
                "row": row.key,
                "label": row.label,
                "figure": figure,
                "quantum_safe": "yes",
                "flights": [["A", "HELLO", 1234]],
                "handshake_bytes": 2440,
                "record_overhead_bytes": 30,
                "record_bytes": 123,
                "payload_bytes": 93,
                "params": {},
            }
            benches.append({"extra_info": info, "stats": _stats(ms * 1e-3 * scale * slow)})
    for cell in TABLE4:
        for figure, ms in (("al", 0.01), ("cc", 0.4)):
            info = {
                "suite": "table4",
                "cell": cell.key,
                "key_length": cell.key_length,
                "edge": cell.edge,
                "size": cell.size,
                "figure": figure,
                "codec": "lz4",
                "aead": "AES-256-GCM",
                "compressed": cell.size != "small",
                "payload_bytes": 93,
                "compressed_bytes": 93,
                "record_bytes": 123,
                "comm_bits": 984,
                "link": "modelled",
                "modelled_link_ms": 4.1,
            }
            benches.append({"extra_info": info, "stats": _stats(ms * 1e-3 * scale * dthq_slowdown)})
    return {
        "machine_info": {
            "node": "test",
            "dthq": {
                "cpu_model": "test CPU",
                "cpu_count": 2,
                "os": "Linux",
                "python": "3.11",
                "openssl": {},
            },
        },
        "commit_info": {"id": "abc"},
        "benchmarks": benches,
        "datetime": "now",
        "version": "5",
    }


def results(**kw: float) -> dict[str, Any]:
    return from_benchmark_json(fake_benchmark_json(**kw), wall_time_s=100)


def test_results_schema() -> None:
    r = results()
    validate(r)
    assert r["schema_version"] == SCHEMA_VERSION
    assert {row["scheme"] for row in r["table3"]} == {row.label for row in TABLE3}
    assert len(r["table4"]) == 18
    row = r["table3"][0]
    for key in ("handshake_ms", "latency_ms", "comp_overhead_ms"):
        assert set(row[key]) >= {"median", "iqr", "q1", "q3", "p95", "p99", "rounds"}
    assert row["throughput_msg_s"]["median"] == pytest.approx(1 / 0.01e-3)
    assert r["primitives"][0]["median_us"] > 0


def test_report_files(tmp_path: Path) -> None:
    written = write_report(results(), tmp_path)
    assert sorted(p.name for p in written) == sorted(FILES)
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html and 'src="http' not in html
    table3 = (tmp_path / "table3.md").read_text()
    assert "RSA-2048" in table3 and "18.7" in table3  # the paper's value beside ours
    comparison = (tmp_path / "paper-comparison.md").read_text()
    assert "DTHQ latency below TLS latency" in comparison and "Definitions" in comparison
    assert "MODELLED" in (tmp_path / "table4.md").read_text()
    assert (tmp_path / "figure-table4.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.pop("format"), "not a dthq-bench-results"),
        (lambda d: d["table3"][0].pop("handshake_ms"), "table3[0] lacks 'handshake_ms'"),
        (lambda d: d["table4"][1]["al_ms"].update(median="x"), "table4[1].al_ms.median"),
        (lambda d: d.update(primitives={}), "'primitives' is missing or not a list"),
    ],
)
def test_bad_results_name_the_problem(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = results()
    mutate(data)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(path)


def test_truncated_results(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results())[:500])
    with pytest.raises(ResultsError, match="truncated"):
        load(path)
    result = CliRunner().invoke(main, ["report", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_gate_passes_a_uniformly_slower_machine() -> None:
    changes = compare(results(), results(scale=2.5), threshold=0.10)
    assert not [c for c in changes if c.verdict != "not significant"]


def test_gate_fails_a_slower_dthq() -> None:
    changes = compare(results(), results(dthq_slowdown=1.5), threshold=0.10)
    slower = {c.figure for c in changes if c.verdict == "slower"}
    assert "table3 dthq-mlkem768-psk handshake_ms" in slower
    assert "table4 256-far-small al_ms" in slower
    assert not any("rsa" in name or "primitive" in name for name in slower)


def test_gate_reports_improvements_apart() -> None:
    changes = compare(results(dthq_slowdown=1.5), results(), threshold=0.10)
    assert {c.verdict for c in changes} == {"faster", "not significant"}


def test_compare_cli_exit_codes(tmp_path: Path) -> None:
    paths = {}
    for name, kw in (("base", {}), ("same", {"scale": 1.7}), ("slow", {"dthq_slowdown": 2.0})):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(results(**kw)))
    ok = CliRunner().invoke(main, ["compare", str(paths["base"]), str(paths["same"])])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(
        main, ["compare", str(paths["base"]), str(paths["slow"]), "--threshold", "10%"]
    )
    assert bad.exit_code == 1 and "slower" in bad.output
    wrong = CliRunner().invoke(
        main, ["compare", str(paths["base"]), str(paths["slow"]), "--threshold", "lots"]
    )
    assert wrong.exit_code == 2 and wrong.output.startswith("error: ")


def test_parse_threshold() -> None:
    assert parse_threshold("10%") == pytest.approx(0.1)
    assert parse_threshold("0.25") == pytest.approx(0.25)
    with pytest.raises(ValueError):
        parse_threshold("-5%")


def test_report_accepts_raw_benchmark_json(tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps(fake_benchmark_json()))
    result = CliRunner().invoke(main, ["report", str(raw), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "results.json").read_text())["schema_version"] == 1


def test_foreign_benchmark_json_is_a_clear_error(tmp_path: Path) -> None:
    raw = fake_benchmark_json()
    del raw["benchmarks"][0]["extra_info"]["name"]
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(raw))
    result = CliRunner().invoke(main, ["report", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "not from these bench suites" in result.output


def test_unchanged_input_is_not_mutated() -> None:
    base = results()
    snapshot = copy.deepcopy(base)
    compare(base, results(), 0.1)
    assert base == snapshot
