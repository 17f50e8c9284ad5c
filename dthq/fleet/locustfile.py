"""What ``locust -f`` loads for a DTHQ fleet: the device user classes, the options they
take (``--dthq-*``; the master hands them to every worker, local or remote), and the
master's part: the cloud twin, the storm signal, the workers' samples.

``dthq fleet`` starts Locust with it; to add workers on other machines, run there
``dthq fleet worker --master-host HOST``, with the registry copied to the same path (see
README).
"""

from __future__ import annotations

from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from dthq.fleet.devices import BedsideMonitor, HelloReplayer, Wearable
from dthq.fleet.twin import FleetTwin

__all__ = ["BedsideMonitor", "HelloReplayer", "Wearable"]

_twin: list[FleetTwin] = []


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("DTHQ fleet")
    group.add_argument("--dthq-registry", help="the provisioned parties (PSKs; mode 0600)")
    group.add_argument("--dthq-broker", help="mqtt://HOST:PORT of the fleet's broker")
    group.add_argument("--dthq-protocol", type=int, default=0, help="4 (MQTT 3.1.1) or 5")
    group.add_argument("--dthq-rate", type=float, default=1.0, help="readings per second")
    group.add_argument("--dthq-duration", type=float, default=10.0, help="seconds each sends")
    group.add_argument("--dthq-storm", default="", help="handshake, rekey or empty")
    group.add_argument("--dthq-storm-after", type=float, default=0.0, help="s after start")
    group.add_argument("--dthq-replayed", type=float, default=0.0, help="replayed HELLOs /s")
    group.add_argument("--dthq-victims", type=int, default=64, help="offline devices replayed")
    group.add_argument("--dthq-twin-delay-ms", type=float, default=0.0, help="slow consumer")
    group.add_argument("--dthq-gateways", type=int, default=1, help="gateways the twin awaits")
    group.add_argument("--dthq-out", default=".", help="where the master writes twin.json")


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    twin = FleetTwin(environment)
    _twin.append(twin)
    runner.register_message("dthq_samples", twin.samples)
    twin.wait_for_gateways()  # before any worker spawns a device


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    o = environment.parsed_options
    if isinstance(runner, MasterRunner) and o.dthq_storm and _twin:

        def storm() -> None:
            import time

            _twin[0].storm_at = time.time()
            runner.send_message("dthq_storm")

        gevent.spawn_later(o.dthq_storm_after, storm)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if _twin:
        _twin[0].write()
        _twin[0].close()
