"""`/metrics` in Prometheus text format, with kube-apiserver's metric names and labels.

Request metrics are prometheus-client objects updated once per request. Watch metrics are
not: the fan-out path only bumps plain integers on the watch cache (one addition per watcher
and batch), and a custom collector turns them into samples when /metrics is scraped, so the
hot path pays nothing for being observable.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from strom.cache.state import EVENT_SIZE_BUCKETS, StateCache
from strom.registry.types import TypeTable

__all__ = ["Metrics", "request_verb"]

_REQUEST_LABELS = (
    "verb",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
    "code",
)
_DURATION_BUCKETS = (
    0.005,
    0.025,
    0.05,
    0.1,
    0.2,
    0.4,
    0.6,
    0.8,
    1.0,
    1.25,
    1.5,
    2,
    3,
    4,
    5,
    6,
    8,
    10,
    15,
    20,
    30,
    45,
    60,
)


def request_verb(method: str, *, has_name: bool, watch: bool) -> str:
    """kube-apiserver's verb for a resource request (RequestInfo)."""
    if method in ("GET", "HEAD"):
        if watch:
            return "WATCH"
        return "GET" if has_name else "LIST"
    if method == "DELETE" and not has_name:
        return "DELETECOLLECTION"
    return {"POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE"}.get(method, method)


class _WatchCollector(Collector):
    def __init__(self, cache: StateCache, types: TypeTable) -> None:
        self.cache = cache
        self.types = types

    def collect(
        self,
    ) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        watchers = GaugeMetricFamily(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resources",
            labels=["group", "version", "kind"],
        )
        events = CounterMetricFamily(
            "apiserver_watch_events",
            "Number of events sent in watch clients",
            labels=["group", "version", "kind"],
        )
        objects = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        dispatched = CounterMetricFamily(
            "apiserver_watch_cache_events_dispatched",
            "Counter of events dispatched in watch cache broken by resource type.",
            labels=["group", "resource"],
        )
        terminated = CounterMetricFamily(
            "apiserver_terminated_watchers",
            "Counter of watchers closed due to unresponsiveness broken by resource type.",
            labels=["group", "resource"],
        )
        capacity = GaugeMetricFamily(
            "watch_cache_capacity",
            "Total capacity of watch cache broken by resource type.",
            labels=["group", "resource"],
        )
        sizes = HistogramMetricFamily(
            "apiserver_watch_events_sizes",
            "Watch event size distribution in bytes",
            labels=["group", "version", "kind"],
        )
        for rt, state in self.types.with_states(self.cache):
            watchers.add_metric([rt.group, rt.version, rt.kind], len(state.watchers))
            events.add_metric([rt.group, rt.version, rt.kind], state.watchers.events_sent)
            objects.add_metric([rt.group_resource], len(state))
            dispatched.add_metric([rt.group, rt.plural], state.watchers.events_sent)
            terminated.add_metric([rt.group, rt.plural], state.watchers.terminated)
            capacity.add_metric([rt.group, rt.plural], len(state.history))
            cumulative = 0
            buckets = []
            for bound, count in zip(
                (*map(str, EVENT_SIZE_BUCKETS), "+Inf"), state.size_counts, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            sizes.add_metric([rt.group, rt.version, rt.kind], buckets, state.size_sum)
        yield sizes
        yield watchers
        yield events
        yield capacity
        yield objects
        yield dispatched
        yield terminated


class Metrics:
    """The server's metrics; one instance, owned by the App."""

    def __init__(self, *, cache: StateCache, types: TypeTable) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group,"
            " version, resource, scope, component, and HTTP response code.",
            _REQUEST_LABELS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group,"
            " version, resource, subresource, scope and component.",
            _REQUEST_LABELS[:-1],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group,"
            " version, resource, scope and component. Not all requests are tracked this way.",
            _REQUEST_LABELS[:-1],
            registry=self.registry,
        )
        self.sli_duration = Histogram(
            "apiserver_request_sli_duration_seconds",
            "Response latency distribution (not counting webhook duration and priority &"
            " fairness queue wait times) in seconds for each verb, group, version, resource,"
            " subresource, scope and component.",
            _REQUEST_LABELS[:-1],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per"
            " request kind in last second.",
            ("request_kind",),
            registry=self.registry,
        )
        self.storage_duration = Histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ("operation", "type"),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._storage_types: dict[str, str] = {}
        self.types = types
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.authorization = Counter(
            "apiserver_authorization_decisions",
            "Total number of terminal decisions made by an authorizer split by authorizer type,"
            " name, and decision.",
            ("type", "name", "decision"),
            registry=self.registry,
        )
        self.authorization_duration = Histogram(
            "apiserver_authorization_duration_seconds",
            "Authorization duration in seconds broken out by result.",
            ("result",),
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
            registry=self.registry,
        )
        self.webhook_duration = Histogram(
            "apiserver_admission_webhook_admission_duration_seconds",
            "Admission webhook latency histogram in seconds, identified by name and broken out"
            " for each operation and API resource and type (validate or admit).",
            ("name", "operation", "rejected", "type"),
            buckets=(0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10, 25),
            registry=self.registry,
        )
        self.webhook_rejections = Counter(
            "apiserver_admission_webhook_rejection",
            "Admission webhook rejection count, identified by name and broken out for each"
            " admission type (validating or admit) and operation.",
            ("name", "operation", "type"),
            registry=self.registry,
        )
        self.registry.register(_WatchCollector(cache, types))

    def observe_storage(self, operation: str, key: str, seconds: float) -> None:
        """One store call; `type` is the resource the key belongs to (known kinds only, so
        the label values are bounded)."""
        self.storage_duration.labels(operation, self._storage_type(key)).observe(seconds)

    def _storage_type(self, key: str) -> str:
        parts = key.split("/")
        core = "/".join(parts[:3]) + "/"  # /registry/<plural>/ (core kinds)
        name = self._storage_types.get(core)
        if name is None:
            # cached even when not a prefix ("/registry/apps/"): one entry per group
            name = self._storage_types[core] = self._resource_of(core)
        if name:
            return name
        grouped = "/".join(parts[:4]) + "/"  # /registry/<group>/<plural>/
        name = self._storage_types.get(grouped)
        if name is None:
            name = self._resource_of(grouped)
            if name:
                self._storage_types[grouped] = name
        return name or "unknown"

    def _resource_of(self, prefix: str) -> str:
        for rt in self.types.all():
            if rt.key_prefix == prefix:
                return rt.group_resource
        return ""

    def observe_webhook(
        self, name: str, kind: str, operation: str, rejected: bool, seconds: float
    ) -> None:
        """One webhook call (names come from validated configurations: bounded)."""
        label = "true" if rejected else "false"
        self.webhook_duration.labels(name, operation, label, kind).observe(seconds)
        if rejected:
            self.webhook_rejections.labels(name, operation, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
