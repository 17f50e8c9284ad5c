"""What one fleet run is: the scenario, how many devices at what rate, for how long,
on how many Locust workers, through which broker, to how many gateways.

The scenarios:
- ``steady``: N devices at ``rate_hz`` each;
- ``handshake-storm``: steady, then every device drops its connection and handshakes
  again at the same instant (a gateway restart), while an attacker replays captured
  HELLOs; the gateway gives no cookies;
- ``handshake-storm-cookie``: the same, with the gateway's stateless retry cookie;
- ``rekey-storm``: steady, then every device runs a fresh ML-KEM handshake on its open
  connection at the same instant (a key-rotation deadline shared by the fleet);
- ``slow-consumer``: steady, with a twin that spends ``twin_delay_ms`` on each batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dthq.errors import UnsupportedError
from dthq.pipeline.gateway import policy_named
from dthq.pipeline.provision import Registry
from dthq.protocol.cookie import RetryPolicy
from dthq.transport.mqtt import parse_broker_url

SCENARIOS = {
    "steady": "N devices at the rate, handshakes at the start only",
    "handshake-storm": "every device reconnects and handshakes at once; replayed HELLOs; no cookie",
    "handshake-storm-cookie": "the same storm, the gateway answering HELLOs with retry cookies",
    "rekey-storm": "every device runs a fresh ML-KEM handshake at once on its open connection",
    "slow-consumer": "the twin takes twin_delay_ms per batch and falls behind",
}
STORMS = {"handshake-storm": "handshake", "handshake-storm-cookie": "handshake"}
STORMS["rekey-storm"] = "rekey"
BROKERS = ("amqtt", "mosquitto")
# Device kind -> (Locust user class, Locust weight, readings per second per fleet rate).
KINDS = {"wearable": ("Wearable", 4, 1.0), "bedside": ("BedsideMonitor", 1, 4.0)}
GATEWAY = "gw-1"  # the identity devices handshake with; a pool's members share it
MAX_DEVICES = 20_000  # one machine's file descriptors and memory; past it, the model


def device_id(worker: int, n: int) -> str:
    return f"dev-w{worker:02d}-{n:05d}"


def victim_id(n: int) -> str:
    """A registered device that is offline: the attacker replays its captured HELLOs."""
    return f"dev-off-{n:05d}"


@dataclass(frozen=True)
class FleetConfig:
    scenario: str = "steady"
    devices: int = 50
    kinds: tuple[str, ...] = ("wearable",)  # device kinds, mixed by their Locust weights
    rate_hz: float = 1.0
    duration_s: float = 10.0  # each device sends for this long once it is established
    workers: int = 2  # Locust worker processes on this machine
    remote_workers: int = 0  # more, started on other machines with `dthq fleet worker`
    broker: str | None = None  # mqtt://HOST:PORT; None: start the ``embedded`` one
    embedded: str = "amqtt"
    gateways: int = 1  # >1: a pool behind an MQTT 5 shared subscription (Mosquitto)
    spawn_rate: float = 100.0  # devices started per second
    storm_at_s: float = 0.5  # when the storm hits, as a share of the sending time
    replayed_per_s: float = 100.0  # the attacker's replayed HELLOs during a handshake storm
    victims: int = 64  # offline registered devices whose HELLOs it replays
    twin_delay_ms: float = 50.0  # slow-consumer: the twin's extra time per batch
    policy: str = "immediate"
    rekey_records: int = 256
    drain_s: float = 5.0  # after the last reading, for the twin to catch up
    master_port: int = 0  # 0: a free port (workers on other machines need a fixed one)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise UnsupportedError(
                f"unknown scenario {self.scenario!r}; choose {', '.join(SCENARIOS)}"
            )
        if not 1 <= self.devices <= MAX_DEVICES:
            raise UnsupportedError(f"--devices must be 1..{MAX_DEVICES} on one machine")
        if not 0 < self.rate_hz <= 50:
            raise UnsupportedError("--rate must be above 0 and at most 50 Hz")
        if not 1 <= self.duration_s <= 86_400:
            raise UnsupportedError("--duration must be 1 s .. a day")
        if not 1 <= self.workers <= 64 or not 0 <= self.remote_workers <= 1024:
            raise UnsupportedError("--workers must be 1..64 (and remote workers 0..1024)")
        if self.embedded not in BROKERS:
            raise UnsupportedError(f"unknown broker {self.embedded!r}; choose amqtt or mosquitto")
        if self.broker is not None:
            parse_broker_url(self.broker)
        if not 1 <= self.gateways <= 16:
            raise UnsupportedError("--gateways must be 1..16")
        if self.gateways > 1 and self.broker is None and self.embedded != "mosquitto":
            raise UnsupportedError(
                "a gateway pool needs MQTT 5 shared subscriptions: use --broker-kind mosquitto"
            )
        if not 0 < self.spawn_rate <= 10_000 or not 0 < self.storm_at_s < 1:
            raise UnsupportedError("spawn rate must be 0..10000 /s, the storm 0..1 of the run")
        if self.replayed_per_s < 0 or self.twin_delay_ms < 0 or self.victims < 1:
            raise UnsupportedError("replayed HELLOs, twin delay and victims cannot be negative")
        if not policy_named(self.policy).twin:
            raise UnsupportedError("the fleet's cloud keeps a twin: no-twin runs in dthq simulate")
        if not self.kinds or any(k not in KINDS for k in self.kinds):
            raise UnsupportedError(f"device kinds are {', '.join(KINDS)}")

    @property
    def storm(self) -> str | None:
        """``handshake``, ``rekey`` or None."""
        return STORMS.get(self.scenario)

    @property
    def retry(self) -> RetryPolicy:
        return (
            RetryPolicy.ALWAYS if self.scenario == "handshake-storm-cookie" else RetryPolicy.NEVER
        )

    @property
    def offered_per_s(self) -> float:
        """Readings per second the fleet offers once every device sends."""
        weights = {k: KINDS[k][1] for k in self.kinds}
        mean_rate = sum(w * KINDS[k][2] for k, w in weights.items()) / sum(weights.values())
        return self.devices * self.rate_hz * mean_rate

    @property
    def user_classes(self) -> list[str]:
        classes = [KINDS[k][0] for k in self.kinds]
        return classes + (["HelloReplayer"] if self.storm == "handshake" else [])

    @property
    def total_workers(self) -> int:
        return self.workers + self.remote_workers

    @property
    def per_worker(self) -> int:
        """Device ids each worker holds: Locust spreads users evenly, give or take one."""
        return math.ceil(self.devices / self.total_workers) + 1

    @property
    def ramp_s(self) -> float:
        return self.devices / self.spawn_rate

    @property
    def run_time_s(self) -> float:
        """Locust's --run-time: the ramp, every device's sending time, the drain."""
        return math.ceil(self.ramp_s + self.duration_s + self.drain_s + 2)


def provision(config: FleetConfig) -> Registry:
    """Every id a worker may give a device, the attacker's victims, and the gateways
    (``gw-1`` faces the devices; a pool's members ``gw-1``, ``gw-1-2``, ... each hold
    their own session with the cloud)."""
    registry = Registry()
    for g in range(config.gateways):
        registry.add_gateway(member_id(g))
    for w in range(config.total_workers):
        for n in range(config.per_worker):
            registry.add_device(device_id(w, n), f"P{w:02d}{n:05d}")
    for n in range(config.victims):
        registry.add_device(victim_id(n), f"PX{n:05d}")
    return registry


def member_id(index: int) -> str:
    return GATEWAY if index == 0 else f"{GATEWAY}-{index + 1}"


def registry_path(directory: Path) -> Path:
    return directory / "registry.json"
