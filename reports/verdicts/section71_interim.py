"""§7.1's three claims (40 % latency, 30 % throughput, 15 % efficiency with the twin),
judged on the fixed/adaptive policy comparison as before. The one place the register
takes them from: to be replaced by reports.verdicts.section71.CLAIMS."""

from __future__ import annotations

from dthq.harness.results import Results
from reports.policy import SECTION71, section71
from reports.verdicts.judge import ClaimSpec, Judge, Kind, Measure, Measured
from reports.verdicts.outcome import Outcome, judged

WORDS = (
    ("latency", "Figure 4a demonstrated 40% latency reduction in the DT-integrated system",
     "§7.1.1 (Fig. 4a); Abstract; §8"),
    ("throughput", "As illustrated in Figure 4b, the DT system increased throughput by 30%",
     "§7.1.2 (Fig. 4b); Abstract; §8"),
    ("efficiency", "Figure 4c indicates that the DT enabled system improved by 15% over the "
     "non-DT system", "§7.1.3 (Fig. 4c); Abstract; §8"),
)  # fmt: skip
MERGED = "the Abstract's and §8's sentences state the same figure: one claim"


def _section71(i: int, claimed: float) -> tuple[Measure, Judge]:
    def measure(r: Results) -> Measured:
        got = section71(r.pipeline)[i][2]
        if got is None:
            return Measured("-", "-", (None,))
        return Measured(f"{got:+.1%}", f"{got / claimed:.3g}", (got,))

    def judge(m: Measured) -> tuple[Outcome, str]:
        (got,) = m.values
        if got is None:
            return Outcome.NOT_MEASURED, " (run the pipeline suite: its policy comparison)"
        return judged(got >= claimed), ""

    return measure, judge


CLAIMS: tuple[ClaimSpec, ...] = tuple(
    ClaimSpec(
        f"s71-{name}", where, Kind.RATIO, f'"{words}"', f"{claimed:.0%}", definition,
        *reversed(_section71(i, claimed)), merged=MERGED,
    )
    for i, ((name, words, where), (_, claimed, definition)) in enumerate(
        zip(WORDS, SECTION71, strict=True)
    )
)  # fmt: skip
