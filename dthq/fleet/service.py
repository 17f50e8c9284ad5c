"""The service side of a fleet run, each part in its own process so that its CPU is its
own: ``python -m dthq.fleet.service gateway ...`` runs the pipeline's
:class:`~dthq.pipeline.gateway.Gateway` until SIGTERM, handles what has come in by then,
and writes what it counted.
The embedded broker is a child process of its own already
(:class:`~dthq.transport.brokers.EmbeddedBroker`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from dthq.errors import DTHQError
from dthq.fleet.config import GATEWAY, member_id
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.gateway import Gateway, policy_named
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.protocol.cookie import RetryPolicy
from dthq.transport.mqtt import MQTTBus

CONNECT_S = 60.0  # the twin starts with the Locust master, after the gateway
QUIET_S, DRAIN_S = 0.3, 5.0  # after SIGTERM: stop once quiet this long, or at the limit


def _until_terminated() -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()


def _drain(metrics: Metrics, quiet_s: float = QUIET_S, limit_s: float = DRAIN_S) -> None:
    """Until nothing has come in for ``quiet_s``: the messages the broker took before
    the run ended (the attacker's last replays, say) are handled, and counted."""
    deadline = time.monotonic() + limit_s
    seen = metrics.wire_total()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = metrics.wire_total()
        if now == seen:
            return
        seen = now


def gateway(args: argparse.Namespace) -> None:
    registry = Registry.load(Path(args.registry))
    bus = MQTTBus(
        args.broker,
        args.client_id or f"dthq-fleet-{args.member}-{os.urandom(3).hex()}",
        persistent=True,
        protocol=args.protocol or None,
    )
    metrics = Metrics()
    pool = tuple(member_id(g) for g in range(args.pool)) if args.pool > 1 else ()
    gw = Gateway(
        GATEWAY,
        registry,
        bus,
        bus,
        metrics,
        policy=policy_named(args.policy),
        retry=RetryPolicy(args.retry),
        pool=pool,
        member=args.member,
        clock=SYSTEM_CLOCK,
    )
    # One call: the handshake's own backoff sends its HELLO again (1-2 s, then doubling)
    # while the cloud is not up yet. Starting afresh every second instead would never
    # finish once a round trip takes longer: each HELLO would void the one before.
    gw.connect(timeout=CONNECT_S)
    Path(args.ready).write_text("ready")
    _until_terminated()
    _drain(metrics)
    gw.close()
    bus.close()
    stats = {
        "work": gw.handshake_work,
        "counts": dict(metrics.counts),
        "rejected": dict(metrics.rejected),
        "rejection_examples": dict(metrics.examples),
        "cpu_s": dict(metrics.cpu_s),
        "wire": dict(metrics.wire),
    }
    Path(args.stats).write_text(json.dumps(stats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dthq.fleet.service")
    sub = parser.add_subparsers(dest="part", required=True)
    g = sub.add_parser("gateway")
    g.add_argument("--registry", required=True)
    g.add_argument("--broker", required=True)
    g.add_argument("--protocol", type=int, default=0)
    g.add_argument("--member", default=GATEWAY, help="its identity with the cloud")
    g.add_argument("--pool", type=int, default=1, help="members in its pool (>1: $share)")
    g.add_argument("--policy", default="immediate")
    g.add_argument("--retry", default="never", choices=[p.value for p in RetryPolicy])
    g.add_argument("--ready", required=True)
    g.add_argument("--stats", required=True)
    g.add_argument(
        "--client-id",
        default="",
        help="a stable MQTT client id: a restarted gateway takes up what the broker kept",
    )
    args = parser.parse_args(argv)
    try:
        gateway(args)
    except DTHQError as exc:
        print(f"dthq fleet {args.part}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
