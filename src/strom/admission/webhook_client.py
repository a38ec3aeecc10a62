"""One HTTPS POST to an admission webhook, on the event loop, bounded in time and bytes.

A webhook call must not hold up other requests (the loop keeps serving while a webhook
thinks), must end by its `timeoutSeconds`, and must not let a webhook make strom buffer
without limit: the response body is capped. Errors read as Go's net/http client words them
inside kube's messages (`Post "https://…": dial tcp 127.0.0.1:1: connect: connection
refused`, `context deadline exceeded`), since users grep for those.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ssl
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

import httptools
import orjson

__all__ = ["MAX_RESPONSE_BYTES", "CallError", "Target", "decode_ca_bundle", "post", "post_json"]

MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # an AdmissionReview holds at most two 3 MiB objects
_CONTEXTS_MAX = 64
_CONTEXTS: OrderedDict[bytes, ssl.SSLContext] = OrderedDict()


class CallError(Exception):
    """The call did not produce a response (kube's "failed to call webhook: …")."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the POST goes: the URL kube would name, and the socket address behind it."""

    url: str  # https://host:port/path?timeout=10s, as kube prints it
    host: str  # the address connected to
    port: int
    server_name: str  # TLS server name to verify (the URL's host, or name.ns.svc)
    ca_bundle: bytes  # PEM; empty: the system's roots


def decode_ca_bundle(value: object) -> bytes:
    """A clientConfig's caBundle (base64 of PEM); empty when absent or not base64 (the
    system's roots then apply, as validation lets nothing else through)."""
    if not isinstance(value, str) or not value:
        return b""
    try:
        return base64.b64decode(value)
    except (ValueError, binascii.Error):
        return b""


def _context(ca_bundle: bytes) -> ssl.SSLContext:
    cached = _CONTEXTS.get(ca_bundle)
    if cached is not None:
        _CONTEXTS.move_to_end(ca_bundle)
        return cached
    context = ssl.create_default_context()
    if ca_bundle:
        context = ssl.create_default_context(cadata=ca_bundle.decode("ascii", "replace"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _CONTEXTS[ca_bundle] = context
    if len(_CONTEXTS) > _CONTEXTS_MAX:
        _CONTEXTS.popitem(last=False)
    return context


class _Response:
    """httptools callbacks collecting one response, its body capped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.body = bytearray()
        self.done = False
        self.too_large = False

    def on_body(self, data: bytes) -> None:
        if len(self.body) + len(data) > self.limit:
            self.too_large = True
            return
        self.body += data

    def on_message_complete(self) -> None:
        self.done = True


def _dial_error(target: Target, exc: OSError) -> str:
    address = f"{target.host}:{target.port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        if "unable to get local issuer" in reason or "self-signed" in reason:
            return (
                "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            )
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            return (
                "tls: failed to verify certificate: x509: certificate is valid for another"
                f" name, not {target.server_name}"
            )
        return f"tls: failed to verify certificate: {reason}"
    if isinstance(exc, ssl.SSLError):
        return f"remote error: tls: {exc.reason or exc}"
    return f"dial tcp {address}: {exc.strerror or exc}"


async def post(
    target: Target, body: bytes, timeout: float, limit: int = MAX_RESPONSE_BYTES
) -> tuple[int, bytes]:
    """POST `body` (JSON); the status code and the body of the answer."""
    try:
        async with asyncio.timeout(timeout):
            return await _exchange(target, body, limit)
    except TimeoutError as exc:
        raise CallError(f'Post "{target.url}": context deadline exceeded') from exc


async def _exchange(target: Target, body: bytes, limit: int) -> tuple[int, bytes]:
    try:
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=_context(target.ca_bundle),
            server_hostname=target.server_name,
        )
    except OSError as exc:
        raise CallError(f'Post "{target.url}": {_dial_error(target, exc)}') from exc
    try:
        path = urllib.parse.urlsplit(target.url)
        request_path = (path.path or "/") + (f"?{path.query}" if path.query else "")
        head = (
            f"POST {request_path} HTTP/1.1\r\n"
            f"Host: {path.netloc}\r\n"
            "User-Agent: kube-apiserver-admission\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json, */*\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        response = _Response(limit)
        parser = httptools.HttpResponseParser(response)
        while not response.done:
            chunk = await reader.read(65536)
            if not chunk:
                parser.feed_data(b"")  # lets a body without length end
                if not response.done:
                    raise CallError(f'Post "{target.url}": EOF')
                break
            parser.feed_data(chunk)
            if response.too_large:
                raise CallError(f'Post "{target.url}": response body larger than {limit} bytes')
        return parser.get_status_code(), bytes(response.body)
    except httptools.HttpParserError as exc:
        raise CallError(f'Post "{target.url}": malformed HTTP response') from exc
    except OSError as exc:
        raise CallError(f'Post "{target.url}": {exc.strerror or exc}') from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def post_json(target: Target, payload: object, timeout: float) -> object:
    """POST `payload` as JSON; the decoded JSON answer of a 2xx response. Anything else is a
    CallError worded as kube's webhook client words it."""
    status, raw = await post(target, orjson.dumps(payload), timeout)
    if status < 200 or status > 299:
        raise CallError(
            f"the server responded with the status code {status} but did not return more"
            " information"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CallError(f"invalid JSON in response: {exc}") from exc
