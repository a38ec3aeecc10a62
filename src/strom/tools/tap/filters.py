"""What the tap shows, narrowed as `strom watch` narrows: a resource, a namespace, a name.

A filter decides per exchange, from its request path (kube's RequestInfo), and every record of
that exchange (response, body, events, end) follows the decision; records of no exchange (the
capture header, connections opening and closing) are shown only without a filter. The capture
keeps everything: filters apply to the display, live and in `--replay`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strom.requestinfo import request_info

from .records import Record

__all__ = ["RecordFilter"]


@dataclass
class RecordFilter:
    resource: str = ""  # plural, optionally with its group: configmaps, deployments.apps
    namespace: str = ""
    name: str = ""
    _shown: set[tuple[object, object]] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return bool(self.resource or self.namespace or self.name)

    def _matches(self, path: str) -> bool:
        info = request_info("GET", path.split("?", 1)[0], "")
        if not info.resource_request:
            return False
        if self.resource:
            wanted, _, group = self.resource.partition(".")
            if info.resource != wanted or (group and info.api_group != group):
                return False
        if self.namespace and info.namespace != self.namespace:
            return False
        return not self.name or info.name == self.name

    def shows(self, record: Record) -> bool:
        if not self.active:
            return True
        key = (record.get("conn"), record.get("req"))
        if record.get("type") == "request":
            if self._matches(str(record.get("path") or "")):
                self._shown.add(key)
                return True
            return False
        if record.get("type") == "end":
            shown = key in self._shown
            self._shown.discard(key)  # bounded by the exchanges in flight
            return shown
        return key in self._shown
