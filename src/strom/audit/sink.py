"""The audit sink: a bounded buffer drained by a writer thread (kube's batch backend).

Writing the log must never hold up a request, so the request path only appends the event
to a bounded in-memory buffer and, if the writer sleeps, wakes it. When the buffer is full
the event is dropped and counted, as kube's buffered backend drops with "audit buffer queue
blocked". The writer thread takes events in batches, serializes them (JSON lines), writes
them and flushes once per batch.

Metrics, with kube-apiserver's names (plain integers, each written by one thread only, turned
into samples at scrape time):
  apiserver_audit_event_total            events generated and sent to the backend
  apiserver_audit_error_total{plugin="buffered"}  events dropped because the buffer was full
  apiserver_audit_error_total{plugin="log"}       events the log writer failed to write
  apiserver_audit_level_total{level}     requests per policy level
  apiserver_audit_requests_rejected_total  always 0 (batch mode never rejects a request)
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from strom.audit.rotate import LineWriter

__all__ = ["AuditCollector", "BufferedSink", "format_micro"]

log = logging.getLogger(__name__)

DEFAULT_BUFFER_SIZE = 10_000  # kube's --audit-log-batch-buffer-size default
MAX_BATCH = 400
_ERROR_LOG_INTERVAL = 10.0


def format_micro(stamp: float) -> str:
    """metav1.MicroTime: RFC 3339 in UTC with microseconds."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_event(event: dict[str, Any]) -> bytes:
    event["requestReceivedTimestamp"] = format_micro(event["requestReceivedTimestamp"])
    event["stageTimestamp"] = format_micro(event["stageTimestamp"])
    return orjson.dumps(event) + b"\n"


class BufferedSink:
    """Fields: `_buffer` is appended to on the event loop and popped by the writer thread
    (deque operations are atomic); `events`/`dropped` are written by the event loop only,
    `write_errors` by the writer only; `_wake` is set when there is work or on stop."""

    def __init__(self, writer: LineWriter, *, buffer_size: int = DEFAULT_BUFFER_SIZE) -> None:
        self._writer = writer
        self._capacity = buffer_size
        self._buffer: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_error_log = 0.0
        self.events = 0
        self.dropped = 0
        self.write_errors = 0

    # --- request path --------------------------------------------------------------------
    def process(self, event: dict[str, Any]) -> None:
        self.events += 1
        if len(self._buffer) >= self._capacity:
            self.dropped += 1
            return
        self._buffer.append(event)
        if not self._wake.is_set():
            self._wake.set()

    # --- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float) -> None:
        """Write what is buffered (waiting up to `timeout` seconds), then close the log."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("audit log writer did not finish; %d events lost", len(self._buffer))

    # --- writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._buffer:
                self._write_batch(self._take_batch())
            if self._stopping:
                break
        while self._buffer:  # anything appended while the stop was being noticed
            self._write_batch(self._take_batch())
        try:
            self._writer.close()
        except OSError as exc:
            self._log_error(exc, 0)

    def _take_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        buffer = self._buffer
        while buffer and len(batch) < MAX_BATCH:
            batch.append(buffer.popleft())
        return batch

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        for i, event in enumerate(batch):
            try:
                self._writer.write(encode_event(event))
            except (OSError, TypeError, ValueError) as exc:
                if isinstance(exc, OSError) and not str(exc).startswith("write length"):
                    # The writer itself broke: the rest of this batch cannot go out either.
                    self.write_errors += len(batch) - i
                    self._log_error(exc, len(batch) - i)
                    return
                self.write_errors += 1
                self._log_error(exc, 1)
        try:
            self._writer.flush()
        except OSError as exc:
            self.write_errors += len(batch)
            self._log_error(exc, len(batch))

    def _log_error(self, exc: BaseException, count: int) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.error("Error in audit plugin 'log' affecting %d audit events: %s", count, exc)


class AuditCollector(Collector):
    """Turns the sink's and the policy's counters into samples when /metrics is scraped."""

    def __init__(self, sink: BufferedSink, levels: dict[str, int]) -> None:
        self.sink = sink
        self.levels = levels

    def collect(self) -> Iterator[CounterMetricFamily]:
        events = CounterMetricFamily(
            "apiserver_audit_event",
            "Counter of audit events generated and sent to the audit backend.",
        )
        events.add_metric([], self.sink.events)
        errors = CounterMetricFamily(
            "apiserver_audit_error",
            "Counter of audit events that failed to be audited properly. Plugin identifies"
            " the plugin affected by the error.",
            labels=["plugin"],
        )
        errors.add_metric(["buffered"], self.sink.dropped)
        errors.add_metric(["log"], self.sink.write_errors)
        levels = CounterMetricFamily(
            "apiserver_audit_level",
            "Counter of policy levels for audit events (1 per request).",
            labels=["level"],
        )
        for level, count in sorted(self.levels.items()):
            levels.add_metric([level], count)
        rejected = CounterMetricFamily(
            "apiserver_audit_requests_rejected",
            "Counter of apiserver requests rejected due to an error in audit logging backend.",
        )
        rejected.add_metric([], 0)
        yield events
        yield errors
        yield levels
        yield rejected
