"""results.json: the results model as JSON, its shape derived from the dataclasses.

Every field of :mod:`dthq.harness.results` is written under its own name, in its
declared order: dataclasses as objects, tuples as lists, mappings as objects, enums as
their values; a field marked ``OMIT_IF_NONE`` is left out when it is None. Reading is
strict and derived from the same type hints: an unknown key, a missing key or a value of
the wrong type is a one-line :class:`ResultsError` naming the file and the field path.
Older files are migrated first (results_history.py); bench.ingest.read_results is the
one reader of files.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import statistics
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from dthq.errors import DTHQError
from dthq.harness.bootstrap import MIN_INTERVAL_VALUES
from dthq.harness.results import OMIT_IF_NONE, REQUIRED_KEYS, Distribution, Results
from dthq.harness.results_history import FORMAT, MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")


class ResultsError(DTHQError):
    """A results file that is malformed, truncated, or of another version."""


class _ShapeError(Exception):
    """A value that does not fit its field: the path, and what was wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'top level'}: {problem}")


# --- writing -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Dataclasses, enums, mappings and tuples -> JSON values, in declared field order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(v)
            for f in dataclasses.fields(value)
            if not ((v := getattr(value, f.name)) is None and f.metadata.get(OMIT_IF_NONE))
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _key(key: Any) -> str:
    return key.value if isinstance(key, enum.Enum) else str(key)


def to_dict(results: Results) -> dict[str, Any]:
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, **plain(results)}


def dump(results: Results, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(to_dict(results), indent=1) + "\n")
    return path


# --- reading ---------------------------------------------------------------------------


def from_dict(data: Any, where: str = "results") -> Results:
    """Results from a parsed results.json of any schema version, migrated to the current."""
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: top level must be an object")
    if data.get("format") != FORMAT:
        raise ResultsError(
            f"{where}: not a {FORMAT} file (format={data.get('format')!r}); pass the "
            "results.json written by `dthq bench` or `dthq report`, or raw pytest-benchmark "
            "JSON of the bench suites"
        )
    version = data.get("schema_version")
    readable = type(version) is int and (version in MIGRATIONS or version == SCHEMA_VERSION)
    if not readable:
        raise ResultsError(
            f"{where}: schema_version {version!r}, this build reads 1 to {SCHEMA_VERSION}"
        )
    while version != SCHEMA_VERSION:
        data, version = MIGRATIONS[version](data), version + 1
    body = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
    results = decode(Results, body, where)
    validate(results, where)
    return results


def validate(results: Results, where: str) -> None:
    """What every results model read from outside must hold beyond its shape (a results
    file, or a pytest-benchmark JSON a report is made from): each figure once, and the
    samples verdicts are computed from consistent. Raises ResultsError."""
    _unique(results, where)
    _consistent(results, where)


def _unique(results: Results, where: str) -> None:
    """No primitive, Table 3 row or Table 4 cell twice: the gate and the reports look
    figures up by these keys, so a second one would silently replace the first."""
    for section, keys in (
        ("primitives", [p.name for p in results.primitives]),
        ("table3", [r.key for r in results.table3]),
        ("table4", [c.key for c in results.table4]),
        ("paired", [p.figure for p in results.paired]),
        ("store", [str(p.rows) for p in results.store]),
    ):
        seen: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in seen:
                raise ResultsError(
                    f"{where}: {section}[{i}]: {key!r} again (first at {section}[{seen[key]}])"
                )
            seen[key] = i


# Samples the report divides or bootstraps: positive, and far enough from the float
# range's ends that a ratio of two of them or a mean of many stays finite.
_SANE = (1e-100, 1e100)


def _samples_ok(values: Any) -> bool:
    return all(_SANE[0] <= v <= _SANE[1] for v in values)


def _consistent(results: Results, where: str) -> None:
    """What the shape cannot say about the samples verdicts are computed from: a paired
    ratio's rounds, interval and loops agree with each other, and kept rounds and
    instances are positive (else a crafted file reads "met" or divides by zero)."""

    def bad(path: str, why: str) -> ResultsError:
        return ResultsError(f"{where}: {path}: {why}")

    for i, p in enumerate(results.paired):
        at = f"paired[{i}] ({p.figure})"
        if len(p.ratios) < MIN_INTERVAL_VALUES or not _samples_ok(p.ratios):
            raise bad(
                f"{at}.ratios", f"expected {MIN_INTERVAL_VALUES} or more ratios, each positive"
            )
        if not p.low <= p.median <= p.high:
            raise bad(at, f"median {p.median:g} is not within [low {p.low:g}, high {p.high:g}]")
        if not p.low <= statistics.median(p.ratios) <= p.high:
            raise bad(at, "the median of its ratios is not within [low, high]")
        if not math.isclose(p.median, statistics.median(p.ratios), rel_tol=1e-9):
            raise bad(at, f"median {p.median:g} is not the median of its ratios")
        if p.numerator_us.min is None or p.denominator_us.min is None:
            raise bad(at, "expected each side's fastest round (min): the 1 ms check needs it")
        if not 0 < p.confidence < 1 or p.resamples < 1:
            raise bad(at, "expected 0 < confidence < 1 and resamples >= 1")
        if p.numerator_loops < 1 or p.denominator_loops < 1:
            raise bad(at, "expected loops >= 1 on each side")
    for i, point in enumerate(results.store):
        if point.round_ms is not None and not (point.round_ms and _samples_ok(point.round_ms)):
            raise bad(f"store[{i}].round_ms", "expected every round's time positive")
        if not _samples_ok([point.put_ms.median]):  # the growth divides by it
            raise bad(f"store[{i}].put_ms.median", "expected a positive put time")
    if len({None if p.round_ms is None else len(p.round_ms) for p in results.store}) > 1:
        raise bad("store", "the sizes kept different numbers of rounds (they are timed together)")
    for i, c in enumerate(results.cascade):
        if c.efficiencies is None:
            continue
        if not c.efficiencies or not _samples_ok(c.efficiencies):
            raise bad(
                f"cascade[{i}].efficiencies", "expected one or more instances' f, each positive"
            )
        # f and its interval are read apart: a file whose mean is not its instances'
        # would read "met" on one and "MISSED" on the other
        if (
            len(c.efficiencies) != c.runs
            or not math.isclose(c.efficiency, statistics.fmean(c.efficiencies), rel_tol=1e-9)
            or not math.isclose(c.efficiency_max, max(c.efficiencies), rel_tol=1e-9)
        ):
            raise bad(
                f"cascade[{i}]",
                f"efficiency {c.efficiency:g}, efficiency_max {c.efficiency_max:g} and runs "
                f"{c.runs} are not the mean, the largest and the count of its "
                f"{len(c.efficiencies)} instances",
            )


def decode(cls: type[T], data: Any, where: str) -> T:
    """One dataclass of the results model from its JSON form (a tag, ``simulate --json``)."""
    try:
        return _decode(cls, data, "")  # type: ignore[no-any-return]
    except _ShapeError as exc:
        raise ResultsError(f"{where}: {exc}") from None


@functools.cache
def _hints(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def _decode(tp: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, value, path)
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, path)
    if origin is tuple:
        items = _expect(value, list, "a list", path)
        return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(items))
    if origin is Mapping or origin is dict:
        obj = _expect(value, dict, "an object", path)
        key_type, value_type = args
        return {
            _decode(key_type, k, f"{path}.{k}"): _decode(value_type, v, f"{path}.{k}")
            for k, v in obj.items()
        }
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        known = [m.value for m in tp]
        if value not in known:
            raise _ShapeError(path, f"expected one of {', '.join(known)}, got {_shown(value)}")
        return tp(value)
    return _scalar(tp, value, path)


def _dataclass(cls: type, value: Any, path: str) -> Any:
    obj = _expect(value, dict, "an object", path)
    prefix = f"{path}." if path else ""
    specs = _hints(cls)
    names = {f.name for f, _ in specs}
    unknown = [k for k in obj if k not in names]
    if unknown:
        raise _ShapeError(f"{prefix}{unknown[0]}", "unknown key")
    kwargs = {}
    for f, tp in specs:
        here = f"{prefix}{f.name}"
        if f.name not in obj:
            if not f.metadata.get(OMIT_IF_NONE):
                raise _ShapeError(here, "missing")
            kwargs[f.name] = None
            continue
        kwargs[f.name] = _decode(tp, obj[f.name], here)
        for key in f.metadata.get(REQUIRED_KEYS, ()):
            if key not in kwargs[f.name]:
                raise _ShapeError(f"{here}.{_key(key)}", "missing")
        if cls is Distribution and isinstance(kwargs[f.name], int | float) and kwargs[f.name] < 0:
            raise _ShapeError(here, f"must not be negative, got {_shown(kwargs[f.name])}")
    return cls(**kwargs)


def _scalar(tp: type, value: Any, path: str) -> Any:
    if tp is bool:
        ok, what = isinstance(value, bool), "true or false"
    elif tp is int:
        ok, what = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif tp is float:
        ok, what = _is_number(value), "a number"
    elif tp is str:
        ok, what = isinstance(value, str), "a string"
    else:
        raise TypeError(f"{path}: results_json cannot read a {tp!r} field")
    if not ok:
        raise _ShapeError(path, f"expected {what}, got {_shown(value)}")
    return value


def _expect(value: Any, kind: type[T], what: str, path: str) -> T:
    if not isinstance(value, kind):
        raise _ShapeError(path, f"expected {what}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
