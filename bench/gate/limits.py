"""Each figure's two limits, as Gungraun sets them: a soft limit (a change, in percent of
the baseline) and a hard limit (an absolute value the current figure may not exceed,
in the figure's own unit). A default soft limit per metric (instructions, time, normalised),
per-figure overrides, one file (bench/gate/limits.toml); a bad file is a GateError naming the key.

    [instructions]
    soft = "1%"
    [instructions.figures."handshake/dthq-mlkem768-psk"]
    soft = "1.5%"      # optional: this figure's own soft limit
    hard = 4_000_000   # instructions per operation
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.gate.errors import GateError

DEFAULT_FILE = Path(__file__).resolve().parent / "limits.toml"
# instructions per operation; seconds per operation of a same-runner A/B (tested); the
# floor-normalised times of two stored runs (untested: not interleaved pairs)
METRICS = ("instructions", "time", "normalised")


@dataclass(frozen=True)
class Limit:
    soft: float  # a fraction of the baseline: 0.01 is 1 %
    hard: float | None = None  # absolute, in the figure's unit; None: no hard limit


@dataclass(frozen=True)
class Limits:
    source: str
    soft: dict[str, float]  # default soft limit by metric
    figures: dict[str, dict[str, Limit]] = field(default_factory=dict)  # metric -> figure

    def of(self, metric: str, figure: str) -> Limit:
        return self.figures.get(metric, {}).get(figure, Limit(self.soft[metric]))

    def with_soft(self, metric: str, soft: float) -> Limits:
        """One soft limit for every figure of ``metric`` (``--threshold``); hard limits
        stay."""
        figures = {
            name: replace(limit, soft=soft) for name, limit in self.figures.get(metric, {}).items()
        }
        return replace(
            self, soft={**self.soft, metric: soft}, figures={**self.figures, metric: figures}
        )


def parse_soft(value: Any, key: str) -> float:
    """'1%' or 0.01 -> 0.01; anything else is a GateError naming ``key``."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            fraction = float(value[:-1]) / 100
        except ValueError:
            raise GateError(f"{key}: {value!r} is not a percentage") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        fraction = float(value)
    else:
        raise GateError(f"{key}: {value!r} must be a percentage ('1%') or a fraction (0.01)")
    if not 0 <= fraction < 10:
        raise GateError(f"{key}: {value!r} must be at least 0 and below 1000 %")
    return fraction


def _hard(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise GateError(f"{key}: {value!r} must be a positive number (the figure's own unit)")
    return float(value)


def _unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        dot = "" if where.endswith(": ") else "."
        raise GateError(
            f"{where}{dot}{extra[0]}: unknown key (expected {', '.join(sorted(allowed))})"
        )


def parse(data: dict[str, Any], source: str) -> Limits:
    _unknown(data, set(METRICS), f"{source}: ")
    soft: dict[str, float] = {}
    figures: dict[str, dict[str, Limit]] = {}
    for metric in METRICS:
        table = data.get(metric)
        if not isinstance(table, dict):
            raise GateError(f"{source}: [{metric}] is missing (it needs a default soft limit)")
        _unknown(table, {"soft", "figures"}, f"{source}: {metric}")
        if "soft" not in table:
            raise GateError(f"{source}: {metric}.soft is missing")
        soft[metric] = parse_soft(table["soft"], f"{source}: {metric}.soft")
        figures[metric] = {}
        for name, entry in (table.get("figures") or {}).items():
            key = f'{source}: {metric}.figures."{name}"'
            if not isinstance(entry, dict):
                raise GateError(f"{key}: must be a table with soft and/or hard")
            _unknown(entry, {"soft", "hard"}, key)
            figures[metric][name] = Limit(
                parse_soft(entry["soft"], f"{key}.soft") if "soft" in entry else soft[metric],
                _hard(entry["hard"], f"{key}.hard") if "hard" in entry else None,
            )
    return Limits(source, soft, figures)


def load(path: Path = DEFAULT_FILE) -> Limits:
    """The limits in ``path``; a GateError (exit 2) for a file that is missing, not
    TOML, or holds a bad key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GateError(f"{path}: cannot read the limits file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GateError(f"{path}: not a TOML limits file: {exc}") from None
    return parse(data, str(path))
