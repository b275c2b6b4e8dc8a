"""What an analysis job is, as the job stores keep it."""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["Job", "JobStatus", "ErrorKind", "ACTIVE", "FINISHED"]


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: states a job can still leave
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
#: states a job never leaves
FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class ErrorKind:
    """Why a job did not finish ``done``: one word a client can act on (the API maps
    ``not_found`` to 404, ``invalid`` to 422, ``unavailable`` to 503), with the one-line
    ``error`` beside it."""

    NOT_FOUND = "not_found"
    INVALID = "invalid"
    #: the analysis raised: a bug (the stack is in the worker's log)
    FAILED = "failed"
    #: a store did not answer while the analysis read it (asking again later will do)
    UNAVAILABLE = "unavailable"
    #: ran past the per-job time limit and was stopped
    TIME_LIMIT = "time_limit"
    #: the workers running it died too often
    WORKER_LOST = "worker_lost"
    #: a client cancelled it, or its graph was deleted
    CANCELLED = "cancelled"


class Job(msgspec.Struct, kw_only=True):
    id: str
    graph: str
    #: what the job produces: the cache key of its answer. At most one job per key is
    #: queued, running or done (with its result still stored) at any time.
    key: str
    #: the answer asked for: an analysis endpoint ("communities", "castles", ...) or
    #: "analysis" (every graph-wide stage, ``POST /analyses``)
    target: str
    #: ``AnalysisParams`` as builtins (msgspec.to_builtins)
    params: dict
    #: the answer's own arguments beyond the analysis parameters (e.g. account, limit)
    args: dict = {}
    status: str = JobStatus.QUEUED
    #: the stage running now, and the fraction of stages done
    stage: str | None = None
    progress: float = 0.0
    #: one line, never a traceback
    error: str | None = None
    error_kind: str | None = None
    #: the graph version asked for at submission; the version actually read once done
    graph_version: str | None = None
    #: where the answer is stored (``JobStore.get_result``), once done
    result_key: str | None = None
    #: the worker holding the job while it runs, and until when (epoch seconds)
    owner: str | None = None
    lease_until: float | None = None
    #: executions started (more than one only when a worker died during a run)
    attempts: int = 0
    #: the task-queue message id (to revoke it when the job is cancelled while queued)
    queue_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
