"""``dthq fleet``: a device fleet on Locust, its capacity curve, and remote workers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dthq.cli import options, render
from dthq.fleet.config import KINDS, MAX_DEVICES

F = TypeVar("F", bound=Callable[..., Any])


def _fleet_options(*, sized: bool) -> Callable[[F], F]:
    """What every fleet run takes (``dthq fleet``; ``dthq fleet capacity``, whose sizes
    are its own, without --devices). The ranges are FleetConfig's."""
    shared = [
        options.ranged("--devices", (1, MAX_DEVICES), 50, "Simulated devices."),
        options.positive(
            "--rate",
            50,
            1.0,
            "Readings per second per device (a bedside monitor sends 4x).",
            dest="rate_hz",
        ),
        options.ranged(
            "--duration",
            (1, 86_400),
            10.0,
            "Seconds each device sends once its handshake is done.",
            dest="duration_s",
        ),
        options.ranged("--workers", (1, 64), 2, "Locust worker processes on this machine."),
        options.ranged(
            "--remote-workers",
            (0, 1024),
            0,
            "More workers to wait for, started elsewhere with `dthq fleet worker`.",
        ),
        options.broker("mqtt://HOST:PORT of a running broker."),
        options.broker_kind(),
        options.ranged(
            "--gateways",
            (1, 16),
            1,
            "Gateway processes (>1: a pool on an MQTT 5 shared subscription).",
        ),
        options.shown(
            "--kinds",
            type=options.CommaList(click.Choice(list(KINDS))),
            default="wearable",
            help="Device kinds, comma-separated.",
        ),
        options.positive("--spawn-rate", 10_000, 100.0, "Devices started per second."),
        options.ranged(
            "--master-port",
            (0, 65535),
            5557,
            "The Locust master's port (workers connect to it); 0: any free one, for a fleet "
            "without --remote-workers (they could not find it).",
        ),
    ]

    def apply(f: F) -> F:
        for option in reversed(shared if sized else shared[1:]):
            f = option(f)
        return f

    return apply


def _fleet_config(**settings: Any) -> Any:
    from dthq.fleet.config import FleetConfig

    return FleetConfig(**settings)


@click.group(invoke_without_command=True)
@_fleet_options(sized=True)
@options.scenario()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep Locust's CSV and HTML report, the logs and fleet.json here.",
)
@options.json_flag()
@click.pass_context
def fleet(
    ctx: click.Context, scenario: str, out: Path | None, as_json: bool, **settings: Any
) -> None:
    """Run a device fleet on Locust's distributed engine: a master and --workers worker
    processes here, each device a Locust user doing the real DTHQ handshake over MQTT,
    then sealed readings at its rate, to a gateway process and the twin (inside the
    Locust master). Prints handshake, publish and end-to-end p50/p99, throughput, loss,
    the gateway's handshake work and each process's CPU; Locust's own CSV and HTML
    report go to --out.

    \b
    Scenarios:
      steady                  N devices at the rate
      handshake-storm         all reconnect at once, HELLOs replayed, no cookie
      handshake-storm-cookie  the same, the gateway issuing retry cookies
      rekey-storm             all run a fresh ML-KEM handshake at once
      slow-consumer           the twin takes 50 ms per batch

    \b
    Workers on other machines (loopback only here; the broker must be reachable):
      dthq fleet --devices 5000 --remote-workers 4 --master-port 5557 \\
                 --broker mqtt://BROKER:1883 --out run/
      (copy run/registry.json to the same path on each worker machine, mode 0600)
      dthq fleet worker --master-host THIS_HOST --master-port 5557 --processes 2
    \b
    Examples:
      dthq fleet --devices 200 --rate 1 --duration 30 --workers 2
      dthq fleet --scenario handshake-storm-cookie --devices 500 --broker-kind mosquitto
      dthq fleet capacity --sizes 10,100,1000 --out reports/fleet
    """
    if ctx.invoked_subcommand is not None:
        given = [
            p.opts[0]
            for p in ctx.command.params
            if p.name and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} before `{ctx.invoked_subcommand}` would be ignored: "
                f"give `dthq fleet {ctx.invoked_subcommand}` its own options after it"
            )
        return
    from dthq.fleet.run import require_locust, run_fleet
    from dthq.harness.results_json import plain
    from reports.fleet import SCENARIO_HEADERS, scenario_rows, summary_lines

    require_locust()
    config = _fleet_config(scenario=scenario, **settings)
    with render.progress("fleet", as_json) as update:
        run = run_fleet(config, out, update)
    if out is not None:
        (out / "fleet.json").write_text(render.json_text(plain(run), indent=1))
    if as_json:
        render.emit_json(plain(run))
        return
    render.summary(summary_lines(run), scenario_rows([run]), SCENARIO_HEADERS)
    if out is not None:
        click.echo(f"\nLocust's report: {out / 'locust.html'}; CSV: {out / 'locust_stats.csv'}")


@fleet.command("capacity")
@_fleet_options(sized=False)
@click.option(
    "--sizes",
    type=options.CommaList(click.IntRange(1, MAX_DEVICES), metavar="N"),
    default="10,100,1000",
    show_default=True,
    help=f"Fleet sizes to run, comma-separated, each 1..{MAX_DEVICES} (steady scenario).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/fleet"),
    show_default=True,
    help="Where the runs, the table and the plot go.",
)
@options.json_flag("Print the runs as a JSON list.")
def fleet_capacity(sizes: tuple[int, ...], out: Path, as_json: bool, **settings: Any) -> None:
    """The capacity curve: steady fleets of growing size, end-to-end p99 and each
    process's CPU per size, the knee marked, and the MODELLED 100,000-device region
    from the busiest run's per-unit costs. Stops at the first size that does not hold."""
    from dthq.fleet.capacity import capacity_curve
    from dthq.fleet.run import require_locust
    from dthq.harness.results_json import plain
    from reports.fleet import (
        CAPACITY_HEADERS,
        MODEL_HEADERS,
        capacity_rows,
        figure_capacity,
        knee_lines,
        model_for,
        model_rows,
    )

    require_locust()
    with render.progress("fleet", as_json) as update:
        runs = capacity_curve(_fleet_config(**settings), list(sizes), out, update)
    (out / "capacity.json").write_text(render.json_text([plain(r) for r in runs], indent=1))
    if as_json:
        render.emit_json([plain(r) for r in runs])
        return
    click.echo(render.table(capacity_rows(runs), CAPACITY_HEADERS))
    for line in knee_lines(runs):
        click.echo(line)
    model = model_for(runs)
    if model is not None:
        click.echo()
        click.echo(render.table(model_rows(model), MODEL_HEADERS))
    figure = figure_capacity(runs, out / "figure-fleet-capacity.png")
    if figure is not None:
        click.echo(f"\nplot: {figure}")


@fleet.command("worker")
@click.option(
    "--master-host", required=True, metavar="HOST", help="Where `dthq fleet` runs its master."
)
@options.ranged(
    "--master-port", (1, 65535), 5557, "The master's port (`dthq fleet --master-port`)."
)
@options.ranged("--processes", (1, 64), 1, "Worker processes to start here.")
def fleet_worker(master_host: str, master_port: int, processes: int) -> None:
    """Join a fleet from another machine: Locust workers that take their options (the
    registry path, the broker, the rate) from the master. The registry file must be at
    the same path here (copy it; it holds the PSKs, keep it 0600)."""
    from dthq.fleet.worker import join_master

    sys.exit(join_master(master_host, master_port, processes))


COMMANDS = (fleet,)
