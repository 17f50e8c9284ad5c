"""``dthq handshake``, ``dthq schemes``, ``dthq backends``: the protocol and what runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.crypto.kem import KEMS
from dthq.protocol.compression import EDGE_PROFILES
from dthq.protocol.config import Mode
from dthq.protocol.suites import KEY_LENGTHS
from dthq.schemes.dthq import AUTH_CHOICES


@click.command()
@options.chosen(
    "--kem",
    KEMS.names(available_only=False),
    "ML-KEM-768",
    "KEM for the session key (see `dthq backends` for which are usable here).",
)
@options.chosen(
    "--auth",
    list(AUTH_CHOICES),
    "psk",
    "Peer authentication: device PSK, ML-DSA signatures (mldsa = ML-DSA-65), or "
    "static KEM keys (kem: both sides; kem-psk: the service by its KEM key, the device by "
    "the PSK).",
)
@options.chosen(
    "--key-length",
    [str(k) for k in KEY_LENGTHS],
    "256",
    "Session key bits: 128 AES-128-GCM, 256 AES-256-GCM, 512 AES-256-SIV.",
)
@click.option("--chacha", is_flag=True, help="Use ChaCha20-Poly1305 (key length 256 only).")
@options.chosen(
    "--edge",
    list(EDGE_PROFILES),
    "near",
    "Edge profile: far = LZ4, near = Brotli, applied to the test record.",
)
@click.option(
    "--kem-backend", default=None, metavar="NAME", help="KEM backend (see `dthq backends`)."
)
@click.option(
    "--sig-backend",
    default=None,
    metavar="NAME",
    help="ML-DSA backend for mldsa auth (see `dthq backends`).",
)
@click.option(
    "--aead-backend", default=None, metavar="NAME", help="AEAD backend (see `dthq backends`)."
)
@options.chosen(
    "--mode",
    [m.label for m in Mode],
    "mlkem",
    "Key establishment: ML-KEM, a key from Q (SIMULATED QKD), or both mixed.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    help="Handshakes to run; the median (and IQR) is reported.",
)
@options.seed(0, "Telemetry seed for the test record.")
@click.option(
    "--kme",
    "kme_url",
    default=None,
    metavar="URL",
    help="In a QKD mode, take Q's keys from `dthq kme serve` at this https URL.",
)
@options.pki("pki", "With --kme: the directory `dthq kme serve` wrote its certificates to.")
@options.json_flag()
def handshake(
    kem: str,
    auth: str,
    key_length: str,
    chacha: bool,
    edge: str,
    kem_backend: str | None,
    sig_backend: str | None,
    aead_backend: str | None,
    mode: str,
    rounds: int,
    seed: int,
    kme_url: str | None,
    pki: Path,
    as_json: bool,
) -> None:
    """Run a full in-process DTHQ handshake, then one record each way.

    Handshake time covers both parties' computation for all three flights
    (ephemeral ML-KEM key generation included; provisioning of the PSK or
    ML-DSA keys is not). It is a wall-clock figure for this machine only.
    """
    from dthq.harness.probe import probe_handshake
    from dthq.harness.telemetry import TelemetryGenerator
    from dthq.pipeline.clock import SYSTEM_CLOCK
    from dthq.schemes.dthq import DTHQScheme

    settings: dict[str, Any] = {
        "key_length": int(key_length),
        "kem": kem,
        "auth": auth,
        "chacha": chacha,
        "edge": edge,
        "kem_backend": kem_backend,
        "sig_backend": sig_backend,
        "aead_backend": aead_backend,
    }
    if kme_url is not None and mode == "mlkem":
        raise click.UsageError("--kme needs a QKD mode: --mode qkd or --mode qkd+mlkem")
    runs_kem = _check_applies(kem_backend, sig_backend, auth, mode, kme_url)
    if mode == "mlkem":
        scheme = DTHQScheme(**settings)
    elif kme_url is not None:
        from dthq.qkd.kme_client import remote_keys

        scheme = DTHQScheme(mode=mode, key_providers=remote_keys(kme_url, pki), **settings)
    else:
        from dthq.qkd.scheme import QKDScheme

        scheme = QKDScheme(mode=mode, **settings)
        scheme.key_manager.refill(32 * rounds)  # Q's keys exist before the timed handshakes
    payload = TelemetryGenerator(seed).payload("small")
    probe = probe_handshake(scheme, payload, rounds, now_ms=SYSTEM_CLOCK.now_ms)
    ran = probe.to_json()
    if not runs_kem:
        ran["kem"] = None  # --mode qkd: Q's key alone, no KEM ran
    if as_json:
        render.emit_json(ran)
        return
    if mode != "mlkem":
        click.echo("SIMULATED QKD: Q's keys come from a simulated BB84 link")
    render.key_values(ran)


def _check_applies(
    kem_backend: str | None, sig_backend: str | None, auth: str, mode: str, kme_url: str | None
) -> bool:
    """Refuse options this handshake would not use; whether it runs a KEM at all."""
    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT

    spec = AUTH_CHOICES[auth]
    if sig_backend is not None and spec.signature is None:
        raise click.UsageError(
            f"--sig-backend applies to ML-DSA auth (mldsa, mldsa44, mldsa65), not --auth {auth}"
        )
    runs_kem = mode != "qkd" or spec.static_kem
    if not runs_kem and (given("kem") or kem_backend is not None):
        raise click.UsageError(
            f"--mode qkd runs no KEM (Q's key alone): --kem and --kem-backend apply to "
            f"mlkem and qkd+mlkem, or to KEM auth (kem, kem-psk), not --auth {auth}"
        )
    if given("pki") and kme_url is None:
        raise click.UsageError("--pki applies with --kme only (Q's certificates)")
    return runs_kem


@click.command()
@options.json_flag("Print a JSON list.")
def backends(as_json: bool) -> None:
    """List every KEM, signature and AEAD backend, whether it is available, and why not."""
    from dthq.crypto.aead import AEADS
    from dthq.crypto.signatures import SIGNATURES

    render.listing([KEMS, SIGNATURES, AEADS], as_json)


@click.command()
@options.json_flag("Print a JSON list.")
def schemes(as_json: bool) -> None:
    """List the schemes `dthq bench` measures: DTHQ, the baselines, installed plug-ins."""
    from dthq.schemes import SCHEMES, load_plugins

    load_plugins()
    render.listing([SCHEMES], as_json)


COMMANDS = (handshake, backends, schemes)
