"""results.json: the results model as versioned JSON, read strictly.

:func:`dump` writes ``schema_version`` 3; :func:`load` reads version 3 and migrates
version 2 (no instruction counts) and version 1 (timings beside the other fields of a
row, the machine flat in the metadata).
Anything malformed is a one-line :class:`ResultsError` naming the field and the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dthq.errors import DTHQError
from dthq.harness.results import (
    BulkRun,
    CascadeRun,
    Distribution,
    FleetRun,
    FlightSize,
    ForgedHello,
    InstructionCount,
    Metadata,
    Metric,
    PipelineRun,
    Primitive,
    QKDKeyCost,
    QKDPoint,
    Results,
    Table3Row,
    Table4Cell,
)

FORMAT = "dthq-bench-results"
SCHEMA_VERSION = 3
TABLE3_REQUIRED = (Metric.HANDSHAKE, Metric.LATENCY, Metric.THROUGHPUT, Metric.COMP_OVERHEAD)
TABLE4_REQUIRED = (Metric.AL, Metric.CC, Metric.THROUGHPUT)

T = TypeVar("T")


class ResultsError(DTHQError):
    """A results file that is malformed, truncated, or of another version."""


# --- writing -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Dataclasses, enums and tuples -> JSON values; None fields of a Distribution dropped."""
    if isinstance(value, Distribution):
        return {k: v for k, v in value.__dict__.items() if v is not None}
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(v) for k, v in value.__dict__.items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def to_dict(results: Results) -> dict[str, Any]:
    body = plain(results)
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, **body}


def dump(results: Results, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(to_dict(results), indent=1) + "\n")
    return path


# --- reading ---------------------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; unreadable or truncated files are a ResultsError naming the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_json(raw, str(path))


def parse_json(raw: bytes, where: str = "results") -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{where}: not valid JSON (truncated?) at line {exc.lineno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ResultsError(f"{where}: JSON nested too deeply") from None


def loads(raw: bytes, where: str = "results") -> Results:
    """Results from the bytes of a results.json (what the fuzzer feeds)."""
    return from_dict(parse_json(raw, where), where)


def load(path: str | Path) -> Results:
    """Read a results.json (version 1 or 2); every problem is a ResultsError naming it."""
    return from_dict(read_json(path), str(path))


def from_dict(data: Any, where: str = "results") -> Results:
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: top level must be an object")
    if data.get("format") != FORMAT:
        raise ResultsError(
            f"{where}: not a {FORMAT} file (format={data.get('format')!r}); "
            "pass the results.json written by `dthq bench` or `dthq report`"
        )
    version = data.get("schema_version")
    if version == 1:
        data = migrate_v1(data, where)
    elif version == 2:
        data = migrate_v2(data)
    elif version != SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: schema_version {version!r}, this build reads 1 to {SCHEMA_VERSION}"
        )
    return _Parser(where).results(data)


class _Parser:
    """Strict reading: every missing or mistyped field is named with its path."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> ResultsError:
        return ResultsError(f"{self.where}: {path} {problem}")

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "is missing or not an object")
        return value

    def field(self, obj: dict[str, Any], key: str, path: str) -> Any:
        if key not in obj:
            raise self.fail(path, f"lacks '{key}'")
        return obj[key]

    def number(self, obj: dict[str, Any], key: str, path: str, *, optional: bool = False) -> Any:
        if optional and obj.get(key) is None:
            return None
        value = self.field(obj, key, path)
        if not _is_number(value):
            raise self.fail(f"{path}.{key}", "is not a number")
        return value

    def integer(self, obj: dict[str, Any], key: str, path: str) -> int:
        value = self.field(obj, key, path)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{path}.{key}", "is not an integer")
        return value

    def integers(self, value: Any, path: str) -> tuple[int, ...]:
        items = self.list(value, path)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise self.fail(path, "holds something other than integers")
        return tuple(items)

    def text(self, obj: dict[str, Any], key: str, path: str, *, optional: bool = False) -> Any:
        if optional and obj.get(key) is None:
            return None
        value = self.field(obj, key, path)
        if not isinstance(value, str):
            raise self.fail(f"{path}.{key}", "is not a string")
        return value

    def rows(
        self,
        data: dict[str, Any],
        key: str,
        parse: Callable[[dict[str, Any], str], T],
        *,
        optional: bool = False,  # a section added within schema 2: older files lack it
    ) -> tuple[T, ...]:
        rows = data.get(key, [] if optional else None)
        if not isinstance(rows, list):
            raise ResultsError(f"{self.where}: '{key}' is missing or not a list")
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise self.fail(f"{key}[{i}]", "is not an object")
            out.append(parse(row, f"{key}[{i}]"))
        return tuple(out)

    def distribution(self, value: Any, path: str) -> Distribution:
        d = self.obj(value, path)
        optional = {
            k: self.number(d, k, path, optional=True) for k in ("min", "q1", "q3", "p95", "p99")
        }
        return Distribution(
            median=self.number(d, "median", path),
            iqr=self.number(d, "iqr", path),
            rounds=self.integer(d, "rounds", path),
            **optional,
        )

    def timings(
        self, row: dict[str, Any], path: str, required: Sequence[Metric]
    ) -> dict[Metric, Distribution]:
        raw = self.obj(row.get("timings"), f"{path}.timings")
        for metric in required:
            if metric.value not in raw:
                raise self.fail(f"{path}.timings", f"lacks '{metric.value}'")
        out = {}
        for key, value in raw.items():
            try:
                metric = Metric(key)
            except ValueError:
                raise self.fail(f"{path}.timings", f"names an unknown metric {key!r}") from None
            out[metric] = self.distribution(value, f"{path}.timings.{key}")
        return out

    def metadata(self, value: Any) -> Metadata:
        m = self.obj(value, "'metadata'")
        machine = m.get("machine", {})
        if not isinstance(machine, dict):
            raise self.fail("metadata.machine", "is not an object")
        return Metadata(
            profile=self.text(m, "profile", "metadata"),
            messages_per_session=self.integer(m, "messages_per_session", "metadata"),
            machine=machine,
            wall_time_s=self.number(m, "wall_time_s", "metadata", optional=True),
            **{
                k: self.text(m, k, "metadata", optional=True)
                for k in (
                    "commit",
                    "node",
                    "benchmark_datetime",
                    "pytest_benchmark",
                    "slowdown",
                    "valgrind",
                )
            },
        )

    def list(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "is not a list")
        return value

    def flight(self, value: Any, path: str) -> FlightSize:
        f = self.obj(value, path)
        return FlightSize(
            self.text(f, "sender", path), self.text(f, "name", path), self.integer(f, "size", path)
        )

    def primitive(self, p: dict[str, Any], path: str) -> Primitive:
        return Primitive(
            name=self.text(p, "name", path),
            time_us=self.distribution(self.field(p, "time_us", path), f"{path}.time_us"),
            timeit_median_us=self.number(p, "timeit_median_us", path, optional=True),
            timeit_min_us=self.number(p, "timeit_min_us", path, optional=True),
            params=p.get("params") or {},
        )

    def table3(self, r: dict[str, Any], path: str) -> Table3Row:
        return Table3Row(
            key=self.text(r, "key", path),
            scheme=self.text(r, "scheme", path),
            quantum_safe=self.text(r, "quantum_safe", path),
            timings=self.timings(r, path, TABLE3_REQUIRED),
            latency_amortised_ms=self.number(r, "latency_amortised_ms", path),
            handshake_bytes=self.integer(r, "handshake_bytes", path),
            record_overhead_bytes=self.integer(r, "record_overhead_bytes", path),
            record_bytes=self.integer(r, "record_bytes", path),
            payload_bytes=self.integer(r, "payload_bytes", path),
            modelled_link_ms=self.number(r, "modelled_link_ms", path),
            paper_row=self.text(r, "paper_row", path, optional=True),
            flights=tuple(
                self.flight(f, f"{path}.flights[{k}]")
                for k, f in enumerate(self.list(r.get("flights", []), f"{path}.flights"))
            ),
            params=r.get("params") or {},
        )

    def table4(self, c: dict[str, Any], path: str) -> Table4Cell:
        return Table4Cell(
            key=self.text(c, "key", path),
            key_length=self.integer(c, "key_length", path),
            edge=self.text(c, "edge", path),
            size=self.text(c, "size", path),
            codec=self.text(c, "codec", path),
            aead=self.text(c, "aead", path),
            timings=self.timings(c, path, TABLE4_REQUIRED),
            comm_bits=self.integer(c, "comm_bits", path),
            modelled_link_ms=self.number(c, "modelled_link_ms", path),
            link=self.text(c, "link", path),
            payload_bytes=self.integer(c, "payload_bytes", path),
            compressed_bytes=self.integer(c, "compressed_bytes", path),
            record_bytes=self.integer(c, "record_bytes", path),
            compressed=bool(self.field(c, "compressed", path)),
            kem=self.text(c, "kem", path, optional=True) or "ML-KEM-768",  # added in schema 2
        )

    def bulk(self, b: dict[str, Any], path: str) -> BulkRun:
        return BulkRun(
            total_bytes=self.integer(b, "total_bytes", path),
            records=self.integer(b, "records", path),
            codec=self.text(b, "codec", path),
            key_length=self.integer(b, "key_length", path),
            time_ms=self.distribution(self.field(b, "time_ms", path), f"{path}.time_ms"),
            mb_per_s=self.number(b, "mb_per_s", path),
        )

    def forged(self, f: dict[str, Any], path: str) -> ForgedHello:
        return ForgedHello(
            auth=self.text(f, "auth", path),
            retry=self.text(f, "retry", path),
            cpu_us=self.distribution(self.field(f, "cpu_us", path), f"{path}.cpu_us"),
            hello_bytes=self.integer(f, "hello_bytes", path),
            response_bytes=self.integer(f, "response_bytes", path),
        )

    def qkd_point(self, q: dict[str, Any], path: str) -> QKDPoint:
        optional = {
            k: self.number(q, k, path, optional=True) for k in ("efficiency", "efficiency_original")
        }
        rounds = q.get("rounds")
        return QKDPoint(
            sweep=self.text(q, "sweep", path),
            qber=self.number(q, "qber", path),
            fibre_km=self.number(q, "fibre_km", path),
            raw_pulses=self.integer(q, "raw_pulses", path),
            sifted=None if q.get("sifted") is None else self.integer(q, "sifted", path),
            net_bits=self.integer(q, "net_bits", path),
            theory_rate=self.number(q, "theory_rate", path),
            shor_preskill_rate=self.number(q, "shor_preskill_rate", path),
            rounds=None if rounds is None else self.integer(q, "rounds", path),
            aborted=self.text(q, "aborted", path, optional=True),
            **optional,
        )

    def qkd_key(self, k: dict[str, Any], path: str) -> QKDKeyCost:
        return QKDKeyCost(
            key_bits=self.integer(k, "key_bits", path),
            qber=self.number(k, "qber", path),
            raw_pulses=self.integer(k, "raw_pulses", path),
            time_ms=self.distribution(self.field(k, "time_ms", path), f"{path}.time_ms"),
            rounds=self.integer(k, "rounds", path),
            keys=self.integer(k, "keys", path),
        )

    def cascade(self, c: dict[str, Any], path: str) -> CascadeRun:
        return CascadeRun(
            schedule=self.text(c, "schedule", path),
            bits=self.integer(c, "bits", path),
            qber=self.number(c, "qber", path),
            time_ms=self.distribution(self.field(c, "time_ms", path), f"{path}.time_ms"),
            efficiency=self.number(c, "efficiency", path),
            efficiency_max=self.number(c, "efficiency_max", path),
            runs=self.integer(c, "runs", path),
            rounds=self.integer(c, "rounds", path),
            block_sizes=self.integers(self.field(c, "block_sizes", path), f"{path}.block_sizes"),
        )

    def counts(self, value: Any, path: str) -> dict[str, int]:
        d = self.obj(value, path)
        return {str(k): self.integer(d, k, path) for k in d}

    def pipeline(self, r: dict[str, Any], path: str) -> PipelineRun:
        def dist(key: str) -> Distribution | None:
            value = r.get(key)
            return None if value is None else self.distribution(value, f"{path}.{key}")

        stages = self.obj(self.field(r, "stages", path), f"{path}.stages")
        cpu = self.obj(self.field(r, "cpu_s", path), f"{path}.cpu_s")
        return PipelineRun(
            transport=self.text(r, "transport", path),
            broker=str(r.get("broker", "")),
            protocol=str(r.get("protocol", "")),
            patients=self.integer(r, "patients", path),
            rate_hz=self.number(r, "rate_hz", path),
            duration_s=self.number(r, "duration_s", path),
            qos=self.integer(r, "qos", path),
            policy=self.text(r, "policy", path),
            stages={k: self.distribution(v, f"{path}.stages.{k}") for k, v in stages.items()},
            end_to_end=dist("end_to_end"),
            alert_relevant=dist("alert_relevant"),
            offered_per_s=self.number(r, "offered_per_s", path),
            sent_per_s=self.number(r, "sent_per_s", path),
            delivered_per_s=self.number(r, "delivered_per_s", path),
            counts=self.counts(self.field(r, "counts", path), f"{path}.counts"),
            rejected=self.counts(r.get("rejected", {}), f"{path}.rejected"),
            alerts=self.integer(r, "alerts", path),
            detection_delay_s=dist("detection_delay_s"),
            bytes_up=self.counts(self.field(r, "bytes_up", path), f"{path}.bytes_up"),
            cpu_s={str(k): self.number(cpu, k, f"{path}.cpu_s") for k in cpu},
            reconnects=self.integer(r, "reconnects", path),
            down_ms=self.number(r, "down_ms", path),
            rejection_examples={
                str(k): str(v)
                for k, v in self.obj(
                    r.get("rejection_examples", {}), f"{path}.rejection_examples"
                ).items()
            },
        )

    def fleet(self, r: dict[str, Any], path: str) -> FleetRun:
        def dist(key: str) -> Distribution | None:
            value = r.get(key)
            return None if value is None else self.distribution(value, f"{path}.{key}")

        def numbers(key: str) -> dict[str, float]:
            d = self.obj(self.field(r, key, path), f"{path}.{key}")
            return {str(k): self.number(d, k, f"{path}.{key}") for k in d}

        recovery = r.get("recovery_s")
        return FleetRun(
            scenario=self.text(r, "scenario", path),
            broker=self.text(r, "broker", path),
            protocol=self.text(r, "protocol", path),
            devices=self.integer(r, "devices", path),
            workers=self.integer(r, "workers", path),
            gateways=self.integer(r, "gateways", path),
            rate_hz=self.number(r, "rate_hz", path),
            offered_per_s=self.number(r, "offered_per_s", path),
            duration_s=self.number(r, "duration_s", path),
            wall_s=self.number(r, "wall_s", path),
            handshake=dist("handshake"),
            publish=dist("publish"),
            end_to_end=dist("end_to_end"),
            storm_recovery=dist("storm_recovery"),
            recovery_s=None if recovery is None else self.number(r, "recovery_s", path),
            throughput_per_s=self.number(r, "throughput_per_s", path),
            counts=self.counts(self.field(r, "counts", path), f"{path}.counts"),
            rejected=self.counts(r.get("rejected", {}), f"{path}.rejected"),
            gateway_work=self.counts(self.field(r, "gateway_work", path), f"{path}.gateway_work"),
            cpu=numbers("cpu"),
            cpu_peak=numbers("cpu_peak"),
            costs=numbers("costs"),
            locust=self.counts(self.field(r, "locust", path), f"{path}.locust"),
            rejection_examples={
                str(k): str(v)
                for k, v in self.obj(
                    r.get("rejection_examples", {}), f"{path}.rejection_examples"
                ).items()
            },
        )

    def instruction_count(self, c: dict[str, Any], path: str) -> InstructionCount:
        randomised = c.get("randomised", False)
        if not isinstance(randomised, bool):
            raise self.fail(f"{path}.randomised", "is not true or false")
        return InstructionCount(
            self.text(c, "figure", path),
            self.number(c, "per_op", path),
            self.integer(c, "n", path),
            randomised,
        )

    def results(self, data: dict[str, Any]) -> Results:
        return Results(
            metadata=self.metadata(data.get("metadata")),
            primitives=self.rows(data, "primitives", self.primitive),
            table3=self.rows(data, "table3", self.table3),
            table4=self.rows(data, "table4", self.table4),
            bulk=self.rows(data, "bulk", self.bulk),
            forged_hello=self.rows(data, "forged_hello", self.forged, optional=True),
            qkd_sweep=self.rows(data, "qkd_sweep", self.qkd_point, optional=True),
            qkd_keys=self.rows(data, "qkd_keys", self.qkd_key, optional=True),
            cascade=self.rows(data, "cascade", self.cascade, optional=True),
            pipeline=self.rows(data, "pipeline", self.pipeline, optional=True),
            fleet=self.rows(data, "fleet", self.fleet, optional=True),
            instructions=self.rows(data, "instructions", self.instruction_count),
            created=str(data.get("created", "")),
            generator=str(data.get("generator", "")),
        )


def pipeline_run(data: Any, where: str = "pipeline run") -> PipelineRun:
    """One :class:`PipelineRun` from its JSON form (the bench's tag, ``simulate --json``)."""
    parser = _Parser(where)
    return parser.pipeline(parser.obj(data, where), where)


def fleet_run(data: Any, where: str = "fleet run") -> FleetRun:
    """One :class:`FleetRun` from its JSON form (the bench's tag, ``fleet --json``)."""
    parser = _Parser(where)
    return parser.fleet(parser.obj(data, where), where)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- version 1 -> 2 --------------------------------------------------------------------

# Version 1 kept timings beside the other fields of a row, the machine's keys flat in
# the metadata, primitives as flat *_us numbers, and the amortised latency as an object.
_V1_RUN_KEYS = (
    "profile",
    "messages_per_session",
    "wall_time_s",
    "commit",
    "node",
    "benchmark_datetime",
    "pytest_benchmark",
    "slowdown",
)


def migrate_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A version-2 results dict as version 3: no instruction counts were taken."""
    return {**data, "schema_version": SCHEMA_VERSION, "instructions": []}


def migrate_v1(data: dict[str, Any], where: str) -> dict[str, Any]:
    """A version-1 results dict as the current version (pure: the input is not changed)."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        raise ResultsError(f"{where}: 'metadata' is missing or not an object")
    out: dict[str, Any] = {k: v for k, v in data.items() if k != "metadata"}
    out["schema_version"] = SCHEMA_VERSION
    out["metadata"] = {
        **{k: meta.get(k) for k in _V1_RUN_KEYS},
        "machine": {k: v for k, v in meta.items() if k not in _V1_RUN_KEYS},
    }
    for section in ("primitives", "table3", "table4", "bulk"):
        if not isinstance(data.get(section), list):
            raise ResultsError(f"{where}: '{section}' is missing or not a list")
    out["primitives"] = [_v1_primitive(p) for p in data["primitives"]]
    out["table3"] = [_v1_row(r) for r in data["table3"]]
    out["table4"] = [_v1_row(c) for c in data["table4"]]
    return migrate_v2(out)


def _v1_primitive(p: Any) -> Any:
    if not isinstance(p, dict):
        return p
    time_us = {"median": p.get("median_us"), "iqr": p.get("iqr_us"), "rounds": p.get("rounds")}
    if p.get("min_us") is not None:
        time_us["min"] = p["min_us"]
    known = {"name", "median_us", "iqr_us", "min_us", "rounds", "timeit_median_us", "timeit_min_us"}
    return {
        "name": p.get("name"),
        "time_us": time_us,
        "timeit_median_us": p.get("timeit_median_us"),
        "timeit_min_us": p.get("timeit_min_us"),
        "params": {k: v for k, v in p.items() if k not in known},
    }


def _v1_row(row: Any) -> Any:
    if not isinstance(row, dict):
        return row
    metrics = {m.value for m in Metric}
    out = {k: v for k, v in row.items() if k not in metrics}
    out["timings"] = {k: v for k, v in row.items() if k in metrics}
    if isinstance(row.get("flights"), list):  # [sender, name, bytes] triples
        out["flights"] = [
            dict(zip(("sender", "name", "size"), f, strict=False)) if isinstance(f, list) else f
            for f in row["flights"]
        ]
    amortised = row.get("latency_amortised_ms")
    if isinstance(amortised, dict):
        out["latency_amortised_ms"] = amortised.get("median")
    if "key" not in out and "key_length" in row:  # Table 4 cells were keyed by their axes
        out["key"] = f"{row['key_length']}-{row.get('edge')}-{row.get('size')}"
    return out
