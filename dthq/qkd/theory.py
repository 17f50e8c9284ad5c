"""What theory says the SIMULATED link should give: the curves the measured points are
drawn beside.

For the channel model of :mod:`dthq.qkd.bb84` (single-photon source, fibre loss,
detector efficiency, dark counts, a flip probability), per raw pulse:

- B clicks with probability ``p = T + (1 - T) d`` (T the transmittance, d dark counts);
- half the clicks survive sifting;
- the sifted error rate is ``Q = (T q + (1 - T) d / 2) / p`` (a dark count is a coin);
- asymptotically (infinite keys, no finite-size terms) the secret bits per raw pulse are
  ``p/2 (1 - h(Q) - f h(Q))`` with reconciliation efficiency f; f = 1 is Shor-Preskill's
  ``p/2 (1 - 2 h(Q))``.
"""

from __future__ import annotations

from dthq.qkd.bb84 import QuantumChannel
from dthq.qkd.cascade import binary_entropy


def click_probability(channel: QuantumChannel) -> float:
    t = channel.transmittance
    return t + (1 - t) * channel.dark_count


def sifted_qber(channel: QuantumChannel) -> float:
    t, d = channel.transmittance, channel.dark_count
    return (t * channel.qber + (1 - t) * d / 2) / click_probability(channel)


def secret_fraction(qber: float, f: float = 1.0) -> float:
    """Secret bits per sifted bit, asymptotically: 1 - h(Q) - f h(Q), at least 0."""
    h = binary_entropy(qber)
    return max(0.0, 1 - h - f * h)


def key_rate(channel: QuantumChannel, f: float = 1.0) -> float:
    """Asymptotic secret bits per raw pulse (f = 1: the Shor-Preskill bound)."""
    return click_probability(channel) / 2 * secret_fraction(sifted_qber(channel), f)
