"""Who is calling: static bearer tokens (`--token-auth-file`) and verified client certificates.

This mirrors kube-apiserver's authenticator chain for the two mechanisms strom supports:

* union order is x509 client cert first, then bearer token (pkg/kubeapiserver/authenticator);
  the first authenticator that succeeds wins and later ones are not consulted, so a request with
  a valid client cert *and* a bogus bearer token is authenticated as the cert's user;
* an authenticator that finds no credentials of its kind passes; a bearer token that does not
  match is an error, and errors are never turned into `system:anonymous` (anonymous is chained
  with FailOnError) -- a bad token is always 401;
* every authenticated user gets `system:authenticated` appended (AuthenticatedGroupAdder),
  unless it is `system:anonymous` or already carries system:(un)authenticated.

ServiceAccount JWTs join as a further bearer authenticator (`strom.auth.sa_tokens`).
Not implemented: OIDC/webhook tokens, the websocket-protocol token carrier and
front-proxy (request header) authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

from strom.pki.certs import atomic_write
from strom.user import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    ANONYMOUS_USER,
    MASTERS_GROUP,
    UserInfo,
)

__all__ = [
    "AuthConfigError",
    "Authenticator",
    "BearerAuthenticator",
    "TokenFile",
    "TokenRejected",
    "bearer_token",
    "ensure_admin_token",
]

log = logging.getLogger(__name__)

TOKEN_FILE_MODE = 0o600

_BARE_QUOTE = 'bare " in non-quoted-field'  # Go encoding/csv ErrBareQuote
_BAD_QUOTE = 'extraneous or missing " in quoted-field'  # Go encoding/csv ErrQuote


class TokenRejected(Exception):
    """A bearer authenticator recognised the token as its kind and found it bad (expired,
    wrong audience, revoked); the message says why (shown in TokenReview's status.error)."""


class BearerAuthenticator(Protocol):
    def authenticate_token(self, token: str) -> UserInfo | None:
        """The token's user; None when the token is not of this kind; TokenRejected when it
        is and is bad."""
        ...


class AuthConfigError(Exception):
    """An authentication config file is unusable; the message is one line naming file and line."""


@dataclass(frozen=True, slots=True)
class _TokenRecord:
    line: int
    token: str
    user: UserInfo


# --------------------------------------------------------------------------- token file


class TokenFile:
    """Static tokens from a kube-apiserver `--token-auth-file` CSV.

    Rows are `token,user,uid[,"group1,group2"]`.  Parsing follows kube (Go encoding/csv with a
    variable field count): fewer than 3 columns or malformed quoting is an error, an empty token
    is skipped, a duplicate token overrides the earlier row.  Unlike kube, lines starting with
    `#` are treated as comments (kube would read them as records).
    """

    __slots__ = ("_by_digest", "_lengths")

    def __init__(self, records: Iterator[_TokenRecord] | list[_TokenRecord]) -> None:
        # Keyed by SHA-256 so lookup is O(1) without the dict's own (non constant-time) string
        # compare ever touching the secret; the final check uses hmac.compare_digest.
        self._by_digest: dict[bytes, tuple[bytes, UserInfo]] = {}
        for rec in records:
            raw = _token_bytes(rec.token)
            self._by_digest[hashlib.sha256(raw).digest()] = (raw, rec.user)
        # A bearer token of another length (a ServiceAccount JWT) is not hashed at all.
        self._lengths = frozenset(len(raw) for raw, _ in self._by_digest.values())

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        """Parse `path`; raises AuthConfigError naming the file and line on any problem."""
        return cls(_load_records(path))

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, token: str) -> UserInfo | None:
        """The user owning `token`, or None.  Groups are as listed (no system:authenticated)."""
        raw = _token_bytes(token)
        if len(raw) not in self._lengths:
            return None
        entry = self._by_digest.get(hashlib.sha256(raw).digest())
        if entry is None or not hmac.compare_digest(entry[0], raw):
            return None
        return entry[1]


def ensure_admin_token(path: Path) -> str:
    """Return the admin bearer token, creating the token file with a fresh one if missing.

    A new file holds one row for user `admin` (uid `admin`) in group `system:masters`; an
    existing file yields the token of its first row in group `system:masters`.
    """
    if not path.exists():
        token = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]: never needs CSV quoting
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(
            path, f'{token},admin,admin,"{MASTERS_GROUP}"\n'.encode(), mode=TOKEN_FILE_MODE
        )
        return token
    for rec in _load_records(path):
        if MASTERS_GROUP in rec.user.groups:
            return rec.token
    raise AuthConfigError(f"token file '{path}': no token for a user in group {MASTERS_GROUP}")


def _load_records(path: Path) -> list[_TokenRecord]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise AuthConfigError(f"token file '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise AuthConfigError(f"token file '{path}': not UTF-8 ({exc.reason})") from None
    records: list[_TokenRecord] = []
    for line, fields in _csv_records(path, text):
        if len(fields) < 3:
            raise AuthConfigError(
                f"token file '{path}' line {line}: must have at least 3 columns "
                f"(token, user name, user uid), found {len(fields)}"
            )
        token, name, uid = fields[0], fields[1], fields[2]
        if not token:
            log.warning("empty token has been found in token file '%s', line %d", path, line)
            continue
        # Go's strings.Split: an empty 4th column yields one empty group, as in kube.
        groups = tuple(fields[3].split(",")) if len(fields) >= 4 else ()
        records.append(_TokenRecord(line, token, UserInfo(username=name, uid=uid, groups=groups)))
    _warn_duplicates(path, records)
    return records


def _warn_duplicates(path: Path, records: list[_TokenRecord]) -> None:
    seen: set[str] = set()
    for rec in records:
        if rec.token in seen:
            log.warning(
                "duplicate token has been found in token file '%s', line %d", path, rec.line
            )
        seen.add(rec.token)


def _token_bytes(token: str) -> bytes:
    return token.encode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- CSV (Go rules)


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) like Go's encoding/csv with LazyQuotes off.

    Python's csv module is laxer (it accepts bare quotes in unquoted fields), so the few rules
    kube relies on are implemented here: empty lines skipped, `""` escapes inside quotes, a
    closing quote must be followed by a comma or end of line, quoted fields may span lines.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        index += 1
        if line == "" or line.startswith("#"):
            continue
        fields, index = _parse_record(path, lines, start)
        yield start + 1, fields


def _parse_record(path: Path, lines: list[str], start: int) -> tuple[list[str], int]:
    """Parse the record beginning at lines[start]; return its fields and the next line index."""
    fields: list[str] = []
    row, pos = start, 0
    while True:
        line = lines[row]
        if line.startswith('"', pos):
            value, row, pos, more = _quoted_field(path, lines, row, pos + 1)
        else:
            comma = line.find(",", pos)
            end = len(line) if comma == -1 else comma
            value = line[pos:end]
            if '"' in value:
                _csv_error(path, row, pos + value.index('"') + 1, _BARE_QUOTE)
            pos, more = end + 1, comma != -1
        fields.append(value)
        if not more:
            return fields, row + 1


def _quoted_field(path: Path, lines: list[str], row: int, pos: int) -> tuple[str, int, int, bool]:
    """Read a quoted field whose content starts at (row, pos).

    Returns (value, row, position after the separator, whether another field follows).
    """
    parts: list[str] = []
    while True:
        line = lines[row]
        quote = line.find('"', pos)
        if quote == -1:
            parts.append(line[pos:])
            if row + 1 >= len(lines):
                _csv_error(path, row, len(line) + 1, _BAD_QUOTE)
            parts.append("\n")
            row, pos = row + 1, 0
            continue
        parts.append(line[pos:quote])
        pos = quote + 1
        if line.startswith('"', pos):
            parts.append('"')
            pos += 1
        elif line.startswith(",", pos):
            return "".join(parts), row, pos + 1, True
        elif pos == len(line):
            return "".join(parts), row, pos, False
        else:
            _csv_error(path, row, pos + 1, _BAD_QUOTE)


def _csv_error(path: Path, row: int, column: int, problem: str) -> NoReturn:
    raise AuthConfigError(
        f"token file '{path}' line {row + 1}: parse error at column {column}: {problem}"
    )


# --------------------------------------------------------------------------- request authn


class Authenticator:
    """kube's union of x509 and bearer-token authenticators, plus the authenticated-group adder.

    With `anonymous=True` (kube-apiserver's default `--anonymous-auth=true`) a request that
    carries no credentials at all becomes `system:anonymous`; a request whose bearer token is
    wrong is still rejected (None), never downgraded to anonymous.
    """

    __slots__ = ("_anonymous", "_bearers", "_client_ca_configured", "_token_file")

    def __init__(
        self,
        *,
        token_file: TokenFile | None,
        client_ca_configured: bool,
        anonymous: bool = False,
        bearers: Sequence[BearerAuthenticator] = (),
    ) -> None:
        self._token_file = token_file
        self._client_ca_configured = client_ca_configured
        self._anonymous = anonymous
        self._bearers = tuple(bearers)

    def token_file_user(self, token: str) -> UserInfo | None:
        if self._token_file is None:
            return None
        user = self._token_file.authenticate(token)
        return None if user is None else _with_authenticated_group(user)

    def authenticate_token(self, token: str) -> tuple[UserInfo | None, str]:
        """kube's union of bearer-token authenticators: token file, then the others (e.g.
        ServiceAccount JWTs) in order; the first user wins. On failure, the errors of those
        that recognised the token, joined as Go's aggregate error prints them."""
        if self._token_file is not None:
            user = self._token_file.authenticate(token)
            if user is not None:
                return _with_authenticated_group(user), ""
        errors: list[str] = []
        for bearer in self._bearers:
            try:
                user = bearer.authenticate_token(token)
            except TokenRejected as exc:
                errors.append(str(exc))
                continue
            if user is not None:
                return _with_authenticated_group(user), ""
        if not errors:
            return None, ""
        return None, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"

    def authenticate(
        self, *, authorization: str | None, peer_cert: Mapping[str, object] | None
    ) -> UserInfo | None:
        """The caller's identity, or None for "401 Unauthorized".

        `peer_cert` is `SSLObject.getpeercert()` of a TLS layer that already verified the chain
        against the client CA; `authorization` is the raw Authorization header value.
        """
        # 1. x509: kube only installs it when a client CA is configured.
        user = _user_from_cert(peer_cert) if self._client_ca_configured else None
        # 2. bearer token: only consulted when the cert did not authenticate.
        if user is None and (self._token_file is not None or self._bearers):
            token = bearer_token(authorization)
            if token is not None:
                user, _ = self.authenticate_token(token)
                if user is None:
                    return None  # invalid bearer token: an error in kube, hence 401
        if user is None:
            return ANONYMOUS if self._anonymous else None
        return _with_authenticated_group(user)


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`, parsed exactly like kube's bearertoken.

    The scheme is case-insensitive; the header is split on single spaces and the second part
    is the token, so an empty token (e.g. two spaces) or another scheme yields None.
    """
    if authorization is None:
        return None
    value = authorization.strip()
    if not value:
        return None
    parts = value.split(" ")
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def _user_from_cert(peer_cert: Mapping[str, object] | None) -> UserInfo | None:
    """CN becomes the user name, every O a group (kube's CommonNameUserConversion).

    Like Go's pkix.Name, the last CN wins; a cert without a CN does not authenticate.
    """
    if not peer_cert:
        return None
    common_name = ""
    organizations: list[str] = []
    for name, value in _subject_attributes(peer_cert.get("subject")):
        if name == "commonName":
            common_name = value
        elif name == "organizationName":
            organizations.append(value)
    if not common_name:
        return None
    return UserInfo(username=common_name, groups=tuple(organizations))


def _subject_attributes(subject: object) -> Iterator[tuple[str, str]]:
    """Flatten getpeercert()'s subject: a tuple of RDNs, each a tuple of (name, value)."""
    if not isinstance(subject, tuple):
        return
    for rdn in subject:
        if not isinstance(rdn, tuple):
            continue
        for attr in rdn:
            if isinstance(attr, tuple) and len(attr) == 2:
                name, value = attr
                if isinstance(name, str) and isinstance(value, str):
                    yield name, value


def _with_authenticated_group(user: UserInfo) -> UserInfo:
    if user.username == ANONYMOUS_USER:
        return user
    if ALL_AUTHENTICATED in user.groups or ALL_UNAUTHENTICATED in user.groups:
        return user
    return UserInfo(
        username=user.username,
        uid=user.uid,
        groups=(*user.groups, ALL_AUTHENTICATED),
        extra=user.extra,
    )
