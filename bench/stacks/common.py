"""Pieces every candidate server and client shares, so the stacks differ only in their HTTP layer.

The event bytes, the TLS setup, the writer loop, the backpressure rule and the control channel
(stdin/stdout lines from the driver) live here; a candidate only supplies how a watcher is
registered and how bytes reach its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import os
import resource
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
# Every event starts with this marker followed by a fixed-width monotonic timestamp, so a
# client can count events with bytes.count and read a timestamp without parsing JSON.
MARK = b'{"t":"'
TS_DIGITS = 20
# A watcher whose unsent bytes exceed this is closed (the apiserver drops slow watchers).
SLOW_WATCHER_BYTES = 1 << 20
# The writer waits for drain while at least this fraction of watchers is paused: the machine
# (not one watcher) is then behind, and writing more would only grow buffers.
CONGESTED_FRACTION = 0.1
DRAIN_WAIT_SECONDS = 0.05
LISTEN_BACKLOG = 8192

_EVENT_OBJECT = {
    "type": "MODIFIED",
    "object": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "bench-object",
            "namespace": "default",
            "uid": "9a0b6f8e-3c1d-4e2f-8a7b-6c5d4e3f2a1b",
            "resourceVersion": "123456",
            "labels": {"app": "bench", "tier": "watch"},
        },
        "data": {"payload": "x" * 700},
    },
}
_EVENT_REST = orjson.dumps(_EVENT_OBJECT)[1:] + b"\n"  # everything after the opening brace


def event_line(seq: int) -> bytes:
    """One ~1 KB JSON line stamped with the current monotonic clock (shared by processes)."""
    del seq  # same bytes for every event except the timestamp
    return b'%s%020d",%s' % (MARK, time.monotonic_ns(), _EVENT_REST)


def frame_chunk(payload: bytes) -> bytes:
    """HTTP/1.1 chunked framing of one payload, built once and shared by every watcher."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


OBJ_BODY = orjson.dumps(
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bench", "namespace": "default", "resourceVersion": "42"},
        "data": {"k": "v" * 173},
    }
)
assert len(OBJ_BODY) == 300, len(OBJ_BODY)
OBJ_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(OBJ_BODY), OBJ_BODY)
)
WATCH_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
CHUNKED_END = b"0\r\n\r\n"


def raise_nofile() -> None:
    """Lift the soft descriptor limit to the hard one: thousands of sockets per process."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _write_self_signed(directory: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def server_ssl_context() -> ssl.SSLContext:
    """TLS 1.3 only, with a fresh self-signed ECDSA certificate (cheap handshakes)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with tempfile.TemporaryDirectory() as tmp:
        ctx.load_cert_chain(*_write_self_signed(tmp))
    return ctx


def client_ssl_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- latency histogram (log buckets of 1 %, mergeable across client processes) -------------

_LOG_STEP = math.log(1.01)


def hist_add(hist: dict[int, int], micros: int) -> None:
    bucket = int(math.log(max(micros, 1)) / _LOG_STEP)
    hist[bucket] = hist.get(bucket, 0) + 1


def hist_quantile(hist: dict[int, int], q: float) -> float:
    """Latency in ms at quantile q of a merged histogram (nan when empty)."""
    total = sum(hist.values())
    if total == 0:
        return math.nan
    rank = q * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return math.exp((bucket + 0.5) * _LOG_STEP) / 1000.0
    return math.nan


# --- fan-out hub --------------------------------------------------------------------------


class Watcher(Protocol):
    paused: bool

    def send(self, raw: bytes, framed: bytes) -> None: ...

    def buffered(self) -> int: ...

    def abort(self) -> None: ...

    def finish(self) -> None: ...


class Hub:
    """The set of open watchers, their pause count and the slow-watcher rule."""

    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()
        self.paused = 0
        self._drained = asyncio.Event()

    def add(self, watcher: Watcher) -> None:
        self.watchers.add(watcher)

    def remove(self, watcher: Watcher) -> None:
        if watcher in self.watchers:
            self.watchers.discard(watcher)
            if watcher.paused:
                self.on_resume()

    def on_pause(self) -> None:
        self.paused += 1
        self._drained.clear()

    def on_resume(self) -> None:
        self.paused -= 1
        if not self.congested():
            self._drained.set()

    def congested(self) -> bool:
        return self.paused > CONGESTED_FRACTION * max(len(self.watchers), 1)

    async def wait_drained(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)

    def broadcast(self, raw: bytes, framed: bytes) -> int:
        """Send to every watcher; returns how many were dropped as too slow."""
        dropped = 0
        for watcher in tuple(self.watchers):
            if watcher.paused and watcher.buffered() > SLOW_WATCHER_BYTES:
                self.remove(watcher)
                watcher.abort()
                dropped += 1
            else:
                watcher.send(raw, framed)
        return dropped

    def finish_all(self) -> None:
        for watcher in tuple(self.watchers):
            self.remove(watcher)
            watcher.finish()


async def run_writer(
    hub: Hub, *, seconds: float, batch: int, rate: float = 0.0
) -> dict[str, float]:
    """Write events to every watcher, up to `batch` queued events per write.

    rate=0 writes as fast as the watchers drain (max rate); otherwise `rate` events/s, each
    write carrying the events that are due (at most `batch`).
    """
    start = time.monotonic()
    end = start + seconds
    per_watcher = rounds = dropped = stalls = 0
    watchers_at_start = len(hub.watchers)
    while hub.watchers and (now := time.monotonic()) < end:
        count = batch
        if rate:
            due = int((now - start) * rate) - per_watcher
            if due <= 0:
                await asyncio.sleep(start + (per_watcher + 1) / rate - now)
                continue
            count = min(due, batch)
        raw = b"".join(event_line(per_watcher + i) for i in range(count))
        dropped += hub.broadcast(raw, frame_chunk(raw))
        per_watcher += count
        rounds += 1
        await asyncio.sleep(0)
        if hub.congested():
            stalls += 1
            await hub.wait_drained(min(DRAIN_WAIT_SECONDS, max(end - now, 0.0)))
    return {
        "seconds": time.monotonic() - start,
        "events_per_watcher": per_watcher,
        "rounds": rounds,
        "dropped_slow": dropped,
        "stalls": stalls,
        "watchers_at_start": watchers_at_start,
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def control_loop(hub: Hub, *, on_fire_done: Callable[[], None] | None = None) -> None:
    """Serve the driver's commands on stdin: `count`, `cpu`, `fire SECONDS BATCH RATE`, `quit`."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.decode().split()
        if not words:
            continue
        if words[0] == "count":
            say("count", len(hub.watchers))
        elif words[0] == "cpu":
            say("cpu", cpu_seconds())
        elif words[0] == "fire":
            cpu_before = cpu_seconds()
            seconds, batch, rate = float(words[1]), int(words[2]), float(words[3])
            result = await run_writer(hub, seconds=seconds, batch=batch, rate=rate)
            result["cpu_seconds"] = cpu_seconds() - cpu_before
            hub.finish_all()
            if on_fire_done is not None:
                on_fire_done()
            say("fired", orjson.dumps(result).decode())
        elif words[0] == "quit":
            return


def say(*words: object) -> None:
    print(*words, flush=True)


def import_ok(modules: Iterable[str]) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)
