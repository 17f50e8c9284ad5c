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
    REPORTED = "compared by value"  # a published figure set beside ours, not judged
    INCONSISTENT_IN_PAPER = "inconsistent in the paper"

    @property
    def tone(self) -> str:
        """The CSS class of its colour: green, red, or grey for what is not judged."""
        return {Outcome.HOLDS: "ok", Outcome.DOES_NOT_HOLD: "bad"}.get(self, "grey")


def judged(ok: bool | None) -> Outcome:
    """A yes-or-no test's outcome; None when a figure it needs was not measured."""
    if ok is None:
        return Outcome.NOT_MEASURED
    return Outcome.HOLDS if ok else Outcome.DOES_NOT_HOLD


# The summary lists the claims judged yes or no, in this order.
JUDGED = (
    Outcome.HOLDS,
    Outcome.DOES_NOT_HOLD,
    Outcome.NOT_TESTABLE_HERE,
    Outcome.NOT_MEASURED,
)
