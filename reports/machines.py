"""Results from several machines side by side. Absolute times are never set against each
other across machines: every timed figure is a ratio to a reference measured in the same
run on the same machine, and only those ratios, the verdicts and the targets (ratios
themselves) go side by side. Instruction counts are counts, not times, and are shown as
they are. Versions that differ between the runs are warned about: a ratio may move with a
library, not with the machine."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.gate.environment import environment
from dthq.harness.results import Metric, Results
from dthq.harness.scenarios import PAPER_KEM
from reports.render.page import document, pictures, table_html
from reports.render.plot import plt, save
from reports.render.text import markdown
from reports.verdicts import claims, targets
from reports.verdicts.outcome import JUDGED

REFERENCE_ROW = "tls13-x25519"  # Table 3's figures are ratios to TLS 1.3 (X25519)'s
REFERENCE_PRIMITIVE = "aead/AES-256-GCM/cryptography/small"  # Table 4's, to a bare AEAD
TABLE3_RATIOS = (Metric.HANDSHAKE, Metric.LATENCY, Metric.THROUGHPUT)
TABLE4_RATIOS = (Metric.AL, Metric.CC)
RATIO_NOTE = (
    f"Each ratio is a median over a reference measured in the same run on the same machine: "
    f"Table 3 figures over TLS 1.3 (X25519)'s same figure, Table 4 ({PAPER_KEM.label}) "
    "AL and CC over one bare AES-256-GCM encrypt+decrypt of a small reading. Absolute "
    "times are not compared across machines; each machine's own report has them."
)


@dataclass(frozen=True)
class Machines:
    names: tuple[str, ...]
    runs: tuple[Results, ...]

    @classmethod
    def of(cls, runs: Sequence[Results], labels: Sequence[str]) -> Machines:
        if len(runs) != len(labels) or len(runs) < 2:
            raise ValueError("side by side needs two or more runs, one label each")
        return cls(unique_names(labels), tuple(runs))

    def machine_rows(self) -> list[list[Any]]:
        rows = []
        for name, r in zip(self.names, self.runs, strict=True):
            m = r.metadata.machine
            rows.append(
                [name, m.get("cpu_model"), m.get("cpu_count"), m.get("os"), m.get("python"),
                 r.metadata.profile, (r.metadata.commit or "-")[:12]]
            )  # fmt: skip
        return rows

    def warnings(self) -> list[str]:
        envs = [environment(r) for r in self.runs]
        keys = list(dict.fromkeys(k for e in envs for k in e))
        out = []
        for key in keys:
            values = [e.get(key) for e in envs]
            if len(set(values)) > 1:
                found = ", ".join(
                    f"{v or 'absent'} on {n}" for n, v in zip(self.names, values, strict=True)
                )
                out.append(f"{key} differs: {found}")
        return out

    def ratio_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        keys = list(dict.fromkeys(row.key for r in self.runs for row in r.table3))
        for key in keys:
            for metric in TABLE3_RATIOS:
                rows.append(
                    [f"table3 {key} {metric}", *(_table3_ratio(r, key, metric) for r in self.runs)]
                )
        cells = list(dict.fromkeys(c.key for r in self.runs for c in r.cells(PAPER_KEM.label)))
        for key in cells:
            for metric in TABLE4_RATIOS:
                rows.append(
                    [f"table4 {key} {metric}", *(_table4_ratio(r, key, metric) for r in self.runs)]
                )
        return [[name, *(_x(v) for v in values)] for name, *values in rows]

    def verdict_rows(self) -> list[list[str]]:
        per_run = [{c.id: c for c in claims.claims(r)} for r in self.runs]
        judged = [c.id for c in claims.claims(self.runs[0]) if c.outcome in JUDGED]
        return [
            [claim, *(run[claim].outcome.value if claim in run else "-" for run in per_run)]
            for claim in judged
        ]

    def target_rows(self) -> list[list[str]]:
        """Targets that are ratios (the wall-time budget is an absolute time: left out)."""
        per_run = [{t.name: t for t in targets.evaluate(r)} for r in self.runs]
        names = [t.name for t in targets.evaluate(self.runs[0]) if t.unit != "s"]
        return [
            [
                name,
                *(
                    f"{run[name].measured_text} ({run[name].verdict})" if name in run else "-"
                    for run in per_run
                ),
            ]
            for name in names
        ]

    def instruction_rows(self) -> list[list[str]]:
        per_run = [{c.figure: c.per_op for c in r.instructions} for r in self.runs]
        figures = list(dict.fromkeys(f for run in per_run for f in run))
        return [[f, *(f"{run[f]:,.0f}" if f in run else "-" for run in per_run)] for f in figures]

    def sections(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        names = list(self.names)
        found = [
            ("Machines", ["Name", "CPU", "Cores", "OS", "Python", "Profile", "Commit"],
             self.machine_rows()),
            ("Ratios within each machine", ["Figure", *names], self.ratio_rows()),
            ("The paper's claims, judged on each machine", ["Claim", *names], self.verdict_rows()),
            ("Performance targets (ratios) on each machine", ["Target", *names],
             self.target_rows()),
        ]  # fmt: skip
        if any(r.instructions for r in self.runs):
            found.append(
                ("Instructions per operation (counts, not times)", ["Figure", *names],
                 self.instruction_rows())
            )  # fmt: skip
        return found

    def markdown(self) -> str:
        parts = ["# Results from several machines\n"]
        parts += [f"- WARNING: {w}" for w in self.warnings()]
        for title, headers, rows in self.sections():
            parts.append(f"\n## {title}\n\n{markdown(headers, rows)}")
        parts.append(f"\n{RATIO_NOTE}\n")
        return "\n".join(parts)

    def html(self, figure: Path | None) -> str:
        warnings = "".join(f'<p class="warn">{html.escape(w)}</p>' for w in self.warnings())
        body = "".join(
            f"<h2>{html.escape(title)}</h2>{table_html(headers, rows)}"
            for title, headers, rows in self.sections()
        )
        return document(
            "Results from several machines",
            f"{warnings}<p>{html.escape(RATIO_NOTE)}</p>"
            f"{pictures([figure] if figure else [])}{body}",
        )

    def figure(self, path: Path) -> Path | None:
        """Table 3 handshakes over TLS 1.3 (X25519)'s, one bar per machine, log axis."""
        keys = list(dict.fromkeys(row.key for r in self.runs for row in r.table3))
        values = [[_table3_ratio(r, k, Metric.HANDSHAKE) for k in keys] for r in self.runs]
        if not any(v is not None for vs in values for v in vs):
            return None
        fig, ax = plt.subplots(figsize=(12, 0.35 * len(keys) * len(self.runs) + 1.5))
        height = 0.8 / len(self.runs)
        y = np.arange(len(keys))
        for i, (name, vs) in enumerate(zip(self.names, values, strict=True)):
            ax.barh(y + i * height, [v or 0 for v in vs], height, label=name)
        ax.set_yticks(y + height * (len(self.runs) - 1) / 2, keys, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1, color="#444", lw=0.8)
        ax.set_xlabel("handshake / TLS 1.3 (X25519) handshake on the same machine (log)")
        ax.legend(fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        return save(fig, path, "Handshake cost relative to TLS 1.3, per machine (measured ratios)")


def _table3_ratio(results: Results, key: str, metric: Metric) -> float | None:
    row, ref = results.row(key), results.row(REFERENCE_ROW)
    t, rt = (row.get(metric) if row else None), (ref.get(metric) if ref else None)
    return t.median / rt.median if t and rt else None


def _table4_ratio(results: Results, key: str, metric: Metric) -> float | None:
    cell, aead = results.cell(key), results.primitive(REFERENCE_PRIMITIVE)
    t = cell.get(metric) if cell else None
    return t.median * 1e3 / aead.time_us.median if t and aead else None  # ms over us


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def unique_names(labels: Sequence[str]) -> tuple[str, ...]:
    """Labels made unique by a suffix (two runs from one host keep both)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 and labels.count(label) == 1 else
                   f"{label}#{seen[label]}")  # fmt: skip
    return tuple(out)


def write_machines(machines: Machines, out: Path) -> list[Path]:
    """Each machine's own report in OUT/<name>/, and machines.md, machines.html and
    figure-machines.png in OUT side by side."""
    from reports.build import write_report

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, results in zip(machines.names, machines.runs, strict=True):
        written += write_report(results, out / _safe(name))
    figure = machines.figure(out / "figure-machines.png")
    (out / "machines.md").write_text(machines.markdown())
    (out / "machines.html").write_text(machines.html(figure))
    written += [p for p in (figure, out / "machines.md", out / "machines.html") if p]
    return written


def _safe(name: str) -> str:
    """NAME as one plain folder name: never ``.``, ``..`` or a hidden (dot) folder, so a
    machine's report stays inside OUT whatever its results file calls the node."""
    safe = "".join(ch if ch.isalnum() or ch in "-_.#" else "_" for ch in name)
    return "_" + safe[1:] if safe.startswith(".") else safe or "_"
