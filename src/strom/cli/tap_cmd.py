"""`strom tap`: watch what kubectl, client libraries and operators say to an API server."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

_TAP_EPILOG = """\
examples:
  strom tap --listen 127.0.0.1:8443 --upstream-kubeconfig ./strom-data/admin.kubeconfig
  KUBECONFIG=./strom-tap/tap.kubeconfig kubectl get pods -w     # in another terminal
  strom tap --listen 127.0.0.1:0 --context kind-dev --save watch.ndjson -o json
  strom tap --replay watch.ndjson                               # show a capture again
  SSLKEYLOGFILE=/tmp/keys strom tap ...                         # decrypt both hops in Wireshark

The tap makes its own CA and serving certificate in --cert-dir (reused when present) and
writes --kubeconfig-out pointing at itself with a token it generates; requests are forwarded
with the upstream kubeconfig's own credentials (token, client certificate or basic auth).
"""


def register(sub: Any) -> None:
    tap = sub.add_parser(
        "tap",
        help="TLS-terminating debugging proxy: show requests and watch events live",
        description="Forward Kubernetes API traffic and show it, decrypted, as it passes.",
        epilog=_TAP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tap.set_defaults(func=run)
    tap.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address to listen on (port 0: any free one; default 127.0.0.1:0)",
    )
    tap.add_argument(
        "--upstream-kubeconfig",
        type=Path,
        metavar="FILE",
        help="kubeconfig of the real API server (default: $KUBECONFIG or ~/.kube/config)",
    )
    tap.add_argument("--context", help="context of the upstream kubeconfig to use")
    tap.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("strom-tap/pki"),
        metavar="DIR",
        help="the tap's CA and serving certificate (created if missing; default strom-tap/pki)",
    )
    tap.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=Path("strom-tap/tap.kubeconfig"),
        metavar="FILE",
        help="kubeconfig for clients of the tap (default strom-tap/tap.kubeconfig)",
    )
    tap.add_argument("--save", type=Path, metavar="FILE", help="also write a capture (NDJSON)")
    tap.add_argument("--replay", type=Path, metavar="FILE", help="show a saved capture and exit")
    tap.add_argument(
        "--save-raw",
        action="store_true",
        help="with --save: also keep every byte each side sent, unmasked (credentials too)",
    )
    tap.add_argument(
        "--raw-out",
        type=Path,
        metavar="DIR",
        help="with --replay: write each connection's bytes to DIR/c<N>.up and c<N>.down",
    )
    tap.add_argument(
        "-o",
        "--output",
        choices=("pretty", "json", "yaml"),
        default="pretty",
        help="display format: one line per record (bodies as YAML), the capture's NDJSON, or"
        " YAML documents (default pretty)",
    )
    tap.add_argument(
        "--resource",
        metavar="RES",
        help="show only requests for this resource (configmaps, deployments.apps)",
    )
    tap.add_argument("-n", "--namespace", help="show only requests in this namespace")
    tap.add_argument("--name", help="show only requests for this object")
    tap.add_argument(
        "--bodies",
        action="store_true",
        help="also show (and save) headers, request and response bodies, each event's object",
    )
    tap.add_argument(
        "--show-secrets",
        action="store_true",
        help="with --bodies: do not mask credentials (Authorization, tokens, Secret values)",
    )
    tap.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="deadline for reaching the upstream, at start and per connection (default 5)",
    )


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"--listen wants HOST:PORT, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"--listen host must be an IP address, got {host!r}") from None
    return host, int(port_text)


def _default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def run(args: argparse.Namespace) -> int:
    from strom.tools.tap import TapConfig, TapError, replay, serve
    from strom.tools.tap.filters import RecordFilter

    try:
        if args.replay is not None:
            only = RecordFilter(args.resource or "", args.namespace or "", args.name or "")
            if replay(args.replay, output=args.output, raw_out=args.raw_out, only=only) == 0:
                raise TapError(f"{args.replay} holds no tap records")
            return 0
        host, port = _listen_address(args.listen)
        if args.connect_timeout <= 0:
            raise ValueError("--connect-timeout must be positive")
        cfg = TapConfig(
            listen_host=host,
            listen_port=port,
            upstream_kubeconfig=args.upstream_kubeconfig or _default_kubeconfig(),
            context=args.context,
            cert_dir=args.cert_dir,
            kubeconfig_out=args.kubeconfig_out,
            save=args.save,
            output=args.output,
            connect_timeout=args.connect_timeout,
            bodies=args.bodies,
            show_secrets=args.show_secrets,
            save_raw=args.save_raw,
            only=RecordFilter(args.resource or "", args.namespace or "", args.name or ""),
        )
        import uvloop

        uvloop.run(serve(cfg))
    except (TapError, ValueError) as exc:
        print(f"strom tap: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
