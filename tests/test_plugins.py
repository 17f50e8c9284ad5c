"""A third-party scheme installed from a temporary directory (a module and its
``*.dist-info`` with a ``dthq.schemes`` entry point, as pip would leave them) appears in
``dthq schemes`` and is measured by ``dthq bench`` as a Table 3 row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY_SCHEME = '''
import dthq


class TinyScheme:
    """DTHQ with ML-KEM-1024 under another name: a scheme from outside this project."""

    name = "tiny"
    quantum_safe = "yes"

    def __init__(self) -> None:
        self._inner = dthq.DTHQScheme(kem="ML-KEM-1024")

    def establish(self, now_ms: int = 0) -> dthq.Session:
        s = self._inner.establish(now_ms)
        return dthq.Session(self.name, s.initiator, s.responder, s.flights, {"kem": "ML-KEM-1024"})
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "tiny_scheme.py").write_text(TINY_SCHEME)
    info = root / "tiny_scheme-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-scheme\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dthq.schemes]\ntiny = tiny_scheme:TinyScheme\n")
    return root


def _dthq(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, "-m", "dthq.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_installed_scheme_is_listed(site: Path) -> None:
    result = _dthq(site, "schemes", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"]: row for row in json.loads(result.stdout)}
    assert names["tiny"]["available"] and names["tiny"]["backend"] == "tiny_scheme:TinyScheme"
    assert {"dthq", "rsa-2048", "ecc-256", "tls13"} <= names.keys()  # built-in and baselines


def test_installed_scheme_is_benchmarked(site: Path, tmp_path: Path) -> None:
    result = _dthq(site, "bench", "--only", "tiny", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    (row,) = data["table3"]
    assert (row["key"], row["quantum_safe"], row["params"]) == (
        "tiny",
        "yes",
        {"kem": "ML-KEM-1024"},
    )
    assert row["flights"][0]["size"] == 1619  # HELLO with an ML-KEM-1024 key
    assert row["timings"]["handshake_ms"]["median"] > 0
    assert "tiny" in (tmp_path / "table3.md").read_text()
