"""Asking for an analysis answer: from the result cache, or through a job on the queue.

The request path never computes. It looks the answer up under its key (graph version,
parameters, arguments); on a miss it submits a job (the job store makes identical requests,
from any replica, share one job) and waits up to ``CASTLEGATE_ANSWER_WAIT`` seconds for the
worker's answer: a small graph is answered in that time, a large one gets 202 and the job.

An answer's key names one graph version's answer to one question, so an answer never goes
stale under its key: each API process keeps the answers it served last in its own memory
(``HotAnswers``, bounded by ``CASTLEGATE_HOT_ANSWERS_BYTES``), and the key is the answer's
``ETag`` (a client that has it gets 304 without the body).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Mapping, NamedTuple

from graph.analysis.answers import TARGETS
from graph.analysis.params import AnalysisParams
from graph.errors import CastlegateError, FieldError, InvalidInput, NotFound, StoreUnavailable
from graph.jobs.model import ACTIVE, Job, JobStatus
from graph.jobs.port import JobStore
from graph.store.port import GraphStore
from graph.usecases.analyse import answer_key

__all__ = ["Analyses", "Answered", "AnalysisFailed", "HotAnswers", "JobGone", "TooManyJobs", "Versions", "etag_of"]

#: seconds between looks at a job the request waits for
_POLL = 0.05


class Answered(NamedTuple):
    #: the answer's JSON, and the graph version it was computed on
    body: bytes
    graph_version: str
    #: its key in the result cache: one version's answer to one question
    key: str = ""

    @property
    def etag(self) -> str:
        return etag_of(self.key)


def etag_of(key: str) -> str:
    """The ETag of the answer filed under ``key``: its digest (graph, version, question)."""
    return '"' + key.rsplit(":", 1)[-1] + '"'


class HotAnswers:
    """The answers this process served last, by key, at most ``max_bytes`` of them (the
    least recently served go first). Keys name immutable answers: nothing is invalidated."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:  # a few huge answers must not push out all others
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = body
            self.bytes += len(body)
            while self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= len(old)


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


class Versions:
    """The graph versions this process read, kept while the store's ``change_token`` stays
    the same (any commit, by any process, moves it and empties the table): a cached answer
    is then found without a store round trip. A store that cannot tell cheaply (Neo4j) is
    asked every time."""

    #: graphs remembered at most between two commits
    MAX = 10_000

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._token: int | None = None
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    def known(self, graph: str) -> str | None:
        """The graph's current version if this process knows it (no query of the data)."""
        token = self.store.change_token()
        if token is None:
            return None
        with self._lock:
            if token != self._token:
                self._versions.clear()
                self._token = token
            return self._versions.get(graph)

    def get(self, graph: str) -> str:
        """The graph's current version. Raises ``GraphNotFound``."""
        token = self.store.change_token()
        if token is not None:
            with self._lock:
                if token == self._token and graph in self._versions:
                    return self._versions[graph]
        # the token is read before the version: a commit in between moves the token on, so
        # a version read before that commit is never kept under the newer token
        version = self.store.get_graph(graph).version
        if token is not None:
            with self._lock:
                if token != self._token:
                    self._versions.clear()
                    self._token = token
                if len(self._versions) < self.MAX:
                    self._versions[graph] = version
        return version


class Analyses:
    def __init__(self, store: GraphStore, jobs: JobStore, enqueue, *, wait: float = 2.0,
                 max_null_samples: int = 100, max_active: int = 50, hot_bytes: int = 64 << 20) -> None:
        self.store = store
        self.jobs = jobs
        #: ``enqueue(job_id) -> message id`` (``service.queue.Queue.enqueue``)
        self.enqueue = enqueue
        self.wait = wait
        self.max_null_samples = max_null_samples
        #: queued plus running jobs one graph may have (its clients cannot starve the others)
        self.max_active = max_active
        self.hot = HotAnswers(hot_bytes)
        self.versions = Versions(store)

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
        version = self.versions.get(graph)
        key = answer_key(graph, version, target, params, args)
        body = self.hot.get(key)
        if body is not None:
            return Answered(body, version, key)
        body = self.jobs.get_result(key)
        if body is not None:
            self.hot.put(key, body)
            return Answered(body, version, key)
        job = self.submit(graph, version, params, target, args, key)
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        pause = _POLL
        while True:
            if job.status == JobStatus.DONE:
                body = self.jobs.get_result(job.result_key or key)
                return job if body is None else Answered(body, job.graph_version or version, job.result_key or key)
            if job.status not in ACTIVE:
                raise AnalysisFailed(job)
            if time.monotonic() >= deadline:
                return job
            time.sleep(pause)
            # a request waits in short steps; a scheduled run may wait for an hour
            pause = min(1.0, pause * 1.25)
            job = self.jobs.get(job.id)

    def question(self, params: AnalysisParams, target: str,
                 args: Mapping[str, Any] | None = None) -> tuple[AnalysisParams, dict]:
        """The parameters and arguments as the answer's key takes them, checked."""
        return self.check(params), TARGETS[target].arguments(args or {})

    def hot_answer(self, graph: str, params: AnalysisParams, target: str,
                   args: Mapping[str, Any] | None = None) -> Answered | None:
        """The answer when this process holds it for the graph's current version, found
        without a store round trip or a wait (the event loop may call it); else None:
        ask ``answer``. Raises for invalid parameters, as ``answer`` does."""
        params, args = self.question(params, target, args)
        version = self.versions.known(graph)
        if version is None:
            return None
        key = answer_key(graph, version, target, params, args)
        body = self.hot.get(key)
        return None if body is None else Answered(body, version, key)

    def start(self, graph: str, params: AnalysisParams, target: str,
              args: Mapping[str, Any] | None = None) -> Job:
        """The job for this answer on the graph's current version: an identical job
        queued, running or done is returned instead of a new one."""
        params = self.check(params)
        args = TARGETS[target].arguments(args or {})
        version = self.versions.get(graph)
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
