"""The cleartext parts of a TLS server's handshake flight, parsed from raw bytes.

Python's `ssl` module does not expose the negotiated key-exchange group or the IANA suite
code, so `strom tls-inspect` records the bytes the server sends and reads them here: the
ServerHello (suite, TLS 1.3 `key_share`, HelloRetryRequest) and the TLS 1.2
ServerKeyExchange (named curve or finite-field prime size).
"""

from __future__ import annotations

import dataclasses
import ssl
import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "GROUPS",
    "IANA_SUITES",
    "SUITE_PROBES",
    "VERSION_PROBES",
    "ServerFlight",
    "parse_server_flight",
]


def _code_table(text: str) -> dict[int, str]:
    words = text.split()
    return {int(code, 16): name for code, name in zip(words[::2], words[1::2], strict=True)}


# IANA names of the suites OpenSSL 3 can negotiate, by their two-byte code.
IANA_SUITES = _code_table("""
    002F TLS_RSA_WITH_AES_128_CBC_SHA  0032 TLS_DHE_DSS_WITH_AES_128_CBC_SHA
    0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA  0035 TLS_RSA_WITH_AES_256_CBC_SHA
    0038 TLS_DHE_DSS_WITH_AES_256_CBC_SHA  0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    003C TLS_RSA_WITH_AES_128_CBC_SHA256  003D TLS_RSA_WITH_AES_256_CBC_SHA256
    0040 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256  0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
    006A TLS_DHE_DSS_WITH_AES_256_CBC_SHA256  006B TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
    009C TLS_RSA_WITH_AES_128_GCM_SHA256  009D TLS_RSA_WITH_AES_256_GCM_SHA384
    009E TLS_DHE_RSA_WITH_AES_128_GCM_SHA256  009F TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    00A2 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256  00A3 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
    1301 TLS_AES_128_GCM_SHA256  1302 TLS_AES_256_GCM_SHA384
    1303 TLS_CHACHA20_POLY1305_SHA256  1304 TLS_AES_128_CCM_SHA256  1305 TLS_AES_128_CCM_8_SHA256
    C009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA  C00A TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    C013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA  C014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    C023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256  C024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    C027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256  C028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    C02B TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256  C02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    C02F TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256  C030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    C09C TLS_RSA_WITH_AES_128_CCM  C09D TLS_RSA_WITH_AES_256_CCM
    C09E TLS_DHE_RSA_WITH_AES_128_CCM  C09F TLS_DHE_RSA_WITH_AES_256_CCM
    C0A0 TLS_RSA_WITH_AES_128_CCM_8  C0A1 TLS_RSA_WITH_AES_256_CCM_8
    C0A2 TLS_DHE_RSA_WITH_AES_128_CCM_8  C0A3 TLS_DHE_RSA_WITH_AES_256_CCM_8
    C0AC TLS_ECDHE_ECDSA_WITH_AES_128_CCM  C0AD TLS_ECDHE_ECDSA_WITH_AES_256_CCM
    C0AE TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8  C0AF TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8
    CCA8 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    CCA9 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    CCAA TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
""")

# IANA "TLS Supported Groups" names.
GROUPS = _code_table("""
    0017 secp256r1  0018 secp384r1  0019 secp521r1  001D x25519  001E x448  0100 ffdhe2048
    0101 ffdhe3072  0102 ffdhe4096  0103 ffdhe6144  0104 ffdhe8192  11EB SecP256r1MLKEM768
    11EC X25519MLKEM768  11ED SecP384r1MLKEM1024
""")

# The suite probes: each offers exactly these suites over TLS 1.2.  `None`: computed (CBC).
SUITE_PROBES: tuple[tuple[str, str | None, str], ...] = (
    ("AES128-GCM-SHA256", "AES128-GCM-SHA256", "RSA key exchange: no forward secrecy"),
    ("AES256-GCM-SHA384", "AES256-GCM-SHA384", "RSA key exchange: no forward secrecy"),
    ("AES128-SHA", "AES128-SHA", "RSA key exchange: no forward secrecy; CBC"),
    ("CBC suites", None, "all CBC suites this OpenSSL has, offered at once"),
)

VERSION_PROBES: tuple[tuple[str, ssl.TLSVersion, bool], ...] = (
    ("TLS 1.0", ssl.TLSVersion.TLSv1, ssl.HAS_TLSv1),
    ("TLS 1.1", ssl.TLSVersion.TLSv1_1, ssl.HAS_TLSv1_1),
    ("TLS 1.2", ssl.TLSVersion.TLSv1_2, ssl.HAS_TLSv1_2),
    ("TLS 1.3", ssl.TLSVersion.TLSv1_3, ssl.HAS_TLSv1_3),
)


@dataclass(frozen=True)
class ServerFlight:
    """The cleartext part of what the server sent: its ServerHello(s) and ServerKeyExchange."""

    cipher_code: int | None = None
    group: int | None = None
    dh_prime_bits: int | None = None


_HELLO_RETRY_RANDOM = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
)
_TLS13 = 0x0304


def parse_server_flight(data: bytes) -> ServerFlight:
    """Read the negotiated suite and key-exchange group from the server's handshake bytes.

    Stops where encryption starts: after a TLS 1.3 ServerHello (not a HelloRetryRequest, which
    is followed by a second, cleartext ServerHello) or after TLS 1.2's ServerHelloDone.
    Malformed input ends the parse with whatever was found so far.
    """
    flight = ServerFlight()
    try:
        for msg_type, body in _handshake_messages(data):
            if msg_type == 2:  # ServerHello (or HelloRetryRequest)
                cipher, group, version, retry = _parse_server_hello(body)
                flight = dataclasses.replace(flight, cipher_code=cipher, group=group)
                if version == _TLS13 and not retry:
                    break
            elif msg_type == 12 and body[:1] == b"\x03":  # ServerKeyExchange, named_curve
                flight = dataclasses.replace(flight, group=struct.unpack_from("!H", body, 1)[0])
            elif msg_type == 12:  # finite-field DHE: dh_p comes first
                (plen,) = struct.unpack_from("!H", body, 0)
                prime = body[2 : 2 + plen].lstrip(b"\x00")
                flight = dataclasses.replace(flight, dh_prime_bits=len(prime) * 8)
            elif msg_type == 14:  # ServerHelloDone
                break
    except (struct.error, IndexError):
        pass
    return flight


def _handshake_messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Handshake messages from cleartext records; a message may span records."""
    buffer = b""
    pos = 0
    while pos + 5 <= len(data):
        content_type, length = data[pos], struct.unpack_from("!H", data, pos + 3)[0]
        payload = data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if content_type == 20:  # ChangeCipherSpec: TLS 1.3 middlebox compatibility; skip
            continue
        if content_type != 22:  # alert or encrypted data: nothing cleartext after this
            return
        buffer += payload
        while len(buffer) >= 4:
            msg_len = int.from_bytes(buffer[1:4], "big")
            if len(buffer) < 4 + msg_len:
                break
            yield buffer[0], buffer[4 : 4 + msg_len]
            buffer = buffer[4 + msg_len :]


def _parse_server_hello(body: bytes) -> tuple[int, int | None, int, bool]:
    """(cipher code, key_share group, selected version, is HelloRetryRequest)."""
    (version,) = struct.unpack_from("!H", body, 0)
    retry = body[2:34] == _HELLO_RETRY_RANDOM
    pos = 34 + 1 + body[34]
    (cipher,) = struct.unpack_from("!H", body, pos)
    pos += 3  # cipher suite, compression method
    group = None
    if pos + 2 <= len(body):
        (ext_total,) = struct.unpack_from("!H", body, pos)
        pos += 2
        end = pos + ext_total
        while pos + 4 <= end:
            ext_type, ext_len = struct.unpack_from("!HH", body, pos)
            ext = body[pos + 4 : pos + 4 + ext_len]
            pos += 4 + ext_len
            if ext_type == 0x002B:  # supported_versions: the real version in TLS 1.3
                (version,) = struct.unpack_from("!H", ext, 0)
            elif ext_type == 0x0033:  # key_share: the group comes first (also in a retry)
                (group,) = struct.unpack_from("!H", ext, 0)
    return cipher, group, version, retry
