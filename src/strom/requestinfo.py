"""What a request addresses, as kube-apiserver's RequestInfoFactory reads the URL.

The audit event's `verb` and `objectRef`, and the policy's matching, follow kube's reading
exactly, which differs in small ways from strom's router: `/api/v1` and `/apis/<g>/<v>` are
non-resource requests, a namespace's own `namespace` is its name, `?watch=true` only makes a
collection GET a watch, and a `fieldSelector=metadata.name=<n>` on a list or watch names `<n>`.
Non-resource requests use the lower-case HTTP method as their verb.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

__all__ = ["RequestInfo", "query_bool", "request_info"]

_API_PREFIXES = ("api", "apis")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_SEGMENT_BAD = re.compile(r"[/%]")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    verb: str
    path: str
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def request_info(method: str, path: str, raw_query: str) -> RequestInfo:
    """kube's RequestInfo for a percent-decoded `path` and the raw query string."""
    trimmed = path.strip("/")
    parts = trimmed.split("/") if trimmed else []
    non_resource = RequestInfo(verb=method.lower(), path=path)
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return non_resource
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] == "watch":
        if len(rest) < 2:
            return non_resource  # kube: "unable to determine kind and namespace from url"
        verb, rest = "watch", rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    if not name and verb == "get":
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
        verb = "watch" if _watch_param(query) else "list"
        name = _name_from_field_selector(query)
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        verb=verb,
        path=path,
        resource_request=True,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
    )


def query_bool(values: list[str] | None) -> bool | None:
    """A boolean query parameter as kube's parameter codec reads it (Convert_Slice_string_To_
    bool): absent is None; "0" and "false" in any case are false; anything else, the empty
    string and Python's `True` included, is true."""
    if not values:
        return None
    return values[0] != "0" and values[0].lower() != "false"


def _watch_param(query: dict[str, list[str]]) -> bool:
    return query_bool(query.get("watch")) is True


def _name_from_field_selector(query: dict[str, list[str]]) -> str:
    """The name a `metadata.name=<n>` (or `==`) field selector requires, if that is all of a
    clause; kube takes it as the request's name when it is a valid path segment."""
    for selector in query.get("fieldSelector", [])[:1]:
        for clause in selector.split(","):
            key, op, value = _split_requirement(clause.strip())
            if key == "metadata.name" and op in ("=", "==") and _valid_segment(value):
                return value
    return ""


def _split_requirement(clause: str) -> tuple[str, str, str]:
    for op in ("!=", "==", "="):
        if op in clause:
            key, value = clause.split(op, 1)
            return key.strip(), op, value.strip()
    return clause, "", ""


def _valid_segment(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not _SEGMENT_BAD.search(name)
