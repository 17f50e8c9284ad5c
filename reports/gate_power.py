"""Regression gate: measured error rates. The gate-power JSON of `nox -s power`
(bench/gate/power.py) from the results directory when one is there, else the committed
measured reference (bench/gate/power-measured.json); the section always says which, and
on what machine it was measured. A malformed file is a PowerFileError naming the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dthq.errors import DTHQError
from reports.section import Section, Table, Text

REFERENCE = Path(__file__).resolve().parent.parent / "bench" / "gate" / "power-measured.json"
NAME = "gate-power.json"


class PowerFileError(DTHQError):
    """A gate-power file the report cannot read."""


Path_ = tuple[str, ...]


def _show(path: Path_) -> str:
    """summary.time["1 figure, soft 0"].k: keys that are not names, quoted."""
    return "".join(
        (("." if i else "") + key) if key.isidentifier() else f"[{json.dumps(key)}]"
        for i, key in enumerate(path)
    )


def _get(data: Any, path: str | Path_, kind: type | tuple[type, ...], where: str) -> Any:
    """``data``'s value at ``path`` (dotted, or a tuple of keys), of ``kind``; else a
    PowerFileError naming the key."""
    keys = tuple(path.split(".")) if isinstance(path, str) else path
    value = data
    for i, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise PowerFileError(f"{where}: {_show(keys[: i + 1])} is missing")
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        shown = _show(keys)
        raise PowerFileError(f"{where}: {shown} is {type(value).__name__}, not the expected type")
    return value


def _rate(data: Any, path: Path_, where: str) -> str:
    k, n = _get(data, (*path, "k"), int, where), _get(data, (*path, "n"), int, where)
    upper = _get(data, (*path, "upper95"), (int, float), where)
    if not 0 <= k <= n or n < 1 or not 0 <= upper <= 1:
        raise PowerFileError(f"{where}: {_show(path)}: {k} of {n}, bound {upper}: not a rate")
    return f"{k}/{n} ({k / n:.0%}; <= {upper:.0%})"


def _rates(data: Any, path: Path_, where: str) -> list[str]:
    table = _get(data, path, dict, where)
    return [_rate(data, (*path, key), where) for key in table]


def _fractions(data: Any, path: Path_, where: str) -> list[str]:
    try:
        return [f"caught +{float(key):.0%}" for key in _get(data, path, dict, where)]
    except ValueError:
        shown = _show(path)
        raise PowerFileError(f"{where}: {shown}: a key is not an injected fraction") from None


def read(path: Path) -> dict[str, Any]:
    """The file's JSON, checked for every field the section shows."""
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PowerFileError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PowerFileError(f"{where}: not JSON: {exc}") from None
    for key, kind in (("machine", str), ("commit", str), ("date", str), ("figure", str),
                      ("cores", int), ("wall_s", int)):  # fmt: skip
        _get(data, key, kind, where)
    for key in ("comparisons", "pairs"):
        _get(data, f"summary.time.{key}", int, where)
    for key in ("D", "p"):
        _get(data, f"summary.time.ks.{key}", (int, float), where)
    return data


def chosen(path: Path) -> tuple[Path, str]:
    """The file to show and why: the results directory's own, else the reference."""
    fresh = path / NAME
    if fresh.is_file():
        return fresh, f"measured by `nox -s power` into this results directory ({fresh})"
    return REFERENCE, f"no {NAME} in this results directory: the committed reference"


def section(results_dir: Path) -> Section | None:
    path, why = chosen(results_dir)
    if not path.is_file():
        return None
    data, where = read(path), str(path)
    s = data["summary"]
    blocks: list[Any] = [
        Text(
            [
                f"Source: {why}. Measured on {data['machine']} ({data['cores']} cores, shared "
                f"with other work), commit {data['commit'][:10]}, {data['date']}, "
                f"{data.get('valgrind') or 'no valgrind'}, {data['wall_s']} s. Figure: "
                f"{data['figure']}; each slowdown an empty loop injected into DTHQ's "
                "initiator. Rates are k/n (rate; exact Clopper-Pearson 95 % upper bound)."
            ]
        )
    ]
    if "instructions" in s:
        ins = ("summary", "instructions")
        keys = list(_get(data, (*ins, "false_alarms"), dict, where))
        if not keys:
            raise PowerFileError(f"{where}: summary.instructions.false_alarms is empty")
        rows = [
            [
                key if key == "configured" else f"{float(key):.1%}",
                _rate(data, (*ins, "false_alarms", key, "runs"), where),
                _rate(data, (*ins, "false_alarms", key, "figures"), where),
                *_rates(data, (*ins, "detection", key), where),
            ]
            for key in keys
        ]
        first = (*ins, "detection", keys[0])
        headers = ["Soft limit", "False alarms (runs)", "False alarms (figures)"]
        blocks += [
            Table([*headers, *_fractions(data, first, where)], rows),
            Text(
                [
                    f"Instructions: {_get(data, (*ins, 'comparisons'), int, where)} A/A "
                    f"comparisons of {_get(data, (*ins, 'figures'), int, where)} figures; "
                    "unchanged counts moved by at most "
                    f"{_get(data, (*ins, 'worst_spread'), (int, float), where):.2%} "
                    f"({_get(data, (*ins, 'worst_spread_figure'), str, where)}). Counts are "
                    "deterministic to that spread, so this gate has no p-value: a figure is "
                    "slower beyond its soft limit (and the runs' own spread) or its hard limit."
                ]
            ),
        ]
    tim = ("summary", "time")
    keys = list(_get(data, (*tim, "false_alarms"), dict, where))
    if not keys:
        raise PowerFileError(f"{where}: summary.time.false_alarms is empty")
    rows = [
        [key, _rate(data, (*tim, "false_alarms", key), where),
         *_rates(data, (*tim, "detection", key), where)]
        for key in keys
    ]  # fmt: skip
    first = (*tim, "detection", keys[0])
    blocks += [
        Table(["Bonferroni over, soft limit", "False alarms", *_fractions(data, first, where)],
              rows),
        Text(
            [
                f"Time: {s['time']['comparisons']} A/A same-runner comparisons of "
                f"{s['time']['pairs']} interleaved pairs; one-sided Wilcoxon signed-rank, "
                "family-wise alpha 0.01. Kolmogorov-Smirnov of the A/A p-values against "
                f"uniform: D = {s['time']['ks']['D']:.3f}, p = {s['time']['ks']['p']:.3f} "
                "(a small p says the test is not calibrated on this machine)."
            ]
        ),
    ]  # fmt: skip
    return Section("Regression gate: measured error rates", blocks, "gate-error-rates.md")
