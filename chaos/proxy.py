"""A TCP proxy between the parties and the broker that cuts every connection at random
intervals: the network faults of the suite. Each cut aborts both sides of every open
connection at once (a reset, as a dying NAT or a flapping link gives), and new
connections are accepted at once, so clients see a drop and reconnect.

The cut times come from a seeded generator (exponential gaps with the mean given), so
a run's fault schedule is reproducible; what the clients do in between is not.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass

from dthq.errors import DTHQError

CHUNK = 65536


class ProxyError(DTHQError):
    """The proxy could not start (its port is taken, say)."""


@dataclass
class ProxyStats:
    connections: int = 0
    cuts: int = 0  # cut events
    severed: int = 0  # connections aborted by them


class CuttingProxy:
    """Listen on ``listen_port`` (0: any free port, see :attr:`port`), forward to
    ``upstream``; every ``mean_gap_s`` on average (exponential gaps), abort every open
    connection. ``mean_gap_s=None`` forwards without cutting until :meth:`cut` is called."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        listen_port: int = 0,
        mean_gap_s: float | None = None,
        seed: int = 0,
    ) -> None:
        if mean_gap_s is not None and mean_gap_s <= 0:
            raise ProxyError("the mean gap between cuts must be above 0 s")
        self.upstream = upstream
        self.stats = ProxyStats()
        self._mean_gap_s = mean_gap_s
        self._random = random.Random(seed)
        self._links: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._listen_port = listen_port
        self._cutter: asyncio.Task[None] | None = None
        self.cut_times: list[int] = []  # wall-clock ms of each scheduled or asked-for cut
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="chaos-proxy", daemon=True)

    def __enter__(self) -> CuttingProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise ProxyError(f"proxy on port {self._listen_port}: {self._error}")

    def cut(self) -> int:
        """Abort every open connection now; how many were open."""
        future = asyncio.run_coroutine_threadsafe(self._cut(), self._loop)
        return future.result(10)

    def cut_every(self, mean_gap_s: float | None) -> None:
        """Cut on a schedule from now on (exponential gaps of this mean), or stop (None)."""
        if mean_gap_s is not None and mean_gap_s <= 0:
            raise ProxyError("the mean gap between cuts must be above 0 s")

        def switch() -> None:
            if self._cutter is not None:
                self._cutter.cancel()
            self._mean_gap_s = mean_gap_s
            self._cutter = asyncio.ensure_future(self._cut_loop()) if mean_gap_s else None

        self._loop.call_soon_threadsafe(switch)

    def close(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    # the proxy's own thread

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        if self._mean_gap_s:
            self._cutter = asyncio.create_task(self._cut_loop())
        await self._stop.wait()
        if self._cutter is not None:
            self._cutter.cancel()
        server.close()
        await self._cut(count=False)
        await server.wait_closed()

    async def _cut_loop(self) -> None:
        while self._mean_gap_s:
            await asyncio.sleep(self._random.expovariate(1 / self._mean_gap_s))
            await self._cut()

    async def _cut(self, count: bool = True) -> int:
        links = list(self._links)
        self._links.clear()
        for link in links:
            link.transport.abort()
        if count:
            self.cut_times.append(time.time_ns() // 1_000_000)
            self.stats.cuts += 1
            self.stats.severed += len(links) // 2  # two sides per connection
        return len(links) // 2

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()  # the broker is down: the client sees a refused link
            return
        self.stats.connections += 1
        self._links.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._links.difference_update((writer, up_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
