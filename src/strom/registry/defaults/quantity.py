"""Resource quantities as kube-apiserver reads and writes them (apimachinery `resource.Quantity`).

kube-apiserver never echoes a quantity the way the client spelt it: it parses it, rounds it
(up to nano on parse; up to milli in resource lists, `SetDefaults_ResourceList`) and writes
it back in canonical form (`0.5` → `500m`, `1024Mi` → `1Gi`, `1e3` → `1e3`, number → string).
The QoS class of a pod also needs quantities compared. Exact arithmetic via `Fraction`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

__all__ = ["canonical", "canonical_quantity", "canonical_resource_list", "parse"]

_NUMBER = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(.*)")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_EXPONENT = re.compile(r"[eE]([+-]?\d+)")
_BINARY_SUFFIX = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"


def parse(text: Any) -> tuple[Fraction, str] | None:
    """(value, format) of a quantity, or None when it is not one. Rounds up to nano like kube."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        text = repr(text) if isinstance(text, float) else str(text)
    if not isinstance(text, str):
        return None
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    sign, whole, frac, suffix = m.groups()
    if not whole and not frac:
        return None
    digits = Fraction(int(whole or "0")) + (
        Fraction(int(frac), 10 ** len(frac)) if frac else Fraction(0)
    )
    if suffix in _BINARY:
        value, fmt = digits * 1024 ** _BINARY[suffix], BINARY_SI
    elif suffix in _DECIMAL:
        value, fmt = digits * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
    elif (e := _EXPONENT.fullmatch(suffix)) is not None:
        value, fmt = digits * Fraction(10) ** int(e.group(1)), DECIMAL_EXPONENT
    else:
        return None
    value = _round_up(value, 9)
    return (-value if sign == "-" else value), fmt


def _round_up(value: Fraction, decimals: int) -> Fraction:
    """Round away from zero to `decimals` places (inf.RoundUp)."""
    scaled = value * 10**decimals
    if scaled.denominator == 1:
        return value
    rounded = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return Fraction(rounded, 10**decimals)


def canonical(value: Fraction, fmt: str) -> str:
    """The string kube writes for a parsed quantity (Quantity.String)."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        number, power = int(value), 0
        while abs(number) >= 1024 and number % 1024 == 0 and power < 6:
            number //= 1024
            power += 1
        return f"{number}{_BINARY_SUFFIX[power]}"
    exponent = -9
    mantissa = int(value * 10**9)
    while abs(mantissa) >= 10 and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa *= 10**shift
    exponent -= shift
    if fmt == DECIMAL_SI and exponent in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def canonical_resource_list(resources: Any) -> None:
    """SetDefaults_ResourceList plus encoding: round up to milli, write canonically, in place."""
    if not isinstance(resources, dict):
        return
    for name, raw in resources.items():
        parsed = parse(raw)
        if parsed is not None:
            value, fmt = parsed
            resources[name] = canonical(_round_up(value, 3), fmt)


def canonical_quantity(raw: Any) -> Any:
    """One quantity written canonically; anything unparsable comes back unchanged."""
    parsed = parse(raw)
    return raw if parsed is None else canonical(*parsed)
