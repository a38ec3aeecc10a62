"""Start and stop a tap: probe the upstream, make the TLS identity, listen, hand out a kubeconfig.

Order matters for scripts and tests: the kubeconfig for clients is written only once the
listener is bound (so its appearance means "ready", and it names the real port when `:0` was
asked for), and only after the upstream answered `/version` (so a tap that starts is a tap
that can forward).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from strom.pki.certs import PKIError, ensure_pki
from strom.pki.kubeconfig import write_kubeconfig
from strom.pki.tls import server_ssl_context
from strom.tools.tap.filters import RecordFilter
from strom.tools.tap.proxy import ClientSide, TapState
from strom.tools.tap.records import CAPTURE_VERSION, Sink, read_capture
from strom.tools.tap.upstream import TapError, check_version, keylog_file, load_upstream

__all__ = ["TapConfig", "replay", "serve"]


@dataclass(frozen=True)
class TapConfig:
    """Everything `strom tap` was asked to do."""

    listen_host: str
    listen_port: int
    upstream_kubeconfig: Path
    context: str | None
    cert_dir: Path
    kubeconfig_out: Path
    save: Path | None
    output: str
    connect_timeout: float
    bodies: bool = False
    show_secrets: bool = False
    save_raw: bool = False
    only: RecordFilter = field(default_factory=RecordFilter)  # what the display shows


def _url_host(host: str) -> str:
    """The host as a client should dial it (a wildcard bind is reached over loopback)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "[::1]"
    return f"[{host}]" if ip.version == 6 else host


async def serve(cfg: TapConfig, *, status: IO[str] = sys.stderr) -> None:
    """Run the tap until SIGINT/SIGTERM. Raises TapError for anything the user must fix."""
    if cfg.kubeconfig_out.resolve() == cfg.upstream_kubeconfig.resolve():
        raise TapError("--kubeconfig-out must not be the upstream kubeconfig")
    # A kubeconfig left by an earlier run must not look like "ready" to anyone waiting.
    cfg.kubeconfig_out.unlink(missing_ok=True)
    upstream = load_upstream(cfg.upstream_kubeconfig, context=cfg.context)
    version = await check_version(upstream, timeout=cfg.connect_timeout)
    try:
        pki = ensure_pki(cert_dir=cfg.cert_dir, sans=[cfg.listen_host])
    except (PKIError, OSError) as exc:
        raise TapError(f"cannot set up certificates in {cfg.cert_dir}: {exc}") from None
    keylog = keylog_file()
    tls = server_ssl_context(
        cert_file=pki.server_crt,
        key_file=pki.server_key,
        client_ca_file=None,
        keylog_file=Path(keylog) if keylog else None,
    )
    try:
        sink = Sink(output=cfg.output, save=cfg.save, shows=cfg.only.shows)
    except OSError as exc:
        raise TapError(f"cannot write capture {cfg.save}: {exc.strerror or exc}") from None
    state = TapState(
        upstream=upstream,
        token=secrets.token_urlsafe(32),
        sink=sink,
        connect_timeout=cfg.connect_timeout,
        bodies=cfg.bodies,
        show_secrets=cfg.show_secrets,
        raw=cfg.save_raw and cfg.save is not None,
    )
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: ClientSide(state),
            cfg.listen_host,
            cfg.listen_port,
            ssl=tls,
            reuse_address=True,
        )
    except OSError as exc:
        sink.close()
        where = f"{cfg.listen_host}:{cfg.listen_port}"
        raise TapError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    port = int(server.sockets[0].getsockname()[1])
    url = f"https://{_url_host(cfg.listen_host)}:{port}"
    try:
        write_kubeconfig(
            path=cfg.kubeconfig_out,
            server=url,
            ca_pem=pki.ca_crt.read_bytes(),
            token=state.token,
            client_cert_pem=None,
            client_key_pem=None,
            user="tap",
        )
    except OSError as exc:
        server.close()
        sink.close()
        raise TapError(f"cannot write {cfg.kubeconfig_out}: {exc.strerror or exc}") from None
    sink.emit(
        {
            "type": "tap",
            "t": round(time.time(), 6),
            "conn": 0,
            "version": CAPTURE_VERSION,
            "listen": url,
            "upstream": upstream.url,
            "upstreamVersion": version,
        }
    )
    print(f"strom tap: {url} -> {upstream.url} ({version or 'unknown version'})", file=status)
    print(f"strom tap: export KUBECONFIG={cfg.kubeconfig_out.resolve()}", file=status)
    print(
        f"strom tap: upstream, every client of the tap acts as {upstream.identity}",
        file=status,
    )
    status.flush()
    try:
        await _until_signalled(loop)
    finally:
        server.close()
        state.close_all()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_connections_gone(state), 2.0)
        sink.close()


async def _connections_gone(state: TapState) -> None:
    """Wait until every client connection has run its close handler (which writes the `end`
    records of cut watches), so the capture ends complete."""
    while state.clients:
        await asyncio.sleep(0.02)


async def _until_signalled(loop: asyncio.AbstractEventLoop) -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def replay(
    path: Path,
    *,
    output: str,
    out: IO[str] | None = None,
    raw_out: Path | None = None,
    only: RecordFilter | None = None,
) -> int:
    """Show a `--save` capture again, as it was shown live; returns how many records. With
    `raw_out`, also write each connection's bytes (a `--save-raw` capture) to
    `c<N>.up` (from the client) and `c<N>.down` (from the API server) there, byte for byte."""
    sink = Sink(output=output, out=out, save=None, shows=only.shows if only else None)
    streams: dict[str, IO[bytes]] = {}
    try:
        if raw_out is not None:
            raw_out.mkdir(parents=True, exist_ok=True)
        count = 0
        for record in read_capture(path):
            sink.emit(record)
            count += 1
            if raw_out is not None and record.get("type") == "raw":
                name = f"c{record.get('conn')}.{record.get('dir')}"
                if name not in streams:
                    streams[name] = (raw_out / name).open("wb")
                streams[name].write(base64.b64decode(str(record.get("data") or "")))
    except OSError as exc:
        raise TapError(f"cannot read capture {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise TapError(f"{path}: a raw record is not base64: {exc}") from None
    finally:
        for stream in streams.values():
            stream.close()
    return count
