"""The primitive set, and the primitives measured pyperf's way: worker processes timing
interleaved rounds, timeit in processes of its own between them (real processes)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from dthq.harness import primitive_set
from dthq.harness.primitive_runs import Plan, WorkerFailed, measure, primitive
from dthq.harness.primitive_worker import answer

CHEAP = ["hash/SHA-256/64B", "mac/HMAC-SHA256/64B"]


def test_the_set_names_every_primitive_once_with_its_axes() -> None:
    specs = primitive_set.primitive_set()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert sum("aead" in s.params for s in specs) == 24  # 4 AEADs x 2 backends x 3 sizes
    assert sum(n.startswith("codec/") for n in names) == 12  # 2 codecs x 2 ops x 3 sizes
    assert names[-7:] == list(primitive_set.TABLE5_TERMS)
    assert {"kdf/HKDF-SHA256/64B", "pke/RSA-2048-OAEP/encrypt+decrypt"} <= set(names)
    by = primitive_set.by_name()
    assert by["aead/AES-256-GCM/cryptography/small"].params == {
        "aead": "AES-256-GCM",
        "backend": "cryptography",
        "size": "small",
        "bytes": len(primitive_set.payloads()["small"]),
    }
    assert by["kem/ML-KEM-768/keygen"].params["op"] == "keygen"
    assert by["pairing/BLS12-381"].absent.startswith("py-arkworks-bls12381 is not installed")


def test_signing_rounds_are_longer_and_every_other_takes_the_default() -> None:
    longer = {s.name for s in primitive_set.primitive_set() if s.round_s is not None}
    assert longer and all(n.startswith("sig/") and n.endswith("/sign") for n in longer)
    assert {s.round_s for s in primitive_set.primitive_set() if s.name in longer} == {20e-3}


def test_a_factory_builds_the_zero_argument_call() -> None:
    by = primitive_set.by_name()
    digest = by["hash/SHA-256/64B"].build()
    assert digest is not None and len(digest()) == hashlib.sha256().digest_size
    seal_open = by["aead/AES-256-GCM/cryptography/small"].build()
    assert seal_open is not None and seal_open() == primitive_set.payloads()["small"]


def test_one_primitive_from_known_rounds() -> None:
    # three workers of three rounds, one block each: values 1, 1, 1.6 us per call
    rounds = [[1e-6] * 3, [1e-6] * 3, [1.6e-6] * 3]
    got = primitive("x", rounds, [1.1e-6, 1.0e-6, 1.3e-6], loops=999, blocks_per_worker=1)
    assert got.time_us.median == pytest.approx(1.0)
    assert got.time_us.rounds == 9 and got.time_us.min == pytest.approx(1.0)
    assert got.time_us.cv == pytest.approx(0.2886751)
    assert got.time_us.warnings == (
        "the shortest raw value is only 0.999 ms (under 1 ms)",
        "the standard deviation is 29% of the mean (10% or more)",
    )
    assert got.time_us.stable is False
    assert (got.timeit_median_us, got.timeit_min_us) == (pytest.approx(1.1), pytest.approx(1.0))
    # a round of 1,000 calls of 1 us is at the 1 ms floor: no warning for it
    steady = primitive("y", [[1e-6] * 3] * 3, [1e-6], loops=1000, blocks_per_worker=1)
    assert steady.time_us.warnings == () and steady.time_us.stable is True


def test_a_worker_calibrates_and_a_later_one_takes_its_loops() -> None:
    first = answer({"kind": "rounds", "names": CHEAP, "rounds": 2, "loops": None})
    assert set(first["loops"]) == set(CHEAP) and first["absent"] == []
    assert all(len(first["rounds"][n]) == 2 for n in CHEAP)
    assert all(loops in (1, 2, 5) or str(loops)[0] in "125" for loops in first["loops"].values())
    later = answer({"kind": "rounds", "names": CHEAP, "rounds": 1, "loops": {n: 7 for n in CHEAP}})
    assert later["loops"] == {n: 7 for n in CHEAP}
    checked = answer(
        {"kind": "timeit", "names": CHEAP, "repeat": 3, "loops": {n: 5 for n in CHEAP}}
    )
    assert {n: len(v) for n, v in checked["timeit"].items()} == {n: 3 for n in CHEAP}


def test_a_worker_refuses_what_it_cannot_measure() -> None:
    with pytest.raises(ValueError, match="a timeit process needs the workers' loops"):
        answer({"kind": "timeit", "names": CHEAP, "repeat": 1})
    with pytest.raises(ValueError, match="unknown kind 'x'"):
        answer({"kind": "x", "names": CHEAP})
    with pytest.raises(ValueError, match=r"unknown primitives \['nope'\]"):
        answer({"kind": "rounds", "names": ["nope"], "rounds": 1})


def test_workers_and_timeit_processes_alternate_in_real_processes() -> None:
    steps: list[tuple[int, int, str]] = []
    got, absent = measure(CHEAP, Plan(2, 6, 4), progress=lambda *s: steps.append(s))
    assert steps == [
        (1, 4, "worker 1 of 2"),
        (2, 4, "timeit 1 of 2"),
        (3, 4, "worker 2 of 2"),
        (4, 4, "timeit 2 of 2"),
    ]
    assert absent == () and [p.name for p in got] == CHEAP
    for p in got:
        assert p.time_us.rounds == 12  # both workers' rounds
        assert p.time_us.cv is not None  # 2 workers x 2 blocks of 3 rounds: 4 values
        assert p.timeit_median_us and p.timeit_min_us and p.timeit_min_us <= p.timeit_median_us
        assert p.time_us.warnings is not None  # assessed


def test_a_failed_worker_is_one_error_naming_it() -> None:
    message = (
        r"^dthq.harness.primitive_worker \(rounds\) exited 1: "
        r"ValueError: unknown primitives \['nope'\]$"
    )
    with pytest.raises(WorkerFailed, match=message):
        measure(["nope"], Plan(1, 1, 1))


def test_a_plan_needs_one_of_each() -> None:
    assert Plan(3, 10, 10).processes == 6
    with pytest.raises(ValueError, match="at least one of each"):
        Plan(0, 10, 10)


def _interpreter(tmp_path: Any, body: str) -> str:
    """A stand-in for ``python``: a script that ignores ``-m`` and does ``body``."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'not json'", r"\(rounds\) answered no JSON: 'not json\\n'$"),
        ("echo '{\"rounds\": {}}'", r"\(rounds\) answered without \['absent', 'loops', 'rounds'\]"),
        ("echo '[1]'", r"\(rounds\) answered without"),
    ],
)
def test_a_worker_answering_junk_fails_with_its_words(
    tmp_path: Any, body: str, message: str
) -> None:
    with pytest.raises(WorkerFailed, match=message):
        measure(CHEAP, Plan(1, 1, 1), python=_interpreter(tmp_path, body))


def test_a_stuck_worker_is_stopped_at_its_timeout(tmp_path: Any, monkeypatch: Any) -> None:
    from dthq.harness import primitive_runs

    monkeypatch.setattr(primitive_runs, "WORKER_TIMEOUT_S", 0.5)
    with pytest.raises(WorkerFailed, match=r"\(rounds\) gave no answer in 0.5 s: stopped$"):
        measure(CHEAP, Plan(1, 1, 1), python=_interpreter(tmp_path, "exec sleep 30"))
