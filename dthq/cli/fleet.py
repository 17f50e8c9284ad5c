"""``dthq fleet``: a device fleet on Locust, its capacity curve, and remote workers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dthq.cli import options, render

F = TypeVar("F", bound=Callable[..., Any])


def _fleet_options(f: F) -> F:
    """What every fleet run takes (``dthq fleet`` and ``dthq fleet capacity``)."""
    shared = [
        click.option(
            "--devices", type=int, default=50, show_default=True, help="Simulated devices."
        ),
        click.option(
            "--rate",
            "rate_hz",
            type=float,
            default=1.0,
            show_default=True,
            help="Readings per second per device (a bedside monitor sends 4x).",
        ),
        click.option(
            "--duration",
            "duration_s",
            type=float,
            default=10.0,
            show_default=True,
            help="Seconds each device sends once its handshake is done.",
        ),
        click.option(
            "--workers",
            type=int,
            default=2,
            show_default=True,
            help="Locust worker processes on this machine.",
        ),
        click.option(
            "--remote-workers",
            type=int,
            default=0,
            show_default=True,
            help="More workers to wait for, started elsewhere with `dthq fleet worker`.",
        ),
        options.broker("mqtt://HOST:PORT of a running broker."),
        options.broker_kind(),
        click.option(
            "--gateways",
            type=int,
            default=1,
            show_default=True,
            help="Gateway processes (>1: a pool on an MQTT 5 shared subscription).",
        ),
        click.option(
            "--kinds",
            default="wearable",
            show_default=True,
            help="Device kinds, comma-separated: wearable, bedside.",
        ),
        click.option(
            "--spawn-rate",
            type=float,
            default=100.0,
            show_default=True,
            help="Devices started per second.",
        ),
        click.option(
            "--master-port",
            type=int,
            default=5557,
            show_default=True,
            help="The Locust master's port (workers connect to it).",
        ),
    ]
    for option in reversed(shared):
        f = option(f)
    return f


def _fleet_config(**settings: Any) -> Any:
    from dthq.fleet.config import FleetConfig

    kinds = tuple(k.strip() for k in settings.pop("kinds").split(",") if k.strip())
    return FleetConfig(kinds=kinds, **settings)


@click.group(invoke_without_command=True)
@_fleet_options
@click.option(
    "--scenario",
    default="steady",
    show_default=True,
    help="What the fleet goes through: steady, handshake-storm, handshake-storm-cookie, "
    "rekey-storm, slow-consumer (see below).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
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
@_fleet_options
@click.option(
    "--sizes",
    default="10,100,1000",
    show_default=True,
    help="Fleet sizes to run, comma-separated (steady scenario).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports/fleet"),
    show_default=True,
    help="Where the runs, the table and the plot go.",
)
@options.json_flag("Print the runs as a JSON list.")
def fleet_capacity(sizes: str, out: Path, as_json: bool, **settings: Any) -> None:
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
    try:
        counts = [int(n) for n in sizes.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"{sizes!r} is not a list of integers", param_hint="--sizes"
        ) from None
    settings.pop("devices")  # each size sets it
    with render.progress("fleet", as_json) as update:
        runs = capacity_curve(_fleet_config(**settings), counts, out, update)
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
@click.option("--master-host", required=True, help="Where `dthq fleet` runs its master.")
@click.option(
    "--master-port",
    type=int,
    default=5557,
    show_default=True,
    help="The master's port (`dthq fleet --master-port`).",
)
@click.option(
    "--processes", type=int, default=1, show_default=True, help="Worker processes to start here."
)
def fleet_worker(master_host: str, master_port: int, processes: int) -> None:
    """Join a fleet from another machine: Locust workers that take their options (the
    registry path, the broker, the rate) from the master. The registry file must be at
    the same path here (copy it; it holds the PSKs, keep it 0600)."""
    from dthq.fleet.worker import join_master

    sys.exit(join_master(master_host, master_port, processes))


COMMANDS = (fleet,)
