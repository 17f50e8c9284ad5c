"""``dthq compare``: the regression gate, between two results files or against a git
revision measured here (bench/gate/ holds the gate; this is its command line)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import GateExit
from dthq.errors import DTHQError, RunAborted

if TYPE_CHECKING:
    from bench.gate.compare import GateReport

RESULTS_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("baseline", type=RESULTS_FILE, required=False)
@click.argument("current", type=RESULTS_FILE, required=False)
@click.option(
    "--against",
    "rev",
    metavar="REV",
    help="Measure git revision REV and this checkout back to back in this job (no files).",
)
@click.option(
    "--metric",
    type=click.Choice(["instructions", "time"]),
    default=None,
    help="What to compare. Default: instructions with --against, time for two files.",
)
@options.chosen(
    "--set",
    ["quick", "full"],
    "quick",
    "With --against: the gated figures to measure (full adds large records and the "
    "randomised ML-DSA rows).",
    dest="which",
)
@click.option(
    "--figures",
    default=None,
    metavar="KEY,...",
    help="With --against: only these figures (e.g. handshake/dthq-mlkem768-psk).",
)
@click.option(
    "--threshold",
    default=None,
    metavar="PCT%|FRACTION",
    help="One soft limit for every figure, instead of the limits file's (e.g. 2% or "
    "0.02: above 0, below 1000%). Hard limits still apply.",
)
@click.option(
    "--limits",
    "limits_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="The soft (%) and hard (absolute) limits per metric and figure. Default: "
    "bench/gate/limits.toml.",
)
@click.option(
    "--pairs",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="With --against --metric time: interleaved base/head runs, the Wilcoxon test's "
    "pairs (too few to reach significance over the figures: exit 2).",
)
@options.chosen(
    "--show", ["moved", "all"], "moved", "Print only figures that moved, or every figure."
)
@click.option(
    "--baseline-rerun",
    "baseline_reruns",
    multiple=True,
    type=RESULTS_FILE,
    help="Another run of the baseline's code, pooled with it (repeatable).",
)
@click.option(
    "--current-rerun",
    "current_reruns",
    multiple=True,
    type=RESULTS_FILE,
    help="Another run of the current code, pooled with it (repeatable).",
)
@click.option(
    "--honour-trailer",
    is_flag=True,
    help="With --against: a regression does not fail when HEAD's commit message carries "
    "a 'Perf-Regression-Accepted: <why>' trailer (printed). For CI.",
)
@options.json_flag("Print the gate's decision as JSON.")
def compare(
    baseline: Path | None,
    current: Path | None,
    rev: str | None,
    metric: str | None,
    which: str,
    figures: str | None,
    threshold: str | None,
    limits_file: Path | None,
    pairs: int,
    show: str,
    baseline_reruns: tuple[Path, ...],
    current_reruns: tuple[Path, ...],
    honour_trailer: bool,
    as_json: bool,
) -> None:
    """Regression gate: exit 3 if the current code is slower than the baseline beyond its
    limits, 2 if the gate could not judge, 0 if it passes.

    \b
    dthq compare BASELINE.json CURRENT.json             two stored runs, by time
    dthq compare BASE.json CUR.json --metric instructions   their instruction counts
    dthq compare --against HEAD~1                       REV and this checkout, measured now

    By time, each figure's fastest round is compared as a ratio to its run's primitive
    floor (geometric mean of the primitive times measured in the same run), so a slower
    or busier machine does not fail the gate while a regression in our code does. On a
    shared machine, run each side more than once, interleaved, and pass the extra runs
    with --baseline-rerun and --current-rerun.

    Each figure has a soft limit (a change in %, bench/gate/limits.toml) and may have a
    hard one (an absolute value): slower means beyond the soft limit AND significant, or
    beyond the hard limit. Time against REV is tested: --pairs interleaved runs, a
    one-sided Wilcoxon signed-rank test a figure, Bonferroni over the figures (alpha
    0.01 a gate run). Instructions per operation are counted by callgrind:
    deterministic to about 1 % (no p-value), whatever else the machine does.

    --against REV checks REV out into a temporary git worktree and measures both trees
    with the same driver and this environment's libraries (time: interleaved base, head,
    base, head). Primitives and randomised counts are reported but never fail the gate.
    """
    try:
        gate, note = _run(
            baseline, current, rev, metric, which, figures, threshold, limits_file, pairs,
            baseline_reruns, current_reruns, honour_trailer, as_json,
        )  # fmt: skip
    except RunAborted as exc:  # the driver crashed: the harness failed, not the code
        raise DTHQError(f"the gate could not run: {exc}") from None
    except KeyboardInterrupt:
        raise DTHQError("interrupted: the gate did not judge") from None
    if gate is None:
        return
    if as_json:
        render.emit_json(gate.to_json())
    else:
        render.gate_report(gate, show, note)
    if gate.failed:
        raise click.exceptions.Exit(GateExit.REGRESSION)


def _run(
    baseline: Path | None,
    current: Path | None,
    rev: str | None,
    metric: str | None,
    which: str,
    figures: str | None,
    threshold: str | None,
    limits_file: Path | None,
    pairs: int,
    baseline_reruns: tuple[Path, ...],
    current_reruns: tuple[Path, ...],
    honour_trailer: bool,
    as_json: bool,
) -> tuple[GateReport | None, str | None]:
    """The gate's report and the trailer's note; (None, None) when there is no REV to
    measure (said, and a pass)."""
    from bench.gate.assemble import (
        accepted_by_trailer,
        check_gateable,
        gate_against,
        gate_on_files,
    )
    from bench.gate.compare import parse_threshold
    from bench.gate.limits import DEFAULT_FILE, load

    metric = metric or ("instructions" if rev else "time")
    limits = load(limits_file or DEFAULT_FILE)
    if threshold is not None:
        try:
            stored_time = rev is None and metric == "time"  # floor-normalised, untested
            key = "normalised" if stored_time else metric
            limits = limits.with_soft(key, parse_threshold(threshold))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--threshold") from None
    if rev is not None:
        from bench.against import NoParent

        if baseline or current or baseline_reruns or current_reruns:
            raise click.UsageError("--against measures both sides itself: give it no files")
        only = figures.split(",") if figures else None
        progress = (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))
        try:
            gate = gate_against(rev, metric, which, only, limits, progress, pairs)
        except NoParent as exc:
            if as_json:
                render.emit_json({"failed": False, "gate_not_run": str(exc)})
            else:
                click.echo(f"gate not run: {exc}")
            return None, None
    elif baseline is None or current is None:
        raise click.UsageError("give BASELINE and CURRENT results files, or --against REV")
    else:
        ctx = click.get_current_context()
        only_against = {
            "--set": "which",
            "--figures": "figures",
            "--honour-trailer": "honour_trailer",
            "--pairs": "pairs",
        }
        given = [
            flag
            for flag, param in only_against.items()
            if ctx.get_parameter_source(param) is not click.core.ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only with --against REV, not with files")
        from bench.ingest import read_results

        base_files, cur_files = [baseline, *baseline_reruns], [current, *current_reruns]
        base_runs, cur_runs = [*map(read_results, base_files)], [*map(read_results, cur_files)]
        check_gateable(
            list(zip(map(str, base_files + cur_files), base_runs + cur_runs, strict=True)), metric
        )
        gate = gate_on_files(base_runs, cur_runs, metric, limits)
    note = None
    if honour_trailer:
        gate, note = accepted_by_trailer(gate)
    return gate, note


COMMANDS = (compare,)
