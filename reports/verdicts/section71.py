"""The three claims of the paper's §7.1 (Fig. 4a-c), judged on the whole policy sweep:
with the twin (adaptive) against without it (no-twin), at every message size measured,
over all readings. Where the paper's word admits more than one reading, each is judged;
when they disagree the verdict says so with both results (the Outcome set has no "depends
on the definition" yet, so that verdict is REPORTED, never a pass or a fail). The
alert-relevant latency is given beside the headline, labelled, and never judged."""

from __future__ import annotations

from dthq.harness.results import Results
from reports.policy_sweep import (
    DATA_USAGE,
    LATENCY,
    LATENCY_RELEVANT,
    THROUGHPUT_CPU,
    THROUGHPUT_OFFERED,
    Quantity,
    change,
    meets,
)
from reports.verdicts.judge import ClaimSpec, Judge, Measure, Measured
from reports.verdicts.outcome import Outcome

NOT_RUN = " (run the pipeline suite's policy sweep: test_policy_sweep)"


def _claimed_words(claimed: float, quantity: Quantity) -> str:
    return f"{claimed * 100:.0f} % {'higher' if quantity.higher_is_better else 'lower'}"


def _measure(readings: tuple[Quantity, ...], claimed: float, beside: Quantity | None) -> Measure:
    """Each reading's change over the sweep, in words with the sizes where it meets the
    claim; ``beside`` (a subset) follows, labelled. Values: each reading's ratio, in order."""

    def measure(results: Results) -> Measured:
        found = [c for q in readings if (c := change(results, q)) is not None]
        if len(found) < len(readings):
            return Measured("-", "-", (None,) * len(readings))
        words = [
            f"{c.words()} ({c.sizes_meeting(claimed)} of {len(c.per_size)} sizes meet "
            f"{_claimed_words(claimed, c.quantity)})"
            for c in found
        ]
        side = change(results, beside) if beside else None
        if side is not None:
            words.append(f"beside, a subset: {side.words()}")
        return Measured("; ".join(words), "-", tuple(c.overall for c in found))

    return measure


def _judge(readings: tuple[Quantity, ...], claimed: float) -> Judge:
    def judge(m: Measured) -> tuple[Outcome, str]:
        if None in m.values:
            return Outcome.NOT_MEASURED, NOT_RUN
        held = [meets(q, r, claimed) for q, r in zip(readings, m.values, strict=True)]  # type: ignore[arg-type]
        definitions = "; ".join(f"{q.name}: {q.definition}" for q in readings)
        where = f" over the whole sweep (geometric mean of the per-size ratios). {definitions}"
        if all(held):
            return Outcome.HOLDS, where
        if not any(held):
            return Outcome.DOES_NOT_HOLD, where
        holds = [q.name for q, ok in zip(readings, held, strict=True) if ok]
        fails = [q.name for q, ok in zip(readings, held, strict=True) if not ok]
        return Outcome.REPORTED, (
            f": depends on the definition: holds as {', '.join(holds)}, does not as "
            f"{', '.join(fails)}{where}"
        )

    return judge


def _spec(
    source: str,
    wording: str,
    paper: str,
    claimed: float,
    readings: tuple[Quantity, ...],
    beside: Quantity | None = None,
) -> ClaimSpec:
    return ClaimSpec(
        source,
        wording,
        paper,
        _measure(readings, claimed, beside),
        _judge(readings, claimed),
    )


CLAIMS: tuple[ClaimSpec, ...] = (
    _spec(
        "§7.1.1 / Fig. 4a",
        "40% latency reduction in the DT-integrated system (data size 1 KB to 100 MB)",
        "with the twin, latency is 40 % lower",
        0.40,
        (LATENCY,),
        beside=LATENCY_RELEVANT,
    ),
    _spec(
        "§7.1.2 / Fig. 4b",
        "the DT system increased throughput by 30%",
        "with the twin, throughput is 30 % higher",
        0.30,
        (THROUGHPUT_OFFERED, THROUGHPUT_CPU),
    ),
    # Efficiency read as overhead is messages per CPU-second: the same measured figure as
    # throughput read as capacity, so those two readings stand or fall together.
    _spec(
        "§7.1.3 / Fig. 4c",
        "the DT enabled system improved [efficiency] by 15% over the non-DT system",
        "with the twin, efficiency is 15 % higher",
        0.15,
        (DATA_USAGE, THROUGHPUT_CPU),
    ),
)
