"""The wire-size model (reports/wire.py): frame counts at each MTU and the 802.15.4
fragmentation arithmetic, on hand-checked sizes."""

from __future__ import annotations

import pytest

from reports import wire


@pytest.mark.parametrize(
    ("size", "link", "expected"),
    [
        (1, "1500 B", 1),
        (1452, "1500 B", 1),  # 1500 - IPv6 40 - UDP 8
        (1453, "1500 B", 2),
        (1232, "1280 B", 1),
        (1233, "1280 B", 2),
        (89, "127 B", 1),  # fits one frame unfragmented: 127 - 25 MAC - 7 IPHC/NHC - 6 CoAP
        (90, "127 B", 2),  # FRAG1 carries 85 B (127-25-4-7-6), then FRAGN 96 B (8-byte units)
        (85 + 96, "127 B", 2),
        (85 + 96 + 1, "127 B", 3),
        (1232 + 1, "127 B", 1 + 12 + 1),  # two IPv6 datagrams: 1 + ceil(1147/96), then 1
    ],
)
def test_frames(size: int, link: str, expected: int) -> None:
    assert wire.frames(size, link) == expected


def test_loss_makes_big_flights_cost_more_than_their_airtime() -> None:
    small, big = wire.completion_ms_154([80]), wire.completion_ms_154([1200])
    airtime_one = (127 + 6) * 8 / 250_000 * 1000
    assert small == pytest.approx(airtime_one / 0.95 + (1 / 0.95 - 1) * 1000)
    assert big > 13 * small  # 13 frames, each a chance to lose the datagram
