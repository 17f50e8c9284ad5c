"""The embedded amqtt broker's own process:
``python -m dthq.transport.amqtt_broker --port P [--ready FILE] [--parent PID]``.

:class:`~dthq.transport.brokers.EmbeddedBroker` starts it; the fault suite starts it as
a party it kills. Its own process so that its event loop and GIL are not the bench's.

- ``--ready FILE``: written once the broker listens (the parent's start waits for it).
- ``--parent PID``: a managed child. It exits when that process is gone (a killed bench
  leaves no broker behind) and ignores SIGINT: a Ctrl-C reaches the whole foreground
  process group, and the parent stops its broker last, after the clients.
- SIGTERM: the listening socket is closed first, so the port is free at once whatever
  amqtt's shutdown then does (it closes its listeners only at its end, and can raise or
  time out under load); the shutdown is bounded by :data:`SHUTDOWN_S`.

Errors go to stderr, the last line saying what failed; the exit code is 1 if the broker
did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

LOOPBACK = "127.0.0.1"
SHUTDOWN_S = 3.0
PARENT_POLL_S = 0.2


class _OneLine(logging.Formatter):
    """A record on one line, its exception named, not traced: an overloaded broker logs
    many (a PUBACK it waited 5 s for), and the last line says what happened."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({record.exc_info[1]!r})"
        return text.replace("\n", " ")


def config(port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"}},
        "plugins": {
            # Clients must name a user (any name; no password on loopback): amqtt keeps
            # no messages for the persistent sessions of anonymous clients.
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}
        },
    }


async def _orphaned(parent: int) -> None:
    # Polled rather than PR_SET_PDEATHSIG: that fires when the parent *thread* that
    # started the child ends, and a broker may well be started from a worker thread.
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_POLL_S)


async def _serve(port: int, ready: Path | None, parent: int | None) -> None:
    from amqtt.broker import Broker

    broker = Broker(config(port))
    await broker.start()
    if ready is not None:
        ready.write_text("ready")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if parent is None:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    else:
        loop.create_task(_orphaned(parent)).add_done_callback(lambda _: stop.set())
    await stop.wait()
    for server in getattr(broker, "_servers", {}).values():
        if getattr(server, "instance", None) is not None:
            server.instance.close()
    # Stopping either way: a shutdown that fails or hangs leaves nothing the exit won't free.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(broker.shutdown(), SHUTDOWN_S)


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m dthq.transport.amqtt_broker")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready", type=Path, help="a file written once it listens")
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if args.parent is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # before amqtt's slow import
    # amqtt logs every refused or dropped client at WARNING; the pipeline counts those.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    logging.basicConfig(level=logging.ERROR, handlers=[handler])
    logging.getLogger("transitions").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    code = 0
    try:
        loop.run_until_complete(_serve(args.port, args.ready, args.parent))
    except Exception as exc:  # the one line a parent quotes: why it did not start
        print(f"amqtt did not start on {LOOPBACK}:{args.port}: {exc}", file=sys.stderr)
        code = 1
    sys.stderr.flush()
    # Not loop.close() nor asyncio.run: cancelling amqtt's leftover client tasks can hang,
    # and nothing here needs more cleaning up than the exit gives.
    os._exit(code)


if __name__ == "__main__":
    main()
