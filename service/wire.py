"""msgspec Structs on the wire: what clients send and receive. Domain types stay in
``graph.model``; conversions between the two live beside the routes that need them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from graph.audits.model import DeliveryAttempt
from graph.analysis.engine import ENGINES
from graph.analysis.params import AnalysisParams
from graph.jobs.model import JobStatus
from graph.model import Account, GraphInfo, Id, Kind, Text, Timestamp


class Health(msgspec.Struct, frozen=True):
    status: str
    version: str


class StoreStatus(msgspec.Struct, frozen=True):
    kind: str
    version: str


class Ready(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    store: StoreStatus
    #: every graph (to an admin key only)
    graphs: list[str]
    #: the task queue, the workers behind it and the result cache
    queue: "QueueStatus"


# graphs
GraphId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$(?!\n)",
        description="letters, digits, '.', '_' and '-'; it appears in URLs",
    ),
]


class GraphCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: GraphId
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class CompareRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The account attribute (``Account.attributes``) to compare the communities with."""

    attribute: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


#: ids one deletion request may name
MAX_DELETE_IDS = 10_000


class InteractionDeletion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The interactions to delete, by id."""

    ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_DELETE_IDS)]


class Written(msgspec.Struct, frozen=True):
    written: int


class ImportResult(msgspec.Struct, frozen=True):
    accepted: int
    duplicates: int
    #: account records written (follower counts, handles)
    accounts: int


_NDJSON = ("application/x-ndjson", "application/jsonl", "application/ndjson")
#: what the batch routes (``.../interactions``, ``.../accounts``) take: their handlers'
#: ``opt={"content_types": ...}``, which the guard enforces, and ``body_kind`` read the same
JSON_OR_NDJSON = ("application/json", *_NDJSON)


def body_kind(request: Request) -> bool:
    """True for NDJSON bodies, False for a JSON array; 415 for anything else (one of
    ``JSON_OR_NDJSON``; no Content-Type at all reads as JSON, for an empty body)."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media in _NDJSON:
        return True
    if media in ("application/json", ""):
        return False
    raise HTTPException(
        status_code=415,
        detail=f"Content-Type {media!r}: send application/json (an array) or application/x-ndjson",
    )


# keys
Scope = Annotated[str, msgspec.Meta(pattern=r"^(read|write|admin)$(?!\n)")]
Grant = Annotated[str, msgspec.Meta(min_length=1, max_length=129, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]*\*?)$(?!\n)",
                                    description="a graph id, a prefix ending in '*', or '*' (all graphs)")]


class KeyCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=3)]
    graphs: Annotated[list[Grant], msgspec.Meta(max_length=1000)] = []


class KeyOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    scopes: list[str]
    graphs: list[str]
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut, frozen=True, kw_only=True):
    #: ``Authorization: Bearer <token>``; shown in this answer only
    token: str


# analysis
class ReachRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to measure the reach of: accounts (their posts) and/or objects (post ids or
    URLs), optionally in a time window."""

    accounts: Annotated[list[Id], msgspec.Meta(max_length=10_000)] = []
    objects: Annotated[list[Text], msgspec.Meta(max_length=10_000)] = []
    since: Timestamp | None = None
    until: Timestamp | None = None


#: a job's states, the values of ``JobOut.status`` (and of ``GET /v1/analyses?status=``)
JOB_STATES = tuple(v for k, v in vars(JobStatus).items() if not k.startswith("_"))
JobState = Annotated[str, msgspec.Meta(title="JobStatus", extra_json_schema={"enum": list(JOB_STATES)})]


class JobLinks(msgspec.Struct, frozen=True, kw_only=True):
    """Where to go from a job: ``result`` once done, and the answer it was asked for
    (``answer``), or after a full analysis the usual answers it made ready."""

    self: str
    result: str | msgspec.UnsetType = msgspec.UNSET
    answer: str | msgspec.UnsetType = msgspec.UNSET
    communities: str | msgspec.UnsetType = msgspec.UNSET
    gatekeepers: str | msgspec.UnsetType = msgspec.UNSET
    trusted_voices: str | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="trusted-voices")
    castles: str | msgspec.UnsetType = msgspec.UNSET
    pods: str | msgspec.UnsetType = msgspec.UNSET
    polarization: str | msgspec.UnsetType = msgspec.UNSET


class JobArguments(msgspec.Struct, frozen=True, kw_only=True):
    """The answer's own arguments (``graph.analysis.answers.TARGETS``), with their
    defaults: each answer has some of these, never others."""

    account: str | None | msgspec.UnsetType = msgspec.UNSET
    community: int | None | msgspec.UnsetType = msgspec.UNSET
    limit: int | msgspec.UnsetType = msgspec.UNSET
    after: str | None | msgspec.UnsetType = msgspec.UNSET
    members_limit: int | msgspec.UnsetType = msgspec.UNSET
    pairs_limit: int | msgspec.UnsetType = msgspec.UNSET
    accounts: list[str] | msgspec.UnsetType = msgspec.UNSET
    objects: list[str] | msgspec.UnsetType = msgspec.UNSET
    format: str | msgspec.UnsetType = msgspec.UNSET
    level: str | msgspec.UnsetType = msgspec.UNSET
    runs: int | msgspec.UnsetType = msgspec.UNSET
    attribute: str | msgspec.UnsetType = msgspec.UNSET


class JobOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    #: the answer the job computes: an analysis endpoint (communities, castles, ...) or
    #: "analysis" (every graph-wide stage, from ``POST .../analyses``)
    target: str
    #: the version asked for; once done, the version the answer was computed on
    graph_version: str | None
    #: queued, running, done, failed or cancelled
    status: JobState
    #: the step running now (load, a stage name, render) and the share of steps done
    stage: str | None
    progress: float
    #: one line, when failed or cancelled
    error: str | None
    #: not_found, invalid, failed, time_limit, worker_lost or cancelled
    error_kind: str | None
    parameters: AnalysisParams
    #: the answer's own arguments (account, limit, ...)
    arguments: JobArguments
    #: executions started (more than one when a worker died during the job)
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: JobLinks


class JobsPage(msgspec.Struct, frozen=True, kw_only=True):
    #: newest first
    items: list[JobOut]
    #: ``after`` for the next (older) page; null on the last
    next: str | None


class GraphsPage(msgspec.Struct, frozen=True, kw_only=True):
    #: by id
    items: list[GraphInfo]
    #: ``after`` for the next page; null on the last
    next: str | None


class AccountsPage(msgspec.Struct, frozen=True, kw_only=True):
    #: by id
    items: list[Account]
    #: ``after`` for the next page; null on the last
    next: str | None


class WorkerOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    #: job ids it runs now
    running: list[str]
    concurrency: int
    #: its audit scheduler's clock at its last tick (null: it runs no scheduler)
    last_tick: datetime | None


class QueueStatus(msgspec.Struct, frozen=True, kw_only=True):
    #: "redis" or "sqlite"
    kind: str
    #: messages waiting for a worker
    pending: int
    #: worker processes alive now (0: analyses wait until one starts)
    workers_alive: int
    #: those workers, with the jobs they run (to an admin key only)
    workers: list[WorkerOut]
    #: result cache entries and bytes
    results: int
    result_bytes: int


# audits
#: whitespace as Python's ``\s`` reads it, spelled out: JSON Schema's ``\s`` (ECMA 262) is
#: another set, so a pattern written with it would document something else than it checks
_WS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WebhookUrl = Annotated[str, msgspec.Meta(
    min_length=8, max_length=2048, pattern=rf"^https?://[^{_WS}/?#]+[^{_WS}]*$(?!\n)",
    description="http(s) URL the finished runs are POSTed to")]
WebhookSecret = Annotated[str, msgspec.Meta(
    min_length=16, max_length=256, pattern=r"^[\x21-\x7e]+$(?!\n)",
    description="HMAC key for X-Castlegate-Signature (16-256 printable characters);"
                " castlegate generates one when left out")]
#: kinds and engines are checked by ``AnalysisParams`` (422 naming the field); the schema
#: states them (extra_json_schema: the document only)
_Kind = Annotated[str, msgspec.Meta(title="Kind", extra_json_schema={"enum": [k.value for k in Kind]})]
Layers = Annotated[list[_Kind], msgspec.Meta(min_length=1, max_length=6)]
Engine = Annotated[str, msgspec.Meta(title="Engine", extra_json_schema={"enum": list(ENGINES)})]


class WebhookIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: WebhookUrl
    secret: WebhookSecret | None = None


class AuditCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A schedule: ``every`` (ISO 8601 duration, e.g. ``P1D``) or ``cron`` (five fields,
    e.g. ``0 6 * * 1``), read in ``timezone``."""

    account: Id
    every: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    cron: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = "UTC"
    #: first slot of an ``every`` schedule (default: now, so the first run is at once)
    start: Timestamp | None = None
    layers: Layers | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    engine: Engine = "fast"
    resolution: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    webhook: WebhookIn | None = None
    paused: bool = False


class AuditPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields left out keep their value. Setting ``every`` clears ``cron`` and the other
    way round; ``webhook: null`` removes the webhook; a webhook without ``secret`` keeps
    the current secret (or gets a generated one)."""

    account: Id | msgspec.UnsetType = msgspec.UNSET
    every: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    cron: Annotated[str, msgspec.Meta(max_length=128)] | msgspec.UnsetType = msgspec.UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    start: Timestamp | None | msgspec.UnsetType = msgspec.UNSET
    layers: Layers | msgspec.UnsetType = msgspec.UNSET
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | msgspec.UnsetType = msgspec.UNSET
    engine: Engine | msgspec.UnsetType = msgspec.UNSET
    resolution: Annotated[float, msgspec.Meta(gt=0, le=100)] | msgspec.UnsetType = msgspec.UNSET
    webhook: WebhookIn | None | msgspec.UnsetType = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET


class WebhookOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    url: str
    #: present once: in the answer of the request that generated it
    secret: str | None = None


class RunSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    slot: datetime
    status: str
    finished_at: datetime | None


class AuditLinks(msgspec.Struct, frozen=True, kw_only=True):
    self: str
    runs: str
    trend: str
    #: POST: run now
    run: str
    deliveries: str


class AuditOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    account: str
    every: str | None
    cron: str | None
    timezone: str
    start: datetime | None
    #: the schedule in words
    schedule: str
    layers: list[str]
    seed: int
    engine: str
    resolution: float
    webhook: WebhookOut | None
    paused: bool
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None
    last_run: RunSummary | None
    links: AuditLinks


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    run: str
    url: str
    event: str
    #: pending (more attempts to come), delivered, or failed (gave up)
    status: str
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None
    created_at: datetime



class AuditsPage(msgspec.Struct, frozen=True, kw_only=True):
    #: oldest first
    items: list[AuditOut]
    #: ``after`` for the next page; null on the last
    next: str | None


class DeliveriesPage(msgspec.Struct, frozen=True, kw_only=True):
    #: newest first
    items: list[DeliveryOut]
    #: ``after`` for the next (older) page; null on the last
    next: str | None
