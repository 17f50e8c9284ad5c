"""``dthq twin serve``: the paper's step 5, "alerts visualised on healthcare dashboards".

A Starlette app (the framework under FastAPI) on loopback: ``/`` is the page,
``/events`` a server-sent-event stream of the cloud twin's view (every patient's
latest vitals, partial NEWS2, trend sparkline and alerts, and the pipeline's live
stage latencies), ``/api/twins`` the same view once, as JSON. The pipeline it shows
is a real run (:class:`~dthq.pipeline.run.Pipeline`) on its own thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from importlib.resources import files
from typing import Any

from dthq.pipeline.clock import Clock
from dthq.pipeline.run import Pipeline, SimConfig
from dthq.twin.news2 import LABEL

PUSH_EVERY_S = 0.5


class LivePipeline:
    """A pipeline run on a background thread, stoppable, with its view for the page."""

    def __init__(self, config: SimConfig, clock: Clock) -> None:
        self.config = config
        self._stack = ExitStack()
        self.pipeline = Pipeline(config, self._stack, clock)  # handshakes done on return
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.pipeline.run(stop=self._stop)
        except Exception as exc:  # shown on the page, not lost in a thread
            self.error = f"the pipeline stopped: {exc}"

    def view(self) -> dict[str, Any]:
        p = self.pipeline
        return {
            "label": LABEL,
            "patients": p.cloud.snapshot(),
            "stages": p.metrics.recent(),
            "counts": dict(p.metrics.counts),
            "rejected": sum(p.metrics.rejected.values()),
            "running": self._thread.is_alive(),
            "error": self.error,
            "transport": p.broker_name or self.config.transport,
        }

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._stack.close()


def app(live: LivePipeline) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    page = files("dthq.pipeline").joinpath("dashboard.html").read_text()

    async def index(request: Any) -> HTMLResponse:
        return HTMLResponse(page)

    async def twins(request: Any) -> JSONResponse:
        return JSONResponse(live.view())

    async def events(request: Any) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            while not await request.is_disconnected():
                yield f"data: {json.dumps(live.view())}\n\n"
                await asyncio.sleep(PUSH_EVERY_S)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/twins", twins),
            Route("/events", events),
        ]
    )


def serve(
    config: SimConfig, clock: Clock, host: str, port: int, listening: Callable[[str], None]
) -> None:
    """``dthq twin serve``'s lifecycle: the port taken first (a busy one fails before any
    pipeline starts; ``listening`` gets the page's URL once it is taken), then the pipeline and the
    page until Ctrl-C; the pipeline closes."""
    import uvicorn

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)  # not create_server's wording
        raise OSError(exc.errno, f"cannot listen: {why}", f"{host}:{port}") from None
    listening(f"http://{host}:{sock.getsockname()[1]}/")
    live = LivePipeline(config, clock)
    live.start()
    try:
        uvicorn.Server(uvicorn.Config(app(live), log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly, then re-raised the interrupt it caught
    finally:
        live.close()
        sock.close()
