"""The tap's upstream connection: parses the API server's responses and hands each part to
the client connection it belongs to (`Downstream`, which strom.tools.tap.proxy implements)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import httptools

from strom.tools.tap.http1 import Header

__all__ = ["WRITE_HIGH_WATER", "Downstream", "UpstreamSide", "as_transport"]

# Pause the other side once this much waits in a transport's write buffer.
WRITE_HIGH_WATER = 256 * 1024


def as_transport(tr: asyncio.BaseTransport) -> asyncio.Transport:
    # uvloop's SSL transport is not an asyncio.Transport subclass but has its interface.
    return tr  # type: ignore[return-value]


class Downstream(Protocol):
    """What an upstream connection tells its client connection."""

    write_paused: bool

    def record_raw(self, direction: str, data: bytes) -> None: ...
    def pause(self, reason: str) -> None: ...
    def resume(self, reason: str) -> None: ...
    def response_head(
        self, up: UpstreamSide, status: int, reason: bytes, headers: list[Header]
    ) -> None: ...
    def response_body(self, body: bytes) -> None: ...
    def response_done(self, up: UpstreamSide, *, keep_alive: bool) -> None: ...
    def raw_from_upstream(self, data: bytes) -> None: ...
    def upstream_broken(self, up: UpstreamSide, message: str) -> None: ...
    def upstream_lost(self, up: UpstreamSide) -> None: ...


class UpstreamSide(asyncio.Protocol):
    """The connection to the API server: parses responses and hands them to its client."""

    def __init__(self, client: Downstream, *, raw: bool = False) -> None:
        self.client = client
        self.raw = raw  # every byte received goes to the capture (--save-raw)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.tunnel = False
        self.discard = False  # after a HEAD response: nothing more is read from here
        self.interim = False  # parsing a 1xx response (other than 101)
        self._reason = bytearray()
        self._headers: list[Header] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = as_transport(transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.client.write_paused:
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.client.upstream_lost(self)

    def pause_writing(self) -> None:
        self.client.pause("upstream")

    def resume_writing(self) -> None:
        self.client.resume("upstream")

    def data_received(self, data: bytes) -> None:
        if self.raw:
            self.client.record_raw("down", data)
        if self.discard:
            return
        if self.tunnel:
            self.client.raw_from_upstream(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.tunnel = True
            rest = data[int(exc.args[0]) :]
            if rest:
                self.client.raw_from_upstream(rest)
        except httptools.HttpParserError as exc:
            self.client.upstream_broken(self, f"upstream sent malformed HTTP: {exc}")

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._reason.clear()
        self._headers = []

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.client.response_head(
            self, self.parser.get_status_code(), bytes(self._reason), self._headers
        )

    def on_body(self, body: bytes) -> None:
        self.client.response_body(body)

    def on_message_complete(self) -> None:
        self.client.response_done(self, keep_alive=self.parser.should_keep_alive())
