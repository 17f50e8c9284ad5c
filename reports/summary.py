"""The report's front page: where the run was made, then its verdicts (the paper's claims
that hold, do not hold or cannot be tested here, and the performance targets met or
missed), counted from their outcomes, before any table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dthq.harness.results import Results
from reports.render.text import machine_line, markdown
from reports.verdicts import claims, targets
from reports.verdicts.headline import headline, independent
from reports.verdicts.judge import Claim
from reports.verdicts.outcome import JUDGED, Outcome


@dataclass(frozen=True)
class Summary:
    machine: str
    profile: str
    wall_time_s: float | None
    commit: str | None
    claims: tuple[Claim, ...]
    own: tuple[Claim, ...]  # our own comparisons, never counted as the paper's
    targets: tuple[targets.Target, ...]

    @classmethod
    def of(cls, results: Results) -> Summary:
        meta = results.metadata
        return cls(
            machine=machine_line(results),
            profile=meta.profile,
            wall_time_s=meta.wall_time_s,
            commit=meta.commit,
            claims=tuple(claims.claims(results)),
            own=tuple(claims.own(results)),
            targets=tuple(targets.evaluate(results)),
        )

    @property
    def outcomes(self) -> Counter[Outcome]:
        return Counter(c.outcome for c in independent(self.claims))

    @property
    def verdicts(self) -> list[Claim]:
        """The claims judged yes or no (orderings, thresholds), grouped by outcome."""
        judged = [c for c in self.claims if c.outcome in JUDGED]
        return sorted(judged, key=lambda c: JUDGED.index(c.outcome))

    @property
    def target_counts(self) -> Counter[Outcome]:
        return Counter(t.outcome for t in self.targets)

    def headline(self) -> str:
        t = self.target_counts
        return (
            headline(self.claims, self.own)
            + f" Performance targets: {t[Outcome.HOLDS]} met, {t[Outcome.DOES_NOT_HOLD]} missed"
            + "".join(
                f", {t[o]} {words}"
                for o, words in (
                    (Outcome.WITHIN_NOISE, "within noise"),
                    (Outcome.UNSTABLE, "unstable"),
                    (Outcome.NOT_MEASURED, "not measured"),
                )
                if t[o]
            )
            + "."
        )

    def context(self) -> str:
        wall = "-" if self.wall_time_s is None else f"{self.wall_time_s:.0f} s"
        return f"Machine: {self.machine}. Run time {wall}, commit {self.commit or 'unknown'}."

    def tiles(self) -> list[tuple[int, str, str]]:
        """(count, label, colour) of each tile of the page's summary."""
        n, t = self.outcomes, self.target_counts
        return [
            (n[Outcome.HOLDS], "claims hold", Outcome.HOLDS.tone),
            (n[Outcome.DOES_NOT_HOLD], "claims do not hold", Outcome.DOES_NOT_HOLD.tone),
            (
                n[Outcome.DEPENDS_ON_DEFINITION],
                "depend on the definition",
                Outcome.DEPENDS_ON_DEFINITION.tone,
            ),
            (
                n[Outcome.NOT_TESTABLE_HERE] + n[Outcome.NOT_MEASURED],
                "cannot be tested here",
                Outcome.NOT_TESTABLE_HERE.tone,
            ),
            (t[Outcome.HOLDS], "targets met", Outcome.HOLDS.tone),
            (t[Outcome.DOES_NOT_HOLD], "targets missed", Outcome.DOES_NOT_HOLD.tone),
        ]

    def markdown(self) -> str:
        judged = markdown(
            ["Verdict", "Id", "Location", "Claim", "Paper", "Ours"],
            [
                [c.outcome.value, c.id, c.location, c.wording, c.paper, c.ours]
                for c in self.verdicts
            ],
        )
        tgt = markdown(
            ["Target", "Verdict", "Measured", "Limit"],
            [[t.name, t.verdict, t.measured_text, t.limit_text] for t in self.targets],
        )
        return (
            f"# Summary\n\n{self.context()}\n\n**{self.headline()}**\n\n"
            f"## The paper's claims, judged\n\n{judged}\n\n## Performance targets\n\n{tgt}\n"
        )
