"""`strom serve`: assemble the layers, start them in order, stop them in reverse.

Start-up order: PKI and token file → store → state cache → controllers (system namespaces,
CRDs) → listener → `admin.kubeconfig` written last, so a script that waits for that file
finds a server that answers. SIGTERM/SIGINT: stop accepting, close connections (streams end
with their final chunk), stop controllers, close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from strom.audit import AuditError, AuditOptions, Auditor
from strom.auth.authn import Authenticator, TokenFile, ensure_admin_token
from strom.cache.state import StateCache
from strom.controllers.builtin import Controllers
from strom.pki.certs import PKIError, check_key_mode, ensure_pki
from strom.pki.kubeconfig import write_kubeconfig
from strom.pki.tls import server_ssl_context
from strom.registry.cluster_ips import ClusterIPAllocator
from strom.registry.kinds import BUILTIN
from strom.registry.node_ports import NodePortAllocator
from strom.registry.rest import Registry
from strom.registry.types import TypeTable
from strom.server.api import ResourceAPI
from strom.server.app import App
from strom.server.http import Connection, ConnectionLimits, close_all, serve
from strom.server.responses import internal_error_response
from strom.server.security import Security, SecurityConfig
from strom.server.watch import WatchConfig
from strom.storage.base import StorageError, Store
from strom.storage.observed import ObservedStore
from strom.storage.sqlite import SQLiteStore

__all__ = ["ServeConfig", "StartupError", "run"]

log = logging.getLogger("strom")


class StartupError(Exception):
    """A start-up problem the user can fix; printed as one line, exit code 1."""


@dataclass(frozen=True, slots=True)
class ServeConfig:
    data_dir: Path
    secure_port: int = 6443
    bind_address: str = "127.0.0.1"
    cert_dir: Path | None = None
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    tls_sans: tuple[str, ...] = ()
    token_auth_file: Path | None = None
    client_ca_file: Path | None = None
    tls_keylog_file: Path | None = None
    anonymous_auth: bool = False
    authorization_mode: str = "RBAC"  # or "AlwaysAllow"
    service_account_signing_key_file: Path | None = None
    service_account_key_files: tuple[Path, ...] = ()
    service_account_issuer: tuple[str, ...] = ()
    api_audiences: tuple[str, ...] = ()
    service_account_max_token_expiration: float = 0.0  # seconds; 0: no cap beyond kube's
    max_requests_inflight: int = 400
    request_header_timeout: float = 32.0  # kube-apiserver's http.Server ReadHeaderTimeout
    idle_timeout: float = 90.0  # and its IdleTimeout for keep-alive connections
    compaction_interval: float = 300.0  # seconds; 0 disables
    compaction_keep: int = 1000  # newest revisions always kept (kine's minimum)
    min_request_timeout: float = 1800.0
    watch_bookmark_interval: float = 60.0
    service_node_port_range: tuple[int, int] = (30000, 32767)
    service_cluster_ip_range: tuple[str, ...] = ("10.96.0.0/12",)
    kubeconfig_server: str = ""
    storage: str = "sqlite"  # or "etcd"
    etcd_servers: tuple[str, ...] = ()
    etcd_prefix: str = "/registry"
    etcd_cafile: Path | None = None
    etcd_certfile: Path | None = None
    etcd_keyfile: Path | None = None
    audit: AuditOptions = field(default_factory=AuditOptions)
    extra: dict[str, str] = field(default_factory=dict)


def _prepare_dirs(cfg: ServeConfig) -> Path:
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        probe = cfg.data_dir / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"data dir {cfg.data_dir} is not usable: {exc.strerror}") from exc
    pki_dir = cfg.cert_dir or cfg.data_dir / "pki"
    try:
        pki_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cert dir {pki_dir} is not usable: {exc.strerror}") from exc
    return pki_dir


async def _open_store(cfg: ServeConfig, stop: asyncio.Event, failed: list[str]) -> Store:
    """The configured store, started; StartupError with one line when it cannot be."""
    if cfg.storage == "etcd":
        from strom.storage.etcd import EtcdError, EtcdStore

        if not cfg.etcd_servers:
            raise StartupError("--storage etcd needs --etcd-servers")
        etcd = EtcdStore(
            endpoints=list(cfg.etcd_servers),
            prefix=cfg.etcd_prefix,
            ca_file=cfg.etcd_cafile,
            cert_file=cfg.etcd_certfile,
            key_file=cfg.etcd_keyfile,
        )
        try:
            await etcd.start()
        except EtcdError as exc:
            raise StartupError(f"etcd {','.join(cfg.etcd_servers)}: {exc}") from exc

        def on_reset(rev: int) -> None:
            # etcd compacted past the change feed's position: the cache can no longer be
            # brought up to date event by event. Stop (exit 1) so a supervisor restarts this
            # replica, which then rebuilds its cache from a fresh list.
            failed.append(f"etcd history compacted past revision {rev}; restart to relist")
            stop.set()

        etcd.subscribe_reset(on_reset)
        return etcd
    from strom.storage.sqlite import DatabaseError

    db = cfg.data_dir / "strom.db"
    sqlite = SQLiteStore(db)
    try:
        await sqlite.start()
    except DatabaseError as exc:
        raise StartupError(f"database {db} is unusable: {exc}") from exc
    return sqlite


async def _maintain(cache: StateCache, store: Store, interval: float, keep: int) -> None:
    """Background upkeep: trim the watch cache's history every few seconds, and compact the
    store to the newest `keep` revisions every `interval` seconds (0: never)."""
    loop = asyncio.get_running_loop()
    next_compaction = loop.time() + interval if interval > 0 else float("inf")
    while True:
        await asyncio.sleep(min(5.0, interval) if interval > 0 else 5.0)
        cache.trim_history()
        if loop.time() < next_compaction:
            continue
        next_compaction = loop.time() + interval
        target = store.current_rev - keep
        if target > store.compact_rev:
            try:
                await store.compact(target)
            except Exception:
                log.exception("compaction to %d failed", target)


async def run(cfg: ServeConfig) -> int:
    from strom.auth.authn import AuthConfigError

    try:
        auditor = Auditor.from_options(cfg.audit)  # a bad policy fails before anything starts
    except AuditError as exc:
        raise StartupError(str(exc)) from exc
    pki_dir = _prepare_dirs(cfg)
    # A script waits for admin.kubeconfig to appear; on a restart the old one must not
    # answer for a server that is not listening yet (it is written again once it is).
    (cfg.data_dir / "admin.kubeconfig").unlink(missing_ok=True)
    try:
        pki = ensure_pki(cert_dir=pki_dir, sans=cfg.tls_sans)
        if cfg.token_auth_file is not None and not cfg.token_auth_file.exists():
            # Named by the user: a typo must not become a fresh admin token.
            raise AuthConfigError(f"--token-auth-file {cfg.token_auth_file}: no such file")
        if cfg.tls_private_key_file is not None:
            check_key_mode(cfg.tls_private_key_file)
        token_path = cfg.token_auth_file or cfg.data_dir / "tokens.csv"
        admin_token = ensure_admin_token(token_path)
        tokens = TokenFile.load(token_path)
    except (PKIError, AuthConfigError) as exc:
        raise StartupError(str(exc)) from exc
    cert_file = cfg.tls_cert_file or pki.server_crt
    key_file = cfg.tls_private_key_file or pki.server_key
    client_ca = cfg.client_ca_file or pki.ca_crt
    try:
        ssl_ctx = server_ssl_context(
            cert_file=cert_file,
            key_file=key_file,
            client_ca_file=client_ca,
            keylog_file=cfg.tls_keylog_file,
        )
    except (OSError, ValueError) as exc:
        raise StartupError(f"TLS set-up failed: {exc}") from exc

    stop = asyncio.Event()
    failed: list[str] = []  # why the server stops on its own (exit 1), if it does
    store = await _open_store(cfg, stop, failed)
    cache = StateCache(store)
    types = TypeTable()
    registry = Registry(
        store=ObservedStore(store),  # timed for etcd_request_duration_seconds
        cache=cache,
        node_ports=NodePortAllocator(cfg.service_node_port_range),
        cluster_ips=ClusterIPAllocator(cfg.service_cluster_ip_range),
    )
    try:
        await cache.start([(rt.key_prefix, rt.namespaced) for rt in BUILTIN])
    except StorageError as exc:
        await store.close()
        raise StartupError(f"reading the store failed: {exc}") from exc
    controllers = Controllers(
        registry=registry,
        cache=cache,
        types=types,
        ca_pem=pki.ca_crt.read_bytes(),
        leader_election=cfg.storage == "etcd",
    )
    host = cfg.bind_address if ":" not in cfg.bind_address else f"[{cfg.bind_address}]"
    if cfg.bind_address in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    try:
        security = Security.build(
            SecurityConfig(
                pki_dir=pki_dir,
                authorization_mode=cfg.authorization_mode,
                signing_key_file=cfg.service_account_signing_key_file,
                key_files=cfg.service_account_key_files,
                issuers=cfg.service_account_issuer,
                api_audiences=cfg.api_audiences,
                max_token_expiration=int(cfg.service_account_max_token_expiration),
            ),
            registry=registry,
            cache=cache,
            # The port is known only once listening; the JWKS URI names the kubeconfig's
            # server when one is given (the address clients use), else the bind address.
            server_url=cfg.kubeconfig_server or f"https://{host}:{cfg.secure_port}",
            ca_pem=pki.ca_crt.read_bytes(),
        )
    except PKIError as exc:
        await store.close()
        raise StartupError(str(exc)) from exc
    await controllers.start()
    await security.start(registry)
    cache.forget_startup_history()
    compactor = asyncio.create_task(
        _maintain(cache, store, cfg.compaction_interval, cfg.compaction_keep),
        name="maintenance",
    )
    authenticator = Authenticator(
        token_file=tokens,
        client_ca_configured=True,
        anonymous=cfg.anonymous_auth,
        bearers=[security.tokens],
    )
    app = App(
        api=ResourceAPI(
            registry=registry,
            types=types,
            auth=security.services(authenticator),
            watch_config=WatchConfig(
                min_request_timeout=cfg.min_request_timeout,
                bookmark_interval=cfg.watch_bookmark_interval,
            ),
        ),
        types=types,
        authenticator=authenticator,
        authorizer=security.authorizer,
        authorizer_mode=security.mode,
        max_in_flight=cfg.max_requests_inflight,
        audit=auditor,
    )
    if auditor is not None:
        auditor.start()
    connections: set[Connection] = set()
    try:
        server = await serve(
            handler=app,
            error_responder=internal_error_response,
            limits=ConnectionLimits(
                header_timeout=cfg.request_header_timeout, idle_timeout=cfg.idle_timeout
            ),
            host=cfg.bind_address,
            port=cfg.secure_port,
            ssl_context=ssl_ctx,
            connections=connections,
        )
    except OSError as exc:
        if auditor is not None:
            auditor.stop()
        await security.stop()
        await controllers.stop()
        await store.close()
        raise StartupError(
            f"cannot listen on {cfg.bind_address}:{cfg.secure_port}: {exc.strerror}"
        ) from exc
    port = server.sockets[0].getsockname()[1]
    security.set_server_url(cfg.kubeconfig_server or f"https://{host}:{port}")
    app.openid = security.openid
    app.ready = True
    # Everything allocated so far lives as long as the server: keep it out of the cyclic GC's
    # scans, and let young collections run less often (fewer long gen-2 pauses under load).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    app.server_address = f"{host}:{port}"
    server_url = cfg.kubeconfig_server or f"https://{host}:{port}"
    kubeconfig = cfg.data_dir / "admin.kubeconfig"
    write_kubeconfig(
        path=kubeconfig,
        server=server_url,
        ca_pem=pki.ca_crt.read_bytes(),
        token=admin_token,
        client_cert_pem=pki.admin_crt.read_bytes(),
        client_key_pem=pki.admin_key.read_bytes(),
    )
    print(f"strom serving on {server_url} (data in {cfg.data_dir.resolve()})", flush=True)
    print(f"  CA:         {pki.ca_crt.resolve()}", flush=True)
    print(f"  tokens:     {token_path.resolve()}", flush=True)
    print(f"  authz:      {security.mode}", flush=True)
    print(f"  live view:  {server_url}/ui/ (sign in with a bearer token)", flush=True)
    print(f"  export KUBECONFIG={kubeconfig.resolve()}", flush=True)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("strom: shutting down", file=sys.stderr, flush=True)
    server.close()
    # Clients may hold their side open after the last chunk: wait briefly, then drop.
    await close_all(connections, timeout=1.0, stop_streams=cache.stop_watchers)
    compactor.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await compactor
    await security.stop()
    await controllers.stop()
    await store.close()
    if auditor is not None:
        auditor.stop()  # after the last connection: every request's final event is buffered
    for reason in failed:
        print(f"strom: {reason}", file=sys.stderr, flush=True)
    return 1 if failed else 0
