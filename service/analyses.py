"""Asking for an analysis answer: from the result cache, or through a job on the queue.

The request path never computes. It looks the answer up under its key (graph version,
parameters, arguments); on a miss it submits a job (the job store makes identical requests,
from any replica, share one job) and waits up to ``CASTLEGATE_ANSWER_WAIT`` seconds for the
worker's answer: a small graph is answered in that time, a large one gets 202 and the job.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any, Mapping, NamedTuple

from graph.analysis.answers import TARGETS
from graph.analysis.params import AnalysisParams
from graph.errors import CastlegateError, FieldError, InvalidInput, NotFound, StoreUnavailable
from graph.jobs.model import ACTIVE, Job, JobStatus
from graph.jobs.port import JobStore
from graph.store.port import GraphStore
from graph.usecases.analyse import answer_key

__all__ = ["Analyses", "Answered", "AnalysisFailed", "JobGone", "TooManyJobs"]

#: seconds between looks at a job the request waits for
_POLL = 0.05


class Answered(NamedTuple):
    #: the answer's JSON, and the graph version it was computed on
    body: bytes
    graph_version: str


class AnalysisFailed(CastlegateError):
    """The job behind an answer failed (or was cancelled) while the request waited."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.error or job.status)
        self.job = job


class TooManyJobs(CastlegateError):
    """The graph has as many queued and running jobs as it may have."""

    def __init__(self, graph: str, limit: int) -> None:
        super().__init__(f"graph {graph!r} has {limit} analyses queued or running"
                         " (CASTLEGATE_MAX_ACTIVE_JOBS_PER_GRAPH); ask again when some are done")


class JobGone(NotFound):
    """The answer a finished job filed was evicted from the cache before it was read."""

    def __init__(self, job: str) -> None:
        super().__init__("analysis result of job", job)


class Analyses:
    def __init__(self, store: GraphStore, jobs: JobStore, enqueue, *, wait: float = 2.0,
                 max_null_samples: int = 100, max_active: int = 50) -> None:
        self.store = store
        self.jobs = jobs
        #: ``enqueue(job_id) -> message id`` (``service.queue.Queue.enqueue``)
        self.enqueue = enqueue
        self.wait = wait
        self.max_null_samples = max_null_samples
        #: queued plus running jobs one graph may have (its clients cannot starve the others)
        self.max_active = max_active

    def check(self, params: AnalysisParams) -> AnalysisParams:
        """Refuses what one request may not ask of the workers."""
        if params.null_samples > self.max_null_samples:
            raise InvalidInput([FieldError("null_samples", f"at most {self.max_null_samples} per request"
                                                           " (CASTLEGATE_MAX_NULL_SAMPLES)")])
        return params.normalised()

    def answer(self, graph: str, params: AnalysisParams, target: str,
               args: Mapping[str, Any] | None = None, *, wait: float | None = None) -> Answered | Job:
        """The answer when it is cached or computed within ``wait`` seconds (default
        ``CASTLEGATE_ANSWER_WAIT``); else the job that computes it. Raises
        ``GraphNotFound``, or ``AnalysisFailed`` when the job failed or was cancelled while
        we waited (``service/errors.py`` answers by its ``error_kind``: an account not in
        the analysis is a 404)."""
        params = self.check(params)
        args = TARGETS[target].arguments(args or {})
        version = self.store.get_graph(graph).version
        key = answer_key(graph, version, target, params, args)
        body = self.jobs.get_result(key)
        if body is not None:
            return Answered(body, version)
        job = self.submit(graph, version, params, target, args, key)
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        pause = _POLL
        while True:
            if job.status == JobStatus.DONE:
                body = self.jobs.get_result(job.result_key or key)
                return job if body is None else Answered(body, job.graph_version or version)
            if job.status not in ACTIVE:
                raise AnalysisFailed(job)
            if time.monotonic() >= deadline:
                return job
            time.sleep(pause)
            # a request waits in short steps; a scheduled run may wait for an hour
            pause = min(1.0, pause * 1.25)
            job = self.jobs.get(job.id)

    def start(self, graph: str, params: AnalysisParams, target: str,
              args: Mapping[str, Any] | None = None) -> Job:
        """The job for this answer on the graph's current version: an identical job
        queued, running or done is returned instead of a new one."""
        params = self.check(params)
        args = TARGETS[target].arguments(args or {})
        version = self.store.get_graph(graph).version
        return self.submit(graph, version, params, target, args, answer_key(graph, version, target, params, args))

    def submit(self, graph: str, version: str, params: AnalysisParams, target: str, args: dict,
               key: str) -> Job:
        if self.jobs.active_count(graph) >= self.max_active:
            raise TooManyJobs(graph, self.max_active)
        job = Job(id=secrets.token_hex(8), graph=graph, key=key, target=target,
                  params=params.as_dict(), args=args, graph_version=version,
                  created_at=datetime.now(timezone.utc))
        job, created = self.jobs.submit(job)
        if created:
            try:
                self.jobs.set_queue_id(job.id, self.enqueue(job.id))
            except Exception as e:
                # a job no message carries would wait forever: cancel it, and say 503
                self.jobs.cancel(job.id, "the task queue did not take the job", datetime.now(timezone.utc))
                raise StoreUnavailable(f"the task queue did not answer: {type(e).__name__}") from e
        return job

    def result(self, job: Job) -> bytes:
        """The answer a done job filed. Raises ``JobGone`` when it was evicted since."""
        body = self.jobs.get_result(job.result_key) if job.result_key else None
        if body is None:
            raise JobGone(job.id)
        return body

    def cancel(self, job_id: str, reason: str = "cancelled by the client") -> Job:
        return self.jobs.cancel(job_id, reason, datetime.now(timezone.utc))

    def graph_deleted(self, graph: str) -> None:
        """Stops the graph's jobs and forgets its results."""
        self.jobs.cancel_graph(graph, f"graph {graph!r} was deleted", datetime.now(timezone.utc))
        self.jobs.drop_graph(graph)
