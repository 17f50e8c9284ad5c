"""The versions a moved figure may owe its move to, compared between two runs."""

from __future__ import annotations

from collections.abc import Sequence

from dthq.harness.results import Results

Runs = Results | Sequence[Results]


def _first(side: Runs) -> Results:
    return side if isinstance(side, Results) else side[0]


def environment(results: Results) -> dict[str, str | None]:
    """The versions a figure may owe a move to: each library, Python, each OpenSSL."""
    meta = results.metadata
    found: dict[str, str | None] = {
        f"library {name}": version for name, version in sorted(meta.libraries.items())
    }
    found["Python"] = meta.machine.get("python")
    for side, version in sorted((meta.machine.get("openssl") or {}).items()):
        found[f"OpenSSL of {side}"] = version
    return found


def environment_differences(baseline: Runs, current: Runs) -> list[str]:
    """Library, Python and OpenSSL versions that differ between two runs: a moved figure
    may be the library's doing, not ours. Repeated runs of one side are compared by their
    first run's metadata."""
    b, c = environment(_first(baseline)), environment(_first(current))
    return [
        f"{what} differs: {b.get(what) or 'absent'} in the baseline, {c.get(what) or 'absent'} now"
        for what in sorted(b.keys() | c.keys(), key=list({**b, **c}).index)
        if b.get(what) != c.get(what)
    ]
