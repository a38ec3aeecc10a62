"""Label selectors: the grammar, validation and matching of labels/selector.go."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from strom.errors import StatusError
from strom.gofmt import aggregate_errors, go_quote

_Labels = Mapping[str, str]
_LabelTest = Callable[[_Labels], bool]
_Extract = Callable[[Mapping[str, Any]], str]
_NO_LABELS: _Labels = {}


# --- Go formatting helpers ----------------------------------------------------------------


_INT64 = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): sign and digits only, within int64."""
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


# --- label key / value validation (k8s.io/apimachinery/pkg/api/validate/content) ----------
_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = f"({_KEY_FMT})?"
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_KEY_RE = re.compile(_KEY_FMT)
_VALUE_RE = re.compile(_VALUE_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character"
)
_VALUE_MSG = "a valid label must be an empty string or " + _KEY_MSG.removeprefix("must ")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {shown}, regex used for validation is '{fmt}')"


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _label_key_errors(key: str) -> list[str]:
    """content.IsLabelKey: an optional DNS-subdomain prefix, '/', and a 63-byte name."""
    parts = key.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if _byte_len(prefix) > 253:
                errs.append("prefix part must be no more than 253 bytes")
            if not _SUBDOMAIN_RE.fullmatch(prefix):
                errs.append(
                    "prefix part " + _regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com")
                )
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _KEY_RE.fullmatch(name):
        errs.append("name part " + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def _label_value_errors(value: str) -> list[str]:
    """content.IsLabelValue: empty, or up to 63 bytes of the label alphabet."""
    errs: list[str] = []
    if _byte_len(value) > 63:
        errs.append("must be no more than 63 bytes")
    if not _VALUE_RE.fullmatch(value):
        errs.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _invalid(path: str, bad_value: str, detail: str) -> str:
    """field.Invalid(...).Error() for a string bad value."""
    return f"{path}: Invalid value: {go_quote(bad_value)}: {detail}"


# --- label requirements ----------------------------------------------------------------------
_IN, _NOT_IN, _EQ, _DEQ, _NEQ, _GT, _LT, _EXISTS, _NOT_EXISTS = (
    "in",
    "notin",
    "=",
    "==",
    "!=",
    "gt",
    "lt",
    "exists",
    "!",
)


def _requirement_errors(key: str, op: str, values: Sequence[str], *, key_path: str) -> list[str]:
    """labels.NewRequirement's checks (key already validated by the parser's caller)."""
    errs: list[str] = []
    if key_path and (key_errs := _label_key_errors(key)):
        errs.append(_invalid(key_path, key, "; ".join(key_errs)))
    if op in (_IN, _NOT_IN) and not values:
        errs.append(
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        )
    elif op in (_EXISTS, _NOT_EXISTS) and values:
        shown = orjson.dumps(list(values)).decode()
        errs.append(
            f"values: Invalid value: {shown}: values set must be empty for exists and does"
            " not exist"
        )
    elif op in (_GT, _LT):
        for i, value in enumerate(values):
            if _parse_int64(value) is None:
                errs.append(
                    _invalid(
                        f"values[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    for i, value in enumerate(values):
        if value_errs := _label_value_errors(value):
            errs.append(_invalid(f"values[{i}][{key}]", value, "; ".join(value_errs)))
    return errs


def _label_test(key: str, op: str, values: Sequence[str]) -> _LabelTest:
    """One requirement as a closure; Requirement.Matches semantics (absent key -> NotIn holds)."""
    if op in (_EQ, _DEQ) or (op == _IN and len(values) == 1):
        want = values[0]
        return lambda ls: ls.get(key) == want
    if op == _NEQ or (op == _NOT_IN and len(values) == 1):
        avoid = values[0]
        return lambda ls: ls.get(key) != avoid
    if op == _IN:
        wanted = frozenset(values)
        return lambda ls: ls.get(key) in wanted
    if op == _NOT_IN:
        avoided = frozenset(values)
        return lambda ls: ls.get(key) not in avoided
    if op == _EXISTS:
        return lambda ls: key in ls
    if op == _NOT_EXISTS:
        return lambda ls: key not in ls
    bound = _parse_int64(values[0]) if len(values) == 1 else None
    greater = op == _GT

    def compare(ls: _Labels) -> bool:
        raw = ls.get(key)
        have = _parse_int64(raw) if raw is not None else None
        if have is None or bound is None:
            return False
        return have > bound if greater else have < bound

    return compare


class LabelSelector:
    """A compiled label selector: AND of its requirements, immutable."""

    __slots__ = ("_empty", "_tests", "_text")

    def __init__(
        self,
        requirements: Sequence[tuple[str, str, tuple[str, ...]]],
        *,
        matches_nothing: bool = False,
    ) -> None:
        ordered = sorted(requirements, key=lambda r: r[0])  # kube sorts by key
        tests = [_label_test(key, op, values) for key, op, values in ordered]
        if matches_nothing:
            tests = [lambda _ls: False]
        self._tests: tuple[_LabelTest, ...] = tuple(tests)
        self._empty = not tests
        self._text = ",".join(_requirement_text(*r) for r in ordered)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = _NO_LABELS if labels is None else labels
        for test in self._tests:  # noqa: SIM110 - a plain loop beats all(genexpr) here
            if not test(labels):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True when the selector restricts nothing (kube's `Selector.Empty()`)."""
        return self._empty

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"LabelSelector({self._text!r})"


def _requirement_text(key: str, op: str, values: tuple[str, ...]) -> str:
    """Requirement.String(): how kube prints a requirement back."""
    if op == _EXISTS:
        return key
    if op == _NOT_EXISTS:
        return "!" + key
    joined = ",".join(sorted(values))
    if op in (_IN, _NOT_IN):
        return f"{key} {op} ({joined})"
    symbol = {_GT: ">", _LT: "<"}.get(op, op)
    return f"{key}{symbol}{joined}"


# --- the label selector lexer and parser (labels/selector.go) --------------------------------
(
    _T_ERROR,
    _T_END,
    _T_CLOSE,
    _T_COMMA,
    _T_NOT,
    _T_DEQ,
    _T_EQ,
    _T_GT,
    _T_ID,
    _T_IN,
    _T_LT,
    _T_NEQ,
    _T_NOTIN,
    _T_OPEN,
) = range(14)
_LITERAL_TOKENS = {
    ")": _T_CLOSE,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DEQ,
    "=": _T_EQ,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NEQ,
    "notin": _T_NOTIN,
    "(": _T_OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {
    _T_IN: _IN,
    _T_EQ: _EQ,
    _T_DEQ: _DEQ,
    _T_GT: _GT,
    _T_LT: _LT,
    _T_NOTIN: _NOT_IN,
    _T_NEQ: _NEQ,
}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"

_Token = tuple[int, str]


def _scan(text: str) -> list[_Token]:
    """Tokenise like labels.Lexer, NUL quirks included (a NUL reads as end of input)."""
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while True:
        # skip whitespace; reading past the end or a NUL ends the token stream
        ch = "\0"
        while pos < end:
            ch = text[pos]
            pos += 1
            if ch not in _WHITESPACE:
                break
            ch = "\0"
        if ch == "\0":
            tokens.append((_T_END, ""))
            return tokens
        start = pos - 1
        if ch in _SPECIAL:
            pos, token = _scan_special(text, start)
        else:
            stop = start
            while (
                stop < end
                and text[stop] not in _SPECIAL
                and text[stop] not in _WHITESPACE
                and text[stop] != "\0"
            ):
                stop += 1
            word = text[start:stop]
            pos = stop + 1 if stop < end and text[stop] == "\0" else stop
            token = (_LITERAL_TOKENS.get(word, _T_ID), word)
        tokens.append(token)


def _scan_special(text: str, pos: int) -> tuple[int, _Token]:
    """The longest operator made of special symbols starting at `pos`."""
    best: _Token | None = None
    buffer = ""
    while pos < len(text):
        ch = text[pos]
        if ch == "\0":
            pos += 1
            break
        if ch not in _SPECIAL:
            break
        buffer += ch
        if buffer in _LITERAL_TOKENS:
            best = (_LITERAL_TOKENS[buffer], buffer)
        elif best is not None:
            break
        pos += 1
    if best is None:
        return pos, (_T_ERROR, f"error expected: keyword found '{buffer}'")
    return pos, best


class _SelectorSyntaxError(Exception):
    pass


class _LabelParser:
    """labels.Parser: recursive descent over the scanned tokens."""

    def __init__(self, text: str) -> None:
        self._tokens = _scan(text)
        self._pos = 0

    def _peek(self, values: bool = True) -> _Token:
        tok, lit = self._tokens[self._pos]
        return (_T_ID, lit) if values and tok in (_T_IN, _T_NOTIN) else (tok, lit)

    def _take(self, values: bool = True) -> _Token:
        token = self._peek(values)
        self._pos += 1
        return token

    def parse(self) -> list[tuple[str, str, tuple[str, ...]]]:
        requirements: list[tuple[str, str, tuple[str, ...]]] = []
        while True:
            tok, lit = self._peek()
            if tok == _T_END:
                return requirements
            if tok not in (_T_ID, _T_NOT):
                raise _SelectorSyntaxError(
                    f"found '{lit}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self._requirement())
            except _SelectorSyntaxError as err:
                raise _SelectorSyntaxError(f"unable to parse requirement: {err}") from None
            tok, lit = self._take()
            if tok == _T_END:
                return requirements
            if tok != _T_COMMA:
                raise _SelectorSyntaxError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self._peek()
            if tok not in (_T_ID, _T_NOT):
                raise _SelectorSyntaxError(f"found '{lit}', expected: identifier after ','")

    def _requirement(self) -> tuple[str, str, tuple[str, ...]]:
        key, op = self._key_and_inferred_operator()
        values: tuple[str, ...] = ()
        if op not in (_EXISTS, _NOT_EXISTS):
            op = self._operator()
            values = self._value_set() if op in (_IN, _NOT_IN) else self._exact_value()
        if errs := _requirement_errors(key, op, values, key_path=""):
            raise _SelectorSyntaxError(aggregate_errors(errs))
        return key, op, values

    def _key_and_inferred_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self._take()
        if tok == _T_NOT:
            op = _NOT_EXISTS
            tok, lit = self._take()
        if tok != _T_ID:
            raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")
        if key_errs := _label_key_errors(lit):
            raise _SelectorSyntaxError(_invalid("<nil>", lit, "; ".join(key_errs)))
        if self._peek()[0] in (_T_END, _T_COMMA) and op != _NOT_EXISTS:
            op = _EXISTS
        return lit, op

    def _operator(self) -> str:
        tok, lit = self._take(values=False)
        if tok not in _OPERATOR_TOKENS:
            raise _SelectorSyntaxError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return _OPERATOR_TOKENS[tok]

    def _value_set(self) -> tuple[str, ...]:
        tok, lit = self._take()
        if tok != _T_OPEN:
            raise _SelectorSyntaxError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok == _T_CLOSE:  # "()" is the set holding one empty value
            self._take()
            return ("",)
        if tok not in (_T_ID, _T_COMMA):
            raise _SelectorSyntaxError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifier_list()
        self._take()  # the ')' the list stopped at
        return tuple(sorted(values))

    def _identifier_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._take()
            if tok == _T_ID:
                values.add(lit)
                nxt, nxt_lit = self._peek()
                if nxt == _T_CLOSE:
                    return values
                if nxt != _T_COMMA:
                    raise _SelectorSyntaxError(f"found '{nxt_lit}', expected: ',' or ')'")
            elif tok == _T_COMMA:
                if not values:
                    values.add("")  # "(," starts with an empty value
                nxt = self._peek()[0]
                if nxt == _T_CLOSE:
                    values.add("")  # ",)" ends with one
                    return values
                if nxt == _T_COMMA:
                    values.add("")  # ",," holds one
            else:
                raise _SelectorSyntaxError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> tuple[str, ...]:
        if self._peek()[0] in (_T_END, _T_COMMA):
            return ("",)
        tok, lit = self._take()
        if tok != _T_ID:
            raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")
        return (lit,)


_EVERYTHING = LabelSelector(())
_NOTHING = LabelSelector((), matches_nothing=True)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `labelSelector` query value; a 400 with kube's message when it is malformed."""
    if not text.strip(" \t\r\n"):  # only these four are whitespace to kube's lexer
        return _EVERYTHING
    try:
        requirements = _LabelParser(text).parse()
    except _SelectorSyntaxError as err:
        raise StatusError.bad_request(str(err)) from None
    return LabelSelector(requirements) if requirements else _EVERYTHING


_OBJECT_OPERATORS = {"In": _IN, "NotIn": _NOT_IN, "Exists": _EXISTS, "DoesNotExist": _NOT_EXISTS}


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} selects everything."""
    if sel is None:
        return _NOTHING
    match_labels: Mapping[str, str] = sel.get("matchLabels") or {}
    expressions: Sequence[Mapping[str, Any]] = sel.get("matchExpressions") or ()
    requirements: list[tuple[str, str, tuple[str, ...]]] = []
    for key, value in match_labels.items():
        requirements.append(_checked(key, _EQ, (value,)))
    for expr in expressions:
        raw_op = expr.get("operator", "")
        if raw_op not in _OBJECT_OPERATORS:
            raise StatusError.bad_request(
                f"{go_quote(str(raw_op))} is not a valid label selector operator"
            )
        values = tuple(expr.get("values") or ())
        requirements.append(_checked(expr.get("key", ""), _OBJECT_OPERATORS[raw_op], values))
    return LabelSelector(requirements) if requirements else _EVERYTHING


def _checked(key: str, op: str, values: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    if errs := _requirement_errors(key, op, values, key_path="key"):
        raise StatusError.bad_request(aggregate_errors(errs))
    return key, op, values
