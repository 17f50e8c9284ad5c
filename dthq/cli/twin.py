"""``dthq twin``: a patient's twin from the store, the cloud twin as its own process, and
the live dashboard."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.store import KEY_FILE, naming, open_store


@click.group()
def twin() -> None:
    """Patients' digital twins, rebuilt from the encrypted store."""


@twin.command()
@options.broker("mqtt://HOST:PORT of the broker the gateway publishes to.", required=True)
@click.option(
    "--registry",
    "registry_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The parties and their PSKs (written by the process that provisions them).",
)
@options.store("The encrypted store the twin keeps its readings and sessions in.")
@KEY_FILE
@options.fhir_dir()
@options.fhir_url()
@click.option(
    "--client-id",
    metavar="ID",
    default="dthq-cloud",
    show_default=True,
    help="The MQTT client id: the broker keeps this consumer's session under it.",
)
def consume(
    broker: str,
    registry_file: Path,
    store_path: Path,
    key_file: Path,
    fhir_dir: Path | None,
    fhir_url: str | None,
    client_id: str,
) -> None:
    """Run the cloud twin alone, as its own process: a persistent QoS 1 consumer that
    resumes its sessions and twins from the store after a restart (exactly once).
    Prints "ready" once subscribed; on SIGTERM or SIGINT, a JSON line of counts."""
    from dthq.pipeline.clock import SYSTEM_CLOCK
    from dthq.pipeline.consumer import consume_until_signalled
    from dthq.twin.store import Store, head_beside, master_secret

    with naming(store_path):  # a new store, or an existing one; its head beside the key
        store = Store(store_path, master_secret(key_file), head=head_beside(key_file, store_path))

    def ready() -> None:
        click.echo("ready")
        sys.stdout.flush()

    try:
        with render.until_stopped("consumer"):  # a SIGINT before its handler is set
            counts = consume_until_signalled(
                broker, registry_file, store, fhir_dir, fhir_url, client_id, ready, SYSTEM_CLOCK
            )
            render.emit_json(counts)
    finally:
        store.close()


@twin.command("serve")
@options.listen(8765, "Port to serve the page on; 0: any free one.")
@options.patients(8, 10_000)
@options.rate("Readings per second per patient (Hz).")
@options.duration(3600.0, "Seconds the simulated patients send for.")
@options.broker("mqtt://HOST:PORT of an external broker; default: embedded amqtt.")
@options.transport("memory: the same parties, no broker (in-process delivery).")
@options.policy("adaptive", "Gateway batching (see `dthq simulate --help`).")
@options.share("--deteriorating", 0.25, "Share of patients scripted to deteriorate.")
@options.shown(
    "--onset",
    "onset_s",
    type=click.FloatRange(0),
    default=10.0,
    help="Seconds before the scripted deterioration starts.",
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another Host name the page answers to (e.g. a proxy's); repeatable.",
)
def twin_serve(host: str, port: int, allowed_hosts: tuple[str, ...], **settings: Any) -> None:
    """Serve the live dashboard of a SIMULATED ward: every patient's vitals, reading age,
    partial NEWS2, trend and alerts, and the pipeline's stage latencies, updated by
    server-sent events. It answers only to its own host names; beyond loopback it also
    needs the token in the URL it prints (the page then keeps it in a cookie).

    \b
    Example:
      dthq twin serve --patients 12 --rate 2   # then open http://127.0.0.1:8765/
    """
    options.check_broker(settings["transport"], settings["broker"])
    try:
        from dthq.pipeline.dashboard import serve
    except ImportError as exc:
        raise click.UsageError(
            f"the dashboard needs {exc.name}: pip install 'dthq-bench[dashboard]'"
        ) from None
    from dthq.pipeline.clock import SYSTEM_CLOCK
    from dthq.pipeline.run import SimConfig

    config = SimConfig(**settings)  # every other option is a SimConfig field

    def listening(url: str) -> None:
        click.echo(f"dashboard on {url}  (SIMULATED patients; Ctrl-C stops)", err=True)

    with render.until_stopped("dashboard"):
        serve(config, SYSTEM_CLOCK, host, port, listening, allowed_hosts)


@twin.command()
@click.argument("patient")
@options.store("The store `dthq simulate --store` wrote.")
@KEY_FILE
@options.json_flag()
def show(patient: str, store_path: Path, key_file: Path, as_json: bool) -> None:
    """Print PATIENT's twin: latest vitals, partial NEWS2, trends and alerts."""
    from dthq.twin.news2 import LABEL
    from dthq.twin.twin import PatientTwin

    with naming(store_path):
        readings = list(open_store(store_path, key_file).readings(patient))
    if not readings:
        raise click.UsageError(f"no readings of patient {patient!r} in {store_path}")
    t = PatientTwin.from_readings(patient, readings)
    if as_json:
        render.emit_json(t.to_json())
        return
    latest, score = t.latest, t.score
    assert latest is not None and score is not None  # at least one reading was applied
    click.echo(f"patient {patient}: {len(t.history)} readings (latest at ts {latest.ts})")
    click.echo(
        f"  heart rate {latest.hr:g} /min   SpO2 {latest.spo2:g} %   temperature {latest.temp:g} °C"
    )
    click.echo(
        f"  {LABEL}: {score.total}" + (f" (scoring 3: {', '.join(score.red)})" if score.red else "")
    )
    click.echo("  trend per minute: " + ", ".join(f"{k} {v:+g}" for k, v in t.trends().items()))
    click.echo(f"  alerts: {len(t.alerts)}")
    for a in t.alerts[-10:]:
        click.echo(f"    ts {a.ts}: {a.reason} (total {a.score.total})")


COMMANDS = (twin,)
