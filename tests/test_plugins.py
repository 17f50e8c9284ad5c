"""The documented plug-in example (examples/plugin-scheme), installed with pip into a
temporary directory, appears in ``dthq schemes`` and is measured by ``dthq bench`` as a
Table 3 row of the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import outside_xdist

# A pip install, then `dthq` in subprocesses; the install is made once (one xdist worker).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("plugin-site")]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin-scheme"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/plugin-scheme installed by pip into a directory of its own (no network:
    no build isolation, no dependencies; setuptools comes with the test extra). It is
    built from a copy: setuptools writes build/ and egg-info/ beside the sources, and a
    build in the checkout could meet another run's leftovers."""
    root = tmp_path_factory.mktemp("site")
    source = shutil.copytree(EXAMPLE, tmp_path_factory.mktemp("plugin-source") / "src")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(root), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert any(root.glob("tiny_scheme-0.1.dist-info"))
    return root


def _dthq(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        outside_xdist(), PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
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
