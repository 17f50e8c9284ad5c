"""``dthq qkd`` (one SIMULATED BB84 run) and ``dthq kme`` (the key manager Q over HTTPS)."""

from __future__ import annotations

from pathlib import Path

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode
from dthq.qkd.link import KEY_BITS


@click.command()
@options.ranged(
    "--qber", (0, 0.49), 0.03, "Channel error rate (the paper's noise tolerance, 1-5 %)."
)
@options.share("--eve", 0.0, "Fraction of pulses an intercept-resend eavesdropper measures.")
@options.ranged("--raw-bits", (1_000, 100_000_000), 200_000, "Raw pulses A sends.")
@options.shown(
    "--key-bits",
    type=click.Choice([str(n) for n in KEY_BITS]),
    default="256",
    help="Size of each final key.",
)
@options.ranged("--fibre-km", (0, 500), 0.0, "Fibre length (0.2 dB/km, detector efficiency 0.6).")
@options.schedule()
@options.seed(None, "Seed for a reproducible run.")
@options.json_flag()
def qkd(
    qber: float,
    eve: float,
    raw_bits: int,
    key_bits: str,
    fibre_km: float,
    schedule: str,
    seed: int | None,
    as_json: bool,
) -> None:
    """One SIMULATED BB84 run: sifting, Cascade, privacy amplification.

    Prints what the run produced and cost; exit code 3 if it aborted (too much
    error, an eavesdropper, or nothing secret left), with the reason.
    """
    from dthq.qkd.bb84 import QKDAbort, QuantumChannel
    from dthq.qkd.link import distil

    try:
        run = distil(
            raw_bits,
            QuantumChannel(qber=qber, fibre_km=fibre_km),
            key_bits=int(key_bits),
            eve_fraction=eve,
            seed=seed,
            schedule=schedule,
        )
    except QKDAbort as exc:
        if as_json:
            render.emit_json(exc.to_json())
        else:
            click.echo(f"SIMULATED QKD run aborted: {exc}")
        raise click.exceptions.Exit(ExitCode.ABORTED) from None
    if as_json:
        render.emit_json(run.to_json())
        return
    click.echo("SIMULATED BB84 run (no photons: every figure is the model's)")
    render.key_values(run.to_json(), skip=("simulated", "aborted"))


@click.group()
def kme() -> None:
    """The key manager Q (ETSI GS QKD 014) over HTTPS, fed by the SIMULATED BB84 link."""


def _require(*modules: str) -> None:
    """A usage error naming the kme extra when a command's packages are missing (checked
    by the command, so --help works without them)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise click.UsageError(
            f"dthq kme needs {' and '.join(missing)}: pip install 'dthq-bench[kme]'"
        )


@kme.command()
@options.listen(8443, "Port to listen on; 0: any free one.")
@options.pki("pki_dir", "Certificates: made here on first start, reused after.")
@options.ranged("--qber", (0, 0.11), 0.03, "Error rate of the simulated link that fills the pool.")
@options.ranged("--fibre-km", (0, 200), 0.0, "Fibre length of the simulated link (0.2 dB/km).")
@options.seed(None, "Seed the simulated link.")
def serve(
    host: str, port: int, pki_dir: Path, qber: float, fibre_km: float, seed: int | None
) -> None:
    """Serve Q over HTTPS with mutual TLS until interrupted.

    \b
    Paths (ETSI GS QKD 014 v1.1.1):
      GET      /api/v1/keys/{slave_SAE_ID}/status
      GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys   (the master, device-A, asks)
      GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys  (the slave, service-B, asks)
    The OpenAPI description is at /openapi.json. Each SAE presents the client
    certificate made for it in --pki; its common name is the SAE ID.
    """
    _require("fastapi", "uvicorn")
    from dthq.qkd.bb84 import QuantumChannel
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.kme_server import bind, serve_until_interrupted
    from dthq.qkd.pki import make_pki
    from dthq.schemes.dthq import DEVICE_ID, SERVICE_ID

    sock = bind(host, port)  # first: a busy port leaves no certificates behind
    master, slave = DEVICE_ID.decode(), SERVICE_ID.decode()
    try:
        pki = make_pki(pki_dir, [master, slave])
    except BaseException:
        sock.close()
        raise
    manager = KeyManager(
        master, slave, channel=QuantumChannel(qber=qber, fibre_km=fibre_km), seed=seed
    )
    url = f"https://{host}:{sock.getsockname()[1]}"
    cert, key = pki.client(master)
    click.echo(f"key manager Q (SIMULATED BB84 link, QBER {qber:.1%}) at {url}")
    click.echo(f"  CA {pki.ca}; SAE certificates {master} and {slave} in {pki.directory}")
    click.echo(
        f"  try: curl --cacert {pki.ca} --cert {cert} --key {key} {url}/api/v1/keys/{slave}/status"
    )
    with render.until_stopped("key manager"):
        serve_until_interrupted(manager, pki, sock)


@kme.command()
def openapi() -> None:
    """Print the server's OpenAPI description (JSON)."""
    _require("fastapi")  # no server: uvicorn is not needed
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.kme_api import make_app

    render.emit_json(make_app(KeyManager()).openapi(), indent=2)


COMMANDS = (qkd, kme)
