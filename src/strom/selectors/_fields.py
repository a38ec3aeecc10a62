"""Field selectors: the grammar and escaping of fields/selector.go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strom.errors import StatusError
from strom.selectors._field_rules import _Extract, _rules_for
from strom.selectors._labels import _SelectorSyntaxError


# --- field selectors (fields/selector.go) ----------------------------------------------------
def _split_terms(text: str) -> list[str]:
    """splitTerms: split on commas that no backslash escapes (escapes kept for later)."""
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """splitTerm: the first '!=', '==' or '=' (in that preference at each position)."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    """UnescapeValue: '\\\\', '\\,' and '\\=' are the only escapes; bare ',' '=' are errors."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise _SelectorSyntaxError(
                    f"invalid field selector: invalid escape sequence: \\{ch}"
                )
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go prints the rune with %v, i.e. as its code point number
            raise _SelectorSyntaxError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if escaped:
        raise _SelectorSyntaxError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _parse_field_terms(text: str) -> list[tuple[str, bool, str]]:
    """(field, negated, value) per term, in kube's order (terms sorted as written)."""
    terms: list[tuple[str, bool, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise _SelectorSyntaxError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append((lhs, op == "!=", _unescape(rhs)))
    return terms


class FieldSelector:
    """A compiled field selector for one kind: AND of `field=value` / `field!=value` terms."""

    __slots__ = ("_empty", "_terms", "_tests")

    def __init__(
        self, terms: Sequence[tuple[str, bool, str]], extractors: Mapping[str, _Extract]
    ) -> None:
        self._terms = tuple(terms)
        self._tests: tuple[tuple[_Extract, bool, str], ...] = tuple(
            (extractors.get(name, _nothing), negated, value) for name, negated, value in terms
        )
        self._empty = not terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for extract, negated, value in self._tests:
            if (extract(obj) == value) is negated:
                return False
        return True

    @property
    def empty(self) -> bool:
        return self._empty

    def exact_name(self) -> str | None:
        """The name `metadata.name=X` pins, as RequiresExactMatch finds it."""
        return self._exact("metadata.name")

    def exact_namespace(self) -> str | None:
        return self._exact("metadata.namespace")

    def _exact(self, name: str) -> str | None:
        for field, negated, value in self._terms:
            if field == name and not negated:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{'!=' if n else '='}{v}" for f, n, v in self._terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def parse_field_selector(
    text: str,
    *,
    group: str,
    kind: str,
    selectable: Sequence[str] = (),
    version: str = "",
    namespaced: bool = True,
) -> FieldSelector:
    """Parse a `fieldSelector` for one kind; a 400 with kube's message when it is bad.

    `selectable` holds a custom resource version's `selectableFields[].jsonPath`s; `namespaced`
    only matters for custom resources (cluster-scoped ones refuse `metadata.namespace`), and
    `version` only shows in ResourceSlice's rejection message.
    """
    rules = _rules_for(
        group=group, kind=kind, version=version, selectable=selectable, namespaced=namespaced
    )
    try:
        raw_terms = _parse_field_terms(text)
    except _SelectorSyntaxError as err:
        raise StatusError.bad_request(str(err)) from None
    terms: list[tuple[str, bool, str]] = []
    for field, negated, value in raw_terms:
        canonical = rules.accepted.get(field)
        if canonical is None:
            raise StatusError.bad_request(rules.reject(field))
        terms.append((canonical, negated, value))
    return FieldSelector(terms, rules.extractors)


def _nothing(_obj: Mapping[str, Any]) -> str:
    return ""
