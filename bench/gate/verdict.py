"""A figure's verdict from its move, its limits and whether the move is significant."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from bench.gate.limits import Limit, Limits

if TYPE_CHECKING:
    from bench.gate.compare import Change


class Verdict(StrEnum):
    SLOWER = "slower"
    FASTER = "faster"
    NOT_SIGNIFICANT = "not significant"


def judge(
    ratio: float, current: float, limit: Limit, significant: bool, baseline: float = 0.0
) -> tuple[Verdict, str]:
    """A figure is slower when it is beyond its hard limit (an absolute value, whatever
    the statistics say) and its baseline was not, or significant AND beyond its soft
    limit. At a limit exactly is within it. A baseline beyond the hard limit too says
    the limit is not this environment's (another Python or OpenSSL): the soft limit
    decides, and the gate warns (``stale_hard_limits``). Returns the verdict and the
    limit it tripped."""
    if limit.hard is not None and current > limit.hard >= baseline:
        shown = f"{limit.hard:,.0f}" if limit.hard >= 1000 else f"{limit.hard:.3g}"
        return Verdict.SLOWER, f"hard {shown}"
    if not significant or 1 - limit.soft <= ratio <= 1 + limit.soft:  # no float residue
        return Verdict.NOT_SIGNIFICANT, ""
    if ratio > 1:
        return Verdict.SLOWER, f"soft {limit.soft:.1%}"
    return Verdict.FASTER, ""


def stale_hard_limits(changes: Sequence[Change], limits: Limits, metric: str) -> list[str]:
    """The figures whose baseline is already beyond its hard limit."""
    out = []
    for c in changes:
        hard = limits.of(metric, c.figure).hard
        if hard is not None and c.baseline > hard:
            out.append(
                f"{c.figure}: the baseline ({c.baseline:,.6g}) is beyond its hard limit "
                f"({hard:,.6g}) too: {limits.source} is not this environment's; the soft "
                "limit decides"
            )
    return out
