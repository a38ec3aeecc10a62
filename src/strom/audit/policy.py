"""The audit policy (`--audit-policy-file`): loading, validation and rule matching.

Mirrors k8s.io/apiserver's `audit/policy` (reader.go, checker.go) and the audit API's
validation: the first rule that matches a request decides its level, the omitted stages are
the union of the policy's and the rule's, and `omitManagedFields` on a rule overrides the
policy's. A request no rule matches is not audited (level None), as in kube-apiserver.

Loading errors are one line, worded like kube-apiserver's (`rules[0].level: Unsupported
value: ...: from file <path>`), so a bad policy stops start-up with a message that says what
to fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

__all__ = [
    "LEVELS",
    "STAGES",
    "Attributes",
    "GroupResources",
    "Policy",
    "PolicyError",
    "PolicyRule",
    "RequestAuditConfig",
    "level_at_least",
    "load_policy",
    "parse_policy",
]

log = logging.getLogger(__name__)

NONE, METADATA, REQUEST, REQUEST_RESPONSE = "None", "Metadata", "Request", "RequestResponse"
LEVELS = (NONE, METADATA, REQUEST, REQUEST_RESPONSE)  # in increasing order of detail
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

_API_VERSION = "audit.k8s.io/v1"
_SCHEME = "k8s.io/apiserver/pkg/audit/scheme.go:30"  # how Go names the scheme in errors
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex"
    " used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def level_at_least(level: str, floor: str) -> bool:
    """`level` is `floor` or more detailed (kube's `!level.Less(floor)`)."""
    return _RANK[level] >= _RANK[floor]


class PolicyError(Exception):
    """The policy file is unusable; the message is one line, as kube-apiserver words it."""


@dataclass(frozen=True, slots=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyRule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None


@dataclass(frozen=True, slots=True)
class Attributes:
    """What the policy looks at (kube's authorizer.Attributes). `user` None: not authenticated
    (a request that failed authentication); `username`/`groups` are then unused."""

    verb: str
    path: str
    user: tuple[str, tuple[str, ...]] | None = None  # (username, groups)
    resource_request: bool = False
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class RequestAuditConfig:
    """The decision for one request: how much to log, and which stages not to."""

    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False
    _decisions: tuple[RequestAuditConfig, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Precomputed per rule, as kube's NewPolicyRuleEvaluator unions the stages up front.
        decisions = tuple(
            RequestAuditConfig(
                level=rule.level,
                omit_stages=self.omit_stages | rule.omit_stages,
                omit_managed_fields=(
                    self.omit_managed_fields
                    if rule.omit_managed_fields is None
                    else rule.omit_managed_fields
                ),
            )
            for rule in self.rules
        )
        object.__setattr__(self, "_decisions", decisions)

    def evaluate(self, attrs: Attributes) -> RequestAuditConfig:
        """The first matching rule's decision; level None when no rule matches."""
        for rule, decision in zip(self.rules, self._decisions, strict=True):
            if rule_matches(rule, attrs):
                return decision
        return RequestAuditConfig(NONE, self.omit_stages, self.omit_managed_fields)


# --------------------------------------------------------------------------- matching


def rule_matches(rule: PolicyRule, attrs: Attributes) -> bool:
    if rule.users and (attrs.user is None or attrs.user[0] not in rule.users):
        return False
    if rule.user_groups and (
        attrs.user is None or not any(g in rule.user_groups for g in attrs.user[1])
    ):
        return False
    if rule.verbs and attrs.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _matches_resource(rule, attrs)
    if rule.non_resource_urls:
        return not attrs.resource_request and any(
            _path_matches(attrs.path, spec) for spec in rule.non_resource_urls
        )
    return True


def _path_matches(path: str, spec: str) -> bool:
    if spec in ("*", path):
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def _matches_resource(rule: PolicyRule, attrs: Attributes) -> bool:
    if not attrs.resource_request:
        return False
    if rule.namespaces and attrs.namespace not in rule.namespaces:
        return False  # cluster-scoped requests have namespace "" (which a rule may list)
    if not rule.resources:
        return True
    resource, sub = attrs.resource, attrs.subresource
    combined = f"{resource}/{sub}" if sub else resource
    for gr in rule.resources:
        if gr.group != attrs.api_group:
            continue
        if not gr.resources:
            return True
        if gr.resource_names and attrs.name not in gr.resource_names:
            continue
        for res in gr.resources:
            if res in (combined, "*"):
                return True
            if sub and res.startswith("*/") and res[2:] == sub:
                return True
            if res.endswith("/*") and res[:-2] == resource:
                return True
    return False


# --------------------------------------------------------------------------- loading


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; PolicyError (one line) on any problem."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise PolicyError(
            f'failed to read file path "{path}": open {path}: {_os_reason(exc)}'
        ) from exc
    try:
        return parse_policy(text)
    except PolicyError as exc:
        raise PolicyError(f"{exc}: from file {path}") from exc


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def parse_policy(text: bytes | str) -> Policy:
    """A Policy from YAML or JSON text (kube's LoadPolicyFromBytes, without the file name)."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise PolicyError(
            f"failed decoding: error converting YAML to JSON: yaml: {where}{problem}"
        ) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"failed decoding: error converting YAML to JSON: yaml: {exc}") from exc
    if not isinstance(data, dict):
        got = _json_type(data)
        raise PolicyError(
            "failed decoding: couldn't get version/kind; json parse error: json: cannot"
            f" unmarshal {got} into Go value of type struct {{ APIVersion string"
            ' "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
    _check_type_meta(data)
    policy = _decode(data)
    errors = _validate(data, policy)
    if errors:
        raise PolicyError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    if not policy.rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    return policy


def _check_type_meta(data: Mapping[str, Any]) -> None:
    api_version, kind = data.get("apiVersion"), data.get("kind")
    for key, value in (("apiVersion", api_version), ("kind", kind)):
        if value is not None and not isinstance(value, str):
            raise PolicyError(
                "failed decoding: couldn't get version/kind; json parse error: json: cannot"
                f" unmarshal {_json_type(value)} into Go struct field .{key} of type string"
            )
    if not kind:
        raise PolicyError("failed decoding: Object 'Kind' is missing in policy")
    if not api_version:
        raise PolicyError("failed decoding: Object 'apiVersion' is missing in policy")
    if api_version != _API_VERSION or kind != "Policy":
        raise PolicyError(
            f'failed decoding: no kind "{kind}" is registered for version "{api_version}"'
            f' in scheme "{_SCHEME}"'
        )


# --- decoding: Go's encoding/json type rules, with its error wording ---------------------


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _type_error(value: object, where: str, go_type: str) -> PolicyError:
    return PolicyError(
        f"failed decoding: json: cannot unmarshal {_json_type(value)} into Go struct field"
        f" {where} of type {go_type}"
    )


def _strings(
    obj: Mapping[str, Any], key: str, where: str, go_type: str = "string"
) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _type_error(value, f"{where}.{key}", f"[]{go_type}")
    for item in value:
        if not isinstance(item, str):
            raise _type_error(item, f"{where}.{key}", go_type)
    return tuple(value)


def _string(obj: Mapping[str, Any], key: str, where: str, go_type: str = "string") -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _type_error(value, f"{where}.{key}", go_type)
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str, go_type: str = "bool") -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(value, f"{where}.{key}", go_type)
    return value


def _objects(obj: Mapping[str, Any], key: str, where: str, go_type: str) -> list[Mapping[str, Any]]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, f"{where}.{key}", f"[]{go_type}")
    for item in value:
        if not isinstance(item, dict):
            raise _type_error(item, f"{where}.{key}", go_type)
    return value


def _decode(data: Mapping[str, Any]) -> Policy:
    _warn_unknown(
        data, {"apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"}, ""
    )
    rules = tuple(
        _decode_rule(rule, i)
        for i, rule in enumerate(_objects(data, "rules", "Policy", "v1.PolicyRule"))
    )
    return Policy(
        rules=rules,
        omit_stages=frozenset(_strings(data, "omitStages", "Policy", "v1.Stage")),
        omit_managed_fields=bool(_bool(data, "omitManagedFields", "Policy")),
    )


_RULE_FIELDS = {
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
}


def _decode_rule(rule: Mapping[str, Any], index: int) -> PolicyRule:
    where = "Policy.rules"
    _warn_unknown(rule, _RULE_FIELDS, f"rules[{index}].")
    resources = tuple(
        GroupResources(
            group=_string(gr, "group", f"{where}.resources"),
            resources=_strings(gr, "resources", f"{where}.resources"),
            resource_names=_strings(gr, "resourceNames", f"{where}.resources"),
        )
        for gr in _objects(rule, "resources", where, "v1.GroupResources")
    )
    return PolicyRule(
        level=_string(rule, "level", where, "v1.Level"),
        users=_strings(rule, "users", where),
        user_groups=_strings(rule, "userGroups", where),
        verbs=_strings(rule, "verbs", where),
        resources=resources,
        namespaces=_strings(rule, "namespaces", where),
        non_resource_urls=_strings(rule, "nonResourceURLs", where),
        omit_stages=frozenset(_strings(rule, "omitStages", where, "v1.Stage")),
        omit_managed_fields=_bool(rule, "omitManagedFields", where, "*bool"),
    )


def _warn_unknown(obj: Mapping[str, Any], known: set[str], prefix: str) -> None:
    """kube decodes strictly first and, on unknown fields, warns and decodes leniently."""
    unknown = sorted(k for k in obj if k not in known)
    if unknown:
        fields = ", ".join(f'unknown field "{prefix}{k}"' for k in unknown)
        log.warning("Audit policy contains errors, falling back to lenient decoding: %s", fields)


# --- validation (k8s.io/apiserver/pkg/apis/audit/validation) ----------------------------


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(orjson.dumps(v).decode() for v in values)


def _go_strings(values: Sequence[str]) -> str:
    """Go's %#v of a []string, as field.Invalid prints a list value."""
    return "[]string{" + _quoted(values) + "}"


def _validate(data: Mapping[str, Any], policy: Policy) -> list[str]:
    errors = _validate_stages(_strings(data, "omitStages", "Policy", "v1.Stage"), "omitStages")
    raw_rules = _objects(data, "rules", "Policy", "v1.PolicyRule")
    for i, (rule, raw) in enumerate(zip(policy.rules, raw_rules, strict=True)):
        errors += _validate_rule(rule, raw, f"rules[{i}]")
    return errors


def _validate_rule(rule: PolicyRule, raw: Mapping[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if not rule.level:
        errors.append(f"{path}.level: Required value")
    elif rule.level not in LEVELS:
        errors.append(
            f"{path}.level: Unsupported value: {orjson.dumps(rule.level).decode()}:"
            f" supported values: {_quoted(LEVELS)}"
        )
    errors += _validate_urls(rule.non_resource_urls, f"{path}.nonResourceURLs")
    errors += _validate_resources(rule.resources, f"{path}.resources")
    errors += _validate_stages(
        _strings(raw, "omitStages", "Policy.rules", "v1.Stage"), f"{path}.omitStages"
    )
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        errors.append(
            f"{path}.nonResourceURLs: Invalid value: {_go_strings(rule.non_resource_urls)}:"
            " rules cannot apply to both regular resources and non-resource URLs"
        )
    return errors


def _validate_urls(urls: Sequence[str], path: str) -> list[str]:
    errors: list[str] = []
    for i, url in enumerate(urls):
        if url == "*":
            continue
        value = orjson.dumps(url).decode()
        if not url.startswith("/"):
            errors.append(
                f"{path}[{i}]: Invalid value: {value}:"
                " non-resource URL rules must begin with a '/' character"
            )
        if url and "*" in url[:-1]:
            errors.append(
                f"{path}[{i}]: Invalid value: {value}:"
                " non-resource URL wildcards '*' must be the final character of the rule"
            )
    return errors


def _validate_resources(resources: Sequence[GroupResources], path: str) -> list[str]:
    errors: list[str] = []
    for gr in resources:
        if gr.group:
            problems = []
            if len(gr.group) > 253:
                problems.append("must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN.fullmatch(gr.group):
                problems.append(_DNS1123_MESSAGE)
            if problems:
                errors.append(
                    f"{path}.group: Invalid value: {orjson.dumps(gr.group).decode()}:"
                    f" {','.join(problems)}"
                )
        if gr.resource_names and not gr.resources:
            errors.append(
                f"{path}.resourceNames: Invalid value: {_go_strings(gr.resource_names)}:"
                " using resourceNames requires at least one resource"
            )
    return errors


def _validate_stages(stages: Sequence[str], path: str) -> list[str]:
    return [
        f"{path}[{i}]: Invalid value: {orjson.dumps(stage).decode()}:"
        f" allowed stages are {','.join(STAGES)}"
        for i, stage in enumerate(stages)
        if stage not in STAGES
    ]
