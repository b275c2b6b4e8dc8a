"""The JobStore contract: jobs, leases, the result cache and the worker roll-call behave
the same on sqlite and Redis. Times are passed in explicitly (and result recency reads the
store's ``clock``, which a test may replace): nothing here waits for a real clock.

Every test gets a store of its own (a fresh sqlite file, or a fresh Redis prefix)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import traceback
import uuid
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from graph.jobs.model import ACTIVE, ErrorKind, Job, JobStatus
from graph.jobs.port import JobNotFound, JobStore, WorkerInfo

T0 = datetime(2026, 1, 5, 6, 0, 0, 123456, tzinfo=timezone.utc)
S = timedelta(seconds=1)
TS = T0.timestamp()


def make_job(graph: str = "g1", key: str | None = None, *, at: datetime = T0, **kw) -> Job:
    return Job(id=uuid.uuid4().hex[:16], graph=graph, key=key or f"k-{uuid.uuid4().hex[:8]}",
               target="communities", params={"layers": ["reply", "follow"], "seed": 7,
                                             "resolution": 1.0, "empty": []},
               created_at=at, **kw)


def running(store, graph: str = "g1", owner: str = "w1", lease: float = TS + 30, **kw) -> Job:
    job, created = store.submit(make_job(graph, **kw))
    assert created
    claimed = store.claim(job.id, owner, lease, T0)
    assert claimed is not None
    return claimed


def done(store, graph: str = "g1", *, result: bytes | None = b"answer", **kw) -> Job:
    job = running(store, graph, **kw)
    rk = None
    if result is not None:
        rk = f"r-{job.key}"
        assert store.put_result(rk, graph, result)
    assert store.finish(job.id, "w1", JobStatus.DONE, now=T0 + S, result_key=rk)
    return store.get(job.id)


def threads(n: int, fn) -> list:
    """Runs ``fn(i)`` in ``n`` threads released together; their results, in order."""
    barrier = threading.Barrier(n)
    out: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except BaseException as e:  # reported in the test's thread
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


class Clock:
    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def tick(self, seconds: float = 1.0) -> None:
        self.at += seconds


# --- jobs ---------------------------------------------------------------------------------

def test_is_a_job_store(job_store):
    assert isinstance(job_store, JobStore)
    assert job_store.kind in ("sqlite", "redis")


def test_submit_and_get_round_trip_every_field(job_store):
    job = make_job("g-ü", args={"account": "ålice", "limit": 10, "nested": {"a": [1, 2.5, None]}},
                   graph_version="v7")
    assert job_store.submit(job) == (job, True)
    assert job_store.get(job.id) == job
    with pytest.raises(JobNotFound):
        job_store.get("no-such-job")

    job_store.set_queue_id(job.id, "q-1")
    claimed = job_store.claim(job.id, "w1", TS + 30.25, T0 + S)
    expected = msgspec.structs.replace(job, status="running", owner="w1", lease_until=TS + 30.25,
                                       attempts=1, started_at=T0 + S, queue_id="q-1")
    assert claimed == expected and job_store.get(job.id) == expected
    assert job_store.heartbeat(job.id, "w1", TS + 60.5, stage="louvain", progress=0.25) == "running"
    assert job_store.finish(job.id, "w1", "done", now=T0 + 2 * S, result_key="rk",
                            graph_version="v8")
    assert job_store.get(job.id) == msgspec.structs.replace(
        expected, status="done", stage="louvain", progress=1.0, lease_until=None,
        finished_at=T0 + 2 * S, result_key="rk", graph_version="v8")
    with pytest.raises(JobNotFound):
        job_store.set_queue_id("no-such-job", "q-2")


def test_submit_refuses_a_job_not_queued_or_naive_times(job_store):
    with pytest.raises(ValueError):
        job_store.submit(make_job(status="running"))
    with pytest.raises(ValueError):
        job_store.submit(make_job(at=datetime(2026, 1, 5)))


def test_one_live_job_per_key(job_store):
    a, created = job_store.submit(make_job(key="k1"))
    assert created
    b = make_job(key="k1", at=T0 + S)
    assert job_store.submit(b) == (a, False)
    with pytest.raises(JobNotFound):
        job_store.get(b.id)
    # running still blocks
    job_store.claim(a.id, "w1", TS + 30, T0)
    again, created = job_store.submit(make_job(key="k1"))
    assert (again.id, again.status, created) == (a.id, "running", False)
    # another key is another job
    assert job_store.submit(make_job(key="k2"))[1]


def test_concurrent_submits_of_one_key_create_one_job(job_store):
    key = f"k-{uuid.uuid4().hex}"
    jobs = [make_job(key=key, at=T0 + i * S) for i in range(20)]
    results = threads(20, lambda i: job_store.submit(jobs[i]))
    created = [j for j, c in results if c]
    assert len(created) == 1
    assert {j.id for j, _ in results} == {created[0].id}
    assert [j.id for j in job_store.list(graph="g1")] == [created[0].id]


def _submit_from_process(spec, key, n, barrier, out):
    from tests.conftest import open_job_store

    try:
        store = open_job_store(spec)
        try:
            store.active_count("warm-up")  # connected before the race starts
            barrier.wait(60)
            jobs = [make_job(key=key) for _ in range(n)]
            res = threads(n, lambda i: store.submit(jobs[i]))
            out.put([(j.id, c) for j, c in res])
        finally:
            store.close()
    except BaseException:
        out.put(traceback.format_exc())


def test_concurrent_submits_from_two_processes_create_one_job(job_store_factory):
    store = job_store_factory()
    key = f"k-{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_submit_from_process,
                         args=(job_store_factory.spec, key, 10, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        parts = [out.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
    for part in parts:
        assert isinstance(part, list), part
    results = parts[0] + parts[1]
    assert len(results) == 20
    created = [i for i, c in results if c]
    assert len(created) == 1
    assert {i for i, _ in results} == set(created)
    assert [j.id for j in store.list()] == created


def test_done_job_blocks_only_while_its_result_is_stored(job_store):
    a = done(job_store, key="k1")
    assert job_store.has_result(a.result_key)
    assert job_store.submit(make_job(key="k1")) == (a, False)
    # the result goes (here: its graph's results dropped): the key is free again
    assert job_store.drop_graph("g1") == 1
    b, created = job_store.submit(make_job(key="k1"))
    assert created and b.id != a.id
    # a done job that stored no result never blocks
    c = done(job_store, key="k2", result=None)
    assert c.result_key is None
    assert job_store.submit(make_job(key="k2"))[1]


def test_done_job_whose_result_was_evicted_no_longer_blocks(job_store_factory):
    store = job_store_factory(max_result_bytes=1000)
    a = done(store, key="k1", result=b"a" * 400)
    assert store.submit(make_job(key="k1"))[1] is False
    assert store.put_result("other-1", "g2", b"b" * 400)
    assert store.put_result("other-2", "g2", b"c" * 400)  # evicts a's result
    assert not store.has_result(a.result_key)
    b, created = store.submit(make_job(key="k1"))
    assert created and b.id != a.id


def test_failed_and_cancelled_jobs_do_not_block(job_store):
    a = running(job_store, key="k1")
    assert job_store.finish(a.id, "w1", "failed", now=T0 + S, error="boom",
                            error_kind=ErrorKind.FAILED)
    b, created = job_store.submit(make_job(key="k1"))
    assert created
    job_store.cancel(b.id, "no longer needed", T0 + S)
    c, created = job_store.submit(make_job(key="k1"))
    assert created and c.id not in (a.id, b.id)
    # and the new one blocks in turn
    assert job_store.submit(make_job(key="k1")) == (c, False)


def test_claim_takes_only_a_queued_job_once(job_store):
    job, _ = job_store.submit(make_job())
    claimed = job_store.claim(job.id, "w1", TS + 30, T0 + S)
    assert (claimed.status, claimed.owner, claimed.lease_until, claimed.attempts,
            claimed.started_at) == ("running", "w1", TS + 30, 1, T0 + S)
    assert job_store.claim(job.id, "w2", TS + 90, T0 + 2 * S) is None
    assert job_store.get(job.id) == claimed
    assert job_store.claim("no-such-job", "w1", TS + 30, T0) is None

    cancelled, _ = job_store.submit(make_job())
    job_store.cancel(cancelled.id, "stop", T0)
    before = job_store.get(cancelled.id)
    assert job_store.claim(cancelled.id, "w1", TS + 30, T0) is None
    assert job_store.get(cancelled.id) == before

    finished = done(job_store)
    assert job_store.claim(finished.id, "w1", TS + 30, T0) is None
    assert job_store.get(finished.id) == finished


def test_concurrent_claims_hand_a_job_to_one_worker(job_store):
    for _ in range(3):
        job, _ = job_store.submit(make_job())
        got = threads(10, lambda i: job_store.claim(job.id, f"w{i}", TS + 30, T0))
        winners = [g for g in got if g is not None]
        assert len(winners) == 1
        assert job_store.get(job.id).owner == winners[0].owner
        assert job_store.get(job.id).attempts == 1


def test_heartbeat_extends_only_the_holders_lease(job_store):
    job = running(job_store, lease=TS + 30)
    beat = job_store.heartbeat(job.id, "w1", TS + 60, stage="communities", progress=0.5)
    assert beat == "running"
    j = job_store.get(job.id)
    assert (j.lease_until, j.stage, j.progress) == (TS + 60, "communities", 0.5)
    # stage and progress left alone when not given
    assert job_store.heartbeat(job.id, "w1", TS + 70) == "running"
    j = job_store.get(job.id)
    assert (j.lease_until, j.stage, j.progress) == (TS + 70, "communities", 0.5)
    assert job_store.heartbeat(job.id, "w1", TS + 75, progress=0.75) == "running"
    assert (job_store.get(job.id).stage, job_store.get(job.id).progress) == ("communities", 0.75)
    # another worker: the status, and nothing changed
    before = job_store.get(job.id)
    assert job_store.heartbeat(job.id, "w2", TS + 999, stage="x", progress=0.9) == "running"
    assert job_store.get(job.id) == before

    queued, _ = job_store.submit(make_job())
    assert job_store.heartbeat(queued.id, "w1", TS + 999) == "queued"
    assert job_store.get(queued.id) == queued
    assert job_store.heartbeat("no-such-job", "w1", TS + 60) == "gone"


def test_heartbeat_after_cancel_says_cancelled(job_store):
    job = running(job_store, lease=TS + 30)
    cancelled = job_store.cancel(job.id, "client asked", T0 + S)
    assert (cancelled.owner, cancelled.lease_until) == ("w1", TS + 30)  # lease kept
    assert job_store.heartbeat(job.id, "w1", TS + 60, stage="late", progress=0.9) == "cancelled"
    assert job_store.get(job.id) == cancelled


def test_finish_only_by_the_lease_holder(job_store):
    job = running(job_store)
    before = job_store.get(job.id)
    assert not job_store.finish(job.id, "w2", "done", now=T0 + S, result_key="rk")
    assert job_store.get(job.id) == before
    assert not job_store.finish("no-such-job", "w1", "done", now=T0 + S)

    assert job_store.finish(job.id, "w1", "failed", now=T0 + 2 * S, error="boom: one line",
                            error_kind=ErrorKind.FAILED)
    j = job_store.get(job.id)
    assert (j.status, j.error, j.error_kind, j.finished_at, j.lease_until, j.progress) == (
        "failed", "boom: one line", "failed", T0 + 2 * S, None, 0.0)
    # finished is final: no second finish, by anyone
    assert not job_store.finish(job.id, "w1", "done", now=T0 + 3 * S)
    assert job_store.get(job.id) == j

    queued, _ = job_store.submit(make_job())
    assert not job_store.finish(queued.id, "w1", "done", now=T0)
    assert job_store.get(queued.id) == queued
    with pytest.raises(ValueError):
        job_store.finish(job.id, "w1", "running", now=T0)


def test_finish_after_cancel_is_refused(job_store):
    job = running(job_store)
    cancelled = job_store.cancel(job.id, "graph deleted", T0 + S)
    assert not job_store.finish(job.id, "w1", "done", now=T0 + 2 * S, result_key="rk")
    assert job_store.get(job.id) == cancelled


def test_cancel(job_store):
    queued, _ = job_store.submit(make_job())
    c = job_store.cancel(queued.id, "no longer needed", T0 + S)
    assert c == msgspec.structs.replace(queued, status="cancelled", error="no longer needed",
                                        error_kind="cancelled", finished_at=T0 + S)
    assert job_store.get(queued.id) == c
    # cancelling again, or a finished job, changes nothing
    assert job_store.cancel(queued.id, "again", T0 + 9 * S) == c
    finished = done(job_store)
    assert job_store.cancel(finished.id, "too late", T0 + 9 * S) == finished
    assert job_store.get(finished.id) == finished
    with pytest.raises(JobNotFound):
        job_store.cancel("no-such-job", "x", T0)


def test_cancelled_running_job_is_never_revived(job_store):
    job = running(job_store, lease=TS + 30)
    job_store.cancel(job.id, "stop", T0 + S)
    later = T0 + 120 * S
    assert job_store.expired(later.timestamp()) == []
    assert job_store.requeue(job.id, "w1", max_attempts=3, now=later) is None
    assert job_store.claim(job.id, "w2", TS + 300, later) is None
    assert job_store.get(job.id).status == "cancelled"


def test_cancel_graph_cancels_only_that_graphs_active_jobs(job_store):
    q, _ = job_store.submit(make_job("g1"))
    r = running(job_store, "g1")
    d = done(job_store, "g1")
    f = running(job_store, "g1")
    job_store.finish(f.id, "w1", "failed", now=T0 + S, error="x", error_kind="failed")
    f = job_store.get(f.id)
    other, _ = job_store.submit(make_job("g2"))
    assert job_store.active_count("g1") == 2

    cancelled = job_store.cancel_graph("g1", "graph deleted", T0 + 5 * S)
    assert sorted(j.id for j in cancelled) == sorted([q.id, r.id])
    for j in cancelled:
        assert (j.status, j.error, j.error_kind, j.finished_at) == (
            "cancelled", "graph deleted", "cancelled", T0 + 5 * S)
        assert job_store.get(j.id) == j
    assert job_store.get(d.id) == d and job_store.get(f.id) == f
    assert job_store.get(other.id) == other
    assert (job_store.active_count("g1"), job_store.active_count("g2")) == (0, 1)
    assert job_store.cancel_graph("g1", "again", T0 + 6 * S) == []
    assert job_store.cancel_graph("no-such-graph", "x", T0) == []


def test_expired_and_requeue(job_store):
    a = running(job_store, owner="w1", lease=TS + 30)
    b = running(job_store, owner="w2", lease=TS + 90)
    job_store.submit(make_job())
    job_store.heartbeat(a.id, "w1", TS + 30, stage="pods", progress=0.4)
    now = T0 + 60 * S
    assert [j.id for j in job_store.expired(now.timestamp())] == [a.id]
    assert {j.id for j in job_store.expired((T0 + 100 * S).timestamp())} == {a.id, b.id}

    assert job_store.requeue(a.id, "w2", max_attempts=3, now=now) is None  # not its owner
    assert job_store.requeue(b.id, "w2", max_attempts=3, now=now) is None  # lease still on
    assert job_store.get(b.id).status == "running"

    q = job_store.requeue(a.id, "w1", max_attempts=3, now=now)
    assert (q.status, q.owner, q.lease_until, q.stage, q.progress, q.attempts) == (
        "queued", None, None, "pods", 0.4, 1)
    assert job_store.get(a.id) == q
    assert job_store.expired(now.timestamp()) == []
    assert job_store.requeue(a.id, "w1", max_attempts=3, now=now) is None  # done already
    # and it can be claimed again, counting the attempt
    assert job_store.claim(a.id, "w3", TS + 120, now).attempts == 2


def test_requeue_fails_the_job_at_max_attempts(job_store):
    job = running(job_store, owner="w0", lease=TS + 10)
    for attempt in range(1, 3):
        now = T0 + (attempt * 100) * S
        back = job_store.requeue(job.id, f"w{attempt - 1}", max_attempts=3, now=now)
        assert back.status == "queued"
        again = job_store.claim(job.id, f"w{attempt}", now.timestamp() + 10, now)
        assert again.attempts == attempt + 1
    now = T0 + 1000 * S
    failed = job_store.requeue(job.id, "w2", max_attempts=3, now=now)
    assert (failed.status, failed.error_kind, failed.finished_at, failed.lease_until,
            failed.attempts) == ("failed", ErrorKind.WORKER_LOST, now, None, 3)
    assert failed.error and "\n" not in failed.error
    assert job_store.get(job.id) == failed
    assert job_store.expired(now.timestamp() + 1e6) == []
    assert job_store.active_count("g1") == 0
    # a failed job of the key does not block a new one
    assert job_store.submit(make_job(key=job.key))[1]


def test_two_janitors_requeue_each_job_once(job_store):
    jobs = [running(job_store, owner=f"w{i}", lease=TS + 10) for i in range(8)]
    now = T0 + 60 * S

    def janitor(_):
        return [j.id for e in job_store.expired(now.timestamp())
                if (j := job_store.requeue(e.id, e.owner, max_attempts=5, now=now)) is not None]

    a, b = threads(2, janitor)
    assert sorted(a + b) == sorted(j.id for j in jobs)
    assert all(job_store.get(j.id).status == "queued" for j in jobs)


def test_list_filters_and_pages_newest_first(job_store):
    jobs = []
    for i in range(7):
        at = T0 + (i // 3) * S  # three share each created_at: the id orders them
        jobs.append(job_store.submit(make_job("g1", at=at))[0])
    for i in range(3):
        jobs.append(job_store.submit(make_job("g2", at=T0 + i * S))[0])
    job_store.claim(jobs[1].id, "w1", TS + 30, T0)
    job_store.claim(jobs[8].id, "w1", TS + 30, T0)
    jobs = [job_store.get(j.id) for j in jobs]

    def newest(js):
        return [j.id for j in sorted(js, key=lambda j: (j.created_at, j.id), reverse=True)]

    def pages(limit, **kw):
        out, after = [], None
        while True:
            page = job_store.list(limit=limit, after=after, **kw)
            assert len(page) <= limit
            if not page:
                return out
            out += [j.id for j in page]
            after = page[-1].id

    for limit in (1, 2, 3, 50):
        assert pages(limit) == newest(jobs)
        assert pages(limit, graph="g1") == newest(j for j in jobs if j.graph == "g1")
        assert pages(limit, status="queued") == newest(j for j in jobs if j.status == "queued")
        assert pages(limit, graph="g2", status="running") == [jobs[8].id]
    assert job_store.list(limit=4) == [job_store.get(i) for i in newest(jobs)[:4]]
    assert job_store.list(graph="g3") == []
    assert job_store.list(status="done") == []
    with pytest.raises(JobNotFound):
        job_store.list(after="no-such-job")


def test_list_continues_after_a_job_that_left_the_filter(job_store):
    jobs = [job_store.submit(make_job(at=T0 + (i // 2) * S))[0] for i in range(6)]
    order = [j.id for j in sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)]
    first = job_store.list(status="queued", limit=3)
    assert [j.id for j in first] == order[:3]
    job_store.claim(first[-1].id, "w1", TS + 30, T0)  # the cursor is no longer queued
    rest = job_store.list(status="queued", limit=10, after=first[-1].id)
    assert [j.id for j in rest] == order[3:]


def test_active_count(job_store):
    assert job_store.active_count("g1") == 0
    job_store.submit(make_job("g1"))
    running(job_store, "g1")
    done(job_store, "g1")
    job_store.submit(make_job("g2"))
    assert (job_store.active_count("g1"), job_store.active_count("g2")) == (2, 1)


def test_prune_by_age_and_count_keeps_active_jobs(job_store):
    old_queued, _ = job_store.submit(make_job(at=T0 - 9000 * S))
    old_running = running(job_store)
    finished = []
    for minutes in (120, 90, 61, 30, 20, 10):  # finished that long before NOW
        j = running(job_store)
        job_store.finish(j.id, "w1", "failed" if minutes == 30 else "done",
                         now=T0 - minutes * 60 * S, error="x" if minutes == 30 else None)
        finished.append(j.id)
    cancelled, _ = job_store.submit(make_job())
    job_store.cancel(cancelled.id, "x", T0 - 60 * 60 * S)  # exactly one hour: kept
    finished.insert(3, cancelled.id)

    assert job_store.prune(T0, keep_seconds=3600, keep_max=100) == 3
    for gone in finished[:3]:
        with pytest.raises(JobNotFound):
            job_store.get(gone)
    assert [job_store.get(i).id for i in finished[3:]] == finished[3:]

    # by count: the newest 2 finished stay
    assert job_store.prune(T0, keep_seconds=1e9, keep_max=2) == 2
    for gone in finished[3:5]:
        with pytest.raises(JobNotFound):
            job_store.get(gone)
    assert {job_store.get(i).id for i in finished[5:]} == set(finished[5:])
    assert job_store.get(old_queued.id).status == "queued"
    assert job_store.get(old_running.id).status == "running"
    assert job_store.prune(T0, keep_seconds=0, keep_max=0) == 2
    assert {j.status for j in job_store.list()} == set(ACTIVE)
    assert job_store.prune(T0, keep_seconds=0, keep_max=0) == 0


def test_pruned_done_job_no_longer_blocks_its_key(job_store):
    a = done(job_store, key="k1")
    assert job_store.prune(T0 + 10 * S, keep_seconds=0, keep_max=0) == 1
    b, created = job_store.submit(make_job(key="k1"))
    assert created and b.id != a.id


# --- results ------------------------------------------------------------------------------

def test_results_put_get_replace_and_usage(job_store):
    assert job_store.result_usage() == (0, 0)
    assert job_store.get_result("r1") is None and not job_store.has_result("r1")
    assert job_store.put_result("r1", "g1", b"\x00abc\xff")
    assert job_store.put_result("r2", "g1", b"")
    assert job_store.get_result("r1") == b"\x00abc\xff" and job_store.has_result("r1")
    assert job_store.get_result("r2") == b"" and job_store.has_result("r2")
    assert job_store.result_usage() == (2, 5)
    assert job_store.put_result("r1", "g1", b"0123456789")  # replaced
    assert job_store.get_result("r1") == b"0123456789"
    assert job_store.result_usage() == (2, 10)


def test_drop_graph_removes_only_that_graphs_results(job_store):
    job_store.put_result("a1", "ga", b"x" * 10)
    job_store.put_result("a2", "ga", b"x" * 20)
    job_store.put_result("b1", "gb", b"y" * 5)
    job_store.put_result("moved", "ga", b"z" * 3)
    job_store.put_result("moved", "gb", b"z" * 4)  # replaced under another graph
    assert job_store.drop_graph("ga") == 2
    assert [job_store.has_result(k) for k in ("a1", "a2", "b1", "moved")] == [
        False, False, True, True]
    assert job_store.result_usage() == (2, 9)
    assert job_store.drop_graph("ga") == 0
    assert job_store.drop_graph("gb") == 2
    assert job_store.result_usage() == (0, 0)


def test_put_result_evicts_least_recently_used_by_bytes(job_store_factory):
    clock = Clock()
    store = job_store_factory(max_result_bytes=1000)
    store.clock = clock
    for k in "abc":
        assert store.put_result(k, "g1", k.encode() * 300)
        clock.tick()
    clock.tick(120)  # past any coarse recency
    assert store.get_result("a") == b"a" * 300  # a is now the most recently used
    clock.tick()
    assert store.put_result("d", "g1", b"d" * 300)  # 1200 > 1000: b goes
    clock.tick()
    assert [store.has_result(k) for k in "abcd"] == [True, False, True, True]
    assert store.result_usage() == (3, 900)
    assert store.put_result("e", "g1", b"e" * 300)  # c goes
    clock.tick()
    assert [store.has_result(k) for k in "abcde"] == [True, False, False, True, True]
    assert store.put_result("f", "g1", b"f" * 200)  # a goes: 1100 -> 800
    assert [store.has_result(k) for k in "adef"] == [False, True, True, True]
    assert store.result_usage() == (3, 800)
    clock.tick(120)
    assert store.get_result("f") == b"f" * 200
    clock.tick()
    assert store.put_result("g", "g1", b"g" * 500)  # 1300: d, the least recently used, goes
    assert [store.has_result(k) for k in "defg"] == [False, True, True, True]
    assert store.result_usage() == (3, 1000)
    clock.tick()
    assert store.put_result("h", "g1", b"h" * 500)  # 1500: several go at once (e, then f)
    assert [store.has_result(k) for k in "efgh"] == [False, False, True, True]
    entries, size = store.result_usage()
    assert (entries, size) == (2, 1000) and size <= 1000
    assert store.get_result("d") is None


def test_result_larger_than_half_the_bound_is_refused(job_store_factory):
    store = job_store_factory(max_result_bytes=1000)
    store.put_result("small", "g1", b"s" * 100)
    assert not store.put_result("big", "g1", b"b" * 501)
    assert not store.has_result("big") and store.result_usage() == (1, 100)
    assert store.put_result("half", "g1", b"h" * 500)
    assert store.result_usage() == (2, 600)
    # a refused replacement leaves the old value
    assert not store.put_result("half", "g1", b"h" * 501)
    assert store.get_result("half") == b"h" * 500


def test_result_usage_is_shared_by_every_handle(job_store_factory):
    a, b = job_store_factory(max_result_bytes=1000), job_store_factory(max_result_bytes=1000)
    threads(8, lambda i: (a if i % 2 else b).put_result(f"r{i}", "g1", b"x" * 200))
    entries, size = a.result_usage()
    assert b.result_usage() == (entries, size)
    assert size <= 1000 and size == 200 * entries
    assert sum(a.has_result(f"r{i}") for i in range(8)) == entries == 5


# --- workers ------------------------------------------------------------------------------

def test_workers_roll_call(job_store):
    now = datetime.now(timezone.utc)
    w1 = WorkerInfo(id="w1", host="h1", pid=11, started_at=now - 100 * S, last_seen=now,
                    concurrency=2)
    w2 = WorkerInfo(id="w2", host="h2", pid=22, started_at=now - 200 * S, last_seen=now)
    job_store.beat_worker(w1, ttl=60)
    job_store.beat_worker(w2, ttl=30)
    assert job_store.workers(now + 10 * S) == [w2, w1]  # oldest first
    w1b = msgspec.structs.replace(w1, last_seen=now + 5 * S, running=["j1", "j2"])
    job_store.beat_worker(w1b, ttl=60)
    assert job_store.workers(now + 10 * S) == [w2, w1b]
    assert job_store.workers(now + 45 * S) == [w1b]  # w2's ttl ran out
    assert job_store.workers(now + 70 * S) == []
    job_store.drop_worker("w1")
    assert job_store.workers(now) == [w2]
    job_store.drop_worker("no-such-worker")
    job_store.drop_worker("w2")
    assert job_store.workers(now) == []


# --- adapter specifics --------------------------------------------------------------------

#: adapter-specific tests run on their adapter only (not skipped on the other)
sqlite_only = pytest.mark.parametrize("job_store_factory", ["sqlite"], indirect=True)
redis_only = pytest.mark.parametrize("job_store_factory", [pytest.param("redis", marks=pytest.mark.redis)],
                                     indirect=True)


@sqlite_only
def test_sqlite_file_is_private(job_store):
    job_store.submit(make_job())
    for suffix in ("", "-wal", "-shm"):
        p = str(job_store.path) + suffix
        if os.path.exists(p):
            assert os.stat(p).st_mode & 0o777 == 0o600, p


def _open_fds(path) -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@sqlite_only
def test_sqlite_connections_of_finished_threads_do_not_pile_up(job_store):
    """Connections are checked out per call, so what stays open is bounded by how many
    calls ran at once, not by how many threads ever called. (SQLite itself keeps the fd of
    a closed connection open while other connections of the process hold locks on the
    file, and reuses it for the next open: the fd count follows peak concurrency.)"""
    path = job_store.path.resolve()

    def work(i):
        job_store.submit(make_job())
        job_store.list(limit=1)
        job_store.get_result("x")

    threads(16, work)
    peak = _open_fds(path)
    assert 1 <= peak <= 16
    for _ in range(5):  # 80 more threads, all finished
        threads(16, work)
    assert _open_fds(path) <= 16  # bounded by the calls running at once (16 threads a round)
    job_store.close()
    assert _open_fds(path) == 0


@sqlite_only
def test_sqlite_reads_refresh_recency_at_most_once_a_minute(job_store):
    clock = Clock(1000.0)
    job_store.clock = clock
    job_store.put_result("r", "g1", b"x")

    def used_at():
        with sqlite3.connect(job_store.path) as db:
            return db.execute("SELECT used_at FROM results WHERE key = 'r'").fetchone()[0]

    clock.tick(59)
    assert job_store.get_result("r") == b"x" and used_at() == 1000.0
    clock.tick(1)
    assert job_store.get_result("r") == b"x" and used_at() == 1060.0


@redis_only
def test_redis_keeps_every_key_under_its_prefix(job_store_factory):
    import redis

    store = job_store_factory()
    r = redis.Redis.from_url(job_store_factory.location)
    other_prefix = f"ct-{uuid.uuid4().hex[:12]}:"
    other = job_store_factory.__class__("redis", job_store_factory.location, other_prefix)()
    try:
        before = set(r.scan_iter(count=1000))
        done(store, key="k1")
        q, _ = store.submit(make_job())
        store.cancel(q.id, "x", T0)
        store.beat_worker(WorkerInfo(id="w", host="h", pid=1, started_at=T0,
                                     last_seen=datetime.now(timezone.utc)), ttl=60)
        store.put_result("plain", "g1", b"1")
        new = set(r.scan_iter(count=1000)) - before
        assert new and all(k.startswith(b"ct-") for k in new)
        mine = {k for k in new if k.startswith(store.prefix.encode())}
        assert mine
        # results carry no TTL of their own: eviction is the store's, by bytes
        assert r.ttl(f"{store.prefix}result:plain") == -1
        # the other deployment sees none of it
        assert other.list() == [] and other.result_usage() == (0, 0)
        assert not other.has_result("plain") and other.workers(datetime.now(timezone.utc)) == []
        assert other.submit(make_job(key="k1"))[1]
        assert [j.key for j in store.list(status="queued")] == []
    finally:
        other.close()
        keys = list(r.scan_iter(match=f"{other_prefix}*"))
        if keys:
            r.delete(*keys)
        r.close()


@redis_only
def test_redis_unreachable_is_store_unavailable(job_store):
    from graph.errors import StoreUnavailable
    from graph.jobs.redis import RedisJobStore
    from tests.conftest import free_port

    gone = RedisJobStore(f"redis://127.0.0.1:{free_port()}/0", prefix=job_store.prefix)
    try:
        with pytest.raises(StoreUnavailable):
            gone.get("x")
        with pytest.raises(StoreUnavailable):
            gone.submit(make_job())
    finally:
        gone.close()
