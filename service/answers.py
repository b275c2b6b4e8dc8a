"""The audit answers as they go on the wire: runs with their diversity result, pages of
runs, the trend. (The analysis answers themselves are domain types:
``graph.analysis.answers``.)"""

from __future__ import annotations

from datetime import datetime

import msgspec

from graph.analysis.answers import DiversityAnswer
from graph.audits.trend import Trend
from service.wire import DeliveryOut


class RunLinks(msgspec.Struct, frozen=True, kw_only=True):
    self: str
    audit: str


class RunOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    audit: str
    graph: str
    slot: datetime
    #: "schedule" or "manual"
    trigger: str
    #: queued, running, done or failed
    status: str
    #: executions started (more than one only when a process died during a run)
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    graph_version: str | None
    error: str | None
    #: the diversity audit with the manifest of its analysis; null until done
    result: DiversityAnswer | None
    #: webhook deliveries of this run with every attempt (only on the single-run answer)
    deliveries: list[DeliveryOut] | None = None
    links: RunLinks


class RunsPage(msgspec.Struct, frozen=True, kw_only=True):
    audit: str
    #: newest first
    items: list[RunOut]
    #: ``after`` for the next (older) page; null on the last
    next: str | None


class TrendOut(Trend, frozen=True, kw_only=True):
    audit: str
    account: str
