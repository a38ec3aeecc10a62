"""`strom serve`: run the API server (flags named like kube-apiserver's)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from strom.registry.cluster_ips import parse_cidrs
from strom.registry.node_ports import parse_port_range

__all__ = ["register", "run"]

_SERVE_EPILOG = """\
examples:
  strom serve                                  # https://127.0.0.1:6443, data in ./strom-data
  strom serve --secure-port 0 --data-dir /tmp/s   # a free port, printed on start
  export KUBECONFIG=./strom-data/admin.kubeconfig && kubectl get ns
"""


def _cidrs(text: str) -> tuple[str, ...]:
    try:
        return parse_cidrs(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _port_range(text: str) -> tuple[int, int]:
    try:
        return parse_port_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _duration(text: str) -> float:
    """`5m`, `30s`, `1h`, `250ms` or plain seconds, as Go's durations read."""
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    number, factor = text, 1.0
    for suffix, unit in units:
        if text.endswith(suffix) and not (suffix == "s" and text.endswith("ms")):
            number, factor = text[: -len(suffix)], unit
            break
    try:
        value = float(number) * factor
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"negative duration: {text!r}")
    return value


def _int_in(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: a number {low}-{high}") from exc
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"invalid {what} {value}: a number {low}-{high}")
    return value


def _port(text: str) -> int:
    """A TCP port, or 0 for any free one (99999 would wrap around: refuse it)."""
    return _int_in(text, 0, 65535, "port")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid number {value}: must not be negative")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("invalid number 0: must be at least 1")
    return value


def _verbosity(text: str) -> int:
    """-v=2 as kube writes it (argparse keeps the `=` of a short option)."""
    return _int_in(text.lstrip("="), 0, 10, "verbosity")


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the API server",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.set_defaults(func=run)
    serve.add_argument(
        "-v",
        "--v",
        dest="log_level",
        type=_verbosity,
        default=0,
        help="log verbosity as kube's -v: 2 logs one line per request and per watch ended",
    )
    serve.add_argument(
        "--logging-format",
        choices=("text", "json"),
        default="text",
        help="klog-style text lines, or one JSON object per line",
    )
    serve.add_argument("--secure-port", type=_port, default=6443, help="HTTPS port (0: any free)")
    serve.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("strom-data"),
        help="where the store, PKI and admin.kubeconfig live (default ./strom-data)",
    )
    serve.add_argument("--cert-dir", type=Path, help="PKI directory (default DATA_DIR/pki)")
    serve.add_argument("--tls-cert-file", type=Path, help="serving certificate (PEM)")
    serve.add_argument("--tls-private-key-file", type=Path, help="serving key (PEM)")
    serve.add_argument(
        "--tls-san", action="append", default=[], help="extra SAN for the serving cert"
    )
    serve.add_argument("--token-auth-file", type=Path, help='token,user,uid,"groups" CSV')
    serve.add_argument("--client-ca-file", type=Path, help="CA for x509 client certificates")
    serve.add_argument("--tls-keylog-file", type=Path, help="write NSS key-log lines (debug)")
    serve.add_argument(
        "--anonymous-auth",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="treat requests without credentials as system:anonymous (default: 401)",
    )
    serve.add_argument(
        "--authorization-mode",
        choices=("RBAC", "AlwaysAllow"),
        default="RBAC",
        help="RBAC: enforce Roles and bindings (default); AlwaysAllow: any authenticated user"
        " may do anything",
    )
    serve.add_argument(
        "--service-account-signing-key-file",
        type=Path,
        help="private key that signs ServiceAccount tokens (default: CERT_DIR/sa.key, created"
        " when absent)",
    )
    serve.add_argument(
        "--service-account-key-file",
        type=Path,
        action="append",
        default=[],
        help="public keys (PEM) that verify ServiceAccount tokens; repeatable (default: the"
        " signing key's)",
    )
    serve.add_argument(
        "--service-account-issuer",
        action="append",
        default=[],
        help="the tokens' iss; the first issues, all are accepted (default"
        " https://kubernetes.default.svc.cluster.local)",
    )
    serve.add_argument(
        "--api-audiences",
        default="",
        help="comma-separated audiences a token must name (default: the issuer)",
    )
    serve.add_argument(
        "--service-account-max-token-expiration",
        type=_duration,
        default=0.0,
        help="cap on a TokenRequest's expirationSeconds, e.g. 24h (default: none)",
    )
    serve.add_argument(
        "--max-requests-inflight",
        type=_positive,
        default=400,
        help="requests served at once before 429 (kube's flag; default 400)",
    )
    serve.add_argument(
        "--request-header-timeout",
        type=_duration,
        default=32.0,
        help="close a connection whose request line and headers take longer (default 32s,"
        " kube-apiserver's ReadHeaderTimeout; 0 disables)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_duration,
        default=90.0,
        help="close a keep-alive connection idle this long (default 90s, kube's; 0 disables)",
    )
    serve.add_argument(
        "--compaction-interval",
        "--etcd-compaction-interval",
        dest="compaction_interval",
        type=_duration,
        default=300.0,
        help="how often old revisions are compacted, e.g. 5m, 30s (0 disables; default 5m)",
    )
    serve.add_argument(
        "--storage",
        choices=("sqlite", "etcd"),
        default="sqlite",
        help="sqlite: one file in the data dir (default); etcd: an etcd cluster",
    )
    serve.add_argument(
        "--etcd-servers",
        action="append",
        default=[],
        help="etcd endpoints, comma-separated (http(s)://127.0.0.1:2379,...)",
    )
    serve.add_argument("--etcd-prefix", default="/registry", help="key prefix in etcd")
    serve.add_argument("--etcd-cafile", type=Path, help="CA for etcd's serving certificate")
    serve.add_argument("--etcd-certfile", type=Path, help="client certificate for etcd")
    serve.add_argument("--etcd-keyfile", type=Path, help="client key for etcd")
    serve.add_argument(
        "--compaction-retain",
        type=_non_negative,
        default=1000,
        help="revisions always kept by compaction (default 1000)",
    )
    serve.add_argument(
        "--min-request-timeout",
        type=_duration,
        default=1800.0,
        help="watch timeout when the client sets none, randomized up to 2x (default 30m)",
    )
    serve.add_argument(
        "--service-cluster-ip-range",
        type=_cidrs,
        default=("10.96.0.0/12",),
        help="CIDR ClusterIPs come from; two (IPv4,IPv6) for dual-stack (default 10.96.0.0/12)",
    )
    serve.add_argument(
        "--service-node-port-range",
        type=_port_range,
        default=(30000, 32767),
        help="ports NodePort Services get theirs from (default 30000-32767)",
    )
    serve.add_argument(
        "--watch-bookmark-interval",
        type=_duration,
        default=60.0,
        help="how often watches that allow bookmarks get one (default 1m)",
    )
    _register_audit(serve)


def _register_audit(serve: Any) -> None:
    """kube-apiserver's --audit-* flags (log backend, JSON format, batch mode only)."""
    serve.add_argument(
        "--audit-policy-file", type=Path, help="audit policy (audit.k8s.io/v1 Policy, YAML)"
    )
    serve.add_argument(
        "--audit-log-path",
        help="write audit events here as JSON lines ('-': standard output); with a policy"
        " file, turns auditing on",
    )
    serve.add_argument(
        "--audit-log-maxsize",
        type=_non_negative,
        default=100,
        help="megabytes before the audit log is rotated (0: never; default 100)",
    )
    serve.add_argument(
        "--audit-log-maxbackup",
        type=_non_negative,
        default=100,
        help="rotated audit logs to keep (0: all; default 100)",
    )
    serve.add_argument(
        "--audit-log-maxage",
        type=_non_negative,
        default=366,
        help="days to keep rotated audit logs, by the time in their name (0: forever; default 366)",
    )
    serve.add_argument(
        "--audit-log-batch-buffer-size",
        type=_non_negative,
        default=10000,
        help="audit events buffered for the writer; beyond that they are dropped and counted"
        ' in apiserver_audit_error_total{plugin="buffered"} (default 10000)',
    )


def run(args: argparse.Namespace) -> int:
    from strom.audit import AuditOptions
    from strom.server.runner import ServeConfig, StartupError, run

    cfg = ServeConfig(
        data_dir=args.data_dir,
        secure_port=args.secure_port,
        bind_address=args.bind_address,
        cert_dir=args.cert_dir,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        tls_sans=tuple(args.tls_san),
        token_auth_file=args.token_auth_file,
        client_ca_file=args.client_ca_file,
        tls_keylog_file=args.tls_keylog_file,
        anonymous_auth=args.anonymous_auth,
        authorization_mode=args.authorization_mode,
        service_account_signing_key_file=args.service_account_signing_key_file,
        service_account_key_files=tuple(args.service_account_key_file),
        service_account_issuer=tuple(args.service_account_issuer),
        api_audiences=tuple(a for a in args.api_audiences.split(",") if a),
        service_account_max_token_expiration=args.service_account_max_token_expiration,
        max_requests_inflight=args.max_requests_inflight,
        request_header_timeout=args.request_header_timeout,
        idle_timeout=args.idle_timeout,
        compaction_interval=args.compaction_interval,
        compaction_keep=args.compaction_retain,
        min_request_timeout=args.min_request_timeout,
        watch_bookmark_interval=args.watch_bookmark_interval,
        service_node_port_range=args.service_node_port_range,
        service_cluster_ip_range=args.service_cluster_ip_range,
        storage=args.storage,
        etcd_servers=tuple(s for s in ",".join(args.etcd_servers).split(",") if s),
        etcd_prefix=args.etcd_prefix,
        etcd_cafile=args.etcd_cafile,
        etcd_certfile=args.etcd_certfile,
        etcd_keyfile=args.etcd_keyfile,
        audit=AuditOptions(
            policy_file=args.audit_policy_file,
            log_path=args.audit_log_path,
            max_size_mb=args.audit_log_maxsize,
            max_backups=args.audit_log_maxbackup,
            max_age_days=args.audit_log_maxage,
            buffer_size=args.audit_log_batch_buffer_size,
        ),
    )
    try:
        import uvloop

        return uvloop.run(run(cfg))
    except StartupError as exc:
        print(f"strom: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
