"""Candidate servers built on `asyncio.Protocol` + ssl: the design strom would own end to end.

One module covers three candidates that differ in event loop and request parser:
  stdlib  -- `--loop asyncio --parser naive` (no third-party code at all)
  uvloop  -- `--loop uvloop  --parser httptools`
  h11     -- `--loop uvloop  --parser h11` (h11 also frames each chunk, per watcher)
Watch events are written with `transport.write` of bytes framed once for all watchers.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, cast

from bench.stacks.common import (
    CHUNKED_END,
    HOST,
    LISTEN_BACKLOG,
    NOT_FOUND,
    OBJ_BODY,
    OBJ_RESPONSE,
    WATCH_HEAD,
    Hub,
    control_loop,
    raise_nofile,
    say,
    server_ssl_context,
)


class Conn(asyncio.Protocol):
    """Transport bookkeeping and routing; subclasses parse requests and call `route`."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.watching = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.remove(self)
        self.transport = None

    def pause_writing(self) -> None:
        self.paused = True
        if self.watching and self in self.hub.watchers:
            self.hub.on_pause()

    def resume_writing(self) -> None:
        self.paused = False
        if self.watching and self in self.hub.watchers:
            self.hub.on_resume()

    def route(self, method: bytes, target: bytes) -> None:
        assert self.transport is not None
        if method == b"GET" and target == b"/obj":
            self.respond_obj()
        elif method == b"GET" and target.startswith(b"/watch"):
            self.transport.write(WATCH_HEAD)
            self.watching = True
            if self.paused:
                self.hub.on_pause()
            self.hub.add(self)
        else:
            self.transport.write(NOT_FOUND)

    def respond_obj(self) -> None:
        assert self.transport is not None
        self.transport.write(OBJ_RESPONSE)

    # Watcher interface used by Hub.
    def send(self, raw: bytes, framed: bytes) -> None:
        if self.transport is not None:
            self.transport.write(framed)

    def buffered(self) -> int:
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.write(CHUNKED_END)
            self.transport.close()


class NaiveConn(Conn):
    """Stdlib-only parsing: enough for body-less GETs, which is all the benchmark sends."""

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head, self.buf = self.buf[:end], self.buf[end + 4 :]
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            self.route(method, target)


class HttptoolsConn(Conn):
    def __init__(self, hub: Hub) -> None:
        import httptools

        super().__init__(hub)
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        self.route(self.parser.get_method(), self.url)


class H11Conn(Conn):
    """h11 parses requests and frames responses; each watcher frames its own chunks."""

    def __init__(self, hub: Hub) -> None:
        import h11

        super().__init__(hub)
        self.h11 = h11
        self.conn = h11.Connection(h11.SERVER)
        self.method = b""
        self.target = b""

    def data_received(self, data: bytes) -> None:
        h11 = self.h11
        self.conn.receive_data(data)
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self.method, self.target = event.method, event.target
            elif isinstance(event, h11.EndOfMessage):
                self.route(self.method, self.target)

    def _write(self, event: Any) -> None:
        data = self.conn.send(event)
        if data and self.transport is not None:
            self.transport.write(data)

    def route(self, method: bytes, target: bytes) -> None:
        h11 = self.h11
        if method == b"GET" and target.startswith(b"/watch"):
            headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
            self._write(h11.Response(status_code=200, headers=headers))
            self.watching = True
            if self.paused:
                self.hub.on_pause()
            self.hub.add(self)
        elif method == b"GET" and target == b"/obj":
            self.respond_obj()
        else:
            self._write(h11.Response(status_code=404, headers=[("Content-Length", "0")]))
            self._write(h11.EndOfMessage())
            self.conn.start_next_cycle()

    def respond_obj(self) -> None:
        h11 = self.h11
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(OBJ_BODY)))]
        self._write(h11.Response(status_code=200, headers=headers))
        self._write(h11.Data(data=OBJ_BODY))
        self._write(h11.EndOfMessage())
        self.conn.start_next_cycle()

    def send(self, raw: bytes, framed: bytes) -> None:
        self._write(self.h11.Data(data=raw))

    def finish(self) -> None:
        self._write(self.h11.EndOfMessage())
        if self.transport is not None:
            self.transport.close()


PARSERS: dict[str, type[Conn]] = {"naive": NaiveConn, "httptools": HttptoolsConn, "h11": H11Conn}


async def serve(parser: str) -> None:
    hub = Hub()
    conn_class = PARSERS[parser]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: conn_class(hub),
        HOST,
        0,
        ssl=server_ssl_context(),
        backlog=LISTEN_BACKLOG,
    )
    say("listening", server.sockets[0].getsockname()[1])
    await control_loop(hub)
    server.close()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    args.add_argument("--parser", choices=sorted(PARSERS), required=True)
    opts = args.parse_args()
    raise_nofile()
    if opts.loop == "uvloop":
        import uvloop

        uvloop.run(serve(opts.parser))
    else:
        asyncio.run(serve(opts.parser))


if __name__ == "__main__":
    main()
