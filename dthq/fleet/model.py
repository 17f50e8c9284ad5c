"""MODELLED: a 100,000-device region, from the per-unit costs one fleet run measured.

Nothing here is measured at that size. It scales this machine's measured costs (gateway
CPU per reading and per handshake, broker and twin CPU per reading, bytes per reading
and per handshake) linearly, with each process run at ``TARGET_UTILISATION`` of one
core (Python's GIL and Mosquitto's single thread both cap a process at one). Linear
scaling ignores contention, fan-in limits and the network; it is a floor on what a
deployment needs, stated as such wherever it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dthq.fleet.config import device_id
from dthq.harness.results import FleetRun
from dthq.pipeline import topics

REGION_DEVICES = 100_000
TARGET_UTILISATION = 0.7
LABEL = "MODELLED"


def mqtt_publish_overhead(topic: str) -> int:
    """Bytes MQTT adds to a QoS 1 PUBLISH: fixed header (2, for bodies < 16 KiB), topic
    length and topic, packet id; and the broker's 4-byte PUBACK."""
    return 2 + 2 + len(topic.encode()) + 2 + 4


@dataclass(frozen=True)
class Region:
    devices: int
    rate_hz: float
    source: FleetRun

    @property
    def readings_per_s(self) -> float:
        return self.devices * self.rate_hz

    def _processes(self, ms_per_unit: float, per_s: float) -> int:
        return max(1, math.ceil(per_s * ms_per_unit / 1000 / TARGET_UTILISATION))

    @property
    def gateways(self) -> int:
        return self._processes(self.source.costs["gateway_ms_per_reading"], self.readings_per_s)

    @property
    def brokers(self) -> int:
        return self._processes(self.source.costs["broker_ms_per_reading"], self.readings_per_s)

    @property
    def twins(self) -> int:
        return self._processes(self.source.costs["twin_ms_per_reading"], self.readings_per_s)

    @property
    def uplink_mbit_s(self) -> float:
        c = self.source.costs
        per = c["bytes_per_reading"] + mqtt_publish_overhead(topics.device_up(device_id(0, 0)))
        return self.readings_per_s * per * 8 / 1e6

    @property
    def storm_bytes_mb(self) -> float:
        return self.devices * self.source.costs["bytes_per_handshake"] / 1e6

    def storm_recovery_s(self, share: float) -> float:
        """Every device handshakes again; the gateways give ``share`` of their cores to
        it (1.0: all; the rest of the time the readings keep coming)."""
        cpu_s = self.devices * self.source.costs["gateway_ms_per_handshake"] / 1000
        return cpu_s / (self.gateways * share)

    def rows(self) -> list[tuple[str, str, str]]:
        c = self.source.costs
        src = f"{self.source.key}, measured"
        return [
            (f"{LABEL}: devices at {self.rate_hz:g} Hz", f"{self.devices:,}", "assumed"),
            (f"{LABEL}: readings per second", f"{self.readings_per_s:,.0f}", "devices x rate"),
            (
                f"{LABEL}: gateway processes at {TARGET_UTILISATION:.0%} of a core",
                f"{self.gateways}",
                f"{c['gateway_ms_per_reading']:.3f} ms CPU per reading ({src})",
            ),
            (
                f"{LABEL}: broker nodes (one core each)",
                f"{self.brokers}",
                f"{c['broker_ms_per_reading']:.3f} ms broker CPU per reading, both hops ({src})",
            ),
            (
                f"{LABEL}: twin consumer processes",
                f"{self.twins}",
                f"{c['twin_ms_per_reading']:.3f} ms twin CPU per reading ({src})",
            ),
            (
                f"{LABEL}: device uplink, MQTT payload and framing",
                f"{self.uplink_mbit_s:.1f} Mbit/s",
                f"{c['bytes_per_reading']:.0f} B per sealed reading ({src}), no TCP/IP",
            ),
            (
                f"{LABEL}: handshake storm, bytes",
                f"{self.storm_bytes_mb:.0f} MB",
                f"{c['bytes_per_handshake']:.0f} B per handshake, three flights ({src})",
            ),
            (
                f"{LABEL}: storm recovery, gateways all on handshakes",
                f"{self.storm_recovery_s(1.0):.1f} s",
                f"{c['gateway_ms_per_handshake']:.3f} ms gateway CPU per handshake ({src})",
            ),
            (
                f"{LABEL}: storm recovery, gateways' headroom only",
                f"{self.storm_recovery_s(1 - TARGET_UTILISATION):.1f} s",
                f"the {1 - TARGET_UTILISATION:.0%} left beside the steady load",
            ),
        ]


def region(run: FleetRun, devices: int = REGION_DEVICES, rate_hz: float = 1.0) -> Region:
    return Region(devices, rate_hz, run)
