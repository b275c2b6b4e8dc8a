"""What a scheduled diversity audit is made of, as the stores keep it.

An ``Audit`` is a schedule: one account of one graph, audited every period (or on a cron
expression), optionally reported to a webhook. Each due slot becomes one ``AuditRun``; each
finished run whose audit has a webhook becomes one ``Delivery`` (an outbox row, written in
the same transaction as the run's result, so a result is never without its notification),
whose every HTTP attempt is kept as a ``DeliveryAttempt``.

``owner`` and ``lease_until`` are the store-held leases that let several castlegate
processes share the work: whoever holds an unexpired lease on a run or a delivery is the
only one working on it; a process that dies simply lets its lease run out.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from graph.analysis.params import AnalysisParams

__all__ = ["Audit", "AuditRun", "Delivery", "DeliveryAttempt", "RunStatus", "DeliveryStatus",
           "MUTABLE_AUDIT_FIELDS"]


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    #: every attempt failed; no more retries
    FAILED = "failed"
    #: the audit's webhook was removed or moved to another URL before it was delivered
    CANCELLED = "cancelled"


class Audit(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    account: str
    #: ISO 8601 duration; exactly one of ``every`` and ``cron`` is set
    every: str | None = None
    cron: str | None = None
    #: IANA zone the schedule's days and cron fields are read in
    timezone: str = "UTC"
    #: first slot of an ``every`` schedule (default: when the audit was created)
    start: datetime | None = None
    #: the analysis every run is cut from (layers, seed, engine, resolution, ...)
    params: AnalysisParams = AnalysisParams()
    webhook_url: str | None = None
    #: kept to sign deliveries; never leaves the service after creation. The service
    #: stores it encrypted (``fernet:<token>``, ``service.secrets``); a value without that
    #: prefix is a plaintext secret from before, still used as it is
    webhook_secret: str | None = None
    paused: bool = False
    created_at: datetime
    updated_at: datetime
    #: when the scheduler runs it next; ``None`` while paused
    next_run_at: datetime | None = None


#: what ``update_audit`` may change
MUTABLE_AUDIT_FIELDS = frozenset({
    "account", "every", "cron", "timezone", "start", "params", "webhook_url", "webhook_secret",
    "paused", "updated_at", "next_run_at",
})


class AuditRun(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    audit: str
    #: the schedule slot this run is for (a manual run: when it was asked for); one run
    #: per (audit, slot), ever
    slot: datetime
    #: "schedule" or "manual"
    trigger: str
    status: str = RunStatus.QUEUED
    #: executions started; > 1 only when a process died holding the run
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    graph_version: str | None = None
    #: the diversity answer (result with its manifest) as JSON text
    result: str | None = None
    error: str | None = None
    owner: str | None = None
    lease_until: datetime | None = None


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    at: datetime
    duration_ms: float
    #: the receiver's HTTP status; None when no answer came (timeout, refused)
    status_code: int | None = None
    error: str | None = None
    delivered: bool


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    audit: str
    run: str
    url: str
    #: "audit.run.done" or "audit.run.failed"
    event: str
    #: the exact JSON body sent on every attempt (the signature covers it)
    body: str
    status: str = DeliveryStatus.PENDING
    attempts: list[DeliveryAttempt] = []
    next_attempt_at: datetime | None = None
    created_at: datetime
    owner: str | None = None
    lease_until: datetime | None = None
