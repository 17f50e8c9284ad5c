"""``dthq compare``: the regression gate, between two results files or against a git
revision measured here (bench/gate/ holds the gate; this is its command line)."""

from __future__ import annotations

from pathlib import Path

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode

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
    help="Smallest change that counts, e.g. 3% or 0.03: above 0 and below 10 (1000%). "
    "Default: 3% for instructions, 10% for time.",
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
    show: str,
    baseline_reruns: tuple[Path, ...],
    current_reruns: tuple[Path, ...],
    honour_trailer: bool,
    as_json: bool,
) -> None:
    """Regression gate: exit 1 if the current code is slower than the baseline beyond the
    threshold.

    \b
    dthq compare BASELINE.json CURRENT.json             two stored runs, by time
    dthq compare BASE.json CUR.json --metric instructions   their instruction counts
    dthq compare --against HEAD~1                       REV and this checkout, measured now

    By time, each figure's fastest round is compared as a ratio to its run's primitive
    floor (geometric mean of the primitive times measured in the same run), so a slower
    or busier machine does not fail the gate while a regression in our code does. On a
    shared machine, run each side more than once, interleaved, and pass the extra runs
    with --baseline-rerun and --current-rerun.

    Instructions per operation are counted by callgrind: deterministic to about 0.3 %,
    whatever else the machine does. --against REV checks REV out into a temporary git
    worktree and measures both trees with the same driver and this environment's
    libraries (time: interleaved base, head, base, head). Primitives and randomised
    counts are reported but never fail the gate.
    """
    from bench.gate.assemble import (
        accepted_by_trailer,
        check_gateable,
        gate_against,
        gate_on_files,
    )
    from bench.gate.compare import parse_threshold

    metric = metric or ("instructions" if rev else "time")
    try:
        limit = parse_threshold(threshold or ("3%" if metric == "instructions" else "10%"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--threshold") from None
    if rev is not None:
        from bench.against import NoParent

        if baseline or current or baseline_reruns or current_reruns:
            raise click.UsageError("--against measures both sides itself: give it no files")
        only = figures.split(",") if figures else None
        progress = (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))
        try:
            gate = gate_against(rev, metric, which, only, limit, progress)
        except NoParent as exc:
            if as_json:
                render.emit_json({"failed": False, "gate_not_run": str(exc)})
            else:
                click.echo(f"gate not run: {exc}")
            return
    elif baseline is None or current is None:
        raise click.UsageError("give BASELINE and CURRENT results files, or --against REV")
    else:
        ctx = click.get_current_context()
        only_against = {
            "--set": "which",
            "--figures": "figures",
            "--honour-trailer": "honour_trailer",
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
        gate = gate_on_files(base_runs, cur_runs, metric, limit)
    note = None
    if honour_trailer:
        gate, note = accepted_by_trailer(gate)
    if as_json:
        render.emit_json(gate.to_json())
    else:
        render.gate_report(gate, show, note)
    if gate.failed:
        raise click.exceptions.Exit(ExitCode.FAILED)


COMMANDS = (compare,)
