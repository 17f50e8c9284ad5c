"""The ``dthq`` command line: the project's one composition root, and a thin one.

Each command parses its options, calls the layer that does the work (the handshake
probe, the bench runner, the report builder, the gate) and renders the answer. Option
choices are read from the registries that own them. ``baselines``, ``bench`` and
``reports`` are imported inside the commands that need them, so ``dthq backends``
stays fast and light.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

from dthq.crypto.kem import KEMS
from dthq.errors import DTHQError
from dthq.harness.scenarios import PROFILES
from dthq.protocol.compression import EDGE_PROFILES
from dthq.protocol.config import Mode
from dthq.protocol.suites import KEY_LENGTHS
from dthq.schemes.dthq import AUTH_CHOICES


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


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dthq-bench", prog_name="dthq")
def main() -> None:
    """DTHQ bench: run, benchmark and check the DTHQ protocol beside its baselines.

    \b
    Examples:
      dthq handshake --kem ML-KEM-768 --auth psk --key-length 256 --json
      dthq bench --profile quick --out reports/latest
      dthq compare reports/baseline/results.json reports/latest/results.json
      dthq qkd --qber 0.03 --key-bits 256
      dthq kme serve --port 8443
      dthq simulate --patients 20 --rate 2 --duration 30
      dthq fleet --devices 200 --workers 2 --out reports/fleet/run
      dthq twin show P00001 --store twin.db --key-file twin.key
      dthq twin serve --patients 12
      dthq schemes
      dthq backends
    """


@main.command()
@click.option(
    "--kem",
    type=click.Choice(KEMS.names(available_only=False)),
    default="ML-KEM-768",
    show_default=True,
    help="KEM for the session key (see `dthq backends` for which are usable here).",
)
@click.option(
    "--auth",
    type=click.Choice(list(AUTH_CHOICES)),
    default="psk",
    show_default=True,
    help="Peer authentication: device PSK, ML-DSA signatures (mldsa = ML-DSA-65), or "
    "static KEM keys (kem: both sides; kem-psk: the service by its KEM key, the device by "
    "the PSK).",
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
    type=click.Choice(list(EDGE_PROFILES)),
    default="near",
    show_default=True,
    help="Edge profile: far = LZ4, near = Brotli, applied to the test record.",
)
@click.option("--kem-backend", default=None, help="KEM backend (see `dthq backends`).")
@click.option(
    "--sig-backend", default=None, help="ML-DSA backend for mldsa auth (see `dthq backends`)."
)
@click.option("--aead-backend", default=None, help="AEAD backend (see `dthq backends`).")
@click.option(
    "--mode",
    type=click.Choice([m.label for m in Mode]),
    default="mlkem",
    show_default=True,
    help="Key establishment: ML-KEM, a key from Q (SIMULATED QKD), or both mixed.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    help="Handshakes to run; the median (and IQR) is reported.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Telemetry seed for the test record."
)
@click.option(
    "--kme",
    "kme_url",
    default=None,
    metavar="URL",
    help="In a QKD mode, take Q's keys from `dthq kme serve` at this https URL.",
)
@click.option(
    "--pki",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kme-pki"),
    show_default=True,
    help="With --kme: the directory `dthq kme serve` wrote its certificates to.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
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
    from dthq.schemes.dthq import DTHQScheme

    options: dict[str, Any] = {
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
    if mode == "mlkem":
        scheme = DTHQScheme(**options)
    elif kme_url is not None:
        scheme = DTHQScheme(mode=mode, key_providers=_remote_keys(kme_url, pki), **options)
    else:
        from dthq.qkd.scheme import QKDScheme

        scheme = QKDScheme(mode=mode, **options)
        scheme.key_manager.refill(32 * rounds)  # Q's keys exist before the timed handshakes
    probe = probe_handshake(scheme, TelemetryGenerator(seed).payload("small"), rounds)
    result = {
        "scheme": probe.scheme,
        **probe.params,
        "suite": scheme.suite.name,
        "flights": [f.size for f in probe.flights],
        "flight_names": [f.name for f in probe.flights],
        "handshake_bytes": probe.handshake_bytes,
        "record_overhead_bytes": probe.record_overhead_bytes,
        "record_bytes": probe.record_bytes,
        "payload_bytes": probe.payload_bytes,
        "handshake_ms": round(probe.handshake_ms.median, 4),
        "handshake_ms_iqr": round(probe.handshake_ms.iqr, 4),
        "rounds": probe.handshake_ms.rounds,
        "established": probe.established,
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    if mode != "mlkem":
        click.echo("SIMULATED QKD: Q's keys come from a simulated BB84 link")
    for key, value in result.items():
        click.echo(f"{key:22} {value}")


@main.command()
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(list(PROFILES)),
    default="quick",
    show_default=True,
    help="quick: a few minutes on 2 cores; full: more rounds and the 1-100 MB bulk sweep.",
)
@click.option(
    "--only",
    default=None,
    metavar="EXPR",
    help="Run a subset: a suite (primitives, table3, table4, dos, qkd, pipeline, fleet) "
    "or a pytest -k expression.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/latest"),
    show_default=True,
    help="Directory for results.json, tables, figures and report.html.",
)
def bench(profile_name: str, only: str | None, out: Path) -> None:
    """Run the benchmark suites and write the report.

    Measures the primitives (the floor), Table 3 (DTHQ beside RSA-2048, ECC-256,
    TLS 1.3 classical / hybrid / ML-KEM and any installed plug-in scheme) and Table 4
    (DTHQ over key length x edge x data size), then writes the report to OUT.
    """
    from bench.runner import run
    from reports.build import write_report

    results = run(profile_name, only, out)
    written = write_report(results, out)
    r = results
    measured = len(r.primitives) + len(r.table3) + len(r.table4) + len(r.forged_hello)
    simulated = len(r.qkd_sweep) + len(r.qkd_keys) + len(r.cascade)
    click.echo(
        f"{measured} measured figures (primitives, rows, cells, retry) and {simulated} QKD "
        f"figures (simulated link) in {r.metadata.wall_time_s:.0f} s; "
        f"wrote {len(written)} files to {out}/ (open {out / 'report.html'})"
    )


@main.command()
@click.argument(
    "results_files",
    metavar="RESULTS...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the report to.",
)
def report(results_files: tuple[Path, ...], out: Path) -> None:
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
        click.echo(Summary.of(runs[0]).headline())
        click.echo(f"wrote {len(written)} files to {out}/ (open {out / 'report.html'})")
        return
    from reports.machines import Machines, write_machines

    labels = [r.metadata.node or path.parent.name or path.stem for r, path in
              zip(runs, results_files, strict=True)]  # fmt: skip
    machines = Machines.of(runs, labels)
    written = write_machines(machines, out)
    for warning in machines.warnings():
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"wrote {len(written)} files for {len(runs)} machines to {out}/ "
        f"(open {out / 'machines.html'})"
    )


@main.command()
@click.argument(
    "results_files",
    metavar="RESULTS...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/history"),
    show_default=True,
    help="Directory for history.png and history.html.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every series as JSON instead.")
def history(results_files: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Draw each gated figure over commits from RESULTS (results.json from successive
    commits, in any order: they are sorted by when they were made).

    Instruction counts and times (each figure's fastest round over its run's primitive
    floor, as the gate reads them) are kept apart. Steps between consecutive commits
    beyond the gate's thresholds (3 % instructions, 10 % time) are listed.
    """
    from bench.ingest import read_results
    from reports.history import History, write_history

    runs = [read_results(path) for path in results_files]
    labels = [(r.metadata.commit or "")[:10] or path.parent.name or path.stem
              for r, path in zip(runs, results_files, strict=True)]  # fmt: skip
    found = History.of(runs, labels)
    if not found.series:
        raise click.ClickException(
            "these results share no gated figure (no instruction counts and no common "
            "primitive floor)"
        )
    written = write_history(found, out)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=1))
        return
    for s, step, moved in found.flagged():
        click.echo(f"{s.figure} ({s.kind}): {moved:+.1%} between {step}")
    click.echo(
        f"{len(found.series)} figures over {len(found.labels)} commits; wrote "
        f"{len(written)} files to {out}/ (open {out / 'history.html'})"
    )


@main.command()
@click.argument("baseline", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.argument("current", type=click.Path(dir_okay=False, path_type=Path), required=False)
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
@click.option(
    "--set",
    "which",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="With --against: the gated figures to measure (full adds large records and the "
    "randomised ML-DSA rows).",
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
    help="Smallest change that counts, e.g. 3% or 0.03. Default: 3% for instructions, "
    "10% for time.",
)
@click.option(
    "--show",
    type=click.Choice(["moved", "all"]),
    default="moved",
    show_default=True,
    help="Print only figures that moved, or every figure.",
)
@click.option(
    "--baseline-rerun",
    "baseline_reruns",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another run of the baseline's code, pooled with it (repeatable).",
)
@click.option(
    "--current-rerun",
    "current_reruns",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another run of the current code, pooled with it (repeatable).",
)
@click.option(
    "--honour-trailer",
    is_flag=True,
    help="With --against: a regression does not fail when HEAD's commit message carries "
    "a 'Perf-Regression-Accepted: <why>' trailer (printed). For CI.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the gate's decision as JSON.")
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
    from reports.gate import parse_threshold, run_gate

    metric = metric or ("instructions" if rev else "time")
    try:
        limit = parse_threshold(threshold or ("3%" if metric == "instructions" else "10%"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--threshold") from None
    notes: list[str] = []
    if rev is not None:
        if baseline or current or baseline_reruns or current_reruns:
            raise click.UsageError("--against measures both sides itself: give it no files")
        only = figures.split(",") if figures else None
        gate = _gate_against(rev, metric, which, only, limit, as_json)
        if gate is None:
            return
    elif baseline is None or current is None:
        raise click.UsageError("give BASELINE and CURRENT results files, or --against REV")
    else:
        from bench.ingest import read_results

        base_runs = [read_results(baseline), *map(read_results, baseline_reruns)]
        cur_runs = [read_results(current), *map(read_results, current_reruns)]
        if metric == "time":
            gate = run_gate(base_runs, cur_runs, limit)
        else:
            gate = _gate_on_counts(base_runs, cur_runs, limit)
    if honour_trailer and gate.failed:
        from bench.against import TRAILER, head_trailer

        why = head_trailer()
        if why:
            notes.append(f"regression accepted by the commit's {TRAILER} trailer: {why}")
            gate = replace(gate, accepted=why)
    _print_gate(gate, metric, show, as_json, notes)
    if gate.failed:
        raise click.exceptions.Exit(1)


def _gate_on_counts(base_runs: list[Any], cur_runs: list[Any], limit: float) -> Any:
    from reports.gate import GateReport, compare_per_op, instruction_counts

    base = [instruction_counts(r) for r in base_runs]
    cur = [instruction_counts(r) for r in cur_runs]
    if not all(counts for counts, _ in base + cur):
        raise click.ClickException(
            "a results file holds no instruction counts (made without valgrind, or before "
            "schema 3): compare by --metric time, or rerun `dthq bench`"
        )
    randomised = set().union(*(r for _, r in base + cur))
    changes = compare_per_op([c for c, _ in base], [c for c, _ in cur], limit, randomised)
    return GateReport(changes, limit, [])


def _gate_against(
    rev: str, metric: str, which: str, only: list[str] | None, limit: float, quiet: bool
) -> Any:
    from bench.against import NoParent, RevisionError, measure
    from reports.gate import GateReport, compare_per_op

    def progress(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    try:
        base, head = measure(rev, metric, which, only=only, progress=progress)
    except NoParent as exc:
        click.echo(f"gate not run: {exc}")
        return None
    except RevisionError as exc:
        raise click.ClickException(str(exc)) from None
    unknown = sorted(set(only or ()) - set(head.runs[0]) - set(head.missing))
    if unknown:
        raise click.ClickException(f"no gated figure named {', '.join(unknown)}")
    warnings = [
        f"{key} could not be measured in {rev}: {why}" for key, why in sorted(base.missing.items())
    ]
    changes = compare_per_op(base.runs, head.runs, limit, base.randomised | head.randomised)
    return GateReport(changes, limit, warnings)


def _print_gate(gate: Any, metric: str, show: str, as_json: bool, notes: list[str]) -> None:
    from reports.gate import Verdict

    if as_json:
        click.echo(
            json.dumps(
                {
                    "failed": gate.failed,
                    "metric": metric,
                    "threshold": gate.threshold,
                    "accepted": gate.accepted,
                    "warnings": gate.warnings,
                    "changes": [asdict(c) | {"gated": c.gated} for c in gate.changes],
                }
            )
        )
        return
    shown = [c for c in gate.changes if show == "all" or c.verdict != Verdict.NOT_SIGNIFICANT]
    if shown:
        unit = "{:,.0f}" if metric == "instructions" else "{:.4g}"
        rows = [
            [
                c.figure,
                unit.format(c.baseline),
                unit.format(c.current),
                f"{c.ratio:.3f}",
                f"{c.noise:.1%}",
                c.verdict if c.gated else f"{c.verdict} (not gated)",
            ]
            for c in shown
        ]
        ratio = "normalised ratio" if gate.normalised else "ratio"
        click.echo(_table(rows, ["figure", "baseline", "current", ratio, "noise", "verdict"]))
    for warning in gate.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in notes:
        click.echo(note)
    click.echo(f"{metric}: {gate.summary()}")


@main.command()
@click.option(
    "--qber",
    type=click.FloatRange(0, 0.49),
    default=0.03,
    show_default=True,
    help="Channel error rate (the paper's noise tolerance, 1-5 %).",
)
@click.option(
    "--eve",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of pulses an intercept-resend eavesdropper measures.",
)
@click.option(
    "--raw-bits",
    type=click.IntRange(1_000, 100_000_000),
    default=200_000,
    show_default=True,
    help="Raw pulses A sends.",
)
@click.option(
    "--key-bits",
    type=click.Choice(["128", "256", "512"]),
    default="256",
    show_default=True,
    help="Size of each final key.",
)
@click.option(
    "--fibre-km",
    type=click.FloatRange(0, 500),
    default=0.0,
    show_default=True,
    help="Fibre length (0.2 dB/km, detector efficiency 0.6).",
)
@click.option(
    "--schedule",
    type=click.Choice(["optimised", "original"]),
    default="optimised",
    show_default=True,
    help="Cascade block-size schedule.",
)
@click.option("--seed", type=int, default=None, help="Seed for a reproducible run.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
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
            click.echo(json.dumps({"simulated": True, "aborted": True, "reason": str(exc)}))
        else:
            click.echo(f"SIMULATED QKD run aborted: {exc}")
        raise click.exceptions.Exit(3) from None
    result = {
        "simulated": True,
        "aborted": False,
        "raw_pulses": run.raw_pulses,
        "sifted_bits": run.sifted,
        "sample_bits": run.sample,
        "qber_estimate": round(run.qber_estimate, 5),
        "qber_bound": round(run.qber_bound, 5),
        "leaked_bits": run.leaked_ec + run.leaked_verify,
        "efficiency_f": round(run.efficiency, 4),
        "rounds": run.rounds,
        "block_sizes": list(run.block_sizes),
        "auth_messages": run.auth_messages,
        "auth_key_bits_used": run.auth_key_bits,
        "secure_bits": run.secure_bits,
        "final_keys": len(run.keys),
        "key_bits": run.key_bits,
        "secret_fraction": round(run.secret_fraction, 4),
        "theoretical_fraction": round(run.theoretical_fraction, 4),
        "seconds": round(run.seconds, 4),
        "cascade_seconds": round(run.cascade_seconds, 4),
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo("SIMULATED BB84 run (no photons: every figure is the model's)")
    for key, value in result.items():
        if key not in ("simulated", "aborted"):
            click.echo(f"{key:22} {value}")


def _remote_keys(url: str, pki_dir: Path) -> tuple[Any, Any]:
    """A's and B's KeyProviders over `dthq kme serve`, each with its own certificate."""
    from dthq.qkd.kme import SAEKeys
    from dthq.qkd.kme_client import KMEClient
    from dthq.qkd.pki import PKI
    from dthq.schemes.dthq import DEVICE_ID, SERVICE_ID

    pki = PKI(pki_dir)
    a, b = DEVICE_ID.decode(), SERVICE_ID.decode()
    for path in (pki.ca, *pki.client(a), *pki.client(b)):
        if not path.exists():
            raise click.UsageError(f"{path} is missing: point --pki at `dthq kme serve --pki`")
    return (
        SAEKeys(KMEClient(url, pki, a), a, b),
        SAEKeys(KMEClient(url, pki, b), b, a),
    )


@main.group()
def kme() -> None:
    """The key manager Q (ETSI GS QKD 014) over HTTPS, fed by the SIMULATED BB84 link."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise click.UsageError(
            f"dthq kme needs {' and '.join(missing)}: pip install 'dthq-bench[kme]'"
        )


@kme.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="0: any."
)
@click.option(
    "--pki",
    "pki_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kme-pki"),
    show_default=True,
    help="Certificates: made here on first start, reused after.",
)
@click.option(
    "--qber",
    type=click.FloatRange(0, 0.11),
    default=0.03,
    show_default=True,
    help="Error rate of the simulated link that fills the pool.",
)
@click.option(
    "--fibre-km",
    type=click.FloatRange(0, 200),
    default=0.0,
    show_default=True,
    help="Fibre length of the simulated link (0.2 dB/km).",
)
@click.option("--seed", type=int, default=None, help="Seed the simulated link.")
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
    import uvicorn

    from dthq.qkd.bb84 import QuantumChannel
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.kme_server import bind, config
    from dthq.qkd.pki import make_pki
    from dthq.schemes.dthq import DEVICE_ID, SERVICE_ID

    master, slave = DEVICE_ID.decode(), SERVICE_ID.decode()
    pki = make_pki(pki_dir, [master, slave])
    manager = KeyManager(
        master, slave, channel=QuantumChannel(qber=qber, fibre_km=fibre_km), seed=seed
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    url = f"https://{host}:{sock.getsockname()[1]}"
    cert, key = pki.client(master)
    click.echo(f"key manager Q (SIMULATED BB84 link, QBER {qber:.1%}) at {url}")
    click.echo(f"  CA {pki.ca}; SAE certificates {master} and {slave} in {pki.directory}")
    click.echo(
        f"  try: curl --cacert {pki.ca} --cert {cert} --key {key} {url}/api/v1/keys/{slave}/status"
    )
    manager.refill(64 * 32)  # a first pool, so the first requests do not wait
    manager.start()
    try:
        uvicorn.Server(config(manager, pki, log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly, then re-raised the interrupt it caught
    finally:
        manager.stop()
        sock.close()
    click.echo("key manager stopped")


@kme.command()
def openapi() -> None:
    """Print the server's OpenAPI description (JSON)."""
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.kme_api import make_app

    click.echo(json.dumps(make_app(KeyManager()).openapi(), indent=2))


@main.group()
def store() -> None:
    """The twin's encrypted store (SQLite, AES-256-GCM per reading, key epochs)."""


def _open_store(db: Path, key_file: Path) -> Any:
    from dthq.twin.store import Store, StoreError

    if not db.exists():
        raise click.UsageError(f"{db}: no such store")
    if key_file.stat().st_mode & 0o077:
        raise StoreError(f"{key_file} is readable by others: chmod 600 it")
    return Store(db, key_file.read_bytes())


_DB = click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
_KEY_FILE = click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The master secret (at least 32 bytes, mode 0600, kept apart from the store).",
)


@store.command()
@_DB
@_KEY_FILE
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(db: Path, key_file: Path, as_json: bool) -> None:
    """Open every stored reading; exit 1 naming each one that fails authentication."""
    verified = _open_store(db, key_file).verify()
    if as_json:
        click.echo(json.dumps({"checked": verified.checked, "failed": list(verified.failed)}))
    else:
        click.echo(f"{verified.checked} records checked, {len(verified.failed)} failed")
        for line in verified.failed:
            click.echo(f"  {line}")
    if verified.failed:
        raise click.exceptions.Exit(1)


@store.command()
@_DB
@_KEY_FILE
def rekey(db: Path, key_file: Path) -> None:
    """Start a new key epoch; new readings use it, old ones stay readable."""
    click.echo(f"key epoch {_open_store(db, key_file).rekey()} started")


@store.command()
@_DB
@_KEY_FILE
def reencrypt(db: Path, key_file: Path) -> None:
    """Move every reading to the current key epoch (all or nothing)."""
    s = _open_store(db, key_file)
    click.echo(f"{s.reencrypt()} records moved to key epoch {s.epoch}")


def _key_file_for(path: Path) -> bytes:
    """The master secret in ``path``, made (32 random bytes, mode 0600) if it is missing."""
    import os

    from dthq.twin.store import StoreError

    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    elif path.stat().st_mode & 0o077:
        raise StoreError(f"{path} is readable by others: chmod 600 it")
    return path.read_bytes()


@main.command()
@click.option("--patients", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option(
    "--rate",
    "rate_hz",
    type=click.FloatRange(0, 100, min_open=True),
    default=1.0,
    show_default=True,
    help="Readings per second per patient (Hz).",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(0, 86_400, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds of sending.",
)
@click.option(
    "--broker",
    default=None,
    metavar="URL",
    help="mqtt://HOST:PORT of an external broker (e.g. Mosquitto); default: embedded amqtt.",
)
@click.option(
    "--transport",
    type=click.Choice(["mqtt", "memory"]),
    default="mqtt",
    show_default=True,
    help="memory: the same parties, no broker (in-process delivery).",
)
@click.option("--qos", type=click.IntRange(0, 1), default=1, show_default=True, help="Device QoS.")
@click.option(
    "--policy",
    type=click.Choice(["fixed", "adaptive", "immediate"]),
    default="fixed",
    show_default=True,
    help="Gateway batching: fixed (200 ms), adaptive (driven by the twin: deteriorating "
    "patients at once, stable ones batched longer and compressed harder), immediate.",
)
@click.option(
    "--deteriorating",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="Share of patients scripted to deteriorate (from a fifth into the run, sped up).",
)
@click.option(
    "--faults",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of readings a faulty sensor garbles (the gateway must refuse them).",
)
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the encrypted store here (default: a temporary one).",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The store's master secret (made, mode 0600, if missing). Needs --store.",
)
@click.option(
    "--fhir-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each batch's FHIR R4B transaction Bundle here.",
)
@click.option(
    "--fhir-url", default=None, metavar="URL", help="POST each Bundle to this FHIR base URL."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the telemetry.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
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
    seed: int,
    as_json: bool,
) -> None:
    """Run the twin pipeline: devices -> MQTT -> edge gateway -> MQTT -> cloud twin.

    Prints the per-stage latency breakdown (p50/p95/p99), end to end device -> twin,
    throughput, the counts of sent / delivered / rejected / lost / duplicated readings,
    the alerts and whether the paper's real-time budget holds.

    \b
    Examples:
      dthq simulate --patients 20 --rate 2 --duration 30
      dthq simulate --broker mqtt://127.0.0.1:1883 --policy adaptive --json
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from dthq.pipeline.run import SimConfig
    from dthq.pipeline.run import simulate as run_pipeline
    from reports.pipeline import STAGE_HEADERS, stage_rows, summary_lines

    if key_file is not None and store_path is None:
        raise click.UsageError("--key-file needs --store")
    secret = _key_file_for(key_file) if key_file is not None else None
    if store_path is not None and secret is None:
        raise click.UsageError("--store needs --key-file (the store's master secret)")
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
        master_secret=secret,
        fhir_dir=fhir_dir,
        fhir_url=fhir_url,
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[sent]} sent"),
        TimeRemainingColumn(),
        disable=as_json or not sys.stderr.isatty(),
        console=None,
        transient=True,
    ) as bar:
        task = bar.add_task("simulating", total=1.0, sent=0)
        run = run_pipeline(config, lambda done, sent: bar.update(task, completed=done, sent=sent))
    if as_json:
        from dthq.harness.results_json import plain

        click.echo(json.dumps(plain(run)))
        return
    for line in summary_lines(run):
        click.echo(line)
    click.echo()
    click.echo(_table(stage_rows(run), STAGE_HEADERS))


def _plain_run(run: Any) -> dict[str, Any]:
    from dthq.harness.results_json import _plain

    return _plain(run)  # type: ignore[no-any-return]


def _fleet_options(f: Any) -> Any:
    options = [
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
        click.option("--broker", default=None, help="mqtt://HOST:PORT of a running broker."),
        click.option(
            "--broker-kind",
            "embedded",
            type=click.Choice(["amqtt", "mosquitto"]),
            default="amqtt",
            show_default=True,
            help="The broker to start when --broker is not given.",
        ),
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
    for option in reversed(options):
        f = option(f)
    return f


@main.group(invoke_without_command=True)
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def fleet(
    ctx: click.Context, scenario: str, out: Path | None, as_json: bool, **options: Any
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
    config = _fleet_config(scenario=scenario, **options)
    with _fleet_progress(as_json) as progress:
        run = run_fleet(config, out, progress)
    if out is not None:
        (out / "fleet.json").write_text(json.dumps(plain(run), indent=1))
    if as_json:
        click.echo(json.dumps(plain(run)))
        return
    for line in summary_lines(run):
        click.echo(line)
    click.echo()
    click.echo(_table(scenario_rows([run]), SCENARIO_HEADERS))
    if out is not None:
        click.echo(f"\nLocust's report: {out / 'locust.html'}; CSV: {out / 'locust_stats.csv'}")


def _fleet_config(**options: Any) -> Any:
    from dthq.fleet.config import FleetConfig

    kinds = tuple(k.strip() for k in options.pop("kinds").split(",") if k.strip())
    return FleetConfig(kinds=kinds, **options)


def _fleet_progress(as_json: bool) -> Any:
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar() -> Any:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            disable=as_json or not sys.stderr.isatty(),
            transient=True,
        ) as progress:
            task = progress.add_task("fleet", total=1.0)
            yield lambda done, what: progress.update(task, completed=done, description=what)

    return bar()


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
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list.")
def fleet_capacity(sizes: str, out: Path, as_json: bool, **options: Any) -> None:
    """The capacity curve: steady fleets of growing size, end-to-end p99 and each
    process's CPU per size, the knee marked, and the MODELLED 100,000-device region
    from the busiest run's per-unit costs. Stops at the first size that does not hold."""
    from dthq.fleet.capacity import sweep
    from dthq.fleet.run import require_locust, run_fleet
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
    options.pop("devices")
    base = _fleet_config(**options)
    out.mkdir(parents=True, exist_ok=True)
    with _fleet_progress(as_json) as progress:
        runs = sweep(
            base, counts, lambda c: run_fleet(c, out / f"{c.embedded}-{c.devices}", progress)
        )
    (out / "capacity.json").write_text(json.dumps([plain(r) for r in runs], indent=1))
    if as_json:
        click.echo(json.dumps([plain(r) for r in runs]))
        return
    click.echo(_table(capacity_rows(runs), CAPACITY_HEADERS))
    for line in knee_lines(runs):
        click.echo(line)
    model = model_for(runs)
    if model is not None:
        click.echo()
        click.echo(_table(model_rows(model), MODEL_HEADERS))
    figure = figure_capacity(runs, out / "figure-fleet-capacity.png")
    if figure is not None:
        click.echo(f"\nplot: {figure}")


@fleet.command("worker")
@click.option("--master-host", required=True, help="Where `dthq fleet` runs its master.")
@click.option("--master-port", type=int, default=5557, show_default=True)
@click.option(
    "--processes", type=int, default=1, show_default=True, help="Worker processes to start here."
)
def fleet_worker(master_host: str, master_port: int, processes: int) -> None:
    """Join a fleet from another machine: Locust workers that take their options (the
    registry path, the broker, the rate) from the master. The registry file must be at
    the same path here (copy it; it holds the PSKs, keep it 0600)."""
    import subprocess

    from dthq.fleet.run import LOCUSTFILE, require_locust

    require_locust()
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
    ]
    if processes > 1:
        args += ["--processes", str(processes)]
    sys.exit(subprocess.call(args))


@main.group()
def twin() -> None:
    """Patients' digital twins, rebuilt from the encrypted store."""


@twin.command()
@click.option("--broker", required=True, metavar="URL", help="mqtt://HOST:PORT")
@click.option(
    "--registry",
    "registry_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The parties and their PSKs (written by the process that provisions them).",
)
@click.option(
    "--store", "store_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@_KEY_FILE
@click.option("--fhir-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--client-id",
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
    client_id: str,
) -> None:
    """Run the cloud twin alone, as its own process: a persistent QoS 1 consumer that
    resumes its sessions and twins from the store after a restart (exactly once).
    Prints "ready" once subscribed; on SIGTERM or SIGINT, a JSON line of counts."""
    import signal
    import threading

    from dthq.pipeline.cloud import Cloud, FHIRSink
    from dthq.pipeline.metrics import Metrics
    from dthq.pipeline.provision import Registry
    from dthq.transport.mqtt import MQTTBus
    from dthq.twin.store import Store

    registry = Registry.load(registry_file)
    store = Store(store_path, _key_file_for(key_file))
    metrics = Metrics()
    bus = MQTTBus(broker, client_id, persistent=True, connect=False)
    Cloud(registry, bus, metrics, store, sink=FHIRSink(fhir_dir))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    bus.connect()
    click.echo("ready")
    sys.stdout.flush()
    while not done.wait(0.2):
        pass
    bus.close()
    click.echo(json.dumps({"counts": dict(metrics.counts), "rejected": dict(metrics.rejected)}))
    store.close()


@twin.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--patients", type=click.IntRange(1, 10_000), default=8, show_default=True)
@click.option(
    "--rate",
    "rate_hz",
    type=click.FloatRange(0, 100, min_open=True),
    default=1.0,
    show_default=True,
    help="Readings per second per patient (Hz).",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(0, 86_400, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds the simulated patients send for.",
)
@click.option(
    "--broker",
    default=None,
    metavar="URL",
    help="mqtt://HOST:PORT of an external broker; default: embedded amqtt.",
)
@click.option(
    "--transport", type=click.Choice(["mqtt", "memory"]), default="mqtt", show_default=True
)
@click.option(
    "--policy",
    type=click.Choice(["fixed", "adaptive", "immediate"]),
    default="adaptive",
    show_default=True,
)
@click.option(
    "--deteriorating",
    type=click.FloatRange(0, 1),
    default=0.25,
    show_default=True,
    help="Share of patients scripted to deteriorate.",
)
@click.option(
    "--onset",
    "onset_s",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds before the scripted deterioration starts.",
)
def twin_serve(
    host: str,
    port: int,
    patients: int,
    rate_hz: float,
    duration_s: float,
    broker: str | None,
    transport: str,
    policy: str,
    deteriorating: float,
    onset_s: float,
) -> None:
    """Serve the live dashboard: every patient's vitals, partial NEWS2, trend and alerts,
    and the pipeline's stage latencies, updated by server-sent events.

    \b
    Example:
      dthq twin serve --patients 12 --rate 2   # then open http://127.0.0.1:8765/
    """
    try:
        import uvicorn

        from dthq.pipeline.dashboard import LivePipeline, app
    except ImportError as exc:
        raise click.UsageError(
            f"the dashboard needs {exc.name}: pip install 'dthq-bench[dashboard]'"
        ) from None
    from dthq.pipeline.run import SimConfig

    config = SimConfig(
        patients=patients,
        rate_hz=rate_hz,
        duration_s=duration_s,
        broker=broker,
        transport=transport,
        policy=policy,
        deteriorating=deteriorating,
        onset_s=onset_s,
    )
    live = LivePipeline(config)
    live.start()
    click.echo(f"dashboard on http://{host}:{port}/  (Ctrl-C stops)", err=True)
    try:
        uvicorn.run(app(live), host=host, port=port, log_level="warning")
    finally:
        live.close()


@twin.command()
@click.argument("patient")
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The store `dthq simulate --store` wrote.",
)
@_KEY_FILE
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(patient: str, store_path: Path, key_file: Path, as_json: bool) -> None:
    """Print PATIENT's twin: latest vitals, partial NEWS2, trends and alerts."""
    from dthq.twin.news2 import LABEL
    from dthq.twin.twin import PatientTwin

    readings = list(_open_store(store_path, key_file).readings(patient))
    if not readings:
        raise click.UsageError(f"no readings of patient {patient!r} in {store_path}")
    t = PatientTwin.from_readings(patient, readings)
    latest, score = t.latest, t.score
    assert latest is not None and score is not None
    trends = {v: round(t.trend(v), 3) for v in ("hr", "spo2", "temp")}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "patient": patient,
                    "readings": len(t.history),
                    "latest": asdict(latest),
                    "news2": {**asdict(score), "total": score.total},
                    "trend_per_min": trends,
                    "alerts": [
                        {"ts": a.ts, "reason": a.reason, "total": a.score.total} for a in t.alerts
                    ],
                }
            )
        )
        return
    click.echo(f"patient {patient}: {len(t.history)} readings (latest at ts {latest.ts})")
    click.echo(
        f"  heart rate {latest.hr:g} /min   SpO2 {latest.spo2:g} %   temperature {latest.temp:g} °C"
    )
    click.echo(
        f"  {LABEL}: {score.total}" + (f" (scoring 3: {', '.join(score.red)})" if score.red else "")
    )
    click.echo("  trend per minute: " + ", ".join(f"{k} {v:+g}" for k, v in trends.items()))
    click.echo(f"  alerts: {len(t.alerts)}")
    for a in t.alerts[-10:]:
        click.echo(f"    ts {a.ts}: {a.reason} (total {a.score.total})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def backends(as_json: bool) -> None:
    """List every KEM, signature and AEAD backend, whether it is available, and why not."""
    from dthq.crypto.aead import AEADS
    from dthq.crypto.signatures import SIGNATURES

    _listing([KEMS, SIGNATURES, AEADS], as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def schemes(as_json: bool) -> None:
    """List the schemes `dthq bench` measures: DTHQ, the baselines, installed plug-ins."""
    from dthq.schemes import SCHEMES, load_plugins

    load_plugins()
    _listing([SCHEMES], as_json)


def _listing(registries: list[Any], as_json: bool) -> None:
    rows = [
        {
            "kind": registry.kind,
            "name": e.name,
            "backend": e.backend,
            "available": e.available,
            "reason": e.reason,
        }
        for registry in registries
        for e in registry.entries()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(
        _table(
            [
                [r["kind"], r["name"], r["backend"], "yes" if r["available"] else "no", r["reason"]]
                for r in rows
            ],
            ["kind", "name", "backend", "available", "reason"],
        )
    )


if __name__ == "__main__":
    main()
