"""The fuzz targets (fuzz/targets.py) run here on their seeds and on simple mutations, so
the fuzz harness stays runnable and its property (only DTHQError escapes) is held in the
ordinary test run too; crashes the fuzzer finds are added below as regressions."""

from __future__ import annotations

import pytest

from fuzz.targets import TARGETS, guarded, seeds


@pytest.mark.parametrize("name", list(TARGETS))
def test_seeds_and_mutations_raise_only_our_errors(name: str) -> None:
    one_input = guarded(TARGETS[name])
    inputs = seeds(name)
    assert inputs, f"no seeds for {name}"
    for seed in inputs:
        one_input(seed)
        for cut in (0, 1, len(seed) // 2, len(seed) - 1):
            one_input(seed[:cut])
        for i in range(0, len(seed), max(1, len(seed) // 64)):
            one_input(seed[:i] + bytes([seed[i] ^ 0xFF]) + seed[i + 1 :])
