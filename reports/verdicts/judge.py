"""The shape of a judged claim: its spec (an id, where, its kind, its exact words, the
paper's figure, the definition it is judged by, a measure and a judge), what the measure
found, and the judges that turn it into an Outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from dthq.harness.results import Results
from reports.verdicts.outcome import Outcome, judged

# A verdict's words: the outcome's phrase, then the claim's remark.
PHRASES = {
    Outcome.HOLDS: "holds here",
    Outcome.DOES_NOT_HOLD: "does NOT hold here",
    Outcome.DEPENDS_ON_DEFINITION: "depends on the definition",
    Outcome.NOT_MEASURED: "not measured",
    Outcome.NOT_TESTABLE_HERE: "not testable here",
    Outcome.NOT_COMPARABLE_ACROSS_MACHINES: "not comparable across machines",
    Outcome.INCONSISTENT_IN_PAPER: "inconsistent in the paper",
}


class Kind(Enum):
    ORDERING = "ordering"
    RATIO = "ratio"
    ABSOLUTE = "absolute figure"
    RANGE = "range"
    SECURITY = "security property"
    QUALITATIVE = "qualitative"
    INCONSISTENT = "inconsistent in the paper"


@dataclass(frozen=True)
class Claim:
    id: str
    location: str  # where in the paper (every place it is made, when merged)
    kind: Kind
    wording: str  # the paper's words, quoted
    paper: str
    definition: str  # what the verdict is judged by
    ours: str
    ratio: str  # ours / paper, where both are numbers
    outcome: Outcome
    remark: str = ""  # follows the outcome's phrase in the verdict
    merged: str = ""  # the rows merged into this one, and why
    # The id of the claim whose words this one judges again elsewhere (at system level,
    # say): listed in the register, never counted a second time.
    reading_of: str = ""

    @property
    def verdict(self) -> str:
        return PHRASES[self.outcome] + self.remark

    @property
    def kind_name(self) -> str:
        return self.kind.value


@dataclass(frozen=True)
class Measured:
    ours: str
    ratio: str = "-"
    values: tuple[float | None, ...] = ()  # what the judge reads


Measure = Callable[[Results], Measured]
Judge = Callable[[Measured], tuple[Outcome, str]]  # the outcome and its remark


def unmeasured(_: Results) -> Measured:
    return Measured("-")


@dataclass(frozen=True)
class ClaimSpec:
    id: str  # unique in the register
    location: str
    kind: Kind
    wording: str
    paper: str
    definition: str
    judge: Judge
    measure: Measure = unmeasured
    merged: str = ""
    reading_of: str = ""

    def judged(self, results: Results) -> Claim:
        measured = self.measure(results)
        outcome, remark = self.judge(measured)
        return Claim(
            self.id, self.location, self.kind, self.wording, self.paper, self.definition,
            measured.ours, measured.ratio, outcome, remark, self.merged, self.reading_of,
        )  # fmt: skip


def holds_when(test: Callable[[Sequence[float]], bool]) -> Judge:
    """HOLDS or DOES_NOT_HOLD by ``test`` on the values; NOT_MEASURED if one is missing."""

    def judge(m: Measured) -> tuple[Outcome, str]:
        values = m.values
        return judged(None if None in values else test(values)), ""  # type: ignore[arg-type]

    return judge


def fixed(outcome: Outcome, remark: str) -> Judge:
    """An outcome no figure of this run can change: the claim is an absolute figure of
    other hardware, is qualitative, or needs protocols we do not have."""
    return lambda _: (outcome, remark)


Reading = tuple[str, Callable[[Sequence[float]], bool]]  # its name, and its test


def _results(readings: Sequence[Reading], values: Sequence[float]) -> list[tuple[str, bool]]:
    return [(name, test(values)) for name, test in readings]


def _words(found: Sequence[tuple[str, bool]]) -> str:
    return "; ".join(f"{name}: {'holds' if ok else 'does not hold'}" for name, ok in found)


def by_readings(*readings: Reading) -> Judge:
    """Where the paper's words allow several readings: the common result when they agree,
    DEPENDS_ON_DEFINITION with each reading's result when they do not."""

    def judge(m: Measured) -> tuple[Outcome, str]:
        if None in m.values:
            return Outcome.NOT_MEASURED, ""
        found = _results(readings, m.values)  # type: ignore[arg-type]
        if len({ok for _, ok in found}) == 1:
            return judged(found[0][1]), f" under every reading ({_words(found)})"
        return Outcome.DEPENDS_ON_DEFINITION, f" ({_words(found)})"

    return judge


def defined_reading(paper: Reading, other: Reading) -> Judge:
    """Where the paper defines the term: its reading decides, the other is shown beside
    (so a reader sees when the two disagree)."""

    def judge(m: Measured) -> tuple[Outcome, str]:
        if None in m.values:
            return Outcome.NOT_MEASURED, ""
        values: Sequence[float] = m.values  # type: ignore[assignment]
        (name, ok), (other_name, other_ok) = _results((paper, other), values)
        agree = "agrees" if ok == other_ok else "disagrees"
        other_words = "holds" if other_ok else "does not hold"
        return judged(ok), f" ({name}; {other_name} {agree}: {other_words})"

    return judge
