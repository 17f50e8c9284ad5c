"""The versioned results format (after pyperf): pytest-benchmark JSON in,
``results.json`` out, and a strict loader that names what is wrong with a file.

Every timing is a distribution summary: median, IQR (q1, q3), p95, p99, rounds.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import dthq
from dthq.harness import linkmodel, scenarios

SCHEMA_VERSION = 1
FORMAT = "dthq-bench-results"


class ResultsError(dthq.DTHQError):
    """A results file that is malformed, truncated, or of another version."""


def _quantile(data: list[float], q: float) -> float:
    ordered = sorted(data)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timing(stats: dict[str, Any], scale: float) -> dict[str, float]:
    """A pytest-benchmark stats block in one unit (scale: seconds -> unit)."""
    data = stats.get("data") or [stats["median"]]
    return {
        "median": stats["median"] * scale,
        "min": stats["min"] * scale,
        "q1": stats["q1"] * scale,
        "q3": stats["q3"] * scale,
        "iqr": stats["iqr"] * scale,
        "p95": _quantile(data, 0.95) * scale,
        "p99": _quantile(data, 0.99) * scale,
        "rounds": stats["rounds"],
    }


def rate(stats: dict[str, Any]) -> dict[str, float]:
    """Per-second rate from a per-operation time: median 1/median, IQR from the quartiles."""
    return {
        "median": 1 / stats["median"],
        "q1": 1 / stats["q3"],
        "q3": 1 / stats["q1"],
        "iqr": 1 / stats["q1"] - 1 / stats["q3"],
        "rounds": stats["rounds"],
    }


def from_benchmark_json(
    raw: dict[str, Any],
    *,
    profile: str = "quick",
    messages_per_session: int = 100,
    wall_time_s: float | None = None,
) -> dict[str, Any]:
    """Turn pytest-benchmark's JSON into our results format."""
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for bench in raw.get("benchmarks", []):
        info = bench.get("extra_info", {})
        by_suite.setdefault(info.get("suite", "other"), []).append(bench)
    machine = raw.get("machine_info", {})
    metadata = {
        **machine.get("dthq", {}),
        "node": machine.get("node"),
        "pytest_benchmark": raw.get("version"),
        "commit": (raw.get("commit_info") or {}).get("id"),
        "benchmark_datetime": raw.get("datetime"),
        "wall_time_s": wall_time_s,
        "profile": profile,
        "messages_per_session": messages_per_session,
    }
    results = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "generator": f"dthq-bench {dthq.__version__}",
        "metadata": metadata,
        "primitives": _primitives(by_suite.get("primitives", [])),
        "table3": _table3(by_suite.get("table3", []), messages_per_session),
        "table4": _table4(by_suite.get("table4", [])),
        "bulk": _bulk(by_suite.get("bulk", [])),
    }
    return results


def _primitives(benches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for b in benches:
        info, stats = b["extra_info"], b["stats"]
        t = timing(stats, 1e6)
        entry = {
            "name": info["name"],
            "median_us": t["median"],
            "iqr_us": t["iqr"],
            "min_us": t["min"],
            "rounds": t["rounds"],
            "timeit_median_us": info.get("timeit_median_us"),
            "timeit_min_us": info.get("timeit_min_us"),
        }
        entry.update({k: v for k, v in info.items() if k not in entry and k != "suite"})
        out.append(entry)
    return sorted(out, key=lambda e: e["name"])


def _by_figure(benches: list[dict[str, Any]], key: str) -> dict[str, dict[str, dict[str, Any]]]:
    """{row or cell key: {figure: benchmark}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for b in benches:
        out.setdefault(b["extra_info"][key], {})[b["extra_info"]["figure"]] = b
    return out


def _table3(benches: list[dict[str, Any]], m: int) -> list[dict[str, Any]]:
    figures = _by_figure(benches, "row")
    rows = []
    for spec in scenarios.TABLE3:
        got = figures.get(spec.key, {})
        if not {"handshake", "latency", "message", "crypto"} <= got.keys():
            continue
        info = got["handshake"]["extra_info"]
        hs, msg = got["handshake"]["stats"], got["message"]["stats"]
        row = {
            "key": spec.key,
            "scheme": spec.label,
            "paper_row": spec.paper,
            "quantum_safe": info["quantum_safe"],
            "handshake_ms": timing(got["handshake"]["stats"], 1e3),
            "latency_ms": timing(got["latency"]["stats"], 1e3),
            # Derived from two measured medians, not measured as one loop.
            "latency_amortised_ms": {
                "median": (hs["median"] / m + msg["median"]) * 1e3,
                "messages_per_session": m,
                "derived": True,
            },
            "message_ms": timing(got["message"]["stats"], 1e3),
            "throughput_msg_s": rate(msg),
            "comp_overhead_ms": timing(got["crypto"]["stats"], 1e3),
            "handshake_bytes": info["handshake_bytes"],
            "flights": info["flights"],
            "record_overhead_bytes": info["record_overhead_bytes"],
            "record_bytes": info["record_bytes"],
            "payload_bytes": info["payload_bytes"],
            "params": info.get("params", {}),
            "modelled_link_ms": linkmodel.link_for("near").transfer_ms(
                info["handshake_bytes"] + info["record_bytes"], round_trips=2
            ),
        }
        if "handshake_tcp" in got:
            row["handshake_tcp_ms"] = timing(got["handshake_tcp"]["stats"], 1e3)
        rows.append(row)
    return rows


def _table4(benches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    figures = _by_figure(benches, "cell")
    rows = []
    for cell in scenarios.TABLE4:
        got = figures.get(cell.key, {})
        if not {"al", "cc"} <= got.keys():
            continue
        info, al = got["al"]["extra_info"], got["al"]["stats"]
        rows.append(
            {
                "key": cell.key,
                "key_length": cell.key_length,
                "edge": cell.edge,
                "size": cell.size,
                "codec": info["codec"],
                "aead": info["aead"],
                "al_ms": timing(al, 1e3),
                "cc_ms": timing(got["cc"]["stats"], 1e3),
                "comm_bits": info["comm_bits"],
                "throughput_msg_s": rate(al),
                "modelled_link_ms": info["modelled_link_ms"],
                "link": info["link"],
                "payload_bytes": info["payload_bytes"],
                "compressed_bytes": info["compressed_bytes"],
                "compressed": info["compressed"],
                "record_bytes": info["record_bytes"],
            }
        )
    return rows


def _bulk(benches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for b in benches:
        info = b["extra_info"]
        t = timing(b["stats"], 1e3)
        out.append(
            {
                **{k: v for k, v in info.items() if k != "suite"},
                "time_ms": t,
                "mb_per_s": info["total_bytes"] / 1e6 / (t["median"] / 1e3),
            }
        )
    return sorted(out, key=lambda e: e["total_bytes"])


# --- loading ---------------------------------------------------------------------

_TIMING_KEYS = ("median", "iqr")
_REQUIRED = {
    "primitives": ("name", "median_us", "iqr_us", "rounds"),
    "table3": (
        "scheme",
        "quantum_safe",
        "handshake_ms",
        "latency_ms",
        "throughput_msg_s",
        "comp_overhead_ms",
        "handshake_bytes",
        "record_overhead_bytes",
    ),
    "table4": (
        "key_length",
        "edge",
        "size",
        "codec",
        "al_ms",
        "cc_ms",
        "comm_bits",
        "throughput_msg_s",
        "modelled_link_ms",
    ),
}


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; unreadable or truncated files are a ResultsError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}: not valid JSON (truncated?) at line {exc.lineno}: {exc.msg}"
        ) from None


def from_file(path: str | Path) -> dict[str, Any]:
    """A validated results dict from our results.json or from raw pytest-benchmark JSON."""
    raw = read_json(path)
    if isinstance(raw, dict) and "benchmarks" in raw and "machine_info" in raw:
        try:
            raw = from_benchmark_json(raw)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise ResultsError(
                f"{path}: pytest-benchmark JSON not from these bench suites "
                f"({type(exc).__name__}: {exc})"
            ) from None
    validate(raw, str(path))
    return raw


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a results.json; every problem is a ResultsError naming it."""
    data = read_json(path)
    validate(data, str(path))
    return data


def validate(data: Any, where: str = "results") -> None:
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: top level must be an object")
    if data.get("format") != FORMAT:
        raise ResultsError(
            f"{where}: not a {FORMAT} file (format={data.get('format')!r}); "
            "pass the results.json written by `dthq bench` or `dthq report`"
        )
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: schema_version {version!r}, this build reads {SCHEMA_VERSION}"
        )
    if not isinstance(data.get("metadata"), dict):
        raise ResultsError(f"{where}: 'metadata' is missing or not an object")
    for section, keys in _REQUIRED.items():
        rows = data.get(section)
        if not isinstance(rows, list):
            raise ResultsError(f"{where}: '{section}' is missing or not a list")
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ResultsError(f"{where}: {section}[{i}] is not an object")
            for key in keys:
                if key not in row:
                    raise ResultsError(f"{where}: {section}[{i}] lacks '{key}'")
                value = row[key]
                if key.endswith(("_ms", "_s")) and isinstance(value, dict):
                    for t in _TIMING_KEYS:
                        if not _number(value.get(t)):
                            raise ResultsError(f"{where}: {section}[{i}].{key}.{t} is not a number")
                elif key in ("median_us", "iqr_us") and not _number(value):
                    raise ResultsError(f"{where}: {section}[{i}].{key} is not a number")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
