"""Malformed input never gets a 500 or a traceback, and never leaves anything half-written."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import pytest

from strom.testing.server import StromServer

from .conftest import Api

BAD_REQUESTS: list[tuple[str, str, Any, str, int]] = [
    # method, path (relative to the test namespace), body, content type, expected code
    ("POST", "configmaps", b"", "application/json", 400),
    ("POST", "configmaps", b"[1,2]", "application/json", 400),
    ("POST", "configmaps", b'"text"', "application/json", 400),
    ("POST", "configmaps", b'{"metadata": 5}', "application/json", 400),
    ("POST", "configmaps", b"a: [unclosed", "application/yaml", 400),
    ("POST", "configmaps", b"\xff\xfe\x00garbage", "application/json", 400),
    ("POST", "configmaps", b"k8s\x00\x0a\x03bad", "application/vnd.kubernetes.protobuf", 400),
    ("POST", "configmaps", {"metadata": {"name": "x"}, "data": "notamap"}, "application/json", 400),
    ("POST", "configmaps", {"metadata": {"name": "x", "labels": [1]}}, "application/json", 400),
    (
        "POST",
        "configmaps",
        {"metadata": {"name": "x"}, "immutable": "yes"},
        "application/json",
        400,
    ),
    ("POST", "configmaps", {"kind": "Pod", "metadata": {"name": "x"}}, "application/json", 400),
    (
        "POST",
        "configmaps",
        {"apiVersion": "v2", "metadata": {"name": "x"}},
        "application/json",
        400,
    ),
    (
        "POST",
        "configmaps",
        {"metadata": {"name": "x", "resourceVersion": "5"}},
        "application/json",
        400,
    ),
    (
        "POST",
        "configmaps",
        {"metadata": {"name": "x", "namespace": "other"}},
        "application/json",
        400,
    ),
    ("PUT", "configmaps/target", {"metadata": {"name": "other"}}, "application/json", 400),
    ("PUT", "configmaps/target", b"{", "application/json", 400),
    ("PATCH", "configmaps/target", b"{", "application/merge-patch+json", 400),
    ("PATCH", "configmaps/target", b"{", "application/strategic-merge-patch+json", 400),
    ("PATCH", "configmaps/target", b"{", "application/json-patch+json", 400),
    ("PATCH", "configmaps/target", b'[{"op":"nope"}]', "application/json-patch+json", 422),
    (
        "PATCH",
        "configmaps/target",
        b'{"metadata":{"resourceVersion":"1"}}',
        "application/merge-patch+json",
        409,
    ),
    ("PATCH", "configmaps/target", b"{}", "text/plain", 415),
    ("GET", "configmaps?labelSelector=a%20in%20(", None, "", 400),
    ("GET", "configmaps?fieldSelector=spec.nothing%3Dx", None, "", 400),
    ("GET", "configmaps?limit=abc", None, "", 400),
    ("GET", "configmaps?continue=%%%", None, "", 400),
    ("GET", "configmaps?continue=eyJ2IjoxfQ", None, "", 400),
    ("GET", "configmaps?resourceVersion=-1", None, "", 400),
    ("GET", "configmaps?resourceVersionMatch=Bogus&resourceVersion=1", None, "", 400),
    ("GET", "configmaps?watch=true&timeoutSeconds=abc", None, "", 400),
    # kube's codec reads any value but "0"/"false" as true (Convert_Slice_string_To_Pointer_
    # bool), so "maybe" is sendInitialEvents=true without resourceVersionMatch: 422.
    ("GET", "configmaps?watch=true&sendInitialEvents=maybe", None, "", 422),
    ("GET", "configmaps?watch=true&sendInitialEvents=true", None, "", 422),
    ("DELETE", "configmaps/target?gracePeriodSeconds=x", None, "", 400),
    ("DELETE", "configmaps/target", b"{not json", "application/json", 400),
    ("DELETE", "configmaps/target?dryRun=Some", None, "", 400),
    (
        "POST",
        "configmaps?fieldValidation=Loose",
        {"metadata": {"name": "v"}},
        "application/json",
        400,
    ),
    (
        "POST",
        "configmaps?fieldValidation=Strict",
        {"metadata": {"name": "v"}, "bogus": 1},
        "application/json",
        400,
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "ctype", "code"), BAD_REQUESTS)
def test_bad_request_gets_status(
    api: Api, ns: str, method: str, path: str, body: Any, ctype: str, code: int
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.post(base, {"metadata": {"name": "target"}, "data": {"k": "v"}}).status == 201
    before = api.get(f"{base}/target").json
    reply = api.request(
        method, f"/api/v1/namespaces/{ns}/{path}", body, content_type=ctype or "application/json"
    )
    assert reply.status == code, reply.body
    status = reply.json
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["code"] == code
    assert "Traceback" not in status["message"]
    if code == 400 and body is not None and b"notamap" in repr(body).encode():
        assert status["message"] == (
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal'
            " string into Go struct field ConfigMap.data of type map[string]string"
        )
    # Nothing half-written: the object is exactly as before, and nothing else appeared.
    assert api.get(f"{base}/target").json == before
    names = [i["metadata"]["name"] for i in api.get(base).json["items"]]
    assert sorted(names) == ["kube-root-ca.crt", "target"]


def test_429_when_too_many_requests_in_flight(
    strom_server_factory: Callable[..., StromServer],
) -> None:
    server = strom_server_factory("--max-requests-inflight", "1")
    api = Api(server)
    base = "/api/v1/namespaces/default/configmaps"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # A list for a future revision waits 3 s inside the server: it holds the only slot
        # (retried if one of the probes below held the slot at the moment it arrived).
        def hold_slot() -> Any:
            deadline = time.monotonic() + 10
            while True:
                reply = api.get(f"{base}?resourceVersion=99999999", timeout=15)
                if reply.status != 429 or time.monotonic() > deadline:
                    return reply

        slow = pool.submit(hold_slot)
        deadline = time.monotonic() + 10
        while True:
            reply = api.get(base)
            if reply.status == 429:
                break
            if time.monotonic() > deadline or slow.done():
                pytest.fail(f"never got 429: last {reply.status}")
        assert reply.headers["retry-after"] == "1"
        assert reply.json == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Too many requests, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 1},
            "code": 429,
        }
        assert slow.result().status == 504
    # Watches are long-running: they do not hold a slot.
    assert api.get(base).status == 200
