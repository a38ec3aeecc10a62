"""The documents kube-apiserver serves about itself: discovery and OpenAPI v2/v3.

Pure builders over the served `ResourceType`s. An `ApiDocs` is immutable in what it describes;
each document is built on first use and kept, so the HTTP layer holds one `ApiDocs` per set of
types (`ApiDocs.for_types` reuses the last one while the set, CRD schemas included, is the same)
and replaces it when CRDs change. Bytes are what goes on the wire (orjson, compact).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from strom.registry.apidocs import discovery
from strom.registry.apidocs.openapi import etag, render_v2, render_v3_documents
from strom.registry.apidocs.operations import Route, discovery_routes, resource_routes
from strom.registry.apidocs.v2proto import encode_v2_document
from strom.registry.kinds import ResourceType

__all__ = ["ApiDocs", "fingerprint"]

_DEFAULT_SERVER_ADDRESS = "127.0.0.1:6443"


def fingerprint(types: Sequence[ResourceType]) -> bytes:
    """Identity of a set of served types, CRD version entries included (they shape OpenAPI)."""
    parts = sorted(orjson.dumps([repr(rt), rt.crd], option=orjson.OPT_SORT_KEYS) for rt in types)
    return b"\n".join(parts)


class ApiDocs:
    """Discovery and OpenAPI documents for one set of served types, built lazily, kept."""

    _last: ClassVar[tuple[bytes, str, str, ApiDocs] | None] = None

    def __init__(
        self,
        types: Sequence[ResourceType],
        *,
        server_version: str,
        server_address: str = _DEFAULT_SERVER_ADDRESS,
    ) -> None:
        self.types: tuple[ResourceType, ...] = tuple(types)
        self.server_version = server_version
        self.server_address = server_address
        self._groups = discovery.group_versions(self.types)
        self._by_name = {g.name: g for g in self._groups}

    @classmethod
    def for_types(
        cls,
        types: Sequence[ResourceType],
        *,
        server_version: str,
        server_address: str = _DEFAULT_SERVER_ADDRESS,
    ) -> ApiDocs:
        """The previous instance while nothing changed, else a fresh one (documents rebuilt)."""
        key = fingerprint(types)
        last = cls._last
        if last is not None and last[:3] == (key, server_version, server_address):
            return last[3]
        docs = cls(types, server_version=server_version, server_address=server_address)
        cls._last = (key, server_version, server_address, docs)
        return docs

    # ---- legacy discovery -------------------------------------------------------------------

    @functools.cached_property
    def _api_versions(self) -> bytes:
        return orjson.dumps(discovery.api_versions(self.server_address))

    def api_versions(self) -> bytes:
        """GET /api: `APIVersions`."""
        return self._api_versions

    @functools.cached_property
    def _api_group_list(self) -> bytes:
        return orjson.dumps(discovery.api_group_list(self._groups))

    def api_group_list(self) -> bytes:
        """GET /apis: `APIGroupList`, groups in kube's priority order."""
        return self._api_group_list

    def api_group(self, group: str) -> bytes | None:
        """GET /apis/<group>: `APIGroup`, or None when the group is not served."""
        found = self._by_name.get(group)
        if not group or found is None:
            return None
        return orjson.dumps(discovery.api_group(found))

    @functools.cached_property
    def _resource_lists(self) -> dict[str, bytes]:
        lists: dict[str, bytes] = {}
        for group in self._groups:
            for version in group.versions:
                doc = discovery.api_resource_list(group.name, version, group.types[version])
                lists[doc["groupVersion"]] = orjson.dumps(doc)
        return lists

    def api_resource_list(self, group_version: str) -> bytes | None:
        """GET /api/v1 ("v1") or /apis/<g>/<v> ("<g>/<v>"): `APIResourceList`, or None."""
        return self._resource_lists.get(group_version)

    # ---- aggregated discovery (apidiscovery.k8s.io/v2) --------------------------------------

    @functools.cached_property
    def _aggregated(self) -> dict[str, bytes]:
        core = [g for g in self._groups if not g.name]
        named = [g for g in self._groups if g.name]
        return {
            "api": orjson.dumps(discovery.aggregated_list(core)),
            "apis": orjson.dumps(discovery.aggregated_list(named)),
        }

    def aggregated_api(self) -> bytes:
        """GET /api as `APIGroupDiscoveryList` (the core group, `metadata` without a name)."""
        return self._aggregated["api"]

    def aggregated_apis(self) -> bytes:
        """GET /apis as `APIGroupDiscoveryList`."""
        return self._aggregated["apis"]

    def discovery_etag(self, which: str) -> str:
        """Unquoted ETag of aggregated `which` ("api" or "apis"); quote it in the header."""
        return etag(self._aggregated[which])

    # ---- OpenAPI ----------------------------------------------------------------------------

    @functools.cached_property
    def _routes(self) -> list[Route]:
        pairs = [(g.name, g.versions) for g in self._groups]
        routes = discovery_routes(pairs)
        for rt in self.types:
            routes.extend(resource_routes(rt))
        return routes

    @functools.cached_property
    def _v2(self) -> tuple[bytes, str]:
        data = render_v2(self._routes, self.types, server_version=self.server_version)
        return data, etag(data)

    def openapi_v2(self) -> tuple[bytes, str]:
        """GET /openapi/v2: (JSON bytes, unquoted ETag)."""
        return self._v2

    @functools.cached_property
    def _v2_proto(self) -> tuple[bytes, str]:
        data = encode_v2_document(orjson.loads(self._v2[0]))
        return data, etag(data)

    def openapi_v2_protobuf(self) -> tuple[bytes, str]:
        """GET /openapi/v2 as gnostic protobuf (what kubectl asks for): (bytes, ETag)."""
        return self._v2_proto

    @functools.cached_property
    def _v3(self) -> dict[str, tuple[bytes, str]]:
        docs = render_v3_documents(self._routes, self.types, server_version=self.server_version)
        return {key: (data, etag(data)) for key, data in docs.items()}

    @functools.cached_property
    def _v3_index(self) -> bytes:
        paths: dict[str, Any] = {
            key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            for key, (_, digest) in sorted(self._v3.items())
        }
        return orjson.dumps({"paths": paths})

    def openapi_v3_index(self) -> bytes:
        """GET /openapi/v3: every document's path with its `?hash=`."""
        return self._v3_index

    def openapi_v3_group_version(self, path: str) -> tuple[bytes, str] | None:
        """GET /openapi/v3/<path> (`api/v1`, `apis/apps/v1`, `apis/apps`, `version`, ...)."""
        return self._v3.get(path.strip("/"))
