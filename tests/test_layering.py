"""The project's layering, checked on the source.

errors < crypto < protocol < transport < schemes < qkd < twin < harness < pipeline <
fleet < chaos < baselines < bench < reports < cli: a module may import its own layer and
the ones below, never one above (lazy imports inside functions included). The package root
``dthq`` is the public API and sits with the schemes. Baselines use only that public API,
and nothing in the project imports another module in a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dthq", "chaos", "baselines", "bench", "reports")
LAYERS = (
    "dthq.errors",
    "dthq.crypto",
    "dthq.protocol",
    "dthq.transport",
    "dthq.schemes",
    "dthq.qkd",
    "dthq.twin",
    "dthq.harness",
    "dthq.pipeline",
    "dthq.fleet",
    "chaos",
    "baselines",
    "bench",
    "reports",
    "dthq.cli",
)
PUBLIC_API_RANK = LAYERS.index("dthq.schemes")  # where ``import dthq`` sits


def layer(module: str) -> int | None:
    """The rank of a project module, or None for a third-party one."""
    if module == "dthq":
        return PUBLIC_API_RANK
    ranked = [i for i, name in enumerate(LAYERS) if module == name or module.startswith(name + ".")]
    return max(ranked) if ranked else None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(root: Path) -> list[Path]:
    return sorted(p for package in PACKAGES for p in (root / package).rglob("*.py"))


def imports(path: Path, root: Path, *, top_level_only: bool = False) -> list[str]:
    """Every module a file imports (``from pkg import sub`` names ``pkg.sub`` when it is one)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    known = {module_name(p, root) for p in sources(root)}
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            found += [s for s in subs if s in known] or [node.module]
    return found


def violations(root: Path) -> list[str]:
    """Every import that runs from a lower layer to a higher one."""
    out = []
    for path in sources(root):
        here = module_name(path, root)
        rank = layer(here)
        for target in imports(path, root):
            their = layer(target)
            if rank is not None and their is not None and their > rank:
                out.append(f"{here} ({LAYERS[rank]}) imports {target} ({LAYERS[their]})")
    return out


def test_no_lower_layer_imports_a_higher_one() -> None:
    assert violations(ROOT) == []


def test_the_check_fails_on_a_deliberate_upward_import(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "dthq" / "crypto").mkdir()
    (tmp_path / "dthq" / "protocol").mkdir()
    (tmp_path / "dthq" / "protocol" / "record.py").write_text("import hashlib\n")
    (tmp_path / "dthq" / "crypto" / "aead.py").write_text(
        "def f():\n    from dthq.protocol.record import RecordLayer\n"
    )
    assert violations(tmp_path) == [
        "dthq.crypto.aead (dthq.crypto) imports dthq.protocol.record (dthq.protocol)"
    ]


def test_baselines_use_only_the_public_api() -> None:
    paths = sorted((ROOT / "baselines").rglob("*.py"))
    assert paths, "no baselines found to check"
    for path in paths:
        for module in imports(path, ROOT):
            if layer(module) is not None and not module.startswith("baselines"):
                assert module == "dthq", f"{path}: imports internal {module}"


def test_no_import_cycles() -> None:
    graph = {
        module_name(p, ROOT): [
            m for m in imports(p, ROOT, top_level_only=True) if layer(m) is not None
        ]
        for p in sources(ROOT)
    }
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(node) :], node]))
        state[node] = 1
        for nxt in graph.get(node, []):
            visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def test_only_the_liboqs_module_imports_oqs() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if ".nox" not in path.parts and ".venv" not in path.parts
        if any(module.split(".")[0] == "oqs" for module in imports(path, ROOT))
    }
    assert importers == {"dthq/crypto/kem/liboqs.py"}  # it does, and nothing else does
