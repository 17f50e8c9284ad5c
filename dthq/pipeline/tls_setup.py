"""The pipeline's parties behind mosquitto's TLS listener: a certificate each, and the
ACL that confines every identity to its own topics (see :mod:`dthq.pipeline.topics`).

A device may publish only on its up topic and read only its down topic; a gateway
reads every device's up topic and writes their down topics (it answers them), and
has its own pair towards the cloud; the cloud reads every gateway's up topic and
writes their down topics. Under the tls scheme this ACL is what makes a reading on
``dev/X/up`` device X's: nothing inside the message says so.
"""

from __future__ import annotations

from dthq.pipeline import topics
from dthq.pipeline.provision import CLOUD_ID, Registry
from dthq.transport.brokers import Acl
from dthq.transport.tls import TLSMaterial

SCHEMES = ("dthq", "tls", "dthq+tls")  # over plain MQTT, MQTT over TLS alone, DTHQ in TLS


def parties(registry: Registry) -> list[str]:
    return [*registry.devices, *registry.gateways, CLOUD_ID]


def acl(registry: Registry) -> Acl:
    rules: dict[str, list[tuple[str, str]]] = {}
    for device in registry.devices:
        rules[device] = [
            ("write", topics.device_up(device)),
            ("read", topics.device_down(device)),
        ]
    for gateway in registry.gateways:
        rules[gateway] = [
            ("read", topics.ALL_DEVICES_UP),
            ("write", topics.device_down("+")),
            ("write", topics.gateway_up(gateway)),
            ("read", topics.gateway_down(gateway)),
        ]
    rules[CLOUD_ID] = [("read", topics.ALL_GATEWAYS_UP), ("write", topics.gateway_down("+"))]
    return rules


def material(registry: Registry) -> TLSMaterial:
    """A certificate for every party of ``registry``, and the broker's."""
    return TLSMaterial(parties(registry))
