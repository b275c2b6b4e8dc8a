"""Scheduled diversity audits: /v1/graphs/{graph}/audits[/{audit}[/run|/runs|/deliveries]].

Schedules live in the graph store; the scheduler (``service/scheduler.py``, in every
worker process) runs them. These handlers only read and write the store.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from graph.analysis.params import AnalysisParams
from graph.audits import runner
from graph.audits.model import Audit, AuditRun, Delivery
from graph.audits.trend import trend
from graph.model import epoch_ms
from graph.errors import AccountNotFound, FieldError, InvalidInput, RunNotFound
from graph.analysis.answers import DiversityAnswer
from service.answers import RunLinks, RunOut, RunsPage, TrendOut
from service.deps import Store
from service.openapi import json_body, problems
from service.paging import After, Limit, bad_cursor, cut
from service.routes.graphs import GraphPath
from service.secrets import SecretUnreadable, secret_box
from service.webhooks import public_error, url_problem
from service.wire import (
    AuditCreate, AuditLinks, AuditOut, AuditPatch, AuditsPage, DeliveriesPage, DeliveryOut, RunSummary, WebhookOut,
)

AuditPath = Annotated[str, PathParameter(description="audit id", max_length=64)]
RunPath = Annotated[str, PathParameter(description="run id", max_length=64)]
_LOCATION = ResponseHeader(name="Location", documentation_only=True, required=True, description="the new audit")
_INVALID = ("invalid input, every bad field named: the schedule (every: an ISO 8601 duration; cron: five fields;"
            " timezone: an IANA name; start), layers, engine, an account the graph does not hold, a webhook URL"
            " castlegate does not send to")

_decode_result = msgspec.json.Decoder(DiversityAnswer).decode


class AuditController(Controller):
    path = "/v1/graphs/{graph:str}/audits"
    tags = ["audits"]

    @post("/", operation_id="createAudit", status_code=HTTP_201_CREATED, sync_to_thread=True,
          **json_body(AuditCreate), response_headers=[_LOCATION],
          responses=problems({409: "the graph has CASTLEGATE_MAX_AUDITS_PER_GRAPH audits already",
                              422: _INVALID}),
          summary="Schedule a diversity audit of one account")
    def create(self, state: State, store: Store, graph: GraphPath, payload: NamedDependency[AuditCreate]) -> Response[AuditOut]:
        """Runs every ``every`` (ISO 8601 duration; the first run is at ``start``, by
        default at once) or on ``cron``, in ``timezone``. With a ``webhook``, every
        finished run is POSTed there, signed with the webhook's ``secret``; a secret
        castlegate generates is shown in this answer only, and never again."""
        now = _clock(state).now()
        store.get_graph(graph)  # 404 before any 422
        limit = state.settings.max_audits
        if len(store.list_audits(graph)) >= limit:
            raise HTTPException(status_code=409, detail=f"graph {graph!r} has {limit} audits already"
                                                         " (CASTLEGATE_MAX_AUDITS_PER_GRAPH); delete one first")
        errors = _Errors()  # every bad field in one answer, not one per attempt
        params = errors.check(lambda: _params(payload.layers, payload.seed, payload.engine, payload.resolution))
        secret = None
        generated = None
        if payload.webhook is not None:
            errors.check(lambda: _check_url(state, payload.webhook.url))
            secret = _seal(state, payload.webhook.secret or (generated := _new_secret()))
        audit = Audit(
            id=secrets.token_hex(8), graph=graph, account=payload.account, every=payload.every, cron=payload.cron,
            timezone=payload.timezone, start=payload.start, params=params or AnalysisParams(),
            webhook_url=payload.webhook.url if payload.webhook else None, webhook_secret=secret,
            paused=payload.paused, created_at=now, updated_at=now,
        )
        audit = errors.check(lambda: _with_next_run(audit, now))
        errors.check(lambda: _require_account(store, graph, payload.account))
        errors.raise_any()
        audit = store.create_audit(audit)
        return Response(audit_out(store, audit, generated_secret=generated), status_code=HTTP_201_CREATED,
                        headers={"Location": _base(audit)})

    @get("/", operation_id="listAudits", sync_to_thread=True, summary="The graph's audits, oldest first (paged)",
         responses=problems({422: "after is no audit of this graph"}))
    def list_audits(self, store: Store, graph: GraphPath, limit: Limit = 100, after: After = None) -> AuditsPage:
        # a graph holds at most CASTLEGATE_MAX_AUDITS: they are read whole and cut here
        audits = store.list_audits(graph)
        if after is not None:
            at = next((i for i, a in enumerate(audits) if a.id == after), None)
            if at is None:
                raise bad_cursor(" (no audit of this graph)")
            audits = audits[at + 1:]
        page, nxt = cut(audits, limit, lambda a: a.id)
        return AuditsPage(items=[audit_out(store, a) for a in page], next=nxt)

    @get("/{audit:str}", operation_id="getAudit", sync_to_thread=True, summary="One audit, with its next and last run")
    def get_audit(self, store: Store, graph: GraphPath, audit: AuditPath) -> AuditOut:
        return audit_out(store, store.get_audit(graph, audit))

    @patch("/{audit:str}", operation_id="updateAudit", sync_to_thread=True, **json_body(AuditPatch),
           responses=problems({422: _INVALID}),
           summary="Pause, resume, re-schedule or re-target an audit")
    def update(self, state: State, store: Store, graph: GraphPath, audit: AuditPath,
               payload: NamedDependency[AuditPatch]) -> AuditOut:
        """``{"paused": true}`` stops the runs; ``{"paused": false}`` resumes from the next
        slot (slots missed while paused are not run). A new ``every``/``cron``/
        ``timezone``/``start`` takes effect from the next slot after now. A webhook that
        is removed or moved gets none of the deliveries still pending for it."""
        current = store.get_audit(graph, audit)
        now = _clock(state).now()
        errors = _Errors()
        changes: dict = {}
        for name in ("account", "every", "cron", "timezone", "start", "paused"):
            value = getattr(payload, name)
            if value is not msgspec.UNSET:
                changes[name] = value
        if payload.every is not msgspec.UNSET and payload.every is not None and payload.cron is msgspec.UNSET:
            changes["cron"] = None
        if payload.cron is not msgspec.UNSET and payload.cron is not None and payload.every is msgspec.UNSET:
            changes["every"] = None
        p = current.params
        if any(getattr(payload, n) is not msgspec.UNSET for n in ("layers", "seed", "engine", "resolution")):
            changes["params"] = errors.check(lambda: _params(
                p.layers if payload.layers is msgspec.UNSET else payload.layers,
                p.seed if payload.seed is msgspec.UNSET else payload.seed,
                p.engine if payload.engine is msgspec.UNSET else payload.engine,
                p.resolution if payload.resolution is msgspec.UNSET else payload.resolution,
            ))
        generated = None
        if payload.webhook is not msgspec.UNSET:
            if payload.webhook is None:
                changes |= {"webhook_url": None, "webhook_secret": None}
            else:
                errors.check(lambda: _check_url(state, payload.webhook.url))
                # a kept secret is written again under the current key (re-encrypted,
                # or encrypted for the first time if it was stored in the clear)
                kept = errors.check(lambda: _open(state, current.webhook_secret)) if not payload.webhook.secret else None
                secret = payload.webhook.secret or kept or (generated := _new_secret())
                changes |= {"webhook_url": payload.webhook.url, "webhook_secret": _seal(state, secret)}
        updated = msgspec.structs.replace(current, **changes, updated_at=now)
        # only a real change of the calendar, a pause or a resume moves next_run_at: an
        # edit of anything else (or "paused": false on a running audit) must not skip a
        # slot that is due and not yet claimed
        calendar = any(changes[n] != getattr(current, n) for n in ("every", "cron", "timezone", "start")
                       if n in changes)
        pausing = changes.get("paused") is True and not current.paused
        resuming = changes.get("paused") is False and current.paused
        if calendar or resuming:
            checked = errors.check(lambda: _with_next_run(updated, now))
            updated = checked or updated
        elif pausing:
            updated = msgspec.structs.replace(updated, next_run_at=None)
        if "account" in changes:
            errors.check(lambda: _require_account(store, graph, updated.account))
        errors.raise_any()
        fields = {n: getattr(updated, n) for n in changes} | {"updated_at": now}
        if calendar or resuming or pausing:
            fields["next_run_at"] = updated.next_run_at
        result = store.update_audit(graph, audit, fields)
        return audit_out(store, result, generated_secret=generated)

    @delete("/{audit:str}", operation_id="deleteAudit", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True,
            summary="Delete an audit with its history and deliveries")
    def remove(self, store: Store, graph: GraphPath, audit: AuditPath) -> None:
        store.delete_audit(graph, audit)

    @post("/{audit:str}/run", operation_id="runAudit", status_code=HTTP_202_ACCEPTED, sync_to_thread=True,
          summary="Run the audit now (queued for the scheduler; follow the Location)")
    def run_now(self, state: State, store: Store, graph: GraphPath, audit: AuditPath) -> Response[RunOut]:
        a = store.get_audit(graph, audit)
        run = store.queue_run(graph, audit, _clock(state).now(), secrets.token_hex(8))
        return Response(run_out(a, run), status_code=HTTP_202_ACCEPTED,
                        headers={"Location": f"{_base(a)}/runs/{run.id}"})

    @get("/{audit:str}/runs", operation_id="listAuditRuns", sync_to_thread=True,
         responses=problems({422: "before is not an RFC 3339 time with a timezone, or after is no run of this audit"}),
         summary="The audit's history, newest first, each run with its full result and manifest")
    def list_runs(self, store: Store, graph: GraphPath, audit: AuditPath, limit: Limit = 20,
                  before: Annotated[str | None, QueryParameter(
                      format="date-time", description="only runs for slots before this time (RFC 3339)")] = None,
                  after: Annotated[str | None, QueryParameter(max_length=64, description="the `next` of the page before")] = None,
                  ) -> RunsPage:
        if before is not None:
            before = _rfc3339("before", before)
        a = store.get_audit(graph, audit)
        cursor = None
        if after is not None:
            try:
                cursor = store.get_run(graph, audit, after)
            except RunNotFound:
                raise InvalidInput([FieldError("after", f"no run {after!r} in this audit")]) from None
        runs, nxt = cut(store.list_runs(graph, audit, limit=limit + 1, before=before, after=cursor), limit,
                        lambda r: r.id)
        return RunsPage(audit=audit, items=[run_out(a, r) for r in runs], next=nxt)

    @get("/{audit:str}/runs/trend", operation_id="auditTrend", sync_to_thread=True,
         summary="Headline figures over the history, and their change since the previous and the first run")
    def get_trend(self, store: Store, graph: GraphPath, audit: AuditPath,
                  limit: Annotated[int, QueryParameter(ge=1, le=1000, description="over the newest this many runs")] = 1000,
                  ) -> TrendOut:
        """Effective number of communities, share inside the own community and inside
        castles (for whom the account listens to and converses with) and active
        reciprocated ties, per finished run, oldest first; over the newest ``limit`` runs."""
        a = store.get_audit(graph, audit)
        t = trend(store.list_runs(graph, audit, limit=limit))
        return TrendOut(audit=audit, account=a.account, **msgspec.structs.asdict(t))

    @get("/{audit:str}/runs/{run:str}", operation_id="getAuditRun", sync_to_thread=True,
         summary="One run with its result and every webhook delivery attempt")
    def get_run(self, store: Store, graph: GraphPath, audit: AuditPath, run: RunPath) -> RunOut:
        a = store.get_audit(graph, audit)
        r = store.get_run(graph, audit, run)
        deliveries = store.list_deliveries(graph, audit, run=run)
        return run_out(a, r, deliveries=[delivery_out(d) for d in deliveries])

    @get("/{audit:str}/deliveries", operation_id="listAuditDeliveries", sync_to_thread=True,
         responses=problems({422: "after is not a cursor this list gave"}),
         summary="Webhook deliveries of the audit, newest first, with every attempt (paged)")
    def list_deliveries(self, store: Store, graph: GraphPath, audit: AuditPath, limit: Limit = 100,
                        run: Annotated[str | None, QueryParameter(description="only this run's", max_length=64)] = None,
                        after: After = None) -> DeliveriesPage:
        cursor = None
        if after is not None:
            # "<created ms>.<id>": where the newest-first order continues
            ms, dot, ident = after.partition(".")
            if not (dot and ms.isdigit() and len(ms) <= 16 and ident):
                raise bad_cursor()
            cursor = (int(ms), ident)
        ds = store.list_deliveries(graph, audit, run=run, limit=limit + 1, after=cursor)
        page, nxt = cut(ds, limit, lambda d: f"{epoch_ms(d.created_at)}.{d.id}")
        return DeliveriesPage(items=[delivery_out(d) for d in page], next=nxt)


# conversions ---------------------------------------------------------------------------
def _base(a: Audit) -> str:
    return f"/v1/graphs/{a.graph}/audits/{a.id}"


def audit_out(store: Store, a: Audit, *, generated_secret: str | None = None) -> AuditOut:
    last = store.list_runs(a.graph, a.id, limit=1)
    base = _base(a)
    return AuditOut(
        id=a.id, graph=a.graph, account=a.account, every=a.every, cron=a.cron, timezone=a.timezone,
        start=a.start, schedule=runner.schedule_of(a).describe(), layers=list(a.params.layers),
        seed=a.params.seed, engine=a.params.engine, resolution=a.params.resolution,
        webhook=WebhookOut(url=a.webhook_url, secret=generated_secret) if a.webhook_url else None,
        paused=a.paused, created_at=a.created_at, updated_at=a.updated_at, next_run_at=a.next_run_at,
        last_run=RunSummary(id=last[0].id, slot=last[0].slot, status=last[0].status,
                            finished_at=last[0].finished_at) if last else None,
        links=AuditLinks(self=base, runs=f"{base}/runs", trend=f"{base}/runs/trend", run=f"{base}/run",
                         deliveries=f"{base}/deliveries"),
    )


def run_out(a: Audit, r: AuditRun, *, deliveries: list[DeliveryOut] | None = None) -> RunOut:
    return RunOut(
        id=r.id, audit=r.audit, graph=r.graph, slot=r.slot, trigger=r.trigger, status=r.status,
        attempts=r.attempts, created_at=r.created_at, started_at=r.started_at, finished_at=r.finished_at,
        graph_version=r.graph_version, error=r.error,
        result=_decode_result(r.result) if r.result else None, deliveries=deliveries,
        links=RunLinks(self=f"{_base(a)}/runs/{r.id}", audit=_base(a)),
    )


def delivery_out(d: Delivery) -> DeliveryOut:
    # an attempt's error is a category; ones recorded before held exception text
    attempts = [x if public_error(x.error) == x.error else msgspec.structs.replace(x, error=public_error(x.error))
                for x in d.attempts]
    return DeliveryOut(id=d.id, run=d.run, url=d.url, event=d.event, status=d.status, attempts=attempts,
                       next_attempt_at=d.next_attempt_at, created_at=d.created_at)


# helpers -------------------------------------------------------------------------------
def _params(layers, seed: int, engine: str, resolution: float) -> AnalysisParams:
    # AnalysisParams checks layers and engine and names the field
    kw = {} if layers is None else {"layers": tuple(layers)}
    return AnalysisParams(seed=seed, engine=engine, resolution=resolution, **kw).normalised()


def _with_next_run(audit: Audit, now: datetime) -> Audit:
    """Checks the schedule (``InvalidInput`` naming every/cron/timezone/start) and sets
    when it runs next: never while paused."""
    if audit.start is not None and not _EARLIEST <= audit.start <= _LATEST:
        raise InvalidInput([FieldError("start", f"between {_EARLIEST:%Y} and {_LATEST:%Y}")])
    try:
        first = runner.first_run_at(audit, now)
        runner.schedule_of(audit).describe()
    except OverflowError:  # a period that runs off the calendar
        raise InvalidInput([FieldError("every", "the schedule runs past the year 9999")]) from None
    return msgspec.structs.replace(audit, next_run_at=None if audit.paused else first)


_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def _check_url(state: State, url: str) -> None:
    problem = url_problem(url, allow_private=state.settings.webhook_allow_private)
    if problem:
        raise InvalidInput([FieldError("webhook.url", problem)])


def _seal(state: State, secret: str) -> str:
    """The webhook secret as the store keeps it: encrypted (``service.secrets``)."""
    return secret_box(state.settings).encrypt(secret)


def _open(state: State, stored: str | None) -> str | None:
    if not stored:
        return None
    try:
        return secret_box(state.settings).decrypt(stored)
    except SecretUnreadable:
        raise InvalidInput([FieldError("webhook.secret", "the current secret cannot be read (the server's"
                                       " secret key changed); give a new secret")]) from None


def _require_account(store: Store, graph: str, account: str) -> None:
    # an audit of an account the graph has never seen would only ever fail
    try:
        store.get_account(graph, account)
    except AccountNotFound:
        raise InvalidInput([FieldError("account", f"account {account!r} is not in graph {graph!r}")]) from None


class _Errors:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def check(self, fn):
        try:
            return fn()
        except InvalidInput as e:
            self.found.extend(e.errors)
            return None

    def raise_any(self) -> None:
        if self.found:
            raise InvalidInput(self.found)


def _new_secret() -> str:
    # the Standard Webhooks form: receivers can hand it to that specification's libraries
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _rfc3339(field: str, value: str) -> datetime:
    """A time in a query: RFC 3339 with its timezone (not a number of seconds, which the
    framework's own reading would take)."""
    try:
        t = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        raise InvalidInput([FieldError(field, "an RFC 3339 time, e.g. 2026-01-01T00:00:00Z")]) from None
    if t.tzinfo is None:
        raise InvalidInput([FieldError(field, "needs a timezone (RFC 3339)")])
    try:
        t.astimezone(timezone.utc)  # the store reads it in UTC, where 0001-01-01T00:00+01:00 is no time
    except OverflowError:
        raise InvalidInput([FieldError(field, "out of range: a time between the years 1 and 9999 in UTC")]) from None
    return t


def _clock(state: State):
    return state.clock

