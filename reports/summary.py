"""The report's front page: where the run was made, then its verdicts (the paper's claims
that hold, do not hold or cannot be tested here, and the performance targets met or
missed), before any table."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass

from dthq.harness.results import Results
from reports import paper, tables, targets

VERDICT_OUTCOMES = (paper.HOLDS, paper.FAILS, paper.UNTESTABLE, paper.UNMEASURED)


@dataclass(frozen=True)
class Summary:
    machine: str
    profile: str
    wall_time_s: float | None
    commit: str | None
    claims: tuple[paper.Claim, ...]
    targets: tuple[targets.Target, ...]

    @classmethod
    def of(cls, results: Results) -> Summary:
        meta = results.metadata
        return cls(
            machine=tables.machine_line(results),
            profile=meta.profile,
            wall_time_s=meta.wall_time_s,
            commit=meta.commit,
            claims=tuple(paper.claims(results)),
            targets=tuple(targets.evaluate(results)),
        )

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(c.outcome for c in self.claims)

    @property
    def verdicts(self) -> list[paper.Claim]:
        """The claims judged yes or no (orderings, thresholds), grouped by outcome."""
        judged = [c for c in self.claims if c.outcome in VERDICT_OUTCOMES]
        return sorted(judged, key=lambda c: VERDICT_OUTCOMES.index(c.outcome))

    @property
    def target_counts(self) -> Counter[str]:
        return Counter(t.verdict for t in self.targets)

    def headline(self) -> str:
        n, t = self.outcomes, self.target_counts
        return (
            f"Of the paper's claims, {n[paper.HOLDS]} hold here, {n[paper.FAILS]} do not, "
            f"{n[paper.UNTESTABLE]} cannot be tested here"
            + (f" and {n[paper.UNMEASURED]} were not measured in this run" if n[paper.UNMEASURED]
               else "")
            + f"; {n[paper.BY_VALUE]} published figures are set beside ours by value and "
            f"{n[paper.INCONSISTENT]} of the paper's own figures contradict each other. "
            f"Performance targets: {t['met']} met, {t['MISSED']} missed"
            + (f", {t['not measured']} not measured" if t["not measured"] else "")
            + "."
        )  # fmt: skip

    def context(self) -> str:
        wall = "-" if self.wall_time_s is None else f"{self.wall_time_s:.0f} s"
        return f"Machine: {self.machine}. Run time {wall}, commit {self.commit or 'unknown'}."

    def markdown(self) -> str:
        claims = tables.markdown(
            ["Verdict", "Source", "Claim", "Paper", "Ours"],
            [[c.outcome, c.source, c.claim, c.paper, c.ours] for c in self.verdicts],
        )
        tgt = tables.markdown(
            ["Target", "Verdict", "Measured", "Limit"],
            [[t.name, t.verdict, t.measured_text, f"{t.limit:g}{t.unit}"] for t in self.targets],
        )
        return (
            f"# Summary\n\n{self.context()}\n\n**{self.headline()}**\n\n"
            f"## The paper's claims, judged\n\n{claims}\n\n## Performance targets\n\n{tgt}\n"
        )

    def html(self) -> str:
        n, t = self.outcomes, self.target_counts
        tiles = "".join(
            f'<div class="tile {cls}"><b>{count}</b>{html.escape(label)}</div>'
            for count, label, cls in (
                (n[paper.HOLDS], "claims hold", "ok"),
                (n[paper.FAILS], "claims do not hold", "bad"),
                (n[paper.UNTESTABLE] + n[paper.UNMEASURED], "cannot be tested here", "grey"),
                (t["met"], "targets met", "ok"),
                (t["MISSED"], "targets missed", "bad"),
            )
        )
        rows = "".join(
            f'<tr class="{_css(c.outcome)}"><td>{html.escape(c.outcome)}</td>'
            f"<td>{html.escape(c.source)}</td><td>{html.escape(c.claim)}</td>"
            f"<td>{html.escape(c.paper)}</td><td>{html.escape(c.ours)}</td></tr>"
            for c in self.verdicts
        )
        target_rows = "".join(
            f'<tr class="{TARGET_CSS.get(tg.verdict, "grey")}"><td>{html.escape(tg.name)}</td>'
            f"<td>{html.escape(tg.verdict)}</td><td>{html.escape(tg.measured_text)}</td>"
            f"<td>{tg.limit:g}{html.escape(tg.unit)}</td></tr>"
            for tg in self.targets
        )
        return (
            f'<section id="summary"><h2>Summary</h2><p>{html.escape(self.context())}</p>'
            f'<div class="tiles">{tiles}</div><p><b>{html.escape(self.headline())}</b></p>'
            "<h3>The paper's claims, judged</h3><table><thead><tr><th>Verdict</th>"
            "<th>Source</th><th>Claim</th><th>Paper</th><th>Ours</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            "<h3>Performance targets</h3><table><thead><tr><th>Target</th><th>Verdict</th>"
            f"<th>Measured</th><th>Limit</th></tr></thead><tbody>{target_rows}</tbody></table>"
            "</section>"
        )


TARGET_CSS = {"met": "ok", "MISSED": "bad"}


def _css(outcome: str) -> str:
    return {paper.HOLDS: "ok", paper.FAILS: "bad"}.get(outcome, "grey")


SUMMARY_CSS = """
.tiles { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.tile { border-radius: 6px; padding: 0.6em 1em; min-width: 9em; background: #eee; }
.tile b { display: block; font-size: 2em; }
.tile.ok, tr.ok td:first-child { background: #d9f0d3; }
.tile.bad, tr.bad td:first-child { background: #f6d5d5; }
.tile.grey, tr.grey td:first-child { background: #eee; }
"""
