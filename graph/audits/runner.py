"""When an audit runs, for which slot, and what it tells the webhook.

The scheduler (``service/scheduler.py``) decides *when*; this module decides when a schedule
is due and for which slot (``first_run_at``, ``plan``) and the exact body a webhook receives
(``webhook_body``); what a run computes is the use case ``graph.usecases.audit_run``. None of
it touches HTTP or threads.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Sequence

import msgspec

from graph.audits.model import Audit, AuditRun, RunStatus
from graph.audits.schedule import Schedule
from graph.audits.trend import trend

log = logging.getLogger("castlegate.audits")

__all__ = ["schedule_of", "first_run_at", "plan", "webhook_body", "EVENTS"]

EVENTS = {RunStatus.DONE: "audit.run.done", RunStatus.FAILED: "audit.run.failed"}


def schedule_of(audit: Audit) -> Schedule:
    return Schedule.parse(every=audit.every, cron=audit.cron, timezone=audit.timezone,
                          anchor=audit.start or audit.created_at)


def first_run_at(audit: Audit, now: datetime) -> datetime:
    """The first slot at or after ``now``: a new ``every`` audit without ``start`` runs at
    once (its first slot is its creation), then once per period."""
    s = schedule_of(audit)
    latest = s.latest_at_or_before(now)
    return latest if latest == now else s.next_after(now)


def plan(audit: Audit, now: datetime) -> tuple[datetime, datetime]:
    """For a due audit: the slot to run now and the next one. Slots missed while no
    scheduler ran are not run one by one: the latest stands for them (an audit describes
    the network as it is, and ten identical catch-up runs would tell nothing new)."""
    try:
        s = schedule_of(audit)
        slot = s.latest_at_or_before(now) or audit.next_run_at or now
        return slot, s.next_after(now)
    except Exception:
        # schedules are checked when written, but a zone can vanish from the system's
        # tz database: run this slot and look again in an hour rather than block the
        # store's whole claim (which calls this for every due audit in one transaction)
        log.exception("schedule of audit %s cannot be read", audit.id)
        return audit.next_run_at or now, now + timedelta(hours=1)


def webhook_body(audit: Audit, run: AuditRun, delivery: str, history: Sequence[AuditRun]) -> str:
    """The JSON a receiver gets for a finished ``run``: which audit and run, the full
    result with its manifest, and the trend over ``history`` (which includes ``run``).
    Fixed when the run finishes, so every retry sends the same bytes."""
    t = trend(history)
    body = {
        "event": EVENTS[run.status],
        "delivery": delivery,
        "graph": audit.graph,
        "audit": {"id": audit.id, "account": audit.account, "every": audit.every,
                  "cron": audit.cron, "timezone": audit.timezone},
        "run": {"id": run.id, "slot": run.slot, "trigger": run.trigger, "status": run.status,
                "started_at": run.started_at, "finished_at": run.finished_at,
                "graph_version": run.graph_version, "error": run.error},
        "result": msgspec.Raw(run.result.encode()) if run.result else None,
        "trend": {"latest": t.latest, "change_since_previous": t.change_since_previous,
                  "change_since_first": t.change_since_first},
    }
    return msgspec.json.encode(body).decode()
