"""The SIMULATED QKD link and its post-processing, checked against theory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dthq.cli.main import main
from dthq.harness import qkdsweep
from dthq.qkd import link, theory
from dthq.qkd.amplification import qber_upper, toeplitz
from dthq.qkd.bb84 import QKDAbort, QuantumChannel, transmit
from dthq.qkd.cascade import binary_entropy, block_sizes, efficiency, reconcile


def _noisy(n: int, q: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    return a, a ^ (rng.random(n) < q).astype(np.uint8), rng


@pytest.mark.parametrize("q", [0.0, 0.005, 0.01, 0.03, 0.05, 0.08])
@pytest.mark.parametrize("schedule", ["optimised", "original"])
def test_cascade_leaves_identical_keys(q: float, schedule: str) -> None:
    for seed in range(8):
        a, b, rng = _noisy(10_000, q, seed)
        result = reconcile(a, b, max(q, 1e-3), rng, schedule=schedule)
        assert np.array_equal(result.corrected, a), (q, seed)
        assert result.leaked_bits > 0 and result.rounds > 0


@pytest.mark.parametrize("q", [0.01, 0.03, 0.05])
def test_cascade_efficiency(q: float) -> None:
    """f = leaked / (n h(Q)) near the published optimised Cascade (goal 1.10; the
    cascade-python anchor: 1.18 original, 1.06-1.11 with BICONF)."""
    fs = []
    for seed in range(10):
        a, b, rng = _noisy(10_000, q, seed)
        result = reconcile(a, b, q, rng)
        fs.append(efficiency(result.leaked_bits, a.size, float(np.mean(a != b))))
    assert 1.0 < float(np.mean(fs)) < 1.12


def test_block_sizes_follow_the_schedules() -> None:
    assert block_sizes(10_000, 0.03, "original") == [25, 50, 100, 200]
    assert block_sizes(10_000, 0.03, "optimised")[:3] == [32, 128, 5000]
    with pytest.raises(ValueError, match="unknown Cascade schedule"):
        block_sizes(10_000, 0.03, "fast")


def test_verification_hash_catches_a_residual_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = link.reconcile

    def leaves_one_error(alice, bob, qber, rng, **kw):  # type: ignore[no-untyped-def]
        result = real(alice, bob, qber, rng, **kw)
        result.corrected[7] ^= 1
        return result

    monkeypatch.setattr(link, "reconcile", leaves_one_error)
    with pytest.raises(QKDAbort, match="verification hash"):
        link.distil(100_000, QuantumChannel(qber=0.02), seed=3)


@pytest.mark.parametrize("seed", range(5))
def test_full_intercept_resend_is_detected(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b, _ = transmit(100_000, QuantumChannel(qber=0.0), rng, eve_fraction=1.0)
    assert float(np.mean(a != b)) == pytest.approx(0.25, abs=0.01)
    with pytest.raises(QKDAbort, match="exceeds 11%"):
        link.distil(100_000, QuantumChannel(qber=0.01), seed=seed, eve_fraction=1.0)


def test_a_tenth_eavesdropped_adds_a_quarter_of_that_in_errors() -> None:
    rng = np.random.default_rng(0)
    a, b, _ = transmit(400_000, QuantumChannel(qber=0.0), rng, eve_fraction=0.1)
    assert float(np.mean(a != b)) == pytest.approx(0.025, abs=0.003)


def test_loss_follows_the_fibre_model() -> None:
    rng = np.random.default_rng(1)
    near, _, _ = transmit(200_000, QuantumChannel(fibre_km=0), rng)
    far, _, _ = transmit(200_000, QuantumChannel(fibre_km=50), rng)  # 10 dB
    assert far.size / near.size == pytest.approx(0.1, rel=0.1)
    assert near.size / 200_000 == pytest.approx(0.5 * 0.6, rel=0.05)  # sifting x detector


@pytest.mark.parametrize("q", [0.01, 0.03, 0.05])
def test_secret_fraction_tracks_theory(q: float) -> None:
    """Asymptotically 1 - h(Q) - f h(Q); finite size costs h(Q_u) - h(Q) (Serfling) and
    the fixed terms; never more than theory, and under Shor-Preskill's 1 - 2h(Q)."""
    run = link.distil(2_000_000, QuantumChannel(qber=q), seed=7)
    h, h_u = binary_entropy(run.qber_true), binary_entropy(run.qber_bound)
    asymptotic = theory.secret_fraction(run.qber_true, run.efficiency)
    assert run.secret_fraction <= asymptotic <= theory.secret_fraction(run.qber_true)
    assert run.secret_fraction == pytest.approx(asymptotic - (h_u - h), abs=0.01)


def test_no_key_near_eleven_percent() -> None:
    with pytest.raises(QKDAbort, match=r"nothing secret|exceeds"):
        link.distil(2_000_000, QuantumChannel(qber=0.10), seed=2)
    assert qber_upper(0.10, 10**9, 10**8) == pytest.approx(0.10, abs=1e-3)


@pytest.mark.parametrize("kind", ["sifting", "sample", "cascade-pass", "verify", "pa-seed"])
def test_a_tampered_classical_message_aborts(kind: str) -> None:
    def tamper(k: str, message: bytes) -> bytes:
        return bytes([message[0] ^ 1]) + message[1:] if k == kind else message

    with pytest.raises(QKDAbort, match=f"{kind!r} failed authentication"):
        link.distil(100_000, QuantumChannel(qber=0.02), seed=4, tamper=tamper)


def test_toeplitz_is_the_matrix_product() -> None:
    rng = np.random.default_rng(5)
    n, m = 40, 17
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    matrix = np.array([[seed[i - j + n - 1] for j in range(n)] for i in range(m)])
    assert np.array_equal(toeplitz(key, m, seed), (matrix @ key) % 2)


@pytest.mark.parametrize("key_bits", [128, 256, 512])
def test_final_keys_have_the_asked_size(key_bits: int) -> None:
    run = link.distil(200_000, QuantumChannel(qber=0.02), key_bits=key_bits, seed=6)
    assert run.keys and all(len(k) * 8 == key_bits for k in run.keys)
    assert len(run.keys) == (run.secure_bits - run.auth_key_bits) // key_bits
    assert run.simulated


def test_cli_qkd() -> None:
    out = CliRunner().invoke(main, ["qkd", "--seed", "1", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["simulated"] is True and data["final_keys"] > 0 and 1 < data["efficiency_f"] < 1.2
    text = CliRunner().invoke(main, ["qkd", "--seed", "1"])
    assert text.output.startswith("SIMULATED")
    aborted = CliRunner().invoke(main, ["qkd", "--eve", "1", "--json"])
    assert aborted.exit_code == 3 and json.loads(aborted.output)["aborted"] is True


def test_theory_matches_the_channel_model() -> None:
    clean = QuantumChannel(qber=0.0, dark_count=0.0)
    assert theory.key_rate(clean) == pytest.approx(0.6 / 2)  # detector efficiency, sifting
    assert theory.secret_fraction(0.11) == pytest.approx(0.0, abs=0.002)  # Shor-Preskill's edge
    assert theory.key_rate(QuantumChannel(qber=0.03), 1.2) < theory.key_rate(
        QuantumChannel(qber=0.03), 1.0
    )
    far = QuantumChannel(qber=0.02, fibre_km=400)  # dark counts dominate: errors go to 1/2
    assert theory.sifted_qber(far) > 0.4 and theory.key_rate(far) == 0.0


def test_a_sweep_point_sifts_what_it_aims_for_and_stays_under_theory() -> None:
    channel = QuantumChannel(qber=0.03, fibre_km=25)
    point = qkdsweep.sweep_point("qber", channel, sifted_bits=30_000, seed=3)
    assert point.sifted == pytest.approx(30_000, rel=0.03)
    assert 0 < point.key_rate < point.theory_rate <= point.shor_preskill_rate
    assert point.efficiency_original is not None and point.efficiency_original > 1
    dead = qkdsweep.sweep_point("qber", QuantumChannel(qber=0.13), sifted_bits=30_000, seed=3)
    assert dead.net_bits == 0 and dead.aborted and "exceeds 11%" in dead.aborted


@pytest.mark.parametrize("key_bits", [128, 512])
def test_the_smallest_run_is_the_smallest(key_bits: int) -> None:
    raw, run = qkdsweep.smallest_run(key_bits, 0.03, seed=key_bits)
    assert run.keys and all(len(k) * 8 == key_bits for k in run.keys)
    with pytest.raises(QKDAbort):
        link.distil(raw // 2, QuantumChannel(qber=0.03), key_bits=key_bits, seed=key_bits)


def test_cascade_input_has_exactly_the_asked_errors() -> None:
    alice, bob = qkdsweep.cascade_input(10_000, 0.03, seed=1)
    assert int((alice != bob).sum()) == 300
