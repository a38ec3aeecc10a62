"""Audit policy: loading and validation messages, rule matching, and the request reading
(kube's RequestInfo) that feeds it; plus the per-request record's Panic stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strom.audit.events import RequestAudit
from strom.audit.policy import (
    Attributes,
    Policy,
    PolicyError,
    RequestAuditConfig,
    level_at_least,
    load_policy,
    parse_policy,
)
from strom.requestinfo import request_info
from strom.server.http import Request, Response
from strom.user import UserInfo

HEADER = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"


def policy(rules: str, extra: str = "") -> Policy:
    return parse_policy(HEADER + extra + "rules:\n" + rules)


def attrs(
    method: str,
    path: str,
    query: str = "",
    *,
    user: str | None = "alice",
    groups: tuple[str, ...] = ("dev", "system:authenticated"),
) -> Attributes:
    info = request_info(method, path, query)
    return Attributes(
        verb=info.verb,
        path=info.path,
        user=(user, groups) if user is not None else None,
        resource_request=info.resource_request,
        api_group=info.api_group,
        resource=info.resource,
        subresource=info.subresource,
        namespace=info.namespace,
        name=info.name,
    )


def level(p: Policy, a: Attributes) -> str:
    return p.evaluate(a).level


# --------------------------------------------------------------------------- matching


def test_no_matching_rule_means_none() -> None:
    p = policy("- level: Metadata\n  users: [bob]\n")
    assert level(p, attrs("GET", "/api/v1/pods")) == "None"


def test_first_matching_rule_wins() -> None:
    p = policy(
        "- level: Request\n  users: [alice]\n"
        "- level: RequestResponse\n"
        "- level: Metadata\n  users: [alice]\n"
    )
    assert level(p, attrs("GET", "/api/v1/pods")) == "Request"
    assert level(p, attrs("GET", "/api/v1/pods", user="bob")) == "RequestResponse"


def test_users_and_groups() -> None:
    p = policy(
        "- level: Request\n  users: [alice]\n  userGroups: [ops]\n"
        "- level: Metadata\n  userGroups: [dev, qa]\n"
    )
    assert level(p, attrs("GET", "/api/v1/pods", groups=("ops",))) == "Request"
    assert level(p, attrs("GET", "/api/v1/pods")) == "Metadata"  # alice, but not in ops
    assert level(p, attrs("GET", "/api/v1/pods", user="bob", groups=("qa",))) == "Metadata"
    assert level(p, attrs("GET", "/api/v1/pods", user="bob", groups=())) == "None"


def test_unauthenticated_request_matches_no_user_or_group_rule() -> None:
    p = policy("- level: Request\n  users: [alice]\n- level: Request\n  userGroups: [dev]\n")
    assert level(p, attrs("GET", "/api/v1/pods", user=None)) == "None"
    catch_all = policy("- level: Metadata\n  verbs: [list]\n")
    assert level(catch_all, attrs("GET", "/api/v1/pods", user=None)) == "Metadata"


def test_verbs() -> None:
    p = policy("- level: Request\n  verbs: [watch, create]\n")
    assert level(p, attrs("GET", "/api/v1/pods", "watch=true")) == "Request"
    assert level(p, attrs("POST", "/api/v1/namespaces/a/pods")) == "Request"
    assert level(p, attrs("GET", "/api/v1/pods")) == "None"  # list
    assert level(p, attrs("GET", "/api/v1/namespaces/a/pods/p")) == "None"  # get


def test_resources_group_and_subresources() -> None:
    p = policy(
        "- level: Request\n  resources:\n  - group: ''\n    resources: [pods/status]\n"
        "- level: Metadata\n  resources:\n  - group: ''\n    resources: [pods]\n"
        "- level: RequestResponse\n  resources:\n  - group: apps\n"
    )
    assert level(p, attrs("PUT", "/api/v1/namespaces/a/pods/p/status")) == "Request"
    assert level(p, attrs("GET", "/api/v1/namespaces/a/pods/p")) == "Metadata"
    # "pods" does not cover a subresource of pods
    assert level(p, attrs("GET", "/api/v1/namespaces/a/pods/p/log")) == "None"
    # a group with no resources listed covers all of the group
    assert level(p, attrs("GET", "/apis/apps/v1/deployments")) == "RequestResponse"
    assert level(p, attrs("GET", "/apis/batch/v1/jobs")) == "None"


def test_resource_wildcards() -> None:
    p = policy(
        "- level: Request\n  resources:\n  - group: ''\n    resources: ['*/status']\n"
        "- level: RequestResponse\n  resources:\n  - group: ''\n    resources: ['pods/*']\n"
        "- level: Metadata\n  resources:\n  - group: ''\n    resources: ['*']\n"
    )
    assert level(p, attrs("PUT", "/api/v1/namespaces/a/services/s/status")) == "Request"
    assert level(p, attrs("GET", "/api/v1/namespaces/a/pods/p/log")) == "RequestResponse"
    assert level(p, attrs("GET", "/api/v1/namespaces/a/configmaps")) == "Metadata"
    assert level(p, attrs("GET", "/apis/apps/v1/deployments")) == "None"  # other group


def test_resource_names() -> None:
    p = policy(
        "- level: Request\n  resources:\n  - group: ''\n    resources: [configmaps]\n"
        "    resourceNames: [cfg]\n"
    )
    assert level(p, attrs("GET", "/api/v1/namespaces/a/configmaps/cfg")) == "Request"
    assert level(p, attrs("GET", "/api/v1/namespaces/a/configmaps/other")) == "None"
    assert level(p, attrs("GET", "/api/v1/namespaces/a/configmaps")) == "None"
    # a list or watch narrowed to one name by field selector counts as that name
    named = attrs("GET", "/api/v1/namespaces/a/configmaps", "fieldSelector=metadata.name%3Dcfg")
    assert named.name == "cfg" and level(p, named) == "Request"


def test_namespaces() -> None:
    p = policy(
        "- level: Request\n  namespaces: [kube-system]\n- level: Metadata\n  namespaces: ['']\n"
    )
    assert level(p, attrs("GET", "/api/v1/namespaces/kube-system/pods")) == "Request"
    assert level(p, attrs("GET", "/api/v1/nodes")) == "Metadata"  # cluster-scoped: ""
    assert level(p, attrs("GET", "/api/v1/namespaces/default/pods")) == "None"
    assert level(p, attrs("GET", "/healthz")) == "None"  # never a non-resource request


def test_non_resource_urls() -> None:
    p = policy(
        "- level: Request\n  nonResourceURLs: [/healthz*, /version]\n"
        "- level: Metadata\n  nonResourceURLs: ['*']\n"
    )
    assert level(p, attrs("GET", "/healthz")) == "Request"
    assert level(p, attrs("GET", "/healthz/etcd")) == "Request"
    assert level(p, attrs("GET", "/version")) == "Request"
    assert level(p, attrs("GET", "/versions")) == "Metadata"
    assert level(p, attrs("GET", "/api/v1")) == "Metadata"  # discovery is non-resource
    assert level(p, attrs("GET", "/api/v1/pods")) == "None"


def test_omit_stages_union_and_default() -> None:
    p = policy(
        "- level: Metadata\n  users: [alice]\n  omitStages: [ResponseStarted]\n"
        "- level: Request\n  users: [bob]\n",
        extra="omitStages: [RequestReceived]\n",
    )
    alice = p.evaluate(attrs("GET", "/api/v1/pods"))
    assert alice.omit_stages == {"RequestReceived", "ResponseStarted"}
    bob = p.evaluate(attrs("GET", "/api/v1/pods", user="bob"))
    assert bob.omit_stages == {"RequestReceived"}
    nobody = p.evaluate(attrs("GET", "/api/v1/pods", user="carol"))
    assert nobody == RequestAuditConfig("None", frozenset({"RequestReceived"}), False)


def test_omit_managed_fields_rule_overrides_policy() -> None:
    p = policy(
        "- level: Request\n  users: [alice]\n  omitManagedFields: false\n"
        "- level: Request\n  users: [bob]\n",
        extra="omitManagedFields: true\n",
    )
    assert p.evaluate(attrs("GET", "/api/v1/pods")).omit_managed_fields is False
    assert p.evaluate(attrs("GET", "/api/v1/pods", user="bob")).omit_managed_fields is True
    q = policy("- level: Request\n  omitManagedFields: true\n- level: Metadata\n")
    assert q.evaluate(attrs("GET", "/api/v1/pods")).omit_managed_fields is True


def test_levels_are_ordered() -> None:
    assert level_at_least("RequestResponse", "Request")
    assert level_at_least("Request", "Request")
    assert not level_at_least("Metadata", "Request")
    assert not level_at_least("None", "Metadata")


# --------------------------------------------------------------------------- request info


# "METHOD path[?query]", verb, "group|resource|namespace|name|subresource"
@pytest.mark.parametrize(
    ("request_line", "verb", "ref"),
    [
        ("GET /api/v1/namespaces/ns/pods", "list", "|pods|ns||"),
        ("GET /api/v1/namespaces/ns/pods?watch=true", "watch", "|pods|ns||"),
        ("GET /api/v1/namespaces/ns/pods?watch=1", "watch", "|pods|ns||"),
        ("GET /api/v1/namespaces/ns/pods?watch=false", "list", "|pods|ns||"),
        ("GET /api/v1/watch/namespaces/ns/pods", "watch", "|pods|ns||"),
        ("GET /api/v1/namespaces/ns/pods/p", "get", "|pods|ns|p|"),
        ("HEAD /api/v1/namespaces/ns/pods/p", "get", "|pods|ns|p|"),
        ("POST /api/v1/namespaces/ns/pods", "create", "|pods|ns||"),
        ("PUT /api/v1/namespaces/ns/pods/p/status", "update", "|pods|ns|p|status"),
        ("PATCH /apis/apps/v1/namespaces/ns/deployments/d", "patch", "apps|deployments|ns|d|"),
        ("DELETE /api/v1/namespaces/ns/pods/p", "delete", "|pods|ns|p|"),
        ("DELETE /api/v1/namespaces/ns/pods", "deletecollection", "|pods|ns||"),
        ("GET /api/v1/namespaces/ns", "get", "|namespaces|ns|ns|"),
        ("PUT /api/v1/namespaces/ns/finalize", "update", "|namespaces|ns|ns|finalize"),
        ("GET /apis/batch/v1/jobs", "list", "batch|jobs|||"),
    ],
)
def test_request_info_resource_requests(request_line: str, verb: str, ref: str) -> None:
    method, target = request_line.split(" ", 1)
    path, _, query = target.partition("?")
    info = request_info(method, path, query)
    assert info.resource_request
    assert info.verb == verb
    got = (info.api_group, info.resource, info.namespace, info.name, info.subresource)
    assert "|".join(got) == ref


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/healthz", "get"),
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/apis/apps/v1", "get"),
        ("POST", "/version", "post"),
        ("HEAD", "/openapi/v2", "head"),
    ],
)
def test_request_info_non_resource_requests(method: str, path: str, verb: str) -> None:
    info = request_info(method, path, "")
    assert not info.resource_request
    assert info.verb == verb and info.path == path


# --------------------------------------------------------------------------- loading


def load_error(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_valid_policy_loads_every_field() -> None:
    p = policy(
        "- level: RequestResponse\n  users: [a]\n  userGroups: [g]\n  verbs: [get]\n"
        "  resources:\n  - group: apps\n    resources: [deployments]\n    resourceNames: [d]\n"
        "  namespaces: [ns]\n  omitStages: [Panic]\n  omitManagedFields: true\n"
        "- level: None\n  nonResourceURLs: ['/healthz*']\n",
        extra="omitStages: [RequestReceived]\nomitManagedFields: false\n",
    )
    first = p.rules[0]
    assert (first.level, first.users, first.user_groups, first.verbs) == (
        "RequestResponse",
        ("a",),
        ("g",),
        ("get",),
    )
    assert first.resources[0].group == "apps"
    assert first.resources[0].resource_names == ("d",)
    assert first.namespaces == ("ns",) and first.omit_managed_fields is True
    assert p.rules[1].non_resource_urls == ("/healthz*",)
    assert p.omit_stages == {"RequestReceived"}


def test_unknown_level() -> None:
    assert load_error(HEADER + "rules:\n- level: Everything\n") == (
        'rules[0].level: Unsupported value: "Everything": supported values:'
        ' "None", "Metadata", "Request", "RequestResponse"'
    )


def test_missing_level() -> None:
    assert load_error(HEADER + "rules:\n- users: [a]\n") == "rules[0].level: Required value"


def test_bad_api_version_and_kind() -> None:
    assert load_error("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: []\n") == (
        'failed decoding: no kind "Policy" is registered for version "audit.k8s.io/v1beta1"'
        ' in scheme "k8s.io/apiserver/pkg/audit/scheme.go:30"'
    )
    assert 'no kind "Polcy"' in load_error("apiVersion: audit.k8s.io/v1\nkind: Polcy\n")
    assert "Object 'Kind' is missing" in load_error("apiVersion: audit.k8s.io/v1\nrules: []\n")
    assert "Object 'apiVersion' is missing" in load_error("kind: Policy\nrules: []\n")


def test_yaml_error_names_line() -> None:
    message = load_error(HEADER + "rules:\n- level: Metadata\n  users: [a\n")
    assert message.startswith("failed decoding: error converting YAML to JSON: yaml: line ")


def test_no_rules() -> None:
    assert load_error(HEADER + "rules: []\n") == "loaded illegal policy with 0 rules"


def test_wrong_types() -> None:
    assert load_error(HEADER + "rules: everything\n") == (
        "failed decoding: json: cannot unmarshal string into Go struct field Policy.rules"
        " of type []v1.PolicyRule"
    )
    assert load_error(HEADER + "rules:\n- level: Metadata\n  users: alice\n") == (
        "failed decoding: json: cannot unmarshal string into Go struct field"
        " Policy.rules.users of type []string"
    )


def test_validation_messages_are_aggregated() -> None:
    message = load_error(
        HEADER
        + "omitStages: [Sometimes]\nrules:\n"
        + "- level: Metadata\n  nonResourceURLs: [healthz, '/a*b']\n"
        + "- level: Metadata\n  resources:\n  - group: Apps\n    resourceNames: [x]\n"
        + "- level: Metadata\n  namespaces: [a]\n  nonResourceURLs: [/x]\n"
    )
    assert message.startswith("[") and message.endswith("]")
    for part in (
        'omitStages[0]: Invalid value: "Sometimes": allowed stages are'
        " RequestReceived,ResponseStarted,ResponseComplete,Panic",
        'rules[0].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules must'
        " begin with a '/' character",
        "rules[0].nonResourceURLs[1]: Invalid value: \"/a*b\": non-resource URL wildcards '*'"
        " must be the final character of the rule",
        'rules[1].resources.group: Invalid value: "Apps": a lowercase RFC 1123 subdomain',
        'rules[1].resources.resourceNames: Invalid value: []string{"x"}: using resourceNames'
        " requires at least one resource",
        'rules[2].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both'
        " regular resources and non-resource URLs",
    ):
        assert part in message


def test_unknown_fields_are_tolerated(caplog: pytest.LogCaptureFixture) -> None:
    p = policy("- level: Metadata\n  colour: blue\n")
    assert p.rules[0].level == "Metadata"
    assert 'unknown field "rules[0].colour"' in caplog.text


def test_load_policy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HEADER + "rules:\n- level: Loud\n")
    with pytest.raises(
        PolicyError, match=r'Unsupported value: "Loud".*: from file .*policy\.yaml$'
    ):
        load_policy(path)
    with pytest.raises(PolicyError, match=r'^failed to read file path ".*missing\.yaml"'):
        load_policy(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- Panic stage


class ListSink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def process(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def test_handler_failure_is_logged_as_panic_without_completion() -> None:
    sink = ListSink()
    request = Request("GET", "/api/v1/pods", "", {}, b"", None, "10.0.0.1")
    record = RequestAudit(
        sink=sink,
        policy=policy("- level: Metadata\n"),
        levels={},
        request=request,
        audit_id="id-1",
    )
    record.authenticated(UserInfo(username="alice", groups=("dev",)))
    record.authorized()
    record.panic(RuntimeError("boom"))
    response = Response(500, b"{}", headers=[("Audit-Id", "other")])
    record.finish(response)
    assert response.headers == [("Audit-Id", "id-1")]
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "Panic"]
    assert sink.events[1]["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "APIServer panic'd: boom",
        "reason": "InternalError",
        "code": 500,
    }
    assert sink.events[1]["sourceIPs"] == ["10.0.0.1"]
    assert sink.events[1]["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_request_abandoned_by_its_client_completes_as_closed_early() -> None:
    sink = ListSink()
    request = Request("DELETE", "/api/v1/namespaces/a/pods/p", "", {}, b"", None, "::1")
    record = RequestAudit(
        sink=sink,
        policy=policy("- level: Request\n  verbs: [delete]\n"),
        levels={},
        request=request,
        audit_id="id-2",
    )
    record.authenticated(UserInfo(username="alice"))
    record.abandoned()
    assert [e["stage"] for e in sink.events] == ["RequestReceived", "ResponseComplete"]
    assert sink.events[1]["responseStatus"]["message"] == "Connection closed early"
    assert sink.events[1]["objectRef"] == {
        "resource": "pods",
        "namespace": "a",
        "name": "p",
        "apiVersion": "v1",
    }
    assert sink.events[1]["sourceIPs"] == ["::1"]
