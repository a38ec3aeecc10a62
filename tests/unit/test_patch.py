"""PATCH application: the three content types, strategic-merge directives, and kube's errors.

Expected values come from kube-apiserver v1.36 captures (tests/data/) where one exists,
otherwise from apimachinery's strategicpatch test cases and handlers/patch.go.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from strom.errors import StatusError
from strom.registry.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
)
from strom.registry.patch.gojson import go_sprint, syntax_error

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"
POD = "io.k8s.api.core.v1.Pod"


def patch(
    original: dict[str, Any],
    body: Any,
    content_type: str = STRATEGIC_MERGE_PATCH,
    definition: str | None = DEPLOYMENT,
) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return apply_patch(
        original=original,
        patch_bytes=raw,
        content_type=content_type,
        definition=definition,
        kind="Deployment",
        name="web",
    )


def failure(
    original: dict[str, Any],
    body: Any,
    content_type: str = STRATEGIC_MERGE_PATCH,
    definition: str | None = DEPLOYMENT,
) -> StatusError:
    with pytest.raises(StatusError) as info:
        patch(original, body, content_type, definition)
    return info.value


def configmap(**data: str) -> dict[str, Any]:
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "jp", "namespace": "default"},
        "data": dict(data),
    }


def deployment() -> dict[str, Any]:
    """The deployment the strategic-merge captures start from."""
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {
                            "name": "sidecar",
                            "image": "busybox:1.36",
                            "command": ["sleep", "infinity"],
                        },
                    ],
                    "restartPolicy": "Always",
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def pod(**spec: Any) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": spec}


# --- the reference captures -----------------------------------------------------------------
def test_capture_merge_patch_adds_a_key() -> None:
    """200-patch-merge.txt: {"data":{"k2":"v2"}} onto data {k: v}."""
    result = patch(configmap(k="v"), {"data": {"k2": "v2"}}, MERGE_PATCH, CONFIGMAP)
    assert result["data"] == {"k": "v", "k2": "v2"}


def test_capture_json_patch_replace_of_missing_key_adds_it() -> None:
    """200-json-patch-replace-missing-key.txt."""
    body = [{"op": "replace", "path": "/data/missing", "value": "x"}]
    result = patch(configmap(k="v"), body, JSON_PATCH, CONFIGMAP)
    assert result["data"] == {"k": "v", "missing": "x"}


def test_capture_json_patch_failed_test_is_a_generic_422() -> None:
    """422-json-patch-test-failed.txt, body byte for byte."""
    body = [
        {"op": "test", "path": "/data/k", "value": "not-v"},
        {"op": "replace", "path": "/data/k", "value": "w"},
    ]
    error = failure(configmap(k="v"), body, JSON_PATCH, CONFIGMAP)
    assert orjson.dumps(error.to_status()) == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
        b'"the server rejected our request due to an error in our request","reason":"Invalid",'
        b'"details":{},"code":422}'
    )


def test_capture_strategic_merge_on_deployment() -> None:
    """200-patch-strategic-merge-deployment.txt: containers merge by name, sidecar kept."""
    body = {
        "metadata": {"labels": {"tier": "frontend"}},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
        },
    }
    result = patch(deployment(), body)
    assert result["metadata"]["labels"] == {"app": "web", "tier": "frontend"}
    assert result["spec"]["replicas"] == 3
    assert [(c["name"], c["image"]) for c in containers(result)] == [
        ("app", "nginx:1.27"),
        ("sidecar", "busybox:1.36"),
    ]
    assert containers(result)[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert containers(result)[1]["command"] == ["sleep", "infinity"]


def test_capture_strategic_merge_delete_directive() -> None:
    """200-patch-strategic-merge-delete-directive.txt."""
    body = {
        "spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}}
    }
    result = patch(deployment(), body)
    assert [c["name"] for c in containers(result)] == ["app"]


def test_custom_resources_refuse_strategic_merge_with_kubes_415() -> None:
    error = failure({"kind": "Widget"}, {}, STRATEGIC_MERGE_PATCH, definition=None)
    assert (error.code, error.reason) == (415, "UnsupportedMediaType")
    assert error.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    assert error.to_status().get("details") is None


def test_custom_resources_take_json_and_merge_patches() -> None:
    widget = {"kind": "Widget", "spec": {"size": 1, "tags": ["a"]}}
    merged = patch(widget, {"spec": {"tags": ["b"]}}, MERGE_PATCH, definition=None)
    assert merged["spec"] == {"size": 1, "tags": ["b"]}
    body = [{"op": "add", "path": "/spec/tags/-", "value": "c"}]
    assert patch(widget, body, JSON_PATCH, definition=None)["spec"]["tags"] == ["a", "c"]


def test_unknown_content_type_lists_what_built_in_kinds_accept() -> None:
    error = failure(deployment(), {}, "application/json")
    assert error.code == 415
    assert error.message.endswith(
        "application/json-patch+json, application/merge-patch+json,"
        " application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


def test_content_type_parameters_are_ignored() -> None:
    result = patch(
        configmap(k="v"), {"data": {"k": "w"}}, MERGE_PATCH + "; charset=utf-8", CONFIGMAP
    )
    assert result["data"] == {"k": "w"}


# --- never mutate the original ------------------------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (JSON_PATCH, [{"op": "remove", "path": "/spec/template/spec/containers/1"}]),
        (MERGE_PATCH, {"metadata": {"labels": None}, "spec": {"strategy": {"type": "Recreate"}}}),
        (
            STRATEGIC_MERGE_PATCH,
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "app", "env": [{"name": "A", "value": "9"}]},
                                {"name": "sidecar", "$patch": "delete"},
                            ]
                        }
                    }
                }
            },
        ),
    ],
)
def test_original_is_never_mutated(content_type: str, body: Any) -> None:
    original = deployment()
    pristine = copy.deepcopy(original)
    result = patch(original, body, content_type)
    assert original == pristine
    assert result != original  # the patch did change something, in a new object


# --- JSON patch -----------------------------------------------------------------------------
def test_json_patch_operations_in_order() -> None:
    body = [
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "copy", "from": "/data/b", "path": "/data/c"},
        {"op": "move", "from": "/data/a", "path": "/data/d"},
        {"op": "remove", "path": "/data/b"},
        {"op": "test", "path": "/data/c", "value": "2"},
    ]
    assert patch(configmap(a="1"), body, JSON_PATCH, CONFIGMAP)["data"] == {"c": "2", "d": "1"}


def test_json_patch_test_of_a_missing_member_matches_null_only() -> None:
    present = patch(
        configmap(k="v"), [{"op": "test", "path": "/data/nope", "value": None}], JSON_PATCH
    )
    assert present["data"] == {"k": "v"}
    error = failure(
        configmap(k="v"), [{"op": "test", "path": "/data/nope", "value": "x"}], JSON_PATCH
    )
    assert error.code == 422


def test_json_patch_test_compares_types_strictly() -> None:
    doc = {"kind": "X", "spec": {"flag": True, "n": 1}}
    assert failure(doc, [{"op": "test", "path": "/spec/flag", "value": 1}], JSON_PATCH).code == 422
    assert failure(doc, [{"op": "test", "path": "/spec/n", "value": 1.0}], JSON_PATCH).code == 422
    assert patch(
        doc, [{"op": "test", "path": "/spec", "value": {"n": 1, "flag": True}}], JSON_PATCH
    )


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "add", "path": "/nope/deeper", "value": 1}],
        [{"op": "replace", "path": "/spec/template/spec/containers/9", "value": {}}],
        [{"op": "frobnicate", "path": "/data"}],
        [{"path": "/data"}],
        [{"op": "add", "value": 1}],
        [None],
        [{"op": "add", "path": "data/k", "value": 1}],
    ],
)
def test_json_patch_operations_that_cannot_apply_are_422(body: Any) -> None:
    error = failure(deployment(), body, JSON_PATCH)
    assert (error.code, error.reason, error.message) == (
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid character 'n' looking for beginning of object key string"),
        (b"", "unexpected end of JSON input"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (
            b'{"op":"add"}',
            "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        ),
        (b'"x"', "json: cannot unmarshal string into Go value of type []handlers.jsonPatchOp"),
        (b"[1]", "json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
        (
            b'[{"op":"add","path":5}]',
            "json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string",
        ),
    ],
)
def test_undecodable_json_patch_is_400(body: bytes, message: str) -> None:
    error = failure(deployment(), body, JSON_PATCH)
    assert (error.code, error.reason, error.message) == (
        400,
        "BadRequest",
        f"error decoding patch: {message}",
    )
    assert error.details is None


def test_json_patch_null_or_empty_changes_nothing() -> None:
    assert patch(deployment(), b"null", JSON_PATCH) == deployment()
    assert patch(deployment(), b"[]", JSON_PATCH) == deployment()


def test_json_patch_with_too_many_operations_is_413() -> None:
    body = [{"op": "test", "path": "/kind", "value": "Deployment"}] * 10001
    error = failure(deployment(), body, JSON_PATCH)
    assert (error.code, error.reason) == (413, "RequestEntityTooLarge")
    assert error.message == (
        "Request entity too large:"
        " The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


def test_json_patch_replacing_the_document_with_an_array_is_422() -> None:
    error = failure(deployment(), [{"op": "replace", "path": "", "value": [1]}], JSON_PATCH)
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message.startswith(' "" is invalid: patch: Invalid value: "[1]": ')


# --- JSON merge patch -----------------------------------------------------------------------
def test_merge_patch_null_deletes_objects_merge_everything_else_replaces() -> None:
    original = {"kind": "X", "spec": {"a": 1, "b": {"c": 1, "d": 2}, "list": [1, 2], "gone": "x"}}
    body = {
        "spec": {"b": {"c": None, "e": 3}, "list": [3], "gone": None, "new": {"x": None, "y": 1}}
    }
    result = patch(original, body, MERGE_PATCH, definition=None)
    assert result["spec"] == {"a": 1, "b": {"d": 2, "e": 3}, "list": [3], "new": {"y": 1}}


def test_merge_patch_replaces_merge_lists_too() -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}}
    result = patch(deployment(), body, MERGE_PATCH)
    assert containers(result) == [{"name": "app", "image": "x"}]


def test_merge_patch_prunes_nulls_inside_arrays_of_objects_like_json_patch_v4() -> None:
    original = {"kind": "X", "spec": {"list": "scalar"}}
    body = {"spec": {"list": [{"a": None, "b": 1}, None]}}
    assert patch(original, body, MERGE_PATCH, None)["spec"]["list"] == [{"b": 1}, None]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", "Invalid JSON Patch"),
        (
            b"[1]",
            "error decoding patch: json: cannot unmarshal array into Go value of type"
            " map[string]interface {}",
        ),
        (
            b"7",
            "error decoding patch: json: cannot unmarshal number into Go value of type"
            " map[string]interface {}",
        ),
        (b'{"a":}', "error decoding patch: invalid character '}' looking for beginning of value"),
        (b'{"a":1} x', "error decoding patch: invalid character 'x' after top-level value"),
    ],
)
def test_malformed_merge_patch_is_400(body: bytes, message: str) -> None:
    error = failure(deployment(), body, MERGE_PATCH)
    assert (error.code, error.reason, error.message) == (400, "BadRequest", message)


# --- strategic merge: lists -------------------------------------------------------------------
def test_nested_lists_merge_by_their_own_keys() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                            "ports": [{"containerPort": 443, "protocol": "TCP"}],
                        }
                    ]
                }
            }
        }
    }
    app = containers(patch(deployment(), body))[0]
    assert app["image"] == "nginx:1.25"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    # A new item lands before the server-only items (see the next test).
    assert app["ports"] == [
        {"containerPort": 443, "protocol": "TCP"},
        {"containerPort": 80, "protocol": "TCP"},
    ]


def test_merge_list_order_is_upstreams_normalize_element_order() -> None:
    """Patched items follow the patch's order; a server-only item goes before a patched item
    only when the server list had it first, so items new to the server come first."""
    body = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n"}]}}}}
    assert [c["name"] for c in containers(patch(deployment(), body))] == ["new", "app", "sidecar"]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar"}, {"name": "app"}]}}}}
    assert [c["name"] for c in containers(patch(deployment(), body))] == ["sidecar", "app"]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar"}, {"name": "new"}]}}}}
    assert [c["name"] for c in containers(patch(deployment(), body))] == ["app", "sidecar", "new"]


def test_primitive_merge_list_is_a_union_without_duplicates() -> None:
    original = pod(containers=[])
    original["metadata"]["finalizers"] = ["a", "b"]
    result = patch(original, {"metadata": {"finalizers": ["c", "a", "c"]}}, definition=POD)
    assert result["metadata"]["finalizers"] == ["c", "a", "b"]  # same ordering rule as maps


def test_lists_without_merge_strategy_are_replaced() -> None:
    body = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "command": ["true"]}]}}}
    }
    sidecar = containers(patch(deployment(), body))[1]
    assert sidecar["command"] == ["true"]


def test_missing_merge_key_is_a_500_with_gos_words() -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"image": "httpd"}]}}}}
    error = failure(deployment(), body)
    assert (error.code, error.reason) == (500, "")
    assert error.message == "map: map[image:httpd] does not contain declared merge key: name"
    assert "reason" not in error.to_status()


def test_lists_of_lists_are_422() -> None:
    original = {"kind": "Deployment", "metadata": {"finalizers": [["a"]]}}
    error = failure(original, {"metadata": {"finalizers": [["b"]]}})
    assert (error.code, error.reason) == (422, "Invalid")


# --- strategic merge: directives --------------------------------------------------------------
def test_patch_replace_on_a_map() -> None:
    body = {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}
    assert patch(deployment(), body)["metadata"]["labels"] == {"only": "this"}


def test_patch_delete_on_a_map_empties_it() -> None:
    result = patch(deployment(), {"spec": {"strategy": {"$patch": "delete"}}})
    assert result["spec"]["strategy"] == {}


def test_patch_replace_in_a_list_replaces_the_list() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "solo", "image": "s"}, {"$patch": "replace"}]}
            }
        }
    }
    assert containers(patch(deployment(), body)) == [{"name": "solo", "image": "s"}]


def test_patch_delete_in_a_list_needs_the_merge_key() -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}
    error = failure(deployment(), body)
    assert error.code == 500
    assert error.message == "map: map[$patch:delete] does not contain declared merge key: name"


def test_patch_merge_is_refused_as_upstream_refuses_it() -> None:
    in_list = {"spec": {"template": {"spec": {"containers": [{"name": "app", "$patch": "merge"}]}}}}
    assert (
        failure(deployment(), in_list).message
        == "merging lists cannot yet be specified in the patch"
    )
    on_map = failure(deployment(), {"metadata": {"labels": {"$patch": "merge"}}})
    assert on_map.message == "unknown patch type: merge in map: map[$patch:merge]"
    unknown = failure(deployment(), {"metadata": {"labels": {"$patch": 1}}})
    assert unknown.message == "unknown patch type: %!s(int64=1) in map: map[$patch:1]"


def test_null_deletes_a_field_and_is_ignored_when_absent() -> None:
    result = patch(deployment(), {"spec": {"strategy": None, "paused": None}})
    assert "strategy" not in result["spec"]
    assert "paused" not in result["spec"]


def test_retain_keys_clears_unlisted_fields() -> None:
    body = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert patch(deployment(), body)["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    "strategy",
    [
        {"$retainKeys": "type", "type": "Recreate"},
        {"$retainKeys": ["rollingUpdate"], "type": "Recreate"},
    ],
)
def test_bad_retain_keys_is_400(strategy: dict[str, Any]) -> None:
    error = failure(deployment(), {"spec": {"strategy": strategy}})
    assert (error.code, error.message) == (400, "invalid patch format of retainKeys")


def test_delete_from_primitive_list() -> None:
    original = pod(containers=[])
    original["metadata"]["finalizers"] = ["a", "b", "c"]
    body = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}}
    assert patch(original, body, definition=POD)["metadata"]["finalizers"] == ["a", "c"]


def test_delete_from_a_missing_primitive_list_adds_nothing() -> None:
    body = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert "finalizers" not in patch(pod(containers=[]), body, definition=POD)["metadata"]


def test_malformed_delete_from_primitive_list_key_is_400() -> None:
    error = failure(
        pod(), {"metadata": {"$deleteFromPrimitiveListfinalizers": ["b"]}}, definition=POD
    )
    assert (error.code, error.message) == (400, "invalid patch format of primitive list")


def test_set_element_order_reorders_a_merge_list() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                    "containers": [{"name": "app", "image": "nginx:2"}],
                }
            }
        }
    }
    result = containers(patch(deployment(), body))
    assert [(c["name"], c["image"]) for c in result] == [
        ("sidecar", "busybox:1.36"),
        ("app", "nginx:2"),
    ]


def test_set_element_order_on_a_primitive_list() -> None:
    original = pod(containers=[])
    original["metadata"]["finalizers"] = ["a", "b", "c"]
    body = {"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}}
    assert patch(original, body, definition=POD)["metadata"]["finalizers"] == ["c", "a", "b"]


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [{"name": "sidecar"}, {"name": "app"}],
                }
            }
        }
    }
    error = failure(deployment(), body)
    assert error.code == 500
    assert "doesn't match $setElementOrder list" in error.message


def test_delete_and_add_with_set_element_order_follows_go_slice_semantics() -> None:
    """apimachinery's "add map and delete map from merging list" case, on real containers."""
    original = pod(
        containers=[{"name": "1"}, {"name": "2", "image": "b"}, {"name": "4", "image": "c"}]
    )
    body = {
        "spec": {
            "$setElementOrder/containers": [{"name": "2"}, {"name": "3"}],
            "containers": [{"name": "3"}, {"name": "1", "$patch": "delete"}],
        }
    }
    result = patch(original, body, definition=POD)
    assert [c["name"] for c in result["spec"]["containers"]] == ["2", "4", "3"]


def test_new_values_lose_nulls_and_directive_maps() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {
                    "volumes": [
                        {"name": "v", "emptyDir": {}, "secret": None},
                        {"name": "x", "$patch": "delete"},
                    ],
                    "nodeSelector": {"$patch": "replace", "a": "b"},
                }
            }
        }
    }
    spec = patch(deployment(), body)["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert "nodeSelector" not in spec


def test_directive_keys_do_not_survive_in_struct_fields() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {"securityContext": {"$retainKeys": ["runAsUser"], "runAsUser": 1}}
            }
        }
    }
    spec = patch(deployment(), body)["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"runAsUser": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid character 'n' looking for beginning of object key string"),
        (b"[1]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b'{"a":tru}', "invalid character '}' in literal true (expecting 'e')"),
    ],
)
def test_malformed_strategic_merge_patch_is_400(body: bytes, message: str) -> None:
    error = failure(deployment(), body)
    assert (error.code, error.reason, error.message) == (400, "BadRequest", message)


def test_strategic_merge_null_body_changes_nothing() -> None:
    assert patch(deployment(), b"null") == deployment()


# --- Go's words -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1}', None),
        (b" 12 ", None),
        (b"-", "invalid character ' ' in numeric literal"),
        (b"01", "invalid character '1' after top-level value"),
        (b"1.", "invalid character ' ' after decimal point in numeric literal"),
        (b'"a\\x"', "invalid character 'x' in string escape code"),
        (b'"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
        (b'"a\nb"', "invalid character '\\n' in string literal"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"nul", "invalid character ' ' in literal null (expecting 'l')"),
        (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
    ],
)
def test_syntax_errors_read_like_gos(data: bytes, message: str | None) -> None:
    assert syntax_error(data) == message


def test_values_print_like_gos_percent_v() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"x": "y"}, "c": 1e21, "d": 1e6, "e": 123456.0}
    assert go_sprint(value) == "map[a:map[x:y] b:[1 2.5 <nil> true] c:1e+21 d:1e+06 e:123456]"


@pytest.mark.parametrize("content_type", [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH])
@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b"[[[",
        b'{"a":1e400}',
        b'"\xff"',
        b'{"metadata":{"finalizers":[1,{"a":1}]}}',
        b'{"metadata":{"labels":[1]},"spec":{"template":{"spec":{"containers":"x"}}}}',
        b'{"spec":{"template":{"spec":{"containers":[{"name":{"x":1}}, 7]}}}}',
        b'{"spec":{"$setElementOrder/strategy":5,"$retainKeys":null}}',
        b'{"spec":{"template":{"spec":{"$setElementOrder/containers":[1],"containers":[]}}}}',
        b'[{"op":"move","from":"/spec","path":"/spec/x"}]',
        b'{"spec":' * 3000 + b"1" + b"}" * 3000,
    ],
)
def test_any_body_yields_an_object_or_a_status_error(content_type: str, body: bytes) -> None:
    try:
        result = patch(deployment(), body, content_type)
    except StatusError as error:
        assert 400 <= error.code < 600
        assert error.message
    else:
        assert isinstance(result, dict)
