"""One vocabulary for every verdict of the report.

A claim of the paper and a performance target are both judged to one Outcome: a target
is a claim that a measured ratio is within its limit, so "met" is HOLDS and "MISSED" is
DOES_NOT_HOLD, and one set of counts and colours serves both. Each kind keeps its own
words (a target reads "met"); the words, the colours and the counts are derived from
the Outcome, never parsed back from text."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    """The value is the outcome's label in the summary and across machines."""

    HOLDS = "holds"
    DOES_NOT_HOLD = "does not hold"
    NOT_TESTABLE_HERE = "cannot be tested here"
    NOT_MEASURED = "not measured in this run"
    DEPENDS_ON_DEFINITION = "depends on the definition"  # readings disagree: each result given
    # An absolute figure measured on the paper's i7-9700K: ours is set beside it, not judged.
    NOT_COMPARABLE_ACROSS_MACHINES = "not comparable across machines"
    INCONSISTENT_IN_PAPER = "inconsistent in the paper"
    # A target's figure whose interval holds its limit: neither met nor missed here.
    WITHIN_NOISE = "within noise"
    # A target judged on a figure that failed its stability checks: not judged.
    UNSTABLE = "unstable"

    @property
    def tone(self) -> str:
        """The CSS class of its colour: green, red, or grey for what is not judged."""
        return {Outcome.HOLDS: "ok", Outcome.DOES_NOT_HOLD: "bad"}.get(self, "grey")


def judged(ok: bool | None) -> Outcome:
    """A yes-or-no test's outcome; None when a figure it needs was not measured."""
    if ok is None:
        return Outcome.NOT_MEASURED
    return Outcome.HOLDS if ok else Outcome.DOES_NOT_HOLD


# The summary lists the claims judged yes or no, in this order (a claim is never within
# noise or unstable: those two are the targets').
JUDGED = (
    Outcome.HOLDS,
    Outcome.DOES_NOT_HOLD,
    Outcome.DEPENDS_ON_DEFINITION,
    Outcome.NOT_TESTABLE_HERE,
    Outcome.NOT_MEASURED,
)
