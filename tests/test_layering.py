"""The layering of DESIGN §2, checked on the source: dthq imports nothing from
baselines/bench/reports (except lazily inside dthq/cli.py's commands), and
baselines/reports import only dthq's public API."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPPER = ("baselines", "bench", "reports")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_core_does_not_import_upper_layers() -> None:
    for path in (ROOT / "dthq").rglob("*.py"):
        for module, top_level in imports(path):
            if module.split(".")[0] in UPPER:
                assert path.name == "cli.py" and not top_level, f"{path}: imports {module}"


def test_upper_layers_use_only_the_public_api() -> None:
    for package in ("baselines", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            for module, _ in imports(path):
                assert not module.startswith("dthq."), f"{path}: imports internal {module}"


def test_only_the_liboqs_module_imports_oqs() -> None:
    for path in ROOT.rglob("*.py"):
        if ".nox" in path.parts or ".venv" in path.parts:
            continue
        for module, _ in imports(path):
            if module.split(".")[0] == "oqs":
                assert path.name == "kem_liboqs.py", f"{path} imports oqs"
