"""`strom tls-inspect`: what a TLS endpoint negotiates, its certificates, and what it refuses.

Argument parsing and output only; the handshakes are in `strom.tools.tls_inspect`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from strom.tools.tls_inspect import (
    DEFAULT_TIMEOUT,
    CertificateInfo,
    InspectError,
    ProbeResult,
    Report,
    inspect,
    parse_endpoint,
    report_as_dict,
)

__all__ = ["register", "render_text", "run"]

_EPILOG = """\
The report shows the handshake the server picks (protocol, cipher suite by IANA and OpenSSL
name, key exchange and group, forward secrecy, ALPN), the certificate chain as sent, whether it
verifies (against --ca-file, else the system store; the host name is checked too), and probes:
one handshake per TLS version and per weak suite family, each offering only that, so "refused"
means the server said no.  Only HOST:PORT is contacted.

exit status: 0 reachable and the certificate verifies (or --insecure); 1 unreachable, no TLS,
or the certificate does not verify; 2 bad arguments.

examples:
  strom tls-inspect https://127.0.0.1:6443 --ca-file strom-data/pki/ca.crt
  strom tls-inspect https://127.0.0.1:6443 --insecure -o json | jq .handshake
  strom tls-inspect https://127.0.0.1:6443 --sni kubernetes.default --ca-file ca.crt
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "tls-inspect",
        help="show a TLS endpoint's handshake, certificates and refused versions/suites",
        description="Show what a TLS endpoint negotiates, its certificates, and what it refuses.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)
    parser.add_argument("url", metavar="https://HOST:PORT", help="the endpoint (port 443 if none)")
    parser.add_argument("--ca-file", type=Path, metavar="FILE", help="verify against this CA (PEM)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="a certificate that does not verify is reported but is not an error",
    )
    parser.add_argument("--sni", metavar="NAME", help="server name to send and verify")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per handshake (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--no-probes", action="store_true", help="skip the version/suite probes")


def run(args: argparse.Namespace) -> int:
    if args.ca_file is not None and not args.ca_file.is_file():
        return _fail(f"CA file not found: {args.ca_file}", code=2)
    try:
        endpoint = parse_endpoint(args.url, sni=args.sni)
    except InspectError as exc:
        return _fail(str(exc), code=2)
    try:
        report = inspect(
            endpoint,
            url=args.url,
            ca_file=args.ca_file,
            timeout=args.timeout,
            probes=not args.no_probes,
        )
    except InspectError as exc:
        return _fail(str(exc), code=1)
    if args.output == "json":
        sys.stdout.write(orjson.dumps(report_as_dict(report), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    return 0 if report.verification.verified or args.insecure else 1


def _fail(message: str, *, code: int) -> int:
    print(f"strom tls-inspect: {message}", file=sys.stderr)
    return code


def render_text(report: Report) -> str:
    hs, ver = report.handshake, report.verification
    sni = report.server_name if report.sni_sent else "none (IP address)"
    group = f", group {hs.group}" if hs.group else ""
    lines = [
        f"{report.url}  ({report.address}, SNI: {sni})",
        "",
        "handshake",
        *_rows(
            ("protocol", hs.version),
            ("cipher suite", f"{hs.cipher_iana}  (OpenSSL: {hs.cipher_openssl})"),
            ("key exchange", f"{hs.key_exchange}{group}"),
            ("forward secret", _forward_secret(hs.version, hs.forward_secret, hs.key_exchange)),
            ("ALPN", hs.alpn or "none"),
            ("verified", _verified(ver.verified, ver.trust, ver.hostname, ver.error)),
        ),
        "",
        "certificate chain (as sent by the server, leaf first)",
    ]
    for index, cert in enumerate(report.chain):
        lines.extend(_certificate(index, cert))
    if report.versions or report.suites:
        lines += ["", "probes (one handshake each, offering only what is named)"]
        lines += [_probe(p) for p in (*report.versions, *report.suites)]
    return "\n".join(lines) + "\n"


def _rows(*rows: tuple[str, str]) -> list[str]:
    return [f"  {label:<15} {value}" for label, value in rows]


def _forward_secret(version: str, yes: bool, kx: str) -> str:
    if version == "TLSv1.3":
        return "yes (TLS 1.3 always uses ephemeral keys)"
    if yes:
        return f"yes (ephemeral {kx})"
    return f"NO ({kx} key exchange: the server's private key decrypts recorded traffic)"


def _verified(ok: bool, trust: str, hostname: str, error: str | None) -> str:
    if ok:
        return f"yes, against {trust}, for {hostname}"
    return f"NO, against {trust}, for {hostname}: {error}"


def _certificate(index: int, cert: CertificateInfo) -> list[str]:
    role = "CA" if cert.is_ca else "leaf" if index == 0 else "intermediate"
    expiry = f"{cert.days_left} days left" if cert.days_left >= 0 else "EXPIRED"
    return [
        f"  [{index}] {cert.subject}  ({role})",
        *(
            "    " + row
            for row in _rows(
                ("issuer", cert.issuer),
                ("SANs", ", ".join(cert.sans) or "none"),
                ("key", cert.key),
                ("valid", f"{cert.not_before} .. {cert.not_after} ({expiry})"),
                ("serial", cert.serial),
                ("sha256", cert.sha256),
            )
        ),
    ]


def _probe(probe: ProbeResult) -> str:
    verdict = {True: "accepted", False: "refused", None: "not tested"}[probe.accepted]
    why = f"  [{probe.note}]" if probe.note else ""
    return f"  {probe.name:<18} {verdict:<10} {probe.detail}{why}"
