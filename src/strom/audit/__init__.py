"""Audit logging in kube-apiserver's audit.k8s.io/v1 format.

On only when both `--audit-policy-file` and `--audit-log-path` are given (kube-apiserver's
default is no audit); then every request gets a `RequestAudit` (events.py) that the App feeds
as the request passes authentication, the in-flight limit and the handler. The policy
(policy.py) decides per request how much is logged; events go to a bounded buffer drained
by a writer thread (sink.py) into a size-rotated JSON-lines file (rotate.py).

Differences from kube-apiserver, all deliberate: the log backend always runs in batch mode
(kube's log default is blocking), so a slow disk drops events (counted as
`apiserver_audit_error_total{plugin="buffered"}`) instead of stalling requests; the request
body is logged as sent (protobuf converted to JSON) rather than after decoding and
defaulting; no latency annotations, no impersonation (so no `impersonatedUser`), no legacy log
format, no compression of rotated files, no webhook backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from strom.audit.events import Request, RequestAudit, set_audit_id
from strom.audit.policy import Policy, PolicyError, load_policy
from strom.audit.rotate import ensure_log_file, open_writer
from strom.audit.sink import DEFAULT_BUFFER_SIZE, AuditCollector, BufferedSink
from strom.uids import random_uuid

__all__ = [
    "AuditError",
    "AuditOptions",
    "Auditor",
    "RequestAudit",
    "set_audit_id",
]


class AuditError(Exception):
    """Auditing cannot be set up as configured; the message is one line."""


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """The `--audit-*` flags, with kube-apiserver's defaults."""

    policy_file: Path | None = None
    log_path: str | None = None
    max_size_mb: int = 100
    max_backups: int = 100
    max_age_days: int = 366
    buffer_size: int = DEFAULT_BUFFER_SIZE

    @property
    def enabled(self) -> bool:
        return bool(self.policy_file) and bool(self.log_path)


class Auditor:
    """The server's audit set-up: the policy, the sink and the per-level request counts."""

    def __init__(self, *, policy: Policy, sink: BufferedSink) -> None:
        self.policy = policy
        self.sink = sink
        self.levels: dict[str, int] = {}

    @classmethod
    def from_options(cls, options: AuditOptions) -> Auditor | None:
        """None when auditing is off; AuditError (one line) for a bad policy or log path."""
        _check_numbers(options)
        if options.policy_file is None:
            return None
        try:
            policy = load_policy(options.policy_file)
        except PolicyError as exc:
            raise AuditError(f"loading audit policy file: {exc}") from exc
        if not options.log_path:
            return None  # kube: a policy without a backend records nothing
        if options.log_path != "-":
            try:
                ensure_log_file(Path(options.log_path))
            except OSError as exc:
                raise AuditError(
                    f"audit log {options.log_path}: ensureLogFile: {exc.strerror or exc}"
                ) from exc
        writer = open_writer(
            options.log_path,
            max_size_mb=options.max_size_mb,
            max_backups=options.max_backups,
            max_age_days=options.max_age_days,
        )
        return cls(policy=policy, sink=BufferedSink(writer, buffer_size=options.buffer_size))

    def begin(self, request: Request) -> RequestAudit:
        """A request arrived: its audit ID is the client's `Audit-ID` header or a new UUID."""
        audit_id = request.headers.get("audit-id") or random_uuid()
        return RequestAudit(
            sink=self.sink,
            policy=self.policy,
            levels=self.levels,
            request=request,
            audit_id=audit_id,
        )

    def collector(self) -> AuditCollector:
        return AuditCollector(self.sink, self.levels)

    def start(self) -> None:
        self.sink.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self.sink.stop(timeout=timeout)


def _check_numbers(options: AuditOptions) -> None:
    for flag, value in (
        ("--audit-log-maxage", options.max_age_days),
        ("--audit-log-maxbackup", options.max_backups),
        ("--audit-log-maxsize", options.max_size_mb),
    ):
        if value < 0:
            raise AuditError(f"{flag} {value} can't be a negative number")
    if options.buffer_size <= 0:
        raise AuditError(
            f"invalid audit batch log buffer size {options.buffer_size}, must be a positive number"
        )
