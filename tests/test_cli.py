"""The ``dthq`` command: JSON outputs, and one-line errors for bad arguments."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import twin_serve
from test_reports import fake_benchmark_json

from dthq.cli.exit_codes import ExitCode
from dthq.cli.main import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("auth", ["psk", "mldsa"])
@pytest.mark.parametrize("key_length", ["128", "256", "512"])
def test_handshake_json(auth: str, key_length: str) -> None:
    result = invoke(
        "handshake", "--kem", "ML-KEM-768", "--auth", auth, "--key-length", key_length, "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in (
        "scheme",
        "kem",
        "auth",
        "key_length",
        "aead",
        "flights",
        "record_overhead_bytes",
        "handshake_ms",
        "established",
    ):
        assert key in data
    assert data["scheme"] == "dthq" and data["kem"] == "ML-KEM-768"
    assert data["key_length"] == int(key_length)
    assert (
        data["aead"]
        == {"128": "AES-128-GCM", "256": "AES-256-GCM", "512": "AES-256-SIV"}[key_length]
    )
    # HELLO: 7 fixed bytes, 1+8 id, 32 nonce, 2+1184 ML-KEM-768 key, 1+0 cookie
    assert len(data["flights"]) == 3 and data["flights"][0] == 1235
    assert data["established"] is True and data["handshake_ms"] > 0
    assert data["record_overhead_bytes"] == 30
    if auth == "mldsa":
        assert data["auth"] == "ML-DSA-65" and data["flights"][1] > 3309


def test_handshake_through_the_pqclean_signature_backend() -> None:
    def flights(*backend: str) -> list[int]:
        result = invoke("handshake", "--auth", "mldsa", "--rounds", "1", "--json", *backend)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["established"] is True
        return json.loads(result.output)["flights"]

    # the same standard encodings whichever library signs
    assert flights("--sig-backend", "pqcrypto") == flights() == [1235, 4478, 3346]


def test_backends_json() -> None:
    result = invoke("backends", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    names = {(r["kind"], r["name"], r["backend"]) for r in rows}
    for aead in ("AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305", "AES-256-SIV"):
        assert ("AEAD", aead, "cryptography") in names and ("AEAD", aead, "pycryptodome") in names
    assert ("KEM", "ML-KEM-768", "cryptography") in names
    assert ("KEM", "ML-KEM-512", "liboqs") in names
    for level in ("ML-DSA-44", "ML-DSA-65", "ML-DSA-87"):
        for backend in ("cryptography", "pqcrypto"):
            assert ("signature", level, backend) in names
    for row in rows:
        assert set(row) == {"kind", "name", "backend", "available", "reason"}
        assert row["available"] or row["reason"]


@pytest.mark.parametrize(
    "args",
    [
        ["handshake", "--key-length", "64"],
        ["handshake", "--kem", "ML-KEM-9"],
        ["handshake", "--auth", "rsa"],
        ["handshake", "--chacha", "--key-length", "128"],
        ["handshake", "--rounds", "0"],
        ["handshake", "--auth", "mldsa", "--sig-backend", "nosuch"],
        ["nosuchcommand"],
        ["handshake", "--no-such-option"],
        ["simulate", "--broker", "http://127.0.0.1:1883"],
        ["simulate", "--broker", "mqtt://127.0.0.1:99999"],
        ["simulate", "--rate", "0"],
        ["simulate", "--policy", "random"],
        ["simulate", "--store", "x.db"],
        ["twin", "show", "P1", "--store", "nosuch.db", "--key-file", "pyproject.toml"],
    ],
)
def test_bad_arguments_give_one_line_errors(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output


def test_help_is_helpful() -> None:
    result = invoke("handshake", "--help")
    assert result.exit_code == 0
    assert "--key-length" in result.output and "AES-256-SIV" in result.output


def test_simulate_json_then_twin_show(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, key = tmp_path / "twin.db", tmp_path / "twin.key"
    result = invoke(
        "simulate", "--transport", "memory", "--patients", "2", "--rate", "10",
        "--duration", "1", "--faults", "0.2", "--store", str(db), "--key-file", str(key),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["counts"]["sent"] == run["counts"]["delivered"] + run["counts"]["rejected"]
    assert set(run["stages"]) >= {"acquire", "compress", "encrypt", "store"}
    assert key.stat().st_mode & 0o777 == 0o600  # the master secret made for us, private
    shown = invoke("twin", "show", "P00001", "--store", str(db), "--key-file", str(key), "--json")
    assert shown.exit_code == 0, shown.output
    twin = json.loads(shown.output)
    assert twin["patient"] == "P00001" and twin["readings"] > 0
    assert twin["news2"]["label"] == "partial NEWS2 (3 of 7 parameters)"
    text = invoke("simulate", "--transport", "memory", "--patients", "1", "--duration", "1")
    assert "end to end, device -> twin" in text.output and "real-time budget" in text.output


def test_one_round_is_timed_warm() -> None:
    """--rounds 1 must not time the first use's imports: a warm-up handshake runs first."""
    from dthq.harness.probe import probe_handshake
    from dthq.schemes.dthq import DTHQScheme

    calls: list[int] = []

    class Counting(DTHQScheme):
        def establish(self, now_ms: int, transport=None):  # type: ignore[no-untyped-def]
            calls.append(now_ms)
            return super().establish(now_ms, transport)

    probe = probe_handshake(
        Counting(), b"x", rounds=1, now_ms=lambda: 1_000_000, timer=lambda: float(len(calls))
    )
    assert calls == [1_000_000, 1_000_000]  # one warm-up, one timed, dated by the clock
    assert probe.handshake_ms.median == 1000.0  # the timed region held exactly one establish


def _one_error_line(result, code: ExitCode, *named: str) -> None:  # type: ignore[no-untyped-def]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(name in lines[0] for name in named), lines[0]


def test_a_file_that_is_not_a_store_is_one_line(tmp_path: Path) -> None:
    db, key = tmp_path / "notes.db", tmp_path / "k"
    db.write_text("not SQLite")
    key.write_bytes(bytes(32))
    key.chmod(0o600)
    for args in (["store", "verify", str(db)], ["twin", "show", "P1", "--store", str(db)]):
        result = invoke(*args, "--key-file", str(key))
        _one_error_line(result, ExitCode.USAGE, str(db), "not a store")


def test_a_store_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    tiny = ["simulate", "--transport", "memory", "--patients", "1", "--duration", "1"]
    result = invoke(*tiny, "--store", str(missing / "t.db"), "--key-file", str(tmp_path / "k"))
    _one_error_line(result, ExitCode.USAGE, str(missing), "no such folder")
    result = invoke(*tiny, "--store", str(tmp_path / "t.db"), "--key-file", str(missing / "k"))
    _one_error_line(result, ExitCode.USAGE, str(missing / "k"))


def test_an_unwritable_out_is_one_line(tmp_path: Path) -> None:
    raw, blocker = tmp_path / "raw.json", tmp_path / "a-file"
    raw.write_text(json.dumps(fake_benchmark_json()))
    blocker.write_text("")
    result = invoke("report", str(raw), "--out", str(blocker / "out"))
    _one_error_line(result, ExitCode.USAGE, str(blocker / "out"))


def test_a_missing_optional_package_is_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps(fake_benchmark_json()))
    for module in [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "reports")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    result = invoke("report", str(raw), "--out", str(tmp_path / "out"))
    _one_error_line(result, ExitCode.USAGE, "matplotlib")


def test_a_busy_port_is_one_line() -> None:
    pytest.importorskip("uvicorn", reason="the dashboard extra (uvicorn) is not installed")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        result = invoke("twin", "serve", "--port", port, "--transport", "memory")
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == ExitCode.USAGE and len(lines) == 1, result.output
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in result.output


def test_a_failed_run_exits_3_and_a_bad_only_exits_2(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bench.runner

    monkeypatch.setattr(bench.runner, "pin_to_one_cpu", lambda: None)  # not this process
    monkeypatch.setattr(pytest, "main", lambda *a, **k: pytest.ExitCode.TESTS_FAILED)
    result = invoke("bench", "--only", "table3", "--out", str(tmp_path))
    assert result.exit_code == ExitCode.ABORTED, result.output
    assert result.output.splitlines()[-1].startswith("error: benchmarks failed")
    monkeypatch.setattr(pytest, "main", lambda *a, **k: pytest.ExitCode.NO_TESTS_COLLECTED)
    result = invoke("bench", "--only", "nosuch", "--out", str(tmp_path))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.output.splitlines()[-1].startswith("error: no benchmark matches")


def test_a_missing_internal_module_is_a_bug_not_an_install_hint(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dthq.cli.protocol

    def broken(*_: object, **__: object) -> None:
        import dthq.no_such_module  # noqa: F401  # a typo'd internal import

    monkeypatch.setattr(dthq.cli.protocol.schemes, "callback", broken)
    result = invoke("schemes")
    assert isinstance(result.exception, ModuleNotFoundError), result.output
    assert "pip install" not in result.output
    monkeypatch.setitem(sys.modules, "locust", None)

    def needs_locust(*_: object, **__: object) -> None:
        import locust  # noqa: F401

    monkeypatch.setattr(dthq.cli.protocol.schemes, "callback", needs_locust)
    _one_error_line(invoke("schemes"), ExitCode.USAGE, "locust", "dthq-bench[fleet]")


def test_kme_help_and_openapi_need_only_what_they_use(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    find_spec = importlib.util.find_spec
    gone = {"fastapi", "uvicorn"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in gone else find_spec(name, *a)
    )
    assert invoke("kme", "serve", "--help").exit_code == 0
    assert invoke("kme", "--help").exit_code == 0
    _one_error_line(invoke("kme", "serve"), ExitCode.USAGE, "fastapi and uvicorn", "[kme]")
    _one_error_line(invoke("kme", "openapi"), ExitCode.USAGE, "fastapi", "[kme]")
    gone.discard("fastapi")  # uvicorn alone missing: openapi runs no server
    result = invoke("kme", "openapi")
    assert result.exit_code == 0 and "/api/v1/keys" in result.output, result.output


def test_a_busy_port_reads_alike_and_leaves_no_certificates(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn", reason="the kme and dashboard extras are not installed")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        twin = invoke("twin", "serve", "--port", port, "--transport", "memory")
        kme = invoke("kme", "serve", "--port", port, "--pki", str(tmp_path / "pki"))
    want = f"error: 127.0.0.1:{port}: cannot listen: Address already in use"
    for result in (twin, kme):
        assert result.exit_code == ExitCode.USAGE, result.output
        assert [line for line in result.output.splitlines() if line.strip()] == [want]
    assert not (tmp_path / "pki").exists()


def test_ctrl_c_ends_a_server_normally(tmp_path: Path) -> None:
    """A server runs until stopped: Ctrl-C is its normal end, exit 0 (README's table)."""
    import signal

    pytest.importorskip("uvicorn", reason="the dashboard extra (uvicorn) is not installed")
    server = twin_serve()
    try:
        line = server.stderr.readline() if server.stderr else ""
        assert "dashboard on" in line, line
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode == ExitCode.OK


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["fleet", "--devices", "3", "--scenario", "rekey-storm", "capacity"],
            ["--devices, --scenario before `capacity`"],
        ),
        (["fleet", "--json", "worker", "--master-host", "h"], ["--json before `worker`"]),
        (["fleet", "capacity", "--sizes", "0,-5"], ["--sizes", "1<=x<=20000"]),
        (["fleet", "capacity", "--sizes", "abc"], ["--sizes", "abc"]),
        (["fleet", "capacity", "--sizes", "10,,3"], ["--sizes", "empty item"]),
        (["fleet", "--kinds", "wearable,nope"], ["--kinds", "nope"]),
    ],
)
def test_fleet_options_are_checked_and_never_dropped(args: list[str], named: list[str]) -> None:
    _one_error_line(invoke(*args), ExitCode.USAGE, *named)


def test_fleet_out_that_is_a_file_says_so(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for args in (["fleet"], ["fleet", "capacity"]):
        _one_error_line(invoke(*args, "--out", str(afile)), ExitCode.USAGE, "--out", "is a file")


@pytest.mark.parametrize("command", [["simulate"], ["twin", "serve"]])
def test_a_broker_with_the_memory_transport_is_refused(command: list[str]) -> None:
    result = invoke(*command, "--transport", "memory", "--broker", "mqtt://x:1")
    _one_error_line(result, ExitCode.USAGE, "--broker needs --transport mqtt")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--sig-backend", "nosuch"], ["--sig-backend", "--auth psk"]),
        (["--auth", "kem", "--sig-backend", "pqclean"], ["--sig-backend", "--auth kem"]),
        (["--pki", "somewhere"], ["--pki applies with --kme"]),
        (["--kem", "HQC-128", "--mode", "qkd"], ["--mode qkd runs no KEM", "--kem"]),
        (["--kem-backend", "pqclean", "--mode", "qkd"], ["--mode qkd runs no KEM"]),
    ],
)
def test_handshake_refuses_options_it_would_not_use(args: list[str], named: list[str]) -> None:
    _one_error_line(invoke("handshake", *args), ExitCode.USAGE, *named)


def test_a_qkd_only_handshake_reports_no_kem() -> None:
    result = invoke("handshake", "--mode", "qkd", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["kem"] is None
    result = invoke("handshake", "--mode", "qkd", "--auth", "kem-psk", "--kem", "ML-KEM-768")
    assert result.exit_code == 0, result.output  # B's static KEM key: the KEM does run


def test_bench_json_keeps_stdout_for_the_json(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bench.runner

    def fake_pytest(args: list[str], plugins: list[object] = ()) -> int:  # type: ignore[assignment]
        print("pytest's own output")
        raw = next(a.split("=", 1)[1] for a in args if a.startswith("--benchmark-json="))
        Path(raw).write_text(json.dumps(fake_benchmark_json()))
        return 0

    monkeypatch.setattr(bench.runner, "pin_to_one_cpu", lambda: None)
    monkeypatch.setattr(pytest, "main", fake_pytest)
    result = CliRunner().invoke(
        main, ["bench", "--only", "table3", "--out", str(tmp_path / "b"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "report.html" in json.dumps(json.loads(result.stdout))  # nothing but the JSON
    assert "pytest's own output" in result.stderr


def test_simulate_exits_1_when_a_reading_was_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run that lost data exits 0: one reading sent and never delivered."""
    import dthq.pipeline.run as run_module
    from dthq.pipeline.metrics import Metrics

    def lossy(config, progress=None):  # type: ignore[no-untyped-def]
        metrics = Metrics()
        metrics.count("sent")
        return metrics.summary(
            fhir_unsent=0, fhir_oldest_unsent_s=None, transport="memory", broker="",
            protocol="", patients=1, rate_hz=1.0, duration_s=1.0, qos=1, policy="fixed",
            offered_per_s=1.0,
        )  # fmt: skip

    monkeypatch.setattr(run_module, "simulate", lossy)
    out = CliRunner().invoke(main, ["simulate", "--transport", "memory", "--duration", "1"])
    assert out.exit_code == 1, out.output
    assert "lost 1" in out.output


def test_bench_help_names_every_suite() -> None:
    from bench.runner import SUITES

    shown = " ".join(invoke("bench", "--help").output.split())
    assert all(name in shown for name in SUITES), shown
