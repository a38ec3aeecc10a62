"""What a TLS endpoint really negotiates, shown the way a person debugging it wants to see it.

`inspect()` makes one inspecting handshake (offering every version and suite, modern ones
first, and ALPN `h2` and `http/1.1` like kubectl), one verifying handshake as a strict client
(against a CA file or the system store, host name checked), and then one probe handshake per
TLS version and per weak cipher-suite family, each offering only that one thing, to learn what
the server accepts and what it refuses.

How each fact is obtained, and why that way:

- Key-exchange group: Python 3.11's `ssl` has no `SSL_get_negotiated_group`.  Rather than poke
  at CPython's private structs with ctypes or depend on an `openssl` binary, the handshake is
  driven through `MemoryBIO`s so every byte the server sends passes through our hands, and the
  group is read where the protocol puts it in cleartext: TLS 1.3's ServerHello `key_share`
  extension (after a HelloRetryRequest, the second ServerHello), or TLS 1.2's
  ServerKeyExchange (`named_curve`; the prime's size for finite-field DHE).  This works with
  whichever OpenSSL Python is linked against, and what we read is what was on the wire.
- IANA cipher-suite name: the two-byte suite code from the same ServerHello, through the table
  below (OpenSSL's names come from `SSLObject.cipher()`).
- Certificate chain: `get_unverified_chain()` (public from Python 3.13, on `_sslobj` before),
  i.e. the chain as the server sent it, even when it does not verify.
- Probes lower the *client's* OpenSSL security level (`@SECLEVEL=0`), since OpenSSL 3 refuses
  to even offer TLS 1.0/1.1 or SHA-1 signatures at its default level: a "refused" must mean the
  server said no, not that our own library never asked.  A probe our OpenSSL cannot offer at
  all is reported as not tested.

Only the given address is contacted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import re
import socket
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from strom.tools.tls_wire import (
    GROUPS,
    IANA_SUITES,
    SUITE_PROBES,
    VERSION_PROBES,
    ServerFlight,
    parse_server_flight,
)

__all__ = [
    "CertificateInfo",
    "Endpoint",
    "HandshakeInfo",
    "InspectError",
    "ProbeResult",
    "Report",
    "Verification",
    "inspect",
    "parse_endpoint",
    "report_as_dict",
]

DEFAULT_TIMEOUT = 5.0

# ALPN as kubectl/client-go offer it; strom answers http/1.1.
_CLIENT_ALPN = ("h2", "http/1.1")

# The inspecting handshake's TLS <= 1.2 offer: forward-secret AEAD first, then the rest.
_BROAD_OFFER = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ALL:!aNULL"


class InspectError(Exception):
    """Bad URL, unreachable host or a failed handshake: the message is one line."""


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and which name to send as SNI (and to check the certificate for)."""

    host: str
    port: int
    server_name: str

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def sends_sni(self) -> bool:
        """Python (like Go) sends no SNI for an IP address (RFC 6066 forbids it)."""
        try:
            ipaddress.ip_address(self.server_name)
        except ValueError:
            return True
        return False


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    key: str
    not_before: str
    not_after: str
    days_left: int
    is_ca: bool
    serial: str
    sha256: str


@dataclass(frozen=True)
class HandshakeInfo:
    version: str
    cipher_iana: str
    cipher_openssl: str
    key_exchange: str
    group: str | None
    forward_secret: bool
    alpn: str | None


@dataclass(frozen=True)
class Verification:
    verified: bool
    trust: str
    hostname: str
    error: str | None


@dataclass(frozen=True)
class ProbeResult:
    """One probe handshake.  `accepted` is None when this client could not make the offer."""

    name: str
    note: str
    accepted: bool | None
    detail: str


@dataclass(frozen=True)
class Report:
    url: str
    address: str
    server_name: str
    sni_sent: bool
    handshake: HandshakeInfo
    chain: tuple[CertificateInfo, ...]
    verification: Verification
    versions: tuple[ProbeResult, ...]
    suites: tuple[ProbeResult, ...]


def report_as_dict(report: Report) -> dict[str, Any]:
    return dataclasses.asdict(report)


def parse_endpoint(url: str, *, sni: str | None = None) -> Endpoint:
    """`https://HOST[:PORT]` (default 443; IPv6 in brackets).  Raises InspectError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InspectError(f"not a valid URL: {url!r} ({exc})") from exc
    if parts.scheme != "https":
        raise InspectError(f"not an https:// URL: {url!r}")
    if not parts.hostname:
        raise InspectError(f"no host in URL: {url!r}")
    return Endpoint(host=parts.hostname, port=port or 443, server_name=sni or parts.hostname)


def inspect(
    endpoint: Endpoint,
    *,
    url: str = "",
    ca_file: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    probes: bool = True,
) -> Report:
    """Handshake, verify and (unless `probes` is false) probe; raises InspectError."""
    try:
        session = _handshake(endpoint, _inspecting_context(), timeout=timeout)
    except (_Refused, _NotOffered) as exc:
        raise InspectError(f"TLS handshake with {endpoint.address} failed: {exc}") from exc
    return Report(
        url=url or f"https://{endpoint.address}",
        address=endpoint.address,
        server_name=endpoint.server_name,
        sni_sent=endpoint.sends_sni,
        handshake=_handshake_info(session),
        chain=tuple(_certificate_info(der) for der in _peer_chain(session.sslobj)),
        verification=_verify(endpoint, ca_file=ca_file, timeout=timeout),
        versions=tuple(_probe_versions(endpoint, timeout=timeout)) if probes else (),
        suites=tuple(_probe_suites(endpoint, timeout=timeout)) if probes else (),
    )


# --- driving a handshake through memory BIOs ------------------------------------------------


@dataclass(frozen=True)
class _Session:
    sslobj: ssl.SSLObject
    received: bytes  # every byte the server sent during the handshake


class _Refused(Exception):
    """The handshake was offered and did not complete; str() is the reason."""

    def __init__(self, reason: str, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.error = error


class _NotOffered(Exception):
    """Our own OpenSSL could not build the offer (nothing was sent)."""


def _handshake(endpoint: Endpoint, ctx: ssl.SSLContext, *, timeout: float) -> _Session:
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise InspectError(f"cannot connect to {endpoint.address}: {_os_reason(exc)}") from exc
    with sock:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = ctx.wrap_bio(incoming, outgoing, server_hostname=endpoint.server_name)
        received = bytearray()
        sent = 0
        while True:
            try:
                sslobj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                if sent == 0 and not outgoing.pending:
                    raise _NotOffered(_ssl_reason(exc)) from exc
                _send_quietly(sock, outgoing.read())  # our alert, if any
                raise _Refused(_ssl_reason(exc), exc) from exc
            try:
                pending = outgoing.read()
                sock.sendall(pending)
                sent += len(pending)
                data = sock.recv(65536)
            except TimeoutError as exc:
                raise _Refused(f"no answer within {timeout:g}s", exc) from exc
            except OSError as exc:
                raise _Refused(_os_reason(exc), exc) from exc
            if data:
                received += data
                incoming.write(data)
            else:
                incoming.write_eof()
        _send_quietly(sock, outgoing.read())  # our Finished
        _close_notify(sslobj, outgoing, sock)
    return _Session(sslobj=sslobj, received=bytes(received))


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    if data:
        with contextlib.suppress(OSError):  # the server has gone already; nothing to tell it
            sock.sendall(data)


def _close_notify(sslobj: ssl.SSLObject, outgoing: ssl.MemoryBIO, sock: socket.socket) -> None:
    """Say goodbye properly so the server does not log a reset for every probe."""
    with contextlib.suppress(ssl.SSLError):  # WantRead: ours is written; theirs can wait
        sslobj.unwrap()
    _send_quietly(sock, outgoing.read())


_SSL_MESSAGE = re.compile(r"\] (.*?)(?: \(_ssl\.c:\d+\))?$")


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLEOFError):
        return "connection closed by the server"
    found = _SSL_MESSAGE.search(str(exc))
    return found.group(1) if found else str(exc.reason or exc)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or str(exc) or type(exc).__name__


# --- contexts --------------------------------------------------------------------------------


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _inspecting_context() -> ssl.SSLContext:
    """Every version and suite this OpenSSL has, modern ones first: what the server picks from
    that is its own preference, and a legacy-only server can still be inspected."""
    ctx = _probe_context(
        minimum=ssl.TLSVersion.MINIMUM_SUPPORTED,
        maximum=ssl.TLSVersion.MAXIMUM_SUPPORTED,
        ciphers=_BROAD_OFFER,
    )
    ctx.set_alpn_protocols(list(_CLIENT_ALPN))
    return ctx


def _probe_context(
    *, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion, ciphers: str
) -> ssl.SSLContext:
    ctx = _unverified_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1 are, and we know
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    ctx.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    return ctx


# --- what the handshake tells ----------------------------------------------------------------


def _handshake_info(session: _Session) -> HandshakeInfo:
    sslobj = session.sslobj
    version = sslobj.version() or "unknown"
    cipher = sslobj.cipher()
    openssl_name = cipher[0] if cipher else "unknown"
    flight = parse_server_flight(session.received)
    kx = _key_exchange(version, openssl_name, flight.group)
    iana = IANA_SUITES.get(flight.cipher_code or -1)
    if iana is None:
        code = flight.cipher_code
        iana = f"unknown (0x{code:04X})" if code is not None else "unknown"
    return HandshakeInfo(
        version=version,
        cipher_iana=iana,
        cipher_openssl=openssl_name,
        key_exchange=kx,
        group=_group_name(kx, flight),
        forward_secret=version == "TLSv1.3" or kx in ("ECDHE", "DHE"),
        alpn=sslobj.selected_alpn_protocol(),
    )


def _key_exchange(version: str, openssl_name: str, group: int | None) -> str:
    """OpenSSL names TLS <= 1.2 suites by key exchange first; no prefix means static RSA."""
    if version == "TLSv1.3":
        name = GROUPS.get(group or -1, "")
        return "DHE" if name.startswith("ffdhe") else "ECDHE"
    for prefix, kx in (
        ("ECDHE-", "ECDHE"),
        ("DHE-", "DHE"),
        ("EDH-", "DHE"),
        ("PSK-", "PSK"),
        ("RSA-PSK-", "RSA"),
    ):
        if openssl_name.startswith(prefix):
            return kx
    return "RSA"


def _group_name(kx: str, flight: ServerFlight) -> str | None:
    if flight.group is not None:
        return GROUPS.get(flight.group, f"0x{flight.group:04X}")
    if kx == "DHE" and flight.dh_prime_bits:
        return f"DH {flight.dh_prime_bits}-bit prime"
    return None


# --- certificates and verification ------------------------------------------------------------


def _peer_chain(sslobj: ssl.SSLObject) -> list[bytes]:
    """DER certificates as the server sent them, leaf first."""
    public = getattr(sslobj, "get_unverified_chain", None)  # Python >= 3.13: DER bytes
    if public is not None:
        return [bytes(der) for der in public() or []]
    private = getattr(getattr(sslobj, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:
        return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in private() or []]  # type: ignore[attr-defined]
    leaf = sslobj.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _certificate_info(der: bytes) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    now = dt.datetime.now(dt.UTC)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        key=_key_description(cert.public_key()),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        days_left=(cert.not_valid_after_utc - now).days,
        is_ca=is_ca,
        serial=f"{cert.serial_number:X}",
        sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    out: list[str] = []
    for name in names:
        if isinstance(name, x509.DNSName):
            out.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            out.append(f"IP:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append(f"URI:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            out.append(f"email:{name.value}")
        else:
            out.append(f"{type(name).__name__}:{name.value}")
    return tuple(out)


def _key_description(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {curve.get(key.curve.name, key.curve.name)} ({key.key_size} bits)"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits"
    return type(key).__name__


def _verify(endpoint: Endpoint, *, ca_file: Path | None, timeout: float) -> Verification:
    """A second handshake as a strict client would make it: chain and host name."""
    trust = f"CA file {ca_file}" if ca_file else "system trust store"
    # TLS 1.2+ at OpenSSL's default security level, so weak keys and SHA-1 signatures fail as
    # they would for kubectl; but any TLS 1.2 suite, so a legacy suite alone is not a failure.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(_BROAD_OFFER)
    try:
        if ca_file:
            ctx.load_verify_locations(cafile=str(ca_file))
        else:
            ctx.load_default_certs()
    except (OSError, ssl.SSLError) as exc:
        raise InspectError(f"cannot load CA file {ca_file}: {exc}") from exc
    hostname = endpoint.server_name
    try:
        _handshake(endpoint, ctx, timeout=timeout)
    except _Refused as exc:
        error = str(exc)
        if not isinstance(exc.error, ssl.SSLCertVerificationError):
            error = f"handshake failed for a strict client: {error}"
        return Verification(verified=False, trust=trust, hostname=hostname, error=error)
    except _NotOffered as exc:
        error = f"handshake failed for a strict client: {exc}"
        return Verification(verified=False, trust=trust, hostname=hostname, error=error)
    return Verification(verified=True, trust=trust, hostname=hostname, error=None)


# --- probes ----------------------------------------------------------------------------------


def _probe_versions(endpoint: Endpoint, *, timeout: float) -> Iterator[ProbeResult]:
    for name, version, available in VERSION_PROBES:
        if not available:
            yield ProbeResult(name, "", None, "this Python's OpenSSL cannot offer it")
            continue
        ctx = _probe_context(minimum=version, maximum=version, ciphers="ALL")
        yield _probe(endpoint, ctx, name=name, note="", timeout=timeout)


def _probe_suites(endpoint: Endpoint, *, timeout: float) -> Iterator[ProbeResult]:
    for name, ciphers, note in SUITE_PROBES:
        offer = ciphers or ":".join(_cbc_suites())
        try:
            tls12 = ssl.TLSVersion.TLSv1_2
            ctx = _probe_context(minimum=tls12, maximum=tls12, ciphers=offer)
        except ssl.SSLError:
            yield ProbeResult(name, note, None, "this Python's OpenSSL does not have it")
            continue
        yield _probe(endpoint, ctx, name=name, note=note, timeout=timeout)


def _cbc_suites() -> list[str]:
    ctx = _unverified_context()
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return [
        c["name"]
        for c in ctx.get_ciphers()
        if str(c.get("symmetric", "")).endswith("-cbc") and c["protocol"] != "TLSv1.3"
    ]


def _probe(
    endpoint: Endpoint, ctx: ssl.SSLContext, *, name: str, note: str, timeout: float
) -> ProbeResult:
    try:
        session = _handshake(endpoint, ctx, timeout=timeout)
    except _NotOffered as exc:
        return ProbeResult(name, note, None, f"not offered by this client: {exc}")
    except _Refused as exc:
        return ProbeResult(name, note, False, str(exc))
    cipher = session.sslobj.cipher()
    chosen = f"{session.sslobj.version()} {cipher[0] if cipher else ''}".strip()
    return ProbeResult(name, note, True, chosen)
