"""The liboqs probe: with the library absent, importing dthq and listing backends
never imports ``oqs`` and never starts a subprocess (liboqs-python's auto-build
would git-clone and run cmake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dthq.crypto.kem import liboqs as kem_liboqs

SCRIPT = r"""
import json, sys
events = []
def hook(event, args):
    if event.startswith(("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork")):
        events.append(event)
sys.addaudithook(hook)
from dthq.crypto.kem import KEMS
from dthq.cli.main import main  # the CLI's import path too
rows = [(e.name, e.backend, e.available, e.reason) for e in KEMS.entries()]
print(json.dumps({"events": events, "oqs_imported": "oqs" in sys.modules, "rows": rows}))
"""


def _run_probe(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "OQS_INSTALL_PATH": str(tmp_path / "nowhere"),
        "LD_LIBRARY_PATH": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_absent_library_means_no_import_and_no_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OQS_INSTALL_PATH", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LD_LIBRARY_PATH", "")
    path, _ = kem_liboqs.probe()
    if path is not None:
        pytest.skip(f"a liboqs library is installed system-wide at {path}")
    result = _run_probe(tmp_path)
    assert result["events"] == []
    assert result["oqs_imported"] is False
    liboqs_rows = [r for r in result["rows"] if r[1] == "liboqs"]
    assert {r[0] for r in liboqs_rows} == {"ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"}
    for _, _, available, reason in liboqs_rows:
        assert available is False
        assert "liboqs shared library not found" in reason and "OQS_INSTALL_PATH" in reason


def _probe_an_install_of(
    name: str, content: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The probe's reason for an OQS_INSTALL_PATH whose lib/ holds only ``name``."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / name).write_bytes(content)
    monkeypatch.setenv("OQS_INSTALL_PATH", str(tmp_path))
    path, reason = kem_liboqs.probe()
    if path is not None:
        pytest.skip(f"a liboqs library is installed system-wide at {path}")
    return reason


def test_a_library_that_does_not_load_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = _probe_an_install_of("liboqs.so", b"not an ELF file", tmp_path, monkeypatch)
    assert "does not load" in reason and str(tmp_path / "lib" / "liboqs.so") in reason


def test_probe_looks_where_liboqs_python_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OQS_INSTALL_PATH", str(tmp_path))
    dirs = kem_liboqs.candidate_dirs()
    assert dirs[:2] == [tmp_path / "lib", tmp_path / "lib64"]
    monkeypatch.delenv("OQS_INSTALL_PATH")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kem_liboqs.candidate_dirs()[0] == tmp_path / "_oqs" / "lib"


def test_a_versioned_library_alone_is_not_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """liboqs-python loads only an unversioned liboqs.so; an install with just
    liboqs.so.0.16.0 must be reported unavailable (else its auto-build would start)."""
    reason = _probe_an_install_of("liboqs.so.0.16.0", b"\x7fELF", tmp_path, monkeypatch)
    assert "holds only liboqs.so.0.16.0" in reason and "loads liboqs.so" in reason


def test_importing_oqs_writes_nothing_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``oqs`` that behaves as liboqs-python's does at import (a printed line and a
    stdout log handler): nothing of it reaches stdout through our import."""
    import logging

    fake = tmp_path / "oqs"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import logging, sys\n"
        "print('liboqs-python faulthandler is disabled')\n"
        "logging.getLogger('oqs').addHandler(logging.StreamHandler(sys.stdout))\n"
        "logging.getLogger('oqs').warning('loaded')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "oqs", raising=False)
    kem_liboqs.import_oqs()
    logging.getLogger("oqs").warning("later")
    assert capsys.readouterr().out == ""
    assert not logging.getLogger("oqs").handlers  # the stdout handler is gone, not muted
    monkeypatch.delitem(sys.modules, "oqs", raising=False)
