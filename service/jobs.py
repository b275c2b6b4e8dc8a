"""Background analysis jobs and the result cache.

Results are cached per (graph, graph version, parameters): a new version (any write) makes
new entries, so nothing stale is ever served. A GET answers from the cache; on a miss a
small graph is computed in the request, a large one is handed to a job and the client gets
202 with the job's link. Jobs and cache live in this process's memory: a restart loses
them, never data (the next request recomputes).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from graph.analysis.params import AnalysisParams
from graph.analysis.pipeline import Bundle, run_analysis
from graph.errors import NotFound
from graph.store.port import GraphStore

log = logging.getLogger("castlegate.jobs")

#: Graphs with at most this many interactions are analysed inside the request on a cache
#: miss (about two seconds on two cores); larger ones go to a background job.
SYNC_MAX_INTERACTIONS = 50_000


class JobNotFound(NotFound):
    def __init__(self, job: str) -> None:
        super().__init__("analysis job", job)


@dataclass
class Job:
    id: str
    graph: str
    graph_version: str
    params: AnalysisParams
    status: str = "queued"  # queued | running | done | failed
    stage: str | None = None
    progress: float = 0.0
    error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Analyses:
    def __init__(
        self,
        store: GraphStore,
        *,
        cache_size: int = 8,
        sync_max_interactions: int = SYNC_MAX_INTERACTIONS,
        runner: Callable[..., Bundle] = run_analysis,
    ) -> None:
        self.store = store
        self.sync_max_interactions = sync_max_interactions
        self._run = runner
        self._cache: OrderedDict[tuple, Bundle] = OrderedDict()
        self._cache_size = cache_size
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[tuple, Job] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        # one analysis at a time: on two cores a second would only slow both down
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        #: pre-encoded answers per (cache key, endpoint, arguments): a cached read is a
        #: dictionary lookup, not a re-serialisation
        self.encoded: dict[tuple, bytes] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # lookups ---------------------------------------------------------------------------
    def key(self, graph: str, version: str, params: AnalysisParams) -> tuple:
        return (graph, version, params.key())

    def cached(self, graph: str, params: AnalysisParams) -> tuple[Bundle | None, tuple, int]:
        info = self.store.get_graph(graph)
        key = self.key(graph, info.version, params)
        with self._lock:
            bundle = self._cache.get(key)
            if bundle is not None:
                self._cache.move_to_end(key)
        return bundle, key, sum(info.interactions.values())

    def get_or_start(self, graph: str, params: AnalysisParams) -> Bundle | Job:
        """The cached bundle; else computed now for a small graph; else a job."""
        bundle, key, size = self.cached(graph, params)
        if bundle is not None:
            return bundle
        if size > self.sync_max_interactions:
            return self.submit(graph, params)
        return self.compute(graph, params)

    def compute(self, graph: str, params: AnalysisParams, only: tuple[str, ...] | None = None) -> Bundle:
        """The bundle for the graph's current version, computed in this thread on a miss
        whatever the graph's size: for callers already off the request path (scheduled
        audits), which then share the cache with the API. With ``only`` (e.g.
        ``DIVERSITY_STAGES``) a full bundle is used when cached, else one with just those
        analyses is computed and cached apart (the API never answers from it)."""
        bundle, key, _ = self.cached(graph, params)
        if bundle is not None:
            return bundle
        # a partial bundle lives under its key plus the analyses it holds
        part = () if only is None else (tuple(sorted(only)),)
        with self._lock:
            key_lock = self._key_locks.setdefault(key + part, threading.Lock())
        with key_lock:  # concurrent misses on one key compute once
            bundle, key, _ = self.cached(graph, params)
            if bundle is None and part:
                with self._lock:
                    bundle = self._cache.get(key + part)
            if bundle is None:
                bundle = self._run(self.store, graph, params, **({"only": only} if part else {}))
                self._remember(self.key(graph, bundle.graph_version, params) + part, bundle)
        return bundle

    def submit(self, graph: str, params: AnalysisParams) -> Job:
        """A job for these parameters on the graph's current version; an identical job
        already queued, running or done is returned instead of starting another."""
        info = self.store.get_graph(graph)
        key = self.key(graph, info.version, params)
        with self._lock:
            existing = self._by_key.get(key)
            if existing is not None and existing.status != "failed":
                return existing
            job = Job(id=secrets.token_hex(8), graph=graph, graph_version=info.version, params=params)
            self._jobs[job.id] = job
            self._by_key[key] = job
            if key in self._cache:  # computed in a request before: nothing to run
                now = datetime.now(timezone.utc)
                job.status, job.progress, job.started_at, job.finished_at = "done", 1.0, now, now
                return job
        self._pool.submit(self._work, job, key)
        return job

    def job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def bundle_for(self, job: Job) -> Bundle | None:
        with self._lock:
            return self._cache.get(self.key(job.graph, job.graph_version, job.params))

    # internals -------------------------------------------------------------------------
    def _work(self, job: Job, key: tuple) -> None:
        job.status, job.started_at = "running", datetime.now(timezone.utc)

        def progress(stage: str, done: float) -> None:
            job.stage, job.progress = stage, round(done, 3)

        t = time.perf_counter()
        try:
            bundle = self._run(self.store, job.graph, job.params, progress=progress)
        except Exception as e:  # the job records it; the service stays up
            log.exception("analysis job failed", extra={"job": job.id, "graph": job.graph})
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"
        else:
            # the graph may have changed while we read it: file the result under the
            # version it was read at, which the job then points to
            job.graph_version = bundle.graph_version
            self._remember(self.key(job.graph, bundle.graph_version, job.params), bundle)
            job.status, job.progress = "done", 1.0
            log.info("analysis job done", extra={"job": job.id, "seconds": round(time.perf_counter() - t, 2)})
        job.finished_at = datetime.now(timezone.utc)

    def _remember(self, key: tuple, bundle: Bundle) -> None:
        with self._lock:
            self._cache[key] = bundle
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                old, _ = self._cache.popitem(last=False)
                for k in [k for k in list(self.encoded) if k[0] == old]:
                    del self.encoded[k]
