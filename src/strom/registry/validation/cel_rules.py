"""CRD validation rules (`x-kubernetes-validations`), compiled once per CRD version.

kube-apiserver compiles each rule when the CRD is written (a rule that does not compile makes
the CRD invalid) and evaluates them on every create and update of a custom resource, after
the OpenAPI schema checks: `self` is the value at the rule's schema node, `oldSelf` the value
it replaces where the two correlate (object fields by name, `map` lists by key, maps by key
unless atomic). A rule that uses `oldSelf` runs only on updates, unless `optionalOldSelf`
gives it `oldSelf` as an optional. A failed rule reports its message (or messageExpression,
or `failed rule: <rule>`) at the node's path (or its `fieldPath`) with its `reason`; an error
on a node equal to its old value is only a warning (ratcheting, on by default since 1.33).
Read from apiextensions-apiserver pkg/apiserver/schema/cel; written for strom.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import cel as _cel

from strom.cel import CompileError, EvalError, Program, Selection, compile_expression
from strom.cel.values import escape, to_cel
from strom.errors import Cause
from strom.gofmt import go_quote

from . import fielderrors as fe
from .meta import as_list, as_map

__all__ = ["check_rules", "validate_rules"]

_SELF = frozenset({"self"})
_SELF_AND_OLD = frozenset({"self", "oldSelf"})
_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")
_MAX_MESSAGE = 2048
_MAX_EVALUATED_MESSAGE = 5 * 1024
_VALIDATORS_MAX = 256
_NEWLINES = re.compile(r"[\n\r]+")


@dataclass(frozen=True, slots=True)
class _Rule:
    rule: str
    message: str
    program: Program
    message_expression: Program | None
    reason: str
    field_path: str  # normalized, appended to the node's path
    optional_old_self: bool

    @property
    def uses_old_self(self) -> bool:
        return self.program.uses("oldSelf")

    def error_string(self) -> str:
        return self.message.strip() or self.rule.strip()

    def default_message(self) -> str:
        return self.message.strip() or f"failed rule: {self.rule.strip()}"


@dataclass(slots=True)
class _Node:
    schema: Mapping[str, Any]
    root: bool
    rules: list[_Rule] = field(default_factory=list)
    properties: dict[str, _Node] = field(default_factory=dict)
    items: _Node | None = None
    additional: _Node | None = None


# --- schema helpers ----------------------------------------------------------------------------
def _child_schema(schema: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    properties = as_map(schema.get("properties"))
    if name in properties:
        return as_map(properties[name])
    return None


def _has_rules(schema: Mapping[str, Any]) -> bool:
    if as_list(schema.get("x-kubernetes-validations")):
        return True
    children = [as_map(v) for v in as_map(schema.get("properties")).values()]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            children.append(schema[key])
    return any(_has_rules(c) for c in children)


def _with_type_and_meta(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource root as rules see it: apiVersion, kind, metadata.name/generateName."""
    properties = dict(as_map(schema.get("properties")))
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    }
    return {**schema, "type": "object", "properties": properties}


def _select_checker(schema: Mapping[str, Any], root: bool) -> Any:
    """Refuses `self.x` where the schema has no field x (cel-go: undefined field 'x')."""
    top = _with_type_and_meta(schema) if root else schema

    def check(selection: Selection) -> tuple[int, str] | None:
        node: Mapping[str, Any] | None = top
        for index, name in enumerate(selection.fields):
            if node is None:
                return None
            properties = as_map(node.get("properties"))
            if properties:
                real = _unescape(properties, name)
                if real is None:
                    return index, f"undefined field '{name}'"
                node = as_map(properties[real])
                if node.get("x-kubernetes-embedded-resource") is True:
                    node = _with_type_and_meta(node)
                continue
            if node.get("type") == "object" and not (
                isinstance(node.get("additionalProperties"), Mapping)
                or node.get("additionalProperties") is True
                or node.get("x-kubernetes-preserve-unknown-fields") is True
            ):
                return index, f"undefined field '{name}'"
            additional = node.get("additionalProperties")
            node = additional if isinstance(additional, Mapping) else None
            if node is None or node.get("type") not in ("object", None):
                return None
        return None

    return check


def _unescape(properties: Mapping[str, Any], name: str) -> str | None:
    for key in properties:
        if escape(key) == name:
            return key
    return None


def _correlatable(schema: Mapping[str, Any]) -> bool:
    return schema.get("x-kubernetes-map-type") != "atomic"


# --- fieldPath ---------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r"'(?:\\.|[^'\\])*'|[.\[\]]|[^.\[\]']+")


def _normalize_field_path(path: str, schema: Mapping[str, Any]) -> str:
    """kube's ValidFieldPath: `.a['b'].c` against the schema, as a field.Path string."""
    tokens = _PATH_TOKEN.findall(path)
    out = ""
    node: Mapping[str, Any] = schema
    i = 0

    def step(name: str) -> None:
        nonlocal out, node
        properties = as_map(node.get("properties"))
        if properties:
            if name not in properties:
                raise ValueError("does not refer to a valid field")
            out = f"{out}.{name}" if out else name
            node = as_map(properties[name])
        elif isinstance(node.get("additionalProperties"), Mapping):
            out = f"{out}[{name}]"
            node = node["additionalProperties"]
        else:
            raise ValueError("does not refer to a valid field")

    while i < len(tokens):
        token = tokens[i]
        if token == ".":
            if i + 1 >= len(tokens):
                raise ValueError("unexpected end of JSON path")
            step(tokens[i + 1])
            i += 2
        elif token == "[":
            if i + 1 >= len(tokens):
                raise ValueError("unexpected end of JSON path")
            quoted = tokens[i + 1]
            if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
                raise ValueError(f"expected single quoted string but got {quoted}")
            step(re.sub(r"\\(.)", r"\1", quoted[1:-1]))
            if i + 2 >= len(tokens) or tokens[i + 2] != "]":
                raise ValueError("unexpected end of JSON path")
            i += 3
        else:
            raise ValueError(f"expected [ or . but got: {token}")
    return out


# --- compilation -------------------------------------------------------------------------------
def _go_rule(rule: Mapping[str, Any]) -> str:
    """An apiextensions.ValidationRule as Go's %#v prints it (kube's bad value here)."""
    reason = rule.get("reason")
    optional = rule.get("optionalOldSelf")
    reason_text = (
        f"(*apiextensions.FieldValueErrorReason)({go_quote(str(reason))})"
        if reason is not None
        else "(*apiextensions.FieldValueErrorReason)(nil)"
    )
    optional_text = (
        f"(*bool)({'true' if optional else 'false'})" if optional is not None else "(*bool)(nil)"
    )
    return (
        f"apiextensions.ValidationRule{{Rule:{go_quote(str(rule.get('rule') or ''))},"
        f" Message:{go_quote(str(rule.get('message') or ''))},"
        f" MessageExpression:{go_quote(str(rule.get('messageExpression') or ''))},"
        f" Reason:{reason_text}, FieldPath:{go_quote(str(rule.get('fieldPath') or ''))},"
        f" OptionalOldSelf:{optional_text}}}"
    )


def _rule_shape_errors(
    rule: Mapping[str, Any], path: str, schema: Mapping[str, Any]
) -> list[Cause]:
    """The checks kube makes before compiling (empty rule, message, reason, fieldPath)."""
    causes: list[Cause] = []
    text = str(rule.get("rule") or "")
    message = str(rule.get("message") or "")
    if not text.strip():
        causes.append(fe.required(f"{path}.rule", "rule is not specified"))
    elif message and not message.strip():
        causes.append(
            fe.invalid(f"{path}.message", message, "message must be non-empty if specified")
        )
    elif len(message) > _MAX_MESSAGE:
        causes.append(
            fe.invalid(
                f"{path}.message",
                message[:10] + "...",
                "message must have a maximum length of 2048 characters",
            )
        )
    elif _NEWLINES.search(message.strip()):
        causes.append(
            fe.invalid(f"{path}.message", message, "message must not contain line breaks")
        )
    elif _NEWLINES.search(text.strip()) and not message.strip():
        causes.append(
            fe.required(f"{path}.message", "message must be specified if rule contains line breaks")
        )
    expression = str(rule.get("messageExpression") or "")
    if "messageExpression" in rule and expression and not expression.strip():
        causes.append(
            fe.required(
                f"{path}.messageExpression", "messageExpression must be non-empty if specified"
            )
        )
    reason = rule.get("reason")
    if reason is not None and reason not in _REASONS:
        causes.append(fe.not_supported(f"{path}.reason", reason, _REASONS))
    field_path = str(rule.get("fieldPath") or "")
    if field_path and not field_path.strip():
        causes.append(
            fe.invalid(f"{path}.fieldPath", field_path, "fieldPath must be non-empty if specified")
        )
    if _NEWLINES.search(field_path):
        causes.append(
            fe.invalid(f"{path}.fieldPath", field_path, "fieldPath must not contain line breaks")
        )
    if field_path.strip():
        try:
            _normalize_field_path(field_path, schema)
        except ValueError as exc:
            causes.append(
                fe.invalid(
                    f"{path}.fieldPath", field_path, f"fieldPath must be a valid path: {exc}"
                )
            )
    return causes


def _compile_rule(
    rule: Mapping[str, Any], schema: Mapping[str, Any], root: bool
) -> tuple[_Rule | None, list[tuple[str, str]]]:
    """The compiled rule, or the (field, detail) of what did not compile."""
    checker = _select_checker(schema, root)
    text = str(rule.get("rule") or "")
    problems: list[tuple[str, str]] = []
    program = message_program = None
    try:
        program = compile_expression(text, _SELF_AND_OLD, checker)
    except CompileError as exc:
        problems.append(("rule", f"compilation failed: {exc}"))
    expression = str(rule.get("messageExpression") or "").strip()
    if expression:
        try:
            message_program = compile_expression(expression, _SELF_AND_OLD, checker)
        except CompileError as exc:
            problems.append(("messageExpression", f"messageExpression compilation failed: {exc}"))
    if program is None:
        return None, problems
    field_path = str(rule.get("fieldPath") or "").strip()
    return (
        _Rule(
            rule=text,
            message=str(rule.get("message") or ""),
            program=program,
            message_expression=message_program,
            reason=str(rule.get("reason") or ""),
            field_path=_normalize_field_path(field_path, schema) if field_path else "",
            optional_old_self=rule.get("optionalOldSelf") is True,
        ),
        problems,
    )


def _build(schema: Mapping[str, Any], root: bool) -> _Node | None:
    if not _has_rules(schema):
        return None
    node = _Node(schema, root)
    for rule in as_list(schema.get("x-kubernetes-validations")):
        compiled, _ = _compile_rule(as_map(rule), schema, root)
        if compiled is not None:
            node.rules.append(compiled)
    for name, sub in as_map(schema.get("properties")).items():
        sub = as_map(sub)
        child = _build(sub, sub.get("x-kubernetes-embedded-resource") is True)
        if child is not None:
            node.properties[name] = child
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            child = _build(sub, sub.get("x-kubernetes-embedded-resource") is True)
            if key == "items":
                node.items = child
            else:
                node.additional = child
    return node


_VALIDATORS: OrderedDict[int, tuple[Mapping[str, Any], _Node | None]] = OrderedDict()


def _validator(schema: Mapping[str, Any]) -> _Node | None:
    """Compiled rules of one CRD version's schema (kept while that schema object lives in
    the kinds table; bounded)."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        _VALIDATORS.move_to_end(id(schema))
        return cached[1]
    node = _build(schema, True)
    _VALIDATORS[id(schema)] = (schema, node)
    if len(_VALIDATORS) > _VALIDATORS_MAX:
        _VALIDATORS.popitem(last=False)
    return node


# --- CRD-time checks ---------------------------------------------------------------------------
def _uncorrelatable_walk(
    schema: Mapping[str, Any], path: str, uncorrelatable: str | None, root: bool
) -> Iterator[tuple[Mapping[str, Any], str, str | None, bool]]:
    yield schema, path, uncorrelatable, root
    for name, sub in as_map(schema.get("properties")).items():
        sub = as_map(sub)
        yield from _uncorrelatable_walk(
            sub,
            f"{path}.properties[{name}]",
            uncorrelatable,
            sub.get("x-kubernetes-embedded-resource") is True,
        )
    items = schema.get("items")
    if isinstance(items, Mapping):
        blocked = uncorrelatable
        if blocked is None and schema.get("x-kubernetes-list-type") != "map":
            blocked = f"{path}.items"
        yield from _uncorrelatable_walk(
            items, f"{path}.items", blocked, items.get("x-kubernetes-embedded-resource") is True
        )
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        blocked = uncorrelatable
        if blocked is None and not _correlatable(schema):
            blocked = f"{path}.additionalProperties"
        yield from _uncorrelatable_walk(
            additional,
            f"{path}.additionalProperties",
            blocked,
            additional.get("x-kubernetes-embedded-resource") is True,
        )


def check_rules(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """What kube reports writing a CRD whose schema (at `path`) holds these rules."""
    causes: list[Cause] = []
    for node, node_path, uncorrelatable, root in _uncorrelatable_walk(schema, path, None, True):
        for index, rule in enumerate(as_list(node.get("x-kubernetes-validations"))):
            rule = as_map(rule)
            rule_path = f"{node_path}.x-kubernetes-validations[{index}]"
            shape = _rule_shape_errors(rule, rule_path, node)
            if shape:
                causes += shape
                continue
            compiled, problems = _compile_rule(rule, node, root)
            for where, detail in problems:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {_go_rule(rule)}: {detail}",
                        f"{rule_path}.{where}",
                    )
                )
            if compiled is None:
                continue
            if compiled.uses_old_self and uncorrelatable is not None:
                causes.append(
                    fe.invalid(
                        f"{rule_path}.rule",
                        compiled.rule,
                        "oldSelf cannot be used on the uncorrelatable portion of the schema"
                        f" within {uncorrelatable}",
                    )
                )
            elif not compiled.uses_old_self and rule.get("optionalOldSelf") is not None:
                causes.append(
                    fe.invalid(
                        f"{rule_path}.optionalOldSelf",
                        bool(rule["optionalOldSelf"]),
                        "may not be set if oldSelf is not used in rule",
                    )
                )
    return causes


# --- evaluation --------------------------------------------------------------------------------
def _type_name(schema: Mapping[str, Any]) -> str:
    return str(schema.get("type") or "")


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def _failure(rule: _Rule, path: str, type_name: str, detail: str) -> Cause:
    reason = rule.reason
    if reason == "FieldValueForbidden":
        return fe.forbidden(path, detail)
    if reason == "FieldValueRequired":
        return fe.required(path, detail)
    if reason == "FieldValueDuplicate":
        return fe.duplicate(path, type_name)
    return fe.invalid(path, type_name, detail)


def _message(rule: _Rule, activation: dict[str, Any]) -> str | None:
    if rule.message_expression is None:
        return None
    try:
        value = rule.message_expression.evaluate(activation)
    except EvalError:
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_EVALUATED_MESSAGE or _NEWLINES.search(text):
        return None
    return text


@dataclass(slots=True)
class _Outcome:
    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _display(path: str) -> str:
    return path or "<nil>"


def _evaluate(node: _Node, value: Any, old: Any, path: str, out: _Outcome) -> None:
    if value is None:
        return
    schema = node.schema
    if node.rules:
        self_value = to_cel(schema, value, root=node.root)
        old_value = to_cel(schema, old, root=node.root) if old is not None else None
        unchanged = old is not None and old == value
        type_name = _type_name(schema)
        for rule in node.rules:
            uses_old = rule.uses_old_self
            if uses_old and old is None and not rule.optional_old_self:
                continue
            activation: dict[str, Any] = {"self": self_value}
            if uses_old:
                if rule.optional_old_self:
                    activation["oldSelf"] = (
                        _cel.OptionalValue.of(old_value)
                        if old is not None
                        else _cel.OptionalValue.none()
                    )
                else:
                    activation["oldSelf"] = old_value
            try:
                result = rule.program.evaluate(activation)
            except EvalError as exc:
                text = str(exc)
                if text.startswith("no such overload"):
                    detail = (
                        f"'{text}': call arguments did not match a supported operator, function"
                        f" or macro signature for rule: {rule.error_string()}"
                    )
                else:
                    detail = f"{text} evaluating rule: {rule.error_string()}"
                out.causes.append(fe.invalid(_display(path), type_name, detail))
                continue
            if result is True:
                continue
            target = _join(path, rule.field_path) if rule.field_path else path
            detail = _message(rule, activation) or rule.default_message()
            cause = _failure(rule, _display(target), type_name, detail)
            if not uses_old and unchanged:
                out.warnings.append(f"{cause.field}: {cause.message}")
            else:
                out.causes.append(cause)
    if isinstance(value, Mapping):
        old_map = old if isinstance(old, Mapping) and _correlatable(schema) else {}
        for key, item in value.items():
            child = node.properties.get(key)
            if child is not None:
                _evaluate(child, item, old_map.get(key), _join(path, key), out)
            elif node.additional is not None and not node.properties:
                _evaluate(node.additional, item, old_map.get(key), f"{path}[{key}]", out)
    elif isinstance(value, list) and node.items is not None:
        olds = _old_items(schema, value, old)
        for index, item in enumerate(value):
            _evaluate(node.items, item, olds[index], f"{path}[{index}]", out)


def _old_items(schema: Mapping[str, Any], value: list[Any], old: Any) -> list[Any]:
    """For each item, the old item it correlates with (`map` lists only, by their keys)."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return [None] * len(value)
    keys = [str(k) for k in as_list(schema.get("x-kubernetes-list-map-keys"))]

    def key_of(item: Any) -> tuple[Any, ...] | None:
        if not isinstance(item, Mapping):
            return None
        return tuple(repr(item.get(k)) for k in keys)

    by_key = {key_of(item): item for item in old if key_of(item) is not None}
    return [by_key.get(key_of(item)) for item in value]


def validate_rules(
    schema: Mapping[str, Any], obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> tuple[list[Cause], list[str]]:
    """The causes (422) and warnings (ratcheted failures) of `obj`'s rules."""
    node = _validator(schema)
    if node is None:
        return [], []
    out = _Outcome()
    _evaluate(node, obj, old, "", out)
    return out.causes, out.warnings
