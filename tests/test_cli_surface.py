"""The ``dthq`` command's surface, pinned: the command tree, every command's parameters and
the key set of every cheap ``--json`` output, as ``tests/data/cli_surface.json`` holds them.

A change to the surface is a change to this file's data, made on purpose:
``python tests/test_cli_surface.py --write`` rewrites it from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))  # test_reports, when run as a script

from test_reports import fake_benchmark_json

from bench.ingest import from_benchmark_json
from dthq.cli.main import main
from dthq.harness.results_json import dump

GOLDEN = Path(__file__).parent / "data" / "cli_surface.json"


def _param(p: click.Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "option" if isinstance(p, click.Option) else "argument",
        "name": p.name,
        "opts": sorted(p.opts + p.secondary_opts),
        "type": p.type.name,
        "required": p.required,
        "multiple": p.multiple,
        "nargs": p.nargs,
    }
    if isinstance(p, click.Option):
        out["flag"] = p.is_flag
    if isinstance(p.type, click.Choice):
        out["choices"] = list(p.type.choices)
    return out


def _tree(cmd: click.Command, name: str) -> dict[str, Any]:
    node: dict[str, Any] = {"params": [_param(p) for p in cmd.params if p.name != "help"]}
    if isinstance(cmd, click.Group):
        node["commands"] = {n: _tree(c, n) for n, c in sorted(cmd.commands.items())}
    return node


def _shape(value: Any, depth: int = 0) -> Any:
    """The keys of a JSON value, two levels down (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v, depth + 1) if depth < 2 else None for k, v in sorted(value.items())}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [_shape(value[0], depth)]
    return None


def _help_commands() -> list[str]:
    text = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    return text[text.index("Commands:") :].splitlines()


def _json_of(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1, 3), result.output
    return _shape(json.loads(result.output))


def _json_outputs(tmp: Path) -> dict[str, Any]:
    db, key = tmp / "twin.db", tmp / "twin.key"
    runs = []
    for i, scale in enumerate((1.0, 1.3)):
        r = from_benchmark_json(fake_benchmark_json(scale=scale), wall_time_s=100)
        (tmp / f"run{i}").mkdir()
        runs.append(str(dump(r, tmp / f"run{i}" / "results.json")))
    tiny = ("--transport", "memory", "--patients", "1", "--rate", "5", "--duration", "1")
    simulate = ("simulate", *tiny, "--store", str(db), "--key-file", str(key), "--json")
    qkd = ("qkd", "--raw-bits", "50000", "--seed", "1", "--json")
    return {
        "handshake": _json_of("handshake", "--json"),
        "qkd": _json_of(*qkd),
        "qkd aborted": _json_of(*qkd[:-1], "--eve", "1", "--json"),
        "simulate": _json_of(*simulate),
        **{
            f"store {cmd}": _json_of("store", cmd, str(db), "--key-file", str(key), "--json")
            for cmd in ("verify", "rekey", "reencrypt")
        },
        "twin show": _json_of(
            "twin", "show", "P00001", "--store", str(db), "--key-file", str(key), "--json"
        ),
        "compare": _json_of("compare", *runs, "--json"),
        "report": _json_of("report", runs[0], "--out", str(tmp / "r"), "--json"),
        "history": _json_of("history", *runs, "--out", str(tmp / "h"), "--json"),
        "schemes": _json_of("schemes", "--json"),
        "backends": _json_of("backends", "--json"),
    }


def surface(tmp: Path) -> dict[str, Any]:
    return {
        "help_commands": _help_commands(),
        "tree": _tree(main, "dthq"),
        "json": _json_outputs(tmp),
    }


def test_cli_surface_is_unchanged(tmp_path: Path) -> None:
    assert surface(tmp_path) == json.loads(GOLDEN.read_text())


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        GOLDEN.write_text(json.dumps(surface(Path(d)), indent=1) + "\n")
    print(f"wrote {GOLDEN}")


def test_every_option_has_help_and_shows_its_range() -> None:
    def options(cmd: click.Command, path: str) -> list[tuple[str, click.Option]]:
        found = [(path, p) for p in cmd.params if isinstance(p, click.Option)]
        for name, sub in getattr(cmd, "commands", {}).items():
            found += options(sub, f"{path} {name}")
        return found

    for path, option in options(main, "dthq"):
        assert option.help, f"{path} {option.opts} has no help"
        if option.name != "seed":  # any integer seeds
            assert option.type.name not in ("integer", "float"), f"{path} {option.opts}: no range"
        if option.type.name == "text" and not option.is_flag:
            # free text says its form (URL, NAME, KEY,...), a list its items' (CommaList)
            assert option.metavar, f"{path} {option.opts}: free text without a metavar"
        if (
            isinstance(option.type, click.IntRange)
            and option.type.min == 0
            and "port" in (option.name or "")
        ):
            assert "0:" in (option.help or ""), f"{path} {option.opts}: what 0 means"
