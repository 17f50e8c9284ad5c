"""``dthq chaos``: the fault suite, one run: the pipeline's parties as processes, faults
injected, every reading the devices generated classified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode


@click.command("chaos")
@options.chosen(
    "--broker",
    ("mosquitto", "amqtt", "rabbitmq"),
    "mosquitto",
    "The broker, as a process; rabbitmq: a 3-node cluster, each node killed in turn.",
)
@options.ranged("--devices", (1, 50), 3, "Devices (one patient each), in one process.")
@options.positive("--rate", 20, 2.0, "Readings per second per device.", dest="rate_hz")
@options.ranged("--duration", (5, 3600), 40.0, "Seconds of faults.", dest="duration_s")
@options.ranged(
    "--cut-every",
    (0, 600),
    6.0,
    "Mean seconds between the proxy's cuts of every connection; 0: none.",
    dest="cut_mean_s",
)
@click.option("--no-kills", is_flag=True, help="Do not SIGKILL and restart the processes.")
@click.option("--no-attack", is_flag=True, help="No hostile frames on the pipeline's topics.")
@options.ranged(
    "--sink-outage", (0, 600), 4.0, "Seconds the FHIR server answers 503, mid-run.", dest="outage"
)
@options.ranged(
    "--settle", (5, 3600), 90.0, "The longest wait at the end for the pipeline to settle."
)
@options.ranged("--seed", (0, 2**31 - 1), 0, "The fault schedule's seed (the proxy's cuts).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the run's folder here: every party's log, the store, the readings' log.",
)
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Put the run into this results.json (made if missing) for `dthq report`.",
)
@options.json_flag()
def chaos(
    broker: str,
    devices: int,
    rate_hz: float,
    duration_s: float,
    cut_mean_s: float,
    no_kills: bool,
    no_attack: bool,
    outage: float,
    settle: float,
    seed: int,
    out: Path | None,
    results: Path | None,
    as_json: bool,
) -> None:
    """Run the pipeline through faults and check that nothing acknowledged was lost.

    Broker, cloud twin, gateway and devices each run as a process, connected through a
    proxy that cuts every connection at random; each process is killed with SIGKILL
    and started again in turn; the FHIR server fails for a while; an attacker sends
    garbage, truncated, replayed, forged and out-of-order frames (flights, records,
    receipts) on every pipeline topic. Then every reading generated is classified:
    delivered once, duplicated, refused, lost (with the reason), unacknowledged, or
    unexpected. Exits 1 unless nothing acknowledged was lost, nothing duplicated or
    unexpected, every device holds a session again at the end, everything settled
    within --settle, and the store verifies (no gap, no rollback).

    \b
    Examples:
      dthq chaos --broker mosquitto --duration 60
      dthq chaos --broker amqtt --no-kills --results reports/latest/results.json
      dthq chaos --broker rabbitmq --duration 60
    """
    from chaos.run import ChaosConfig, run_suite
    from dthq.harness.results_json import plain
    from reports.chaos import chaos_rows, verdict

    config = ChaosConfig(
        broker=broker,
        devices=devices,
        rate_hz=rate_hz,
        duration_s=duration_s,
        cut_mean_s=cut_mean_s or None,
        kills=not no_kills,
        sink_outage_s=outage,
        attack=not no_attack,
        settle_s=settle,
        seed=seed,
    )
    cluster = broker == "rabbitmq"  # a step to start it, and a kill per node
    steps = (3 + (3 if cluster else 1)) * (not no_kills) + (outage > 0) + 3 + cluster
    done = [0]
    with render.progress("chaos", as_json) as update:

        def step(what: str) -> None:
            done[0] += 1
            update(min(1.0, done[0] / steps), what)

        run = run_suite(config, out, step)
    if results is not None:
        _merge(results, run)
    if as_json:
        render.emit_json(plain(run))
    else:
        click.echo(render.table(chaos_rows(run), ["", "count"]))
        click.echo(verdict(run))
    if not run.ok:
        raise click.exceptions.Exit(ExitCode.FAILED)


def _merge(path: Path, run: Any) -> None:
    """The run into a results.json, for `dthq report`: an existing file keeps the rest
    (an earlier run through the same broker is replaced); a missing one is made."""
    from dataclasses import replace

    from bench.ingest import read_results
    from dthq.harness.metadata import collect
    from dthq.harness.results import Metadata, Results
    from dthq.harness.results_json import dump

    if path.exists():
        results = read_results(path)
        kept = tuple(r for r in results.chaos if r.broker != run.broker)
        dump(replace(results, chaos=(*kept, run)), path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = Metadata(profile="chaos", messages_per_session=0, machine=collect())
    dump(Results(metadata=metadata, chaos=(run,)), path)


COMMANDS = [chaos]
