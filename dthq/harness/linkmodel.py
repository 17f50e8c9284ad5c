"""Modelled link times: bytes / bandwidth + round trip, inflated for loss.

MODELLED, not measured: the paper's far edge ran MQTT over 2.4 GHz Wi-Fi
(IEEE 802.11n) and its near edge over a wired link; we have neither here
(no radio, and no ``tc netem`` in this kernel). Reports keep this figure in its
own column, labelled modelled, and never add it to measured time.
"""

from __future__ import annotations

from dataclasses import dataclass

from dthq.errors import UnsupportedError


@dataclass(frozen=True)
class LinkModel:
    name: str
    bandwidth_bps: float  # effective application-layer goodput, not the PHY rate
    rtt_ms: float
    loss: float  # packet loss probability; each loss costs one retransmission

    def transfer_ms(self, nbytes: int, round_trips: int = 1) -> float:
        """Expected time to deliver ``nbytes`` in ``round_trips`` exchanges."""
        serialisation = nbytes * 8 / self.bandwidth_bps * 1000
        return (serialisation + round_trips * self.rtt_ms) / (1 - self.loss)


LINKS: dict[str, LinkModel] = {
    # 802.11n, 20 MHz, one spatial stream: 72 Mbit/s PHY, ~30 Mbit/s goodput; 1 % loss.
    "far": LinkModel("Wi-Fi 802.11n (modelled)", 30e6, 4.0, 0.01),
    # Switched 100 Mbit/s Ethernet to the near-edge server, ~94 Mbit/s TCP goodput.
    "near": LinkModel("wired Ethernet (modelled)", 94e6, 0.3, 0.0),
}


def link_for(edge: str) -> LinkModel:
    try:
        return LINKS[edge]
    except KeyError:
        raise UnsupportedError(f"no link model for edge {edge!r}; choose far or near") from None
