"""The ``dthq`` command line: the project's one composition root.

Only this module may import ``baselines``, ``bench`` and ``reports``, and only
inside the commands that need them, so ``dthq backends`` stays fast and light.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import click

from dthq.errors import DTHQError
from dthq.suites import KEY_LENGTHS


class _Group(click.Group):
    """Errors a user can cause print one line and exit non-zero, never a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, **kwargs: Any) -> Any:
        try:
            result = super().main(args, prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except DTHQError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dthq-bench", prog_name="dthq")
def main() -> None:
    """DTHQ bench: run, benchmark and check the DTHQ protocol beside its baselines.

    \b
    Examples:
      dthq handshake --kem ML-KEM-768 --auth psk --key-length 256 --json
      dthq backends
    """


@main.command()
@click.option(
    "--kem",
    default="ML-KEM-768",
    show_default=True,
    help="KEM for the session key: ML-KEM-768, ML-KEM-1024, or ML-KEM-512 (liboqs).",
)
@click.option(
    "--auth",
    type=click.Choice(["psk", "mldsa", "mldsa44", "mldsa65"]),
    default="psk",
    show_default=True,
    help="Peer authentication: device PSK, or ML-DSA signatures (mldsa = ML-DSA-65).",
)
@click.option(
    "--key-length",
    type=click.Choice([str(k) for k in KEY_LENGTHS]),
    default="256",
    show_default=True,
    help="Session key bits: 128 AES-128-GCM, 256 AES-256-GCM, 512 AES-256-SIV.",
)
@click.option("--chacha", is_flag=True, help="Use ChaCha20-Poly1305 (key length 256 only).")
@click.option(
    "--edge",
    type=click.Choice(["far", "near"]),
    default="near",
    show_default=True,
    help="Edge profile: far = LZ4, near = Brotli, applied to the test record.",
)
@click.option("--kem-backend", default=None, help="KEM backend (see `dthq backends`).")
@click.option("--aead-backend", default=None, help="AEAD backend (see `dthq backends`).")
@click.option(
    "--rounds",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    help="Handshakes to run; the median time is reported.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Telemetry seed for the test record."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def handshake(
    kem: str,
    auth: str,
    key_length: str,
    chacha: bool,
    edge: str,
    kem_backend: str | None,
    aead_backend: str | None,
    rounds: int,
    seed: int,
    as_json: bool,
) -> None:
    """Run a full in-process DTHQ handshake, then one record each way.

    Handshake time covers both parties' computation for all three flights
    (ephemeral ML-KEM key generation included; provisioning of the PSK or
    ML-DSA keys is not). It is a wall-clock figure for this machine only.
    """
    from dthq.dthq_scheme import DTHQScheme
    from dthq.telemetry import TelemetryGenerator

    scheme = DTHQScheme(
        key_length=int(key_length),
        kem=kem,
        auth=auth,
        chacha=chacha,
        edge=edge,
        kem_backend=kem_backend,
        aead_backend=aead_backend,
    )
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        session = scheme.establish(now_ms=0)
        times.append((time.perf_counter() - start) * 1000)
    reading = TelemetryGenerator(seed).payload("small")
    record = session.initiator.seal(reading, now_ms=1)
    established = session.responder.open(record) == reading
    echo = session.responder.seal(b"ack", now_ms=2)
    established = established and session.initiator.open(echo) == b"ack"
    result = {
        "scheme": scheme.name,
        **scheme.params,
        "suite": scheme.suite.name,
        "flights": [f.size for f in session.flights],
        "flight_names": [f.name for f in session.flights],
        "handshake_bytes": session.handshake_bytes,
        "record_overhead_bytes": session.initiator.overhead,
        "record_bytes": len(record),
        "payload_bytes": len(reading),
        "handshake_ms": round(statistics.median(times), 4),
        "rounds": rounds,
        "established": established,
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:22} {value}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def backends(as_json: bool) -> None:
    """List every KEM and AEAD backend, whether it is available, and why not."""
    from dthq.aead import AEADS
    from dthq.kem import KEMS

    rows = [
        {
            "kind": registry.kind,
            "name": e.name,
            "backend": e.backend,
            "available": e.available,
            "reason": e.reason,
        }
        for registry in (KEMS, AEADS)
        for e in registry.entries()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    from tabulate import tabulate

    click.echo(
        tabulate(
            [
                [r["kind"], r["name"], r["backend"], "yes" if r["available"] else "no", r["reason"]]
                for r in rows
            ],
            headers=["kind", "name", "backend", "available", "reason"],
        )
    )
