"""Provisioning (Algorithm 1's registration): who may talk to whom, with which PSK.

Every device shares a PSK with its gateway and is bound to one patient; the gateway
shares a PSK with the cloud. Sessions are PSK-authenticated ML-KEM-768 handshakes
(the paper's configuration) with the AEAD suite for ``key_length``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dthq.errors import DecodeError
from dthq.pipeline.topics import check_party_id
from dthq.protocol.config import Auth, InitiatorConfig, PeerRecord, ResponderConfig
from dthq.protocol.cookie import CookieJar, RetryPolicy
from dthq.protocol.suites import Suite, suite_for

CLOUD_ID = "cloud"


@dataclass
class Registry:
    key_length: int = 256
    kem: str = "ML-KEM-768"
    devices: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id -> (patient, psk)
    gateways: dict[str, bytes] = field(default_factory=dict)  # id -> psk with the cloud

    @property
    def suite(self) -> Suite:
        return suite_for(self.key_length)

    def add_device(self, device: str, patient: str) -> None:
        check_party_id(device, "device id")
        self.devices[device] = (patient, os.urandom(self.suite.hash_len))

    def add_gateway(self, gateway: str) -> None:
        check_party_id(gateway, "gateway id")
        self.gateways[gateway] = os.urandom(self.suite.hash_len)

    def save(self, path: Path) -> None:
        """Write the registry (it holds the PSKs: mode 0600) for parties in other processes."""
        data = {
            "key_length": self.key_length,
            "kem": self.kem,
            "devices": {d: [p, psk.hex()] for d, (p, psk) in self.devices.items()},
            "gateways": {g: psk.hex() for g, psk in self.gateways.items()},
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)

    @classmethod
    def load(cls, path: Path) -> Registry:
        try:
            data = json.loads(path.read_text())
            registry = cls(int(data["key_length"]), str(data["kem"]))
            for device, (patient, psk) in data["devices"].items():
                registry.devices[check_party_id(device, "device id")] = (
                    str(patient),
                    bytes.fromhex(psk),
                )
            for gateway, psk in data["gateways"].items():
                registry.gateways[check_party_id(gateway, "gateway id")] = bytes.fromhex(psk)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DecodeError(f"{path}: not a registry file ({exc})") from None
        return registry

    def patient_of(self, device: str) -> str | None:
        entry = self.devices.get(device)
        return entry[0] if entry else None

    def device_config(self, device: str, gateway: str) -> InitiatorConfig:
        psk = self.devices[device][1]
        peer = PeerRecord(Auth.PSK, psk=psk)
        return InitiatorConfig(device.encode(), gateway.encode(), self.suite, peer, kem=self.kem)

    def gateway_responder(
        self, gateway: str, now_ms: int, retry: RetryPolicy = RetryPolicy.NEVER
    ) -> ResponderConfig:
        """What the gateway answers devices with; under a retry policy it issues cookies
        from a jar of its own, whose secret rotates from ``now_ms``."""
        known = {d.encode(): PeerRecord(Auth.PSK, psk=psk) for d, (_, psk) in self.devices.items()}
        cookies = None if retry is RetryPolicy.NEVER else CookieJar(now_ms)
        return ResponderConfig(gateway.encode(), known, retry=retry, cookies=cookies)

    def gateway_config(self, gateway: str) -> InitiatorConfig:
        peer = PeerRecord(Auth.PSK, psk=self.gateways[gateway])
        return InitiatorConfig(gateway.encode(), CLOUD_ID.encode(), self.suite, peer, kem=self.kem)

    def cloud_responder(self) -> ResponderConfig:
        known = {g.encode(): PeerRecord(Auth.PSK, psk=psk) for g, psk in self.gateways.items()}
        return ResponderConfig(CLOUD_ID.encode(), known)
