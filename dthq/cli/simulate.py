"""``dthq simulate``: the twin pipeline, devices -> MQTT -> edge gateway -> MQTT -> twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode


@click.command()
@options.patients(10, 100_000)
@options.rate("Readings per second per patient (Hz).")
@options.duration(10.0, "Seconds of sending.")
@options.broker(
    "mqtt://HOST:PORT of an external broker (e.g. Mosquitto); default: embedded amqtt "
    "(the TLS schemes: this run's own Mosquitto, and no --broker)."
)
@options.transport("memory: the same parties, no broker (in-process delivery).")
@click.option("--qos", type=click.IntRange(0, 1), default=1, show_default=True, help="Device QoS.")
@options.policy(
    "fixed",
    "Gateway batching: fixed (200 ms), adaptive (driven by the twin: deteriorating "
    "patients at once, stable ones batched longer and compressed harder), immediate.",
)
@options.share(
    "--deteriorating",
    0.2,
    "Share of patients scripted to deteriorate (from a fifth into the run, sped up).",
)
@options.share(
    "--faults", 0.0, "Share of readings a faulty sensor garbles (the gateway must refuse them)."
)
@options.store("Keep the encrypted store here (default: a temporary one).", required=False)
@options.key_file(
    "The store's master secret (made, mode 0600, if missing). Needs --store.",
    exists=False,
    required=False,
)
@options.fhir_dir()
@options.fhir_url()
@click.option(
    "--drain",
    "drain_s",
    type=click.FloatRange(0, 3600),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="The longest wait at the end for readings in flight and unsent FHIR bundles.",
)
@click.option(
    "--scheme",
    type=click.Choice(["dthq", "tls", "dthq+tls"]),
    default="dthq",
    show_default=True,
    help="dthq: DTHQ over plain MQTT; tls: MQTT over TLS 1.3 alone (readings in clear "
    "inside TLS); dthq+tls: DTHQ inside TLS. The TLS ones start this run's own Mosquitto "
    "with a TLS listener, a certificate per party and an ACL.",
)
@click.option(
    "--processes",
    is_flag=True,
    help="Run the cloud, the gateway and the devices (the load generator) each as its own "
    "process, as a deployment would (Linux); CPU is then per process, the broker's included.",
)
@click.option(
    "--pin",
    type=click.Choice(["none", "split"]),
    default="none",
    show_default=True,
    help="With --processes: split puts the load generator on a core of its own and the "
    "broker, gateway and cloud on the others.",
)
@options.seed(0, "Seed of the telemetry.")
@options.json_flag()
def simulate(
    patients: int,
    rate_hz: float,
    duration_s: float,
    broker: str | None,
    transport: str,
    qos: int,
    policy: str,
    deteriorating: float,
    faults: float,
    store_path: Path | None,
    key_file: Path | None,
    fhir_dir: Path | None,
    fhir_url: str | None,
    drain_s: float,
    scheme: str,
    processes: bool,
    pin: str,
    seed: int,
    as_json: bool,
) -> None:
    """Run the twin pipeline: devices -> MQTT -> edge gateway -> MQTT -> cloud twin.

    Prints the per-stage latency breakdown (p50/p95/p99), end to end device -> twin,
    throughput, the counts of sent / delivered / rejected / lost / duplicated readings,
    the alerts and whether the paper's real-time budget holds. With --fhir-dir or
    --fhir-url, the FHIR backlog too. Exits 1 if a reading was lost, a bundle is still
    unsent at the end, or any store or FHIR attempt failed (each failure is counted by
    outcome, retried ones too).

    \b
    Examples:
      dthq simulate --patients 20 --rate 2 --duration 30
      dthq simulate --broker mqtt://127.0.0.1:1883 --policy adaptive --json
    """
    from dthq.harness.results_json import plain
    from dthq.pipeline.run import SimConfig
    from dthq.pipeline.run import simulate as run_pipeline
    from dthq.twin.store import head_beside, master_secret
    from reports.pipeline import STAGE_HEADERS, stage_rows, summary_lines

    options.check_broker(transport, broker)
    if key_file is not None and store_path is None:
        raise click.UsageError("--key-file needs --store")
    if store_path is not None and key_file is None:
        raise click.UsageError("--store needs --key-file (the store's master secret)")
    if pin != "none" and not processes:
        raise click.UsageError("--pin needs --processes")
    config = SimConfig(
        patients=patients,
        rate_hz=rate_hz,
        duration_s=duration_s,
        transport=transport,
        broker=broker,
        qos=qos,
        policy=policy,
        deteriorating=deteriorating,
        fault_rate=faults,
        seed=seed,
        store=store_path,
        master_secret=master_secret(key_file, create=True) if key_file else None,
        store_head=head_beside(key_file, store_path) if key_file and store_path else None,
        fhir_dir=fhir_dir,
        fhir_url=fhir_url,
        drain_s=drain_s,
        scheme=scheme,
        embedded="mosquitto" if scheme != "dthq" else "amqtt",
        processes=processes,
        pin=pin,
    )
    with render.progress("simulating", as_json, sent=True) as update:
        run = run_pipeline(config, update)
    if as_json:
        render.emit_json(plain(run))
    else:
        render.summary(summary_lines(run), stage_rows(run), STAGE_HEADERS)
    if fhir_dir or fhir_url or run.failures:
        click.echo(_backlog_line(run), err=as_json)
    if run.counts.get("lost") or run.fhir_unsent or run.failures:
        raise click.exceptions.Exit(ExitCode.FAILED)  # a run that lost or failed says so


def _backlog_line(run: Any) -> str:
    """``FHIR: 3 bundles unsent (oldest 12.0 s); failures: fhir unreachable 7``."""
    age = run.fhir_oldest_unsent_s
    line = f"FHIR: {run.fhir_unsent} bundles unsent" + (f" (oldest {age:.1f} s)" if age else "")
    if run.failures:
        line += "; failures: " + ", ".join(f"{k} {n}" for k, n in sorted(run.failures.items()))
    return line


COMMANDS = (simulate,)
