"""The shape of a judged claim: its spec (where, what, the paper's figure, a measure and
a judge), what the measure found, and the judges that turn it into an Outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dthq.harness.results import Results
from reports.verdicts.outcome import Outcome, judged

# A verdict's words: the outcome's phrase, then the claim's remark. An inconsistency's
# Paper column already says so; its verdict column only explains our figures.
PHRASES = {
    Outcome.REPORTED: "value",
    Outcome.HOLDS: "holds here",
    Outcome.DOES_NOT_HOLD: "does NOT hold here",
    Outcome.NOT_MEASURED: "not measured",
    Outcome.NOT_TESTABLE_HERE: "not testable here",
    Outcome.INCONSISTENT_IN_PAPER: "",
}


@dataclass(frozen=True)
class Claim:
    source: str  # where in the paper
    claim: str
    paper: str
    ours: str
    ratio: str  # ours / paper, where both are numbers
    outcome: Outcome
    remark: str = ""  # follows the outcome's phrase in the verdict

    @property
    def verdict(self) -> str:
        return PHRASES[self.outcome] + self.remark


@dataclass(frozen=True)
class Measured:
    ours: str
    ratio: str = "-"
    values: tuple[float | None, ...] = ()  # what the judge reads


Measure = Callable[[Results], Measured]
Judge = Callable[[Measured], tuple[Outcome, str]]  # the outcome and its remark


@dataclass(frozen=True)
class ClaimSpec:
    source: str
    wording: str
    paper: str
    measure: Measure
    judge: Judge

    def judged(self, results: Results) -> Claim:
        measured = self.measure(results)
        outcome, remark = self.judge(measured)
        return Claim(
            self.source, self.wording, self.paper, measured.ours, measured.ratio, outcome, remark
        )


def by_value(_: Measured) -> tuple[Outcome, str]:
    return Outcome.REPORTED, ""


def holds_when(test: Callable[[Sequence[float]], bool]) -> Judge:
    """HOLDS or DOES_NOT_HOLD by ``test`` on the values; NOT_MEASURED if one is missing."""

    def judge(m: Measured) -> tuple[Outcome, str]:
        values = m.values
        return judged(None if None in values else test(values)), ""  # type: ignore[arg-type]

    return judge


def fixed(outcome: Outcome, remark: str) -> Judge:
    """An outcome no figure of this run can change: the paper contradicts itself, or the
    claim needs protocols we do not have."""
    return lambda _: (outcome, remark)
