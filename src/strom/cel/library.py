"""Kubernetes' CEL libraries, as functions the CEL runtime calls.

kube-apiserver extends CEL (k8s.io/apiserver/pkg/cel/library and cel-go's `ext` strings)
with string helpers, list helpers, regex `find`, and `url`, `quantity`, `ip` and `cidr`
values. The runtime (`common-expression-language`) has the standard functions and macros;
these are the rest. Method calls (`'a'.lowerAscii()`) reach a function with the receiver as
first argument, so one function serves both call styles, and a name kube overloads across
types (`indexOf` on strings and lists) dispatches on the argument.

Values of kube's own types (URL, Quantity, IP, CIDR) travel through CEL as one-entry maps
under a key no object can produce from JSON field selection (`@url`, `@quantity`, ...).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["FUNCTIONS", "MACROS", "STANDARD"]


class LibraryError(ValueError):
    """A library function refused its arguments (kube's runtime error text)."""


# --- strings (cel-go ext.Strings, version 2 as kube enables it) ------------------------------
def _char_at(s: str, i: int) -> str:
    if i < 0 or i > len(s):
        raise LibraryError(f"index out of range: {i}")
    return s[i : i + 1]


def _index_of(target: Any, item: Any, start: int = 0) -> int:
    if isinstance(target, str):
        if start < 0 or start > len(target):
            raise LibraryError(f"index out of range: {start}")
        return target.find(item, start)
    for i, value in enumerate(target):
        if value == item:
            return i
    return -1


def _last_index_of(target: Any, item: Any, end: int | None = None) -> int:
    if isinstance(target, str):
        if end is None:
            return target.rfind(item)
        if end < 0 or end > len(target):
            raise LibraryError(f"index out of range: {end}")
        return target.rfind(item, 0, end + len(item))
    for i in range(len(target) - 1, -1, -1):
        if target[i] == item:
            return i
    return -1


def _replace(s: str, old: str, new: str, n: int = -1) -> str:
    return s.replace(old, new, n if n >= 0 else -1)


def _split(s: str, sep: str, n: int = -1) -> list[str]:
    if n == 0:
        return []
    if sep == "":
        parts = list(s)
        if n > 0 and len(parts) > n:
            parts = [*parts[: n - 1], "".join(parts[n - 1 :])]
        return parts
    return s.split(sep, n - 1) if n > 0 else s.split(sep)


def _substring(s: str, start: int, end: int | None = None) -> str:
    end = len(s) if end is None else end
    if start < 0 or start > len(s) or end < start or end > len(s):
        raise LibraryError(f"index out of range: {start if start < 0 or start > len(s) else end}")
    return s[start:end]


def _join(items: list[Any], sep: str = "") -> str:
    if not all(isinstance(x, str) for x in items):
        raise LibraryError("join: list must contain strings only")
    return sep.join(items)


_VERB = re.compile(r"%(\.\d+)?([sdfeEbxXo%])")


def _format(template: str, args: list[Any]) -> str:
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        precision, verb = match.group(1), match.group(2)
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration as exc:
            raise LibraryError("index out of range: not enough arguments for format") from exc
        if verb == "s":
            return _to_text(value)
        if verb in "fFeE":
            digits = int(precision[1:]) if precision else 6
            return format(float(value), f".{digits}{verb}")
        if verb == "b":
            return format(int(value), "b")
        if verb == "o":
            return format(int(value), "o")
        if verb in "xX":
            if isinstance(value, str):
                text = value.encode().hex()
                return text.upper() if verb == "X" else text
            return format(int(value), verb)
        return str(int(value))

    return _VERB.sub(one, template)


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_to_text(k)}: {_to_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _quote(s: str) -> str:
    escaped = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


# --- lists (k8s.io/apiserver/pkg/cel/library/lists.go) -------------------------------------
def _is_sorted(items: list[Any]) -> bool:
    return all(items[i] <= items[i + 1] for i in range(len(items) - 1))


def _sum(items: list[Any]) -> Any:
    return sum(items) if items else 0


def _min(items: list[Any]) -> Any:
    if not items:
        raise LibraryError("min called on empty list")
    return min(items)


def _max(items: list[Any]) -> Any:
    if not items:
        raise LibraryError("max called on empty list")
    return max(items)


# --- regex (library/regex.go) ---------------------------------------------------------------
def _find(s: str, pattern: str) -> str:
    match = re.search(pattern, s)
    return match.group(0) if match else ""


def _find_all(s: str, pattern: str, n: int = -1) -> list[str]:
    found = [m.group(0) for m in re.finditer(pattern, s)]
    return found[:n] if n >= 0 else found


# --- URLs (library/urls.go) -----------------------------------------------------------------
_URL = "@url"


def _parse_url(s: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(s)
    if not parts.scheme and not s.startswith("/"):
        raise LibraryError(f"URL parse error during conversion from string: parse {s!r}")
    return parts


def _url(s: str) -> dict[str, str]:
    _parse_url(s)
    return {_URL: s}


def _is_url(s: str) -> bool:
    try:
        _parse_url(s)
    except (LibraryError, ValueError):
        return False
    return True


def _url_part(name: str) -> Callable[[dict[str, str]], str]:
    def get(url: dict[str, str]) -> str:
        parts = _parse_url(url[_URL])
        if name == "scheme":
            return parts.scheme
        if name == "host":
            return parts.netloc.rpartition("@")[2]
        if name == "hostname":
            return parts.hostname or ""
        if name == "port":
            return str(parts.port) if parts.port is not None else ""
        if name == "path":
            return parts.path
        return parts.query

    return get


def _get_query(url: dict[str, str]) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(_parse_url(url[_URL]).query, keep_blank_values=True)


# --- quantities (library/quantity.go) -------------------------------------------------------
_QUANTITY = "@quantity"
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY_RE = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))((?:[eE][+-]?\d+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
)


def _quantity_value(s: str) -> Decimal:
    match = _QUANTITY_RE.match(s)
    if not match:
        raise LibraryError(
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix]
    except InvalidOperation as exc:
        raise LibraryError(f"invalid quantity {s!r}") from exc


def _quantity(s: str) -> dict[str, str]:
    _quantity_value(s)
    return {_QUANTITY: s}


def _is_quantity(s: str) -> bool:
    try:
        _quantity_value(s)
    except LibraryError:
        return False
    return True


def _q(value: Any) -> Decimal:
    if isinstance(value, dict) and _QUANTITY in value:
        return _quantity_value(value[_QUANTITY])
    if isinstance(value, int | float):
        return Decimal(value)
    raise LibraryError("no such overload")


def _q_new(value: Decimal) -> dict[str, str]:
    text = format(value.normalize(), "f")
    return {_QUANTITY: text}


def _compare(a: Any, b: Any) -> int:
    x, y = _q(a), _q(b)
    return (x > y) - (x < y)


def _as_integer(q: Any) -> int:
    value = _q(q)
    if value != value.to_integral_value() or abs(value) >= 2**63:
        raise LibraryError("cannot convert value to integer")
    return int(value)


# --- IPs and CIDRs (library/ip.go, library/cidr.go) -----------------------------------------
_IP, _CIDR = "@ip", "@cidr"


def _parse_ip(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in s:
        raise LibraryError(f"IP address with zone value is not allowed: {s}")
    try:
        address = ipaddress.ip_address(s)
    except ValueError as exc:
        raise LibraryError(f"IP Address {s!r} parse error during conversion from string") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise LibraryError(f"IPv4-mapped IPv6 address is not allowed: {s}")
    return address


def _ip(value: Any) -> dict[str, str]:
    if isinstance(value, dict) and _CIDR in value:
        return {_IP: str(ipaddress.ip_interface(value[_CIDR]).ip)}
    _parse_ip(value)
    return {_IP: value}


def _is_ip(s: str) -> bool:
    try:
        _parse_ip(s)
    except LibraryError:
        return False
    return True


def _is_canonical(s: str) -> bool:
    return str(_parse_ip(s)) == s


def _addr(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, dict) and _IP in value:
        return _parse_ip(value[_IP])
    if isinstance(value, str):
        return _parse_ip(value)
    raise LibraryError("no such overload")


def _parse_cidr(s: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(s) if "/" in s else _no_prefix(s)
    except ValueError as exc:
        raise LibraryError(
            f"network address {s!r} parse error during conversion from string"
        ) from exc


def _no_prefix(s: str) -> ipaddress.IPv4Interface:
    raise LibraryError(f"network address {s!r} parse error during conversion from string")


def _cidr(s: str) -> dict[str, str]:
    _parse_cidr(s)
    return {_CIDR: s}


def _is_cidr(s: str) -> bool:
    try:
        _parse_cidr(s)
    except LibraryError:
        return False
    return True


def _net(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, dict) and _CIDR in value:
        return _parse_cidr(value[_CIDR]).network
    if isinstance(value, str):
        return _parse_cidr(value).network
    raise LibraryError("no such overload")


def _contains_ip(cidr: Any, ip: Any) -> bool:
    return _addr(ip) in _net(cidr)


def _contains_cidr(cidr: Any, other: Any) -> bool:
    inner, outer = _net(other), _net(cidr)
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _masked(cidr: Any) -> dict[str, str]:
    return {_CIDR: str(_net(cidr))}


def _prefix_length(cidr: Any) -> int:
    return _net(cidr).prefixlen


def _family(ip: Any) -> int:
    return _addr(ip).version


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # strings
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: (
        s.lower() if s.isascii() else "".join(c.lower() if c.isascii() else c for c in s)
    ),
    "upperAscii": lambda s: (
        s.upper() if s.isascii() else "".join(c.upper() if c.isascii() else c for c in s)
    ),
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "trim": lambda s: s.strip(" \t\n\r\v\f\u00a0\u0085\u1680\u2000\u2028\u2029\u202f\u205f\u3000"),
    "join": _join,
    "format": _format,
    "reverse": lambda s: s[::-1],
    "strings.quote": _quote,
    # lists
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    # regex
    "find": _find,
    "findAll": _find_all,
    # urls
    "url": _url,
    "isURL": _is_url,
    "getScheme": _url_part("scheme"),
    "getHost": _url_part("host"),
    "getHostname": _url_part("hostname"),
    "getPort": _url_part("port"),
    "getEscapedPath": _url_part("path"),
    "getQuery": _get_query,
    # quantities
    "quantity": _quantity,
    "isQuantity": _is_quantity,
    "sign": lambda q: _compare(q, 0),
    "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    "isLessThan": lambda a, b: _compare(a, b) < 0,
    "compareTo": _compare,
    "add": lambda a, b: _q_new(_q(a) + _q(b)),
    "sub": lambda a, b: _q_new(_q(a) - _q(b)),
    "asInteger": _as_integer,
    "isInteger": lambda q: _q(q) == _q(q).to_integral_value() and abs(_q(q)) < 2**63,
    "asApproximateFloat": lambda q: float(_q(q)),
    # ips and cidrs
    "ip": _ip,
    "isIP": _is_ip,
    "ip.isCanonical": _is_canonical,
    "family": _family,
    "isUnspecified": lambda ip: _addr(ip).is_unspecified,
    "isLoopback": lambda ip: _addr(ip).is_loopback,
    "isLinkLocalMulticast": lambda ip: _addr(ip).is_multicast and _addr(ip).is_link_local,
    "isLinkLocalUnicast": lambda ip: _addr(ip).is_link_local and not _addr(ip).is_multicast,
    "isGlobalUnicast": lambda ip: _addr(ip).is_global and not _addr(ip).is_multicast,
    "cidr": _cidr,
    "isCIDR": _is_cidr,
    "containsIP": _contains_ip,
    "containsCIDR": _contains_cidr,
    "masked": _masked,
    "prefixLength": _prefix_length,
}

# Functions and macros the runtime provides itself (cel-go's standard environment).
STANDARD = frozenset(
    {
        "size",
        "matches",
        "startsWith",
        "endsWith",
        "contains",
        "has",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "dyn",
        "type",
        "duration",
        "timestamp",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
        "optional.of",
        "optional.none",
        "optional.ofNonZeroValue",
        "hasValue",
        "value",
        "orValue",
        "or",
    }
)
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
