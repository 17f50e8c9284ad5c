"""``dthq bench``, ``report``, ``history``: measure and report.

Every command reads results through ``bench.ingest.read_results``: a results.json of any
schema version, or the bench suites' raw pytest-benchmark JSON."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from dthq.cli import options, render
from dthq.harness.scenarios import PROFILES

RESULTS = click.argument(
    "results_files",
    metavar="RESULTS...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)


@click.command()
@options.chosen(
    "--profile",
    list(PROFILES),
    "quick",
    "quick: a few minutes on 2 cores; full: more rounds and the 1-100 MB bulk sweep.",
    dest="profile_name",
)
@click.option(
    "--only",
    default=None,
    metavar="EXPR",
    help="Run a subset: a suite (primitives, table3, table4, dos, qkd, pipeline, fleet, soak, "
    "chaos, failover, held, schemes, store, paired) or a pytest -k expression.",
)
@options.out_dir(
    Path("reports/latest"), "Directory for results.json, tables, figures and report.html."
)
@options.json_flag("Print what was measured and written as one JSON object.")
def bench(profile_name: str, only: str | None, out: Path, as_json: bool) -> None:
    """Run the benchmark suites and write the report.

    Measures the primitives (the floor), Table 3 (DTHQ beside RSA-2048, ECC-256,
    TLS 1.3 classical / hybrid / ML-KEM and any installed plug-in scheme) and Table 4
    (DTHQ over key length x edge x data size), then writes the report to OUT.
    """
    from bench.runner import run
    from reports.build import write_report

    # With --json, stdout holds the JSON alone: pytest's output, the progress bar and the
    # runner's notes go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        results = run(profile_name, only, out)
        written = write_report(results, out)
    r = results
    measured = len(r.primitives) + len(r.table3) + len(r.table4) + len(r.forged_hello)
    simulated = len(r.qkd_sweep) + len(r.qkd_keys) + len(r.cascade)
    facts = {"measured": measured, "simulated": simulated, "wall_time_s": r.metadata.wall_time_s}
    if as_json:
        render.emit_json(render.Written(out, written, out / "report.html", facts).to_json())
        return
    click.echo(
        f"{measured} measured figures (primitives, rows, cells, retry) and {simulated} QKD "
        f"figures (simulated link) in {r.metadata.wall_time_s:.0f} s; "
        f"wrote {len(written)} files to {out}/ (open {out / 'report.html'})"
    )


@click.command()
@RESULTS
@options.out_dir(None, "Directory to write the report to.", required=True)
@options.json_flag("Print what was written (and the headline, or the warnings) as JSON.")
def report(results_files: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Write tables, figures, the paper comparison and report.html from RESULTS.

    RESULTS is a results.json (ours, any schema version) or the raw pytest-benchmark
    JSON of the bench suites. Given results from several machines, each gets its own
    report in OUT/<machine>/ and OUT/machines.html sets them side by side: ratios within
    each machine, never absolute times across machines, with a warning wherever
    library versions differ.
    """
    from bench.ingest import read_results
    from reports.build import write_report
    from reports.summary import Summary

    runs = [read_results(path) for path in results_files]
    if len(runs) == 1:
        written = write_report(runs[0], out)
        headline = Summary.of(runs[0]).headline()
        if as_json:
            done = render.Written(out, written, out / "report.html", {"headline": headline})
            render.emit_json(done.to_json())
            return
        click.echo(headline)
        click.echo(f"wrote {len(written)} files to {out}/ (open {out / 'report.html'})")
        return
    from reports.machines import Machines, write_machines

    labels = [r.metadata.node or path.parent.name or path.stem for r, path in
              zip(runs, results_files, strict=True)]  # fmt: skip
    machines = Machines.of(runs, labels)
    written = write_machines(machines, out)
    if as_json:
        facts = {"machines": labels, "warnings": list(machines.warnings())}
        render.emit_json(render.Written(out, written, out / "machines.html", facts).to_json())
        return
    for warning in machines.warnings():
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"wrote {len(written)} files for {len(runs)} machines to {out}/ "
        f"(open {out / 'machines.html'})"
    )


@click.command()
@RESULTS
@options.out_dir(Path("reports/history"), "Directory for history.png and history.html.")
@options.json_flag("Print every series as JSON instead.")
def history(results_files: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Draw each gated figure over commits from RESULTS (results.json from successive
    commits, in any order: they are sorted by when they were made).

    Instruction counts and times (each figure's fastest round over its run's primitive
    floor, as the gate reads them) are kept apart. Change points (where a figure's level
    shifted, found against its own noise; six or more commits) and steps between
    consecutive commits beyond the gate's thresholds (3 % instructions, 10 % time) are
    listed.
    """
    from bench.ingest import read_results
    from reports.history import History, write_history

    runs = [read_results(path) for path in results_files]
    labels = [(r.metadata.commit or "")[:10] or path.parent.name or path.stem
              for r, path in zip(runs, results_files, strict=True)]  # fmt: skip
    found = History.of(runs, labels)
    if not found.series:
        raise click.UsageError(
            "these results share no gated figure (no instruction counts and no common "
            "primitive floor)"
        )
    written = write_history(found, out)
    if as_json:
        render.emit_json(found.to_dict(), indent=1)
        return
    for s, c in found.changes:
        click.echo(
            f"{s.figure} ({s.kind}): change point at {c.commit}, {100 * c.size:+.1f} % "
            f"(segments of {c.segments[0]} and {c.segments[1]} commits)"
        )
    for grouped in found.by_commit():
        click.echo(grouped.text)
    for s, step, moved in found.flagged():
        click.echo(f"{s.figure} ({s.kind}): {moved:+.1%} between {step}")
    click.echo(
        f"{len(found.series)} figures over {len(found.labels)} commits; wrote "
        f"{len(written)} files to {out}/ (open {out / 'history.html'})"
    )


COMMANDS = (bench, report, history)
