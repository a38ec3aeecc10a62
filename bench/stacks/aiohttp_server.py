"""Candidate server on aiohttp (on uvloop): a framework's streaming response, for comparison.

Each watcher is a handler coroutine draining its own queue with `StreamResponse.write`, which
does the chunk framing and awaits drain; the shared writer only appends to the queues.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import uvloop
from aiohttp import web
from bench.stacks.common import (
    HOST,
    LISTEN_BACKLOG,
    OBJ_BODY,
    Hub,
    control_loop,
    raise_nofile,
    say,
    server_ssl_context,
)

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class QueueWatcher:
    def __init__(self, hub: Hub, transport: asyncio.Transport | None) -> None:
        self.hub = hub
        self.transport = transport
        self.items: deque[bytes] = deque()
        self.queued = 0
        self.paused = False
        self.done = False
        self.wake = asyncio.Event()

    def send(self, raw: bytes, framed: bytes) -> None:
        self.items.append(raw)
        self.queued += len(raw)
        self.wake.set()
        if not self.paused and self.queued > HIGH_WATER:
            self.paused = True
            self.hub.on_pause()

    def _taken(self, item: bytes) -> None:
        self.queued -= len(item)
        if self.paused and self.queued < LOW_WATER:
            self.paused = False
            if self in self.hub.watchers:
                self.hub.on_resume()

    def buffered(self) -> int:
        in_transport = 0 if self.transport is None else self.transport.get_write_buffer_size()
        return self.queued + in_transport

    def abort(self) -> None:
        self.done = True
        self.items.clear()
        if self.transport is not None:
            self.transport.abort()
        self.wake.set()

    def finish(self) -> None:
        self.done = True
        self.wake.set()

    async def pump(self, resp: web.StreamResponse) -> None:
        """One `resp.write` per queued item: the writer decides the batching."""
        while True:
            while self.items:
                item = self.items.popleft()
                self._taken(item)
                await resp.write(item)
            if self.done:
                return
            self.wake.clear()
            await self.wake.wait()


def make_app(hub: Hub) -> web.Application:
    async def watch(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        watcher = QueueWatcher(hub, request.transport)
        hub.add(watcher)
        try:
            await watcher.pump(resp)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            hub.remove(watcher)
        return resp

    async def obj(request: web.Request) -> web.Response:
        return web.Response(body=OBJ_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/watch", watch)
    app.router.add_get("/obj", obj)
    return app


async def serve() -> None:
    hub = Hub()
    runner = web.AppRunner(make_app(hub), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner,
        HOST,
        0,
        ssl_context=server_ssl_context(),
        backlog=LISTEN_BACKLOG,
        shutdown_timeout=1.0,
    )
    await site.start()
    server: Any = site._server  # uvloop's Server is not an asyncio.Server subclass
    say("listening", server.sockets[0].getsockname()[1])
    await control_loop(hub)
    await runner.cleanup()


def main() -> None:
    raise_nofile()
    uvloop.run(serve())


if __name__ == "__main__":
    main()
