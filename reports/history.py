"""Each gated figure over successive commits (asv publish is the anchor): results files
from successive commits in, one overview plot and one self-contained HTML page out.

Two kinds of figure, never mixed: instructions per operation (callgrind; comparable
across runs on any machine with the same libraries) and times as the gate reads them,
each figure's fastest round over its run's primitive floor (so runs made on a busier or
slower machine still line up).

Two kinds of move are listed, answering two questions. Change points (change_points.py:
PELT on the log values, penalty tied to the series' own noise) say where a figure's level
shifted, however small against the gate and however noisy the commits around it; they need
six or more measured commits. Steps between consecutive commits beyond the gate's
threshold say where the gate would have failed had it compared those two runs; they work
from two commits on and are kept for that reason, and because a history of a few commits
(the usual case while a branch is young) has no change points at all."""

from __future__ import annotations

import html
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bench.gate import compare as gate
from dthq.harness.results import Results
from reports.change_points import ChangePoint, change_points, searchable
from reports.render.page import document, pictures, table_html
from reports.render.plot import plt, save

INSTRUCTIONS = "instructions per operation"
TIME = "time over the primitive floor"
# Steps worth listing over a history: coarser than the gate's own limits (bench/gate/
# limits.toml), which judge one change, not a run of commits.
THRESHOLDS = {INSTRUCTIONS: 0.03, TIME: 0.10}


@dataclass(frozen=True)
class Series:
    figure: str
    kind: str  # INSTRUCTIONS or TIME
    values: tuple[float | None, ...]  # one per commit, None where that run lacks it

    @property
    def change(self) -> float | None:
        """Last value over first, minus one (the figure's move over the whole history)."""
        present = [v for v in self.values if v is not None]
        return present[-1] / present[0] - 1 if len(present) > 1 else None

    def steps(self, labels: Sequence[str]) -> list[tuple[str, float]]:
        """Moves between consecutive measured commits beyond the gate's threshold."""
        out, last = [], None
        for label, value in zip(labels, self.values, strict=True):
            if value is None:
                continue
            if last is not None and abs(value / last[1] - 1) > THRESHOLDS[self.kind]:
                out.append((f"{last[0]} -> {label}", value / last[1] - 1))
            last = (label, value)
        return out

    def change_points(self, labels: Sequence[str], searched: int = 1) -> list[ChangePoint]:
        """Where the figure's level shifted, one of ``searched`` series looked at together
        (change_points.py holds the method)."""
        return change_points(self.values, labels, series=searched)


@dataclass(frozen=True)
class Grouped:
    """The change points of one kind that start at one commit."""

    commit: str
    kind: str
    up: int
    down: int
    median_size: float  # of the steps' sizes, up or down

    @property
    def text(self) -> str:
        n = self.up + self.down
        return (
            f"at {self.commit} ({self.kind}): {n} figure{'s' * (n > 1)} changed ({self.up} up, "
            f"{self.down} down), median size {self.median_size:.1%}"
        )


@dataclass(frozen=True)
class History:
    labels: tuple[str, ...]  # one per commit, oldest first
    series: tuple[Series, ...]

    @classmethod
    def of(cls, runs: Sequence[Results], labels: Sequence[str]) -> History:
        """Runs in the order their results were created (ties keep the given order)."""
        if len(runs) != len(labels) or not runs:
            raise ValueError("a history needs one or more runs, one label each")
        ordered = sorted(zip(runs, labels, strict=True), key=lambda rl: rl[0].created)
        runs = [r for r, _ in ordered]
        counts = [gate.instruction_counts(r) for r in runs]
        randomised = set().union(*(rnd for _, rnd in counts))
        series = [
            Series(name, INSTRUCTIONS, tuple(c.get(name) for c, _ in counts))
            for name in _names(c for c, _ in counts)
            if name not in randomised
        ]
        shared = set.intersection(*({p.name for p in r.primitives} for r in runs))
        if shared:
            timed = [
                {
                    name: fig[0] / gate.floor(r, shared)
                    for name, fig in gate.figures(r).items()
                    if not name.startswith("primitive ")
                }
                for r in runs
            ]
            series += [
                Series(name, TIME, tuple(t.get(name) for t in timed)) for name in _names(timed)
            ]
        return cls(tuple(label for _, label in ordered), tuple(series))

    def kinds(self) -> list[str]:
        return [k for k in (INSTRUCTIONS, TIME) if any(s.kind == k for s in self.series)]

    def flagged(self) -> list[tuple[Series, str, float]]:
        return [(s, step, moved) for s in self.series for step, moved in s.steps(self.labels)]

    @property
    def searched(self) -> int:
        """The series long enough to search, all searched together (at least one)."""
        return max(1, sum(searchable(s.values) for s in self.series))

    @cached_property  # PELT once per series, however many outputs read it
    def changes(self) -> list[tuple[Series, ChangePoint]]:
        n = self.searched
        return [(s, c) for s in self.series for c in s.change_points(self.labels, n)]

    def by_commit(self) -> list[Grouped]:
        """Each commit and kind change points start at, oldest first: how many figures
        stepped there, up and down, and the median size of their steps. A code change
        moves several figures at one commit; noise scatters lone ones."""
        at: dict[tuple[int, str], list[float]] = {}
        for s, c in self.changes:
            at.setdefault((c.index, s.kind), []).append(c.size)
        return [
            Grouped(self.labels[i], kind, sum(v > 0 for v in sizes), sum(v < 0 for v in sizes),
                    statistics.median(abs(v) for v in sizes))
            for (i, kind), sizes in sorted(at.items())
        ]  # fmt: skip

    def figure(self, path: Path) -> Path | None:
        """One panel per kind: every figure's change since its first commit, in %."""
        kinds = self.kinds()
        if not kinds or len(self.labels) < 2:
            return None
        fig, axes = plt.subplots(len(kinds), 1, figsize=(12, 4.2 * len(kinds)), squeeze=False)
        x = range(len(self.labels))
        for ax, kind in zip(axes[:, 0], kinds, strict=True):
            mine = [s for s in self.series if s.kind == kind]
            marked = False  # one legend entry for the change points
            movers = sorted(mine, key=lambda s: -abs(s.change or 0))[:6]
            for s in mine:
                first = next(v for v in s.values if v is not None)
                ys = [None if v is None else 100 * (v / first - 1) for v in s.values]
                at = [c.index for c in self._at(s)]
                # Named if it moved beyond the gate's threshold or its level shifted.
                shown = s in movers and (abs(s.change or 0) > THRESHOLDS[kind] or bool(at))
                ax.plot(x, [float("nan") if y is None else y for y in ys], "o-", ms=3,
                        lw=1.6 if shown else 0.7, alpha=1 if shown else 0.35,
                        label=s.figure if shown else None)  # fmt: skip
                if at:  # ringed where its level shifted
                    ax.plot(at, [ys[i] for i in at], "D", ms=8, mfc="none", mec="#d62728",
                            mew=1.6, label=None if marked else "change point")  # fmt: skip
                    marked = True
            limit = 100 * THRESHOLDS[kind]
            ax.axhspan(-limit, limit, color="#999", alpha=0.12, label=f"gate threshold {limit:g} %")
            ax.set_xticks(list(x), self.labels, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("change since the first commit, %")
            ax.set_title(f"{kind} ({len(mine)} figures; the largest movers named, "
                         "change points ringed)")  # fmt: skip
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
        return save(fig, path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "series": [asdict(s) | {"change": s.change} for s in self.series],
            "flagged": [
                {"figure": s.figure, "kind": s.kind, "step": step, "change": moved}
                for s, step, moved in self.flagged()
            ],
            "change_points": [
                {"figure": s.figure, "kind": s.kind} | asdict(c) for s, c in self.changes
            ],
            "change_points_by_commit": [asdict(g) for g in self.by_commit()],
        }

    def html(self, overview: Path | None) -> str:
        flagged = self.flagged()
        body = [
            f"<p>{len(self.labels)} commits, oldest first: {html.escape(', '.join(self.labels))}."
            f" {len(self.changes)} change points (the {self.searched} series searched "
            "together, the penalty grown to match); "
            f"{len(flagged)} steps beyond the gate's threshold "
            f"({', '.join(f'{k}: {v:.0%}' for k, v in THRESHOLDS.items())}).</p>",
            pictures([overview] if overview else []),
        ]
        if self.changes:
            body.append("<h2>Change points by commit</h2>")
            body.append(
                table_html(
                    ["At", "Kind", "Up", "Down", "Median size"],
                    [
                        [g.commit, g.kind, str(g.up), str(g.down), f"{g.median_size:.1%}"]
                        for g in self.by_commit()
                    ],
                )
            )
            body.append("<h2>Change points</h2>")
            body.append(
                table_html(
                    ["Figure", "Kind", "At", "After", "Change", "Segments", "Noise"],
                    [
                        [
                            s.figure,
                            s.kind,
                            c.commit,
                            c.before,
                            f"{c.size:+.1%}",
                            f"{c.segments[0]} and {c.segments[1]} commits",
                            f"{c.noise[0]:.2%} and {c.noise[1]:.2%}",
                        ]
                        for s, c in self.changes
                    ],
                )
            )
        if flagged:
            body.append("<h2>Steps beyond the threshold</h2>")
            body.append(
                table_html(
                    ["Figure", "Kind", "Between", "Change"],
                    [[s.figure, s.kind, step, f"{moved:+.1%}"] for s, step, moved in flagged],
                )
            )
        for kind in self.kinds():
            rows = "".join(
                f"<tr><td>{html.escape(s.figure)}</td><td>{_value(s.values[0])}</td>"
                f"<td>{_value(s.values[-1])}</td><td>{_pct(s.change)}</td>"
                f"<td>{_sparkline(s, self.labels, self._at(s))}</td></tr>"
                for s in sorted(
                    (s for s in self.series if s.kind == kind), key=lambda s: -abs(s.change or 0)
                )
            )
            body.append(
                f"<h2>{html.escape(kind)}</h2><table><thead><tr><th>Figure</th>"
                f"<th>{html.escape(self.labels[0])}</th><th>{html.escape(self.labels[-1])}</th>"
                f"<th>Change</th><th>Over the commits</th></tr></thead><tbody>{rows}</tbody>"
                "</table>"
            )
        return document("DTHQ bench: gated figures over commits", "".join(body))

    def _at(self, series: Series) -> list[ChangePoint]:
        return [c for s, c in self.changes if s is series]


def _names(runs: Any) -> list[str]:
    return sorted({name for run in runs for name in run})


def _value(v: float | None) -> str:
    return "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.4g}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1%}"


def _sparkline(
    s: Series, labels: Sequence[str], at: Sequence[ChangePoint], width: int = 220, height: int = 36
) -> str:
    """An inline SVG line of one figure over the commits, each point titled, each change
    point a dashed red line before the commit it starts at."""
    present = [(i, v) for i, v in enumerate(s.values) if v is not None]
    if not present:
        return ""
    low, high = min(v for _, v in present), max(v for _, v in present)
    span = (high - low) or abs(high) or 1.0
    step = (width - 8) / max(len(labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return 4 + i * step, height - 4 - (v - low) / span * (height - 8)

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in present))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{html.escape(labels[i])}: '
        f"{_value(v)}</title></circle>"
        for i, v in present
        for x, y in [xy(i, v)]
    )
    marks = "".join(
        f'<line class="change-point" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" '
        f'stroke="#d62728" stroke-dasharray="3,2"><title>change point at '
        f"{html.escape(c.commit)}: {c.size:+.1%}</title></line>"
        for c in at
        for x in [4 + (c.index - 0.5) * step]
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(s.figure)}">'
        f'{marks}<polyline fill="none" stroke="#1f78b4" stroke-width="1.5" points="{points}"/>'
        f'<g fill="#1f78b4">{dots}</g></svg>'
    )


def write_history(history: History, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    overview = history.figure(out / "history.png")
    (out / "history.html").write_text(history.html(overview))
    return [p for p in (overview, out / "history.html") if p]
