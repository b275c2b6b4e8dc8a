"""The JobStore port: analysis jobs, their leases, the result cache and the worker
roll-call, in one place that every API replica and every worker shares.

The contract tests in ``tests/contract/test_job_store.py`` define it; two adapters pass
them: ``sqlite`` (a file beside the graph store: the embedded default) and ``redis``
(production). Rules that make many processes safe on one store:

* one live job per key: of concurrent ``submit`` calls for one key exactly one creates a
  job; the others get that job back (so 20 identical requests across replicas start one);
* a running job is worked on only by the holder of its unexpired lease; a worker that
  dies lets the lease run out and ``requeue`` hands the job back to the queue (or fails it
  after too many attempts), decided by one compare-and-set, so two janitors never both
  re-enqueue it;
* a cancelled job stays cancelled: ``claim``, ``heartbeat`` and ``finish`` never revive it;
  ``heartbeat`` tells the worker, which stops;
* every table is bounded: results by bytes (least recently used evicted first), finished
  jobs by count and age (``prune``).

Times: ``now`` arguments are tz-aware datetimes; leases are epoch seconds (floats), so the
caller's clock decides (tests move it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec

from graph.errors import NotFound
from graph.jobs.model import Job

__all__ = ["JobStore", "JobNotFound", "WorkerInfo", "DEFAULT_MAX_RESULT_BYTES"]

#: default bound of the result cache (bytes of stored answers and stage results)
DEFAULT_MAX_RESULT_BYTES = 1 << 30


class JobNotFound(NotFound):
    def __init__(self, job: str) -> None:
        super().__init__("analysis job", job)


class WorkerInfo(msgspec.Struct, kw_only=True):
    """One worker process as it reports itself (``castlegate worker``, or the one
    ``castlegate serve`` starts)."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    #: job ids it is running now
    running: list[str] = []
    #: how many jobs it runs at once
    concurrency: int = 1
    #: its audit scheduler's clock at the last completed tick (None: it runs none)
    last_tick: datetime | None = None


@runtime_checkable
class JobStore(Protocol):
    #: "sqlite" or "redis"; reported by /ready
    kind: str

    def close(self) -> None: ...

    # jobs ------------------------------------------------------------------------------
    def submit(self, job: Job) -> tuple[Job, bool]:
        """Stores ``job`` (status queued) and returns ``(job, True)``, unless a job with
        the same ``key`` is queued, running, or done with its result still stored
        (``has_result(result_key)``): then ``(that job, False)``. A failed or cancelled
        job of the key does not block a new one. Atomic across processes."""

    def set_queue_id(self, job_id: str, queue_id: str) -> None:
        """Records the task-queue message that carries the job."""

    def get(self, job_id: str) -> Job:
        """Raises ``JobNotFound``."""

    def list(self, *, graph: str | None = None, status: str | None = None, limit: int = 50,
             after: str | None = None) -> list[Job]:
        """Newest first (``created_at``, then ``id``), filtered by graph and status;
        ``after`` (a job id from the previous page) continues after that job."""

    def claim(self, job_id: str, owner: str, lease_until: float, now: datetime) -> Job | None:
        """A queued job becomes ``running`` under ``owner`` until ``lease_until``;
        ``attempts`` + 1, ``started_at`` = now. None (and nothing changed) when the job is
        not queued (cancelled, finished, or taken by another worker) or does not exist."""

    def heartbeat(self, job_id: str, owner: str, lease_until: float, *, stage: str | None = None,
                  progress: float | None = None) -> str:
        """While ``owner`` holds the running job: extends its lease and records the stage
        and progress given. Always returns the job's current status ("cancelled" tells the
        worker to stop; "gone" when the job no longer exists)."""

    def finish(self, job_id: str, owner: str, status: str, *, now: datetime, error: str | None = None,
               error_kind: str | None = None, result_key: str | None = None,
               graph_version: str | None = None) -> bool:
        """Final state (done, failed or cancelled) written by the lease holder: the lease
        is cleared, ``finished_at`` = now, progress 1.0 when done. False (nothing
        written) when ``owner`` no longer holds the running job."""

    def cancel(self, job_id: str, reason: str, now: datetime) -> Job:
        """A queued or running job becomes ``cancelled`` (``error`` = reason,
        ``error_kind`` = "cancelled", ``finished_at`` = now; the lease is kept so the
        worker's next heartbeat sees it). A finished job is returned unchanged. Raises
        ``JobNotFound``."""

    def cancel_graph(self, graph: str, reason: str, now: datetime) -> list[Job]:
        """``cancel`` for every queued or running job of ``graph``; returns them."""

    def expired(self, now: float) -> list[Job]:
        """Running jobs whose lease ended before ``now`` (epoch seconds)."""

    def requeue(self, job_id: str, owner: str, *, max_attempts: int, now: datetime) -> Job | None:
        """If the job is still running under ``owner`` with an expired lease: back to
        ``queued`` (owner and lease cleared, stage kept), or, when ``attempts`` reached
        ``max_attempts``, ``failed`` with ``error_kind`` "worker_lost". Returns the
        changed job; None when another caller got there first or the job moved on."""

    def active_count(self, graph: str) -> int:
        """Queued plus running jobs of ``graph``."""

    def prune(self, now: datetime, *, keep_seconds: float, keep_max: int) -> int:
        """Deletes finished jobs that finished more than ``keep_seconds`` ago, and the
        oldest finished ones beyond ``keep_max`` in all; returns how many."""

    # results ---------------------------------------------------------------------------
    def put_result(self, key: str, graph: str, data: bytes) -> bool:
        """Stores ``data`` under ``key`` (replacing it), then evicts least recently used
        results until the total is within the store's byte bound. False (nothing stored)
        when ``data`` alone is larger than half the bound."""

    def get_result(self, key: str) -> bytes | None:
        """The stored bytes, or None; a hit counts as a use for eviction (recency may be
        kept coarsely, to the minute, where a write per read would cost too much)."""

    def has_result(self, key: str) -> bool: ...

    def drop_graph(self, graph: str) -> int:
        """Removes every result stored for ``graph``; returns how many."""

    def result_usage(self) -> tuple[int, int]:
        """(entries, bytes) of the result cache now."""

    # workers ---------------------------------------------------------------------------
    def beat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        """Records the worker as alive for ``ttl`` seconds from its ``last_seen``."""

    def drop_worker(self, worker_id: str) -> None: ...

    def workers(self, now: datetime) -> list[WorkerInfo]:
        """Workers seen alive within their ttl, oldest first."""
