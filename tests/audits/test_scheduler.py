"""The scheduler in-process, on both stores, with a clock the test moves and real webhook
receivers on 127.0.0.1. Nothing here sleeps: each step is a ``tick`` and a ``drain``
(waiting for the work that tick started)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from graph.audits import runner
from graph.audits.clock import ManualClock
from graph.audits.model import Audit
from graph.audits.signing import verify
from graph.demo import demo_network
from graph.model import Interaction, Kind
from graph.jobs.sqlite import SqliteJobStore
from graph.usecases.audit_run import inline
from service.scheduler import Scheduler, SchedulerConfig

T0 = datetime(2026, 1, 5, 5, 0, tzinfo=timezone.utc)  # a Monday
SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def demo(store, graph_id):
    accounts, interactions = demo_network(seed=7)
    store.create_graph(graph_id)
    store.upsert_accounts(graph_id, accounts)
    store.add_interactions(graph_id, interactions)
    return store, graph_id


_results: list[SqliteJobStore] = []


@pytest.fixture(autouse=True)
def results(tmp_path):
    """The result cache the test's schedulers share (a file in the test's folder)."""
    c = SqliteJobStore(tmp_path / "jobs.sqlite")
    _results.append(c)
    yield c
    _results.remove(c)
    c.close()


def make_scheduler(store, graph, clock, **config) -> Scheduler:
    """A scheduler whose runs compute the diversity answer in this process (as
    ``castlegate worker --once`` does)."""
    config = {"webhook_timeout": 5.0, "allow_private": True} | config  # the receivers are on 127.0.0.1
    cfg = SchedulerConfig(graphs=(graph,), **config)
    return Scheduler(store, clock, inline(store, _results[-1]), cfg)


def new_audit(store, graph, clock, account="north-00", url=None, **kw) -> Audit:
    now = clock.now()
    a = Audit(id=uuid.uuid4().hex[:16], graph=graph, account=account, created_at=now, updated_at=now,
              webhook_url=url, webhook_secret=SECRET if url else None, **({"every": "P1D"} | kw))
    a = msgspec.structs.replace(a, next_run_at=runner.first_run_at(a, now))
    return store.create_audit(a)


def eventually(probe, timeout: float = 30.0):
    """``probe()`` once it is truthy: for work another thread records after the receiver
    answered (not for time passing: that is the clock's job)."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
    return value


def manual_run(store, graph, hook, **config):
    """A paused audit with a webhook to ``hook``, one manual run of it queued at T0, and a
    scheduler (not started) with ``config``."""
    clock = ManualClock(T0)
    a = new_audit(store, graph, clock, url=hook.url, paused=True)
    store.queue_run(graph, a.id, clock.now(), "manual-1")
    return clock, hook, a, make_scheduler(store, graph, clock, **config)


def step(s: Scheduler) -> None:
    s.tick()
    assert s.drain(60)


def test_a_schedule_runs_on_time_and_delivers_a_signed_webhook(demo, receivers):
    store, g = demo
    clock = ManualClock(T0)
    hook = receivers()
    a = new_audit(store, g, clock, url=hook.url, start=T0 + timedelta(hours=1))
    assert a.next_run_at == T0 + timedelta(hours=1)
    s = make_scheduler(store, g, clock)
    try:
        step(s)
        clock.advance(timedelta(minutes=59, seconds=59))
        step(s)
        assert store.list_runs(g, a.id) == []  # one second early: nothing
        clock.advance(timedelta(seconds=1))
        step(s)  # the run
        [run] = store.list_runs(g, a.id)
        assert (run.slot, run.status, run.trigger, run.attempts) == (T0 + timedelta(hours=1), "done", "schedule", 1)
        assert store.get_audit(g, a.id).next_run_at == T0 + timedelta(days=1, hours=1)
        step(s)  # its webhook
        [req] = hook.wait_for(1)
    finally:
        s.stop()

    # the signature verifies with the secret, at the scheduler's time, and not with another
    sig = req.headers["x-castlegate-signature"]
    assert verify(SECRET, req.body, sig, now=clock.now().timestamp())
    assert not verify("another-secret-0123456789", req.body, sig, now=clock.now().timestamp())
    assert not verify(SECRET, req.body + b" ", sig, now=clock.now().timestamp())
    assert not verify(SECRET, req.body, sig, now=clock.now().timestamp() + 301)  # replayed later
    body = json.loads(req.body)
    assert body["event"] == "audit.run.done" == req.headers["x-castlegate-event"]
    assert body["run"]["id"] == run.id and body["audit"]["account"] == "north-00"
    stored = json.loads(run.result)
    assert body["result"] == stored
    assert stored["account"] == "north-00" and stored["manifest"]["graph"] == g
    assert stored["manifest"]["graph_version"] == store.get_graph(g).version == run.graph_version
    assert body["trend"]["latest"]["run"] == run.id and body["trend"]["change_since_previous"] is None
    [d] = store.list_deliveries(g, a.id)
    assert d.id == body["delivery"] == req.headers["x-castlegate-delivery"]
    assert d.status == "delivered" and [(x.number, x.status_code, x.delivered) for x in d.attempts] == [(1, 204, True)]


def test_a_new_scheduler_does_not_run_a_slot_again_and_the_trend_moves(demo):
    """A restart: a second scheduler (another process, its own store connection) at the
    same time finds nothing to do; a day later it runs the next slot, after north-00
    started following accounts of two other communities."""
    store, g = demo
    clock = ManualClock(T0)
    a = new_audit(store, g, clock)
    first = make_scheduler(store, g, clock)
    step(first)
    first.stop()
    [run1] = store.list_runs(g, a.id)
    assert run1.slot == T0

    second = make_scheduler(store, g, clock)
    try:
        step(second)
        assert len(store.list_runs(g, a.id)) == 1
        store.add_interactions(g, [
            Interaction(id=f"widen-{t}", kind=Kind.FOLLOW, source="north-00", target=t, at=T0 + timedelta(hours=2))
            for t in ("south-03", "south-04", "east-05", "east-06")
        ])
        clock.advance(timedelta(days=1))
        step(second)
        runs = store.list_runs(g, a.id)
    finally:
        second.stop()
    assert [r.slot for r in runs] == [T0 + timedelta(days=1), T0]
    before, after = (json.loads(r.result)["listens_to"] for r in (runs[1], runs[0]))
    assert after["partners"] == before["partners"] + 4
    assert after["effective_communities"] > before["effective_communities"]
    t = runner.trend(runs)
    assert [p.run for p in t.points] == [runs[1].id, runs[0].id]
    assert t.change_since_previous.listens_to.effective_communities == pytest.approx(
        after["effective_communities"] - before["effective_communities"])
    own = t.change_since_previous.listens_to.share_own_community
    assert own == pytest.approx(after["share_own_community"] - before["share_own_community"])
    assert own < 0


def test_a_receiver_failing_twice_gets_three_recorded_attempts(demo, receivers):
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers([500, 503, 200]), webhook_backoff=timedelta(seconds=10))
    try:
        step(s)  # the run
        step(s)  # attempt 1: 500
        hook.wait_for(1)
        step(s)
        clock.advance(timedelta(seconds=9))
        step(s)
        assert len(hook.requests) == 1  # backing off: 10 s after the first failure
        clock.advance(timedelta(seconds=1))
        step(s)  # attempt 2: 503
        clock.advance(timedelta(seconds=19))
        step(s)
        assert len(hook.requests) == 2  # 20 s after the second
        clock.advance(timedelta(seconds=1))
        step(s)  # attempt 3: 200
        reqs = hook.wait_for(3)
        clock.advance(timedelta(hours=2))
        step(s)
    finally:
        s.stop()
    assert len(hook.requests) == 3
    [d] = store.list_deliveries(g, a.id)
    assert [(x.number, x.status_code, x.delivered) for x in d.attempts] == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert [x.at for x in d.attempts] == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)]
    assert d.attempts[0].error == "http 500"
    assert (d.status, d.next_attempt_at) == ("delivered", None)
    # one delivery, three tries of the same bytes, each freshly signed
    assert {r.headers["x-castlegate-delivery"] for r in reqs} == {d.id}
    assert [r.headers["x-castlegate-attempt"] for r in reqs] == ["1", "2", "3"]
    assert len({r.body for r in reqs}) == 1
    for r, at in zip(reqs, (0, 10, 30)):
        assert verify(SECRET, r.body, r.headers["x-castlegate-signature"], now=(T0 + timedelta(seconds=at)).timestamp(),
                      tolerance=0)


def test_gives_up_after_the_last_attempt(demo, receivers):
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers([500] * 10), webhook_max_attempts=3,
                                   webhook_backoff=timedelta(seconds=5))
    try:
        step(s)
        for _ in range(5):
            step(s)
            clock.advance(timedelta(minutes=5))
    finally:
        s.stop()
    [d] = store.list_deliveries(g, a.id)
    assert (d.status, len(d.attempts), d.next_attempt_at) == ("failed", 3, None)
    assert len(hook.requests) == 3


def test_a_slow_receiver_does_not_block_other_audits(demo, receivers):
    store, g = demo
    clock = ManualClock(T0)
    slow, fast = receivers(["hang"]), receivers()
    a = new_audit(store, g, clock, url=slow.url, paused=True)
    b = new_audit(store, g, clock, url=fast.url, account="south-00", paused=True)
    store.queue_run(g, a.id, clock.now(), "run-a")
    store.queue_run(g, b.id, clock.now() + timedelta(milliseconds=1), "run-b")
    s = make_scheduler(store, g, clock, webhook_timeout=60.0, poll=0.05)
    s.start()
    try:
        slow.wait_hanging()  # a's receiver holds its delivery ...
        fast.wait_for(1)  # ... while b still runs and is delivered
        assert store.get_run(g, b.id, "run-b").status == "done"
        [db] = eventually(lambda: [d for d in store.list_deliveries(g, b.id) if d.status == "delivered"])
        assert [x.status_code for x in db.attempts] == [204]
        [da] = store.list_deliveries(g, a.id)
        assert da.status == "pending" and da.attempts == []
    finally:
        slow.release()
        s.stop()


def test_a_run_of_an_account_without_interactions_fails_and_says_so(demo, receivers):
    store, g = demo
    clock = ManualClock(T0)
    hook = receivers()
    a = new_audit(store, g, clock, account="nobody-here", url=hook.url)
    s = make_scheduler(store, g, clock)
    try:
        step(s)
        step(s)
    finally:
        s.stop()
    [run] = store.list_runs(g, a.id)
    assert (run.status, run.result) == ("failed", None)
    assert run.error == f"account 'nobody-here' has no interactions in graph '{g}'"
    body = json.loads(hook.wait_for(1)[0].body)
    assert (body["event"], body["run"]["error"], body["result"]) == ("audit.run.failed", run.error, None)


def test_a_run_held_by_a_dead_process_is_taken_over_after_its_lease(demo):
    store, g = demo
    clock = ManualClock(T0)
    a = new_audit(store, g, clock, paused=True)
    store.queue_run(g, a.id, clock.now(), "r1")
    [held] = store.claim_runs(T0, "dead-process", T0 + timedelta(minutes=2), graphs=[g])
    s = make_scheduler(store, g, clock)
    try:
        step(s)
        assert store.get_run(g, a.id, "r1").status == "running"
        clock.advance(timedelta(minutes=2, milliseconds=1))
        step(s)
    finally:
        s.stop()
    run = store.get_run(g, a.id, "r1")
    assert (run.status, run.attempts) == ("done", 2)


def test_two_schedulers_run_each_slot_once(demo, request):
    store, g = demo
    clock = ManualClock(T0)
    audits = [new_audit(store, g, clock, account=f"east-{i:02d}") for i in range(4)]
    from tests.contract.test_audit_store import _second_store

    other = _second_store(store, request)
    schedulers = [make_scheduler(store, g, clock), make_scheduler(other, g, clock)]
    try:
        for _ in range(4):  # each takes one run at a time: a few rounds to do four
            barrier = threading.Barrier(2)

            def go(s):
                barrier.wait()
                s.tick()

            threads = [threading.Thread(target=go, args=(s,)) for s in schedulers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for s in schedulers:
                assert s.drain(60)
    finally:
        for s in schedulers:
            s.stop()
    for a in audits:
        [run] = store.list_runs(g, a.id)
        assert (run.status, run.attempts) == ("done", 1)


def test_a_receiver_that_does_not_answer_in_time_is_retried(demo, receivers):
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers(["hang"]), webhook_timeout=0.5,
                                   webhook_backoff=timedelta(seconds=10))
    try:
        step(s)  # the run
        step(s)  # attempt 1: no answer within the timeout
        [d] = store.list_deliveries(g, a.id)
        assert [(x.status_code, x.error, x.delivered) for x in d.attempts] == [(None, "timeout", False)]
        assert d.attempts[0].duration_ms >= 500
        assert d.next_attempt_at == T0 + timedelta(seconds=10)
        clock.advance(timedelta(seconds=10))
        step(s)  # attempt 2: answered
    finally:
        hook.release()
        s.stop()
    [d] = store.list_deliveries(g, a.id)
    assert [x.delivered for x in d.attempts] == [False, True] and d.status == "delivered"


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(demo, receivers):
    """httpx's timeouts are per read; the attempt's is for the whole exchange."""
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers(["trickle"]), webhook_timeout=1.0)
    try:
        step(s)
        step(s)
    finally:
        s.stop()
    [d] = store.list_deliveries(g, a.id)
    [attempt] = d.attempts
    assert (attempt.error, attempt.delivered, d.status) == ("timeout", False, "pending")
    assert 1000 <= attempt.duration_ms < 3000


def test_private_addresses_are_refused_unless_allowed(demo, receivers):
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers(), allow_private=False)
    try:
        step(s)
        step(s)
    finally:
        s.stop()
    [d] = store.list_deliveries(g, a.id)
    assert d.attempts[0].error == "blocked"  # the reason is in the log, not shown to clients
    assert hook.requests == []


def test_pending_deliveries_of_a_removed_webhook_are_cancelled(demo, receivers):
    store, g = demo
    clock, hook, a, s = manual_run(store, g, receivers([500]), webhook_backoff=timedelta(seconds=10))
    try:
        step(s)
        step(s)  # attempt 1: 500, retry due in 10 s
        store.update_audit(g, a.id, {"webhook_url": None, "webhook_secret": None})
        clock.advance(timedelta(seconds=10))
        step(s)
        clock.advance(timedelta(hours=1))
        step(s)
    finally:
        s.stop()
    [d] = store.list_deliveries(g, a.id)
    assert d.status == "cancelled" and d.next_attempt_at is None
    assert [(x.status_code, x.error) for x in d.attempts] == [
        (500, "http 500"), (None, "not sent: the audit's webhook was removed")]
    assert len(hook.requests) == 1  # and never unsigned


def test_a_forged_signature_is_false_not_an_error():
    assert not verify(SECRET, b"{}", "t=1767592800,v1=\u00e9\u00e9")
    assert not verify(SECRET, b"{}", "garbage")
    assert not verify(SECRET, b"{}", "t=abc,v1=00")
