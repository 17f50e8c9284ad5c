"""The highest rate a subject holds, found in O(log) probes.

"Held" is strict: every reading sent is delivered exactly once (none lost, none
duplicated), the sender kept the offered rate (a generator that falls behind offers
less than it says), and the end-to-end p99 of what was delivered is at most the limit.
:func:`search` doubles from a start rate until a probe fails (or halves until one
holds), then bisects between the highest held and the lowest failed rate until they
are within the relative precision. It assumes holding is monotone in the rate; every
probe is kept, so a noisy, non-monotone search shows as such.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from dthq.errors import DTHQError, UnsupportedError
from dthq.harness.results import HeldProbe, PipelineRun

P99_LIMIT_MS = 100.0
RATE_TOLERANCE = 0.02  # the share of the offered rate a sender may fall short by

Probe = Callable[[float], HeldProbe]


def why_not(
    probe: HeldProbe, p99_limit_ms: float = P99_LIMIT_MS, tolerance: float = RATE_TOLERANCE
) -> str:
    """Every reason the probe's rate was not held; "" when it was. A probe that could not
    run says so itself (its own ``why_not``), and that stands."""
    if probe.why_not:
        return probe.why_not
    reasons = []
    if probe.sent == 0:
        reasons.append("nothing sent")
    elif probe.sent_per_s < probe.offered_per_s * (1 - tolerance):
        reasons.append(f"sent {probe.sent_per_s:,.0f}/s of {probe.offered_per_s:,.0f}/s offered")
    if probe.lost:
        reasons.append(f"{probe.lost:,} lost")
    if probe.duplicated:
        reasons.append(f"{probe.duplicated:,} duplicated")
    if probe.delivered_once + probe.lost < probe.sent:
        reasons.append(f"{probe.sent - probe.delivered_once - probe.lost:,} unaccounted for")
    if probe.p99_ms is None:
        reasons.append("no latency measured")
    elif probe.p99_ms > p99_limit_ms:
        reasons.append(f"p99 {probe.p99_ms:g} ms > {p99_limit_ms:g} ms")
    return "; ".join(reasons)


@dataclass(frozen=True)
class Found:
    held_per_s: float | None  # None: not even ``lo`` held
    capped: bool  # ``hi`` held: the subject may hold more
    probes: tuple[HeldProbe, ...]


def _between(good: float, bad: float) -> float:
    """The geometric middle (relative precision halves in log steps), a whole number
    where one lies strictly between."""
    mid = math.sqrt(good * bad)
    whole = float(round(mid))
    return whole if good < whole < bad else mid


def search(
    probe: Probe,
    *,
    lo: float,
    hi: float,
    start: float | None = None,
    precision: float = 0.05,
    judge: Callable[[HeldProbe], str] = why_not,
) -> Found:
    """The highest rate in [lo, hi] that ``probe`` holds, to within ``precision``: the
    true threshold lies between the result and ``result * (1 + precision)``."""
    if not 0 < lo <= hi or not math.isfinite(hi):
        raise UnsupportedError(f"a held-rate search needs 0 < lo <= hi, got {lo:g} and {hi:g}")
    if not 0 < precision < 1:
        raise UnsupportedError(f"the search's precision must be within (0, 1), got {precision:g}")
    probes: list[HeldProbe] = []

    def held(rate: float) -> bool:
        result = probe(rate)
        probes.append(dataclasses.replace(result, why_not=judge(result)))
        return probes[-1].held

    rate = min(max(start if start is not None else lo, lo), hi)
    good: float | None = None
    bad: float | None = None
    if held(rate):
        good = rate
        while good < hi:
            rate = min(2 * good, hi)
            if not held(rate):
                bad = rate
                break
            good = rate
        if bad is None:
            return Found(good, True, tuple(probes))
    else:
        bad = rate
        while bad > lo:
            rate = max(bad / 2, lo)
            if held(rate):
                good = rate
                break
            bad = rate
        if good is None:
            return Found(None, False, tuple(probes))
    while bad > good * (1 + precision):
        rate = _between(good, bad)
        if held(rate):
            good = rate
        else:
            bad = rate
    return Found(good, False, tuple(probes))


def from_pipeline(run: PipelineRun) -> HeldProbe:
    """A pipeline run as a probe: what its devices sent, what reached the twin once."""
    sent, delivered = run.counts.get("sent", 0), run.counts.get("delivered", 0)
    e2e = run.end_to_end
    return HeldProbe(
        offered_per_s=run.offered_per_s,
        sent=sent,
        sent_per_s=run.sent_per_s,
        delivered_once=delivered,
        duplicated=run.counts.get("duplicated", 0),
        lost=max(0, sent - delivered),
        p50_ms=None if e2e is None else e2e.median,
        p99_ms=None if e2e is None else e2e.tail,
    )


def probe_of(rate: float, run: Callable[[], PipelineRun]) -> HeldProbe:
    """``run`` (a pipeline run at ``rate``) as a probe; one that fails to run (its
    handshakes timed out under the load, say) is a probe not held, with the reason."""
    try:
        return from_pipeline(run())
    except DTHQError as exc:
        return HeldProbe(rate, 0, 0.0, 0, 0, 0, None, None, why_not=f"run failed: {exc}")
