"""The AuditStore contract: schedules, runs, leases and deliveries behave the same on
sqlite and Neo4j. Times are passed in explicitly: the store never reads a clock.

The Neo4j server is shared by every test, so each scan names its graph (``graphs=[...]``)
and never sees another test's audits."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from graph.analysis.params import AnalysisParams
from graph.audits.model import Audit, AuditRun, Delivery, DeliveryAttempt
from graph.errors import AuditNotFound, GraphNotFound, RunNotFound
from graph.model import epoch_ms
from graph.store.port import AuditStore

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def daily(audit: Audit, now: datetime) -> tuple[datetime, datetime]:
    """Slots every day at 06:00 UTC: the latest at or before ``now``, and the next."""
    k = (now - T0) // DAY
    return T0 + k * DAY, T0 + (k + 1) * DAY


def make_audit(graph: str, account: str = "alice", **kw) -> Audit:
    fields = dict(id=uuid.uuid4().hex[:16], graph=graph, account=account, every="P1D",
                  created_at=T0 - timedelta(hours=1), updated_at=T0 - timedelta(hours=1),
                  next_run_at=T0)
    return Audit(**(fields | kw))


@pytest.fixture
def g(store, graph_id):
    store.create_graph(graph_id)
    return graph_id


def finished(run: AuditRun, at: datetime, **kw) -> AuditRun:
    return msgspec.structs.replace(run, status="done", finished_at=at, graph_version="v1",
                                   result='{"effective": 2.5}', **kw)


def delivery(run: AuditRun, at: datetime, url: str = "http://127.0.0.1:9/hook") -> Delivery:
    return Delivery(id=uuid.uuid4().hex[:16], graph=run.graph, audit=run.audit, run=run.id,
                    url=url, event="audit.run.done", body='{"run": "%s"}' % run.id,
                    next_attempt_at=at, created_at=at)


def test_is_an_audit_store(store):
    assert isinstance(store, AuditStore)


def test_audit_lifecycle(store, g):
    params = AnalysisParams(layers=("reply", "follow"), seed=7)
    a = make_audit(g, params=params, webhook_url="http://127.0.0.1:1/x", webhook_secret="s" * 32,
                   timezone="Europe/Berlin", start=T0)
    assert store.create_audit(a) == a
    assert store.get_audit(g, a.id) == a
    b = store.create_audit(make_audit(g, account="bob", cron="0 6 * * 1", every=None,
                                      created_at=T0, updated_at=T0))
    assert [x.id for x in store.list_audits(g)] == [a.id, b.id]

    later = T0 + timedelta(minutes=5)
    u = store.update_audit(g, a.id, {"paused": True, "next_run_at": None, "updated_at": later,
                                     "params": AnalysisParams(seed=3), "webhook_url": None})
    assert (u.paused, u.next_run_at, u.updated_at, u.params.seed, u.webhook_url) == (True, None, later, 3, None)
    assert u.webhook_secret == "s" * 32 and u.account == "alice" and u.timezone == "Europe/Berlin"
    assert store.get_audit(g, a.id) == u

    store.delete_audit(g, a.id)
    with pytest.raises(AuditNotFound):
        store.get_audit(g, a.id)
    with pytest.raises(AuditNotFound):
        store.delete_audit(g, a.id)
    with pytest.raises(AuditNotFound):
        store.update_audit(g, a.id, {"paused": False})
    assert [x.id for x in store.list_audits(g)] == [b.id]


def test_audits_belong_to_their_graph(store, g, graph_id):
    with pytest.raises(GraphNotFound):
        store.create_audit(make_audit("no-such-graph-" + graph_id))
    with pytest.raises(GraphNotFound):
        store.list_audits("no-such-graph-" + graph_id)
    a = store.create_audit(make_audit(g))
    other = g + "-other"
    store.create_graph(other)
    with pytest.raises(AuditNotFound):
        store.get_audit(other, a.id)
    # deleting the graph takes its audits, runs and deliveries with it
    [run] = store.claim_due(T0, daily, graphs=[g])
    store.delete_graph(g)
    store.create_graph(g)
    assert store.list_audits(g) == []
    with pytest.raises(AuditNotFound):
        store.get_audit(g, a.id)
    assert store.claim_runs(T0, "w1", T0 + DAY, graphs=[g], limit=10) == []
    store.delete_graph(other)


def test_claim_due_queues_one_run_per_slot_and_advances(store, g):
    a = store.create_audit(make_audit(g))
    assert store.claim_due(T0 - timedelta(seconds=1), daily, graphs=[g]) == []  # not due yet
    [run] = store.claim_due(T0 + timedelta(minutes=3), daily, graphs=[g])
    assert (run.graph, run.audit, run.slot, run.trigger, run.status, run.attempts) == (
        g, a.id, T0, "schedule", "queued", 0)
    assert run.created_at == T0 + timedelta(minutes=3)
    assert store.get_audit(g, a.id).next_run_at == T0 + DAY
    assert store.claim_due(T0 + timedelta(minutes=4), daily, graphs=[g]) == []

    # two days missed (the service was down): one catch-up run, for the latest slot
    [late] = store.claim_due(T0 + 3 * DAY + timedelta(hours=2), daily, graphs=[g])
    assert late.slot == T0 + 3 * DAY
    assert store.get_audit(g, a.id).next_run_at == T0 + 4 * DAY
    assert [r.slot for r in store.list_runs(g, a.id)] == [T0 + 3 * DAY, T0]


def test_claim_due_never_queues_a_slot_twice(store, g):
    a = store.create_audit(make_audit(g))
    [run] = store.claim_due(T0, daily, graphs=[g])
    # an edit races with the scheduler and puts next_run_at back on the claimed slot
    store.update_audit(g, a.id, {"next_run_at": T0})
    assert store.claim_due(T0 + timedelta(minutes=1), daily, graphs=[g]) == []
    assert store.get_audit(g, a.id).next_run_at == T0 + DAY  # still advanced
    assert [r.id for r in store.list_runs(g, a.id)] == [run.id]


def test_paused_and_other_graphs_are_not_claimed(store, g):
    store.create_audit(make_audit(g, paused=True, next_run_at=None))
    store.create_audit(make_audit(g, paused=True, next_run_at=T0))  # paused wins
    other = g + "-x"
    store.create_graph(other)
    store.create_audit(make_audit(other))
    assert store.claim_due(T0 + DAY, daily, graphs=[g]) == []
    [run] = store.claim_due(T0 + DAY, daily, graphs=[other])
    assert run.graph == other
    store.delete_graph(other)


def test_concurrent_schedulers_claim_each_slot_once(store, g, request):
    """Four threads on two store connections (two 'processes') claim the same due audits
    at the same moment: every audit gets exactly one run."""
    audits = [store.create_audit(make_audit(g, account=f"acc{i}")) for i in range(5)]
    second = _second_store(store, request)
    got: list[AuditRun] = []
    barrier = threading.Barrier(4)

    def claim(s):
        barrier.wait()
        got.extend(s.claim_due(T0 + timedelta(seconds=30), daily, graphs=[g]))

    threads = [threading.Thread(target=claim, args=(s,)) for s in (store, second, store, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.audit for r in got) == sorted(a.id for a in audits)
    for a in audits:
        assert len(store.list_runs(g, a.id)) == 1


def test_manual_run(store, g):
    a = store.create_audit(make_audit(g))
    at = T0 + timedelta(hours=5, seconds=1)
    run = store.queue_run(g, a.id, at, "manual-1")
    assert (run.id, run.slot, run.trigger, run.status, run.created_at) == ("manual-1", at, "manual", "queued", at)
    assert store.get_run(g, a.id, "manual-1") == run
    assert store.get_audit(g, a.id).next_run_at == T0  # the schedule is untouched
    with pytest.raises(AuditNotFound):
        store.queue_run(g, "nope", at, "manual-2")


def test_manual_runs_are_not_slots(store, g):
    """A frozen clock (or a fast client) can ask for runs at the very moment of a scheduled
    slot, or twice in one millisecond: each is its own run."""
    a = store.create_audit(make_audit(g))
    [scheduled] = store.claim_due(T0, daily, graphs=[g])
    store.queue_run(g, a.id, T0, "m1")
    store.queue_run(g, a.id, T0, "m2")
    assert sorted(r.id for r in store.list_runs(g, a.id)) == sorted([scheduled.id, "m1", "m2"])


def test_run_leases(store, g):
    a = store.create_audit(make_audit(g))
    [queued] = store.claim_due(T0, daily, graphs=[g])
    t1 = T0 + timedelta(seconds=10)
    [mine] = store.claim_runs(t1, "w1", t1 + timedelta(minutes=5), graphs=[g])
    assert (mine.id, mine.status, mine.owner, mine.attempts, mine.started_at) == (queued.id, "running", "w1", 1, t1)
    assert mine.lease_until == t1 + timedelta(minutes=5)
    # held: nobody else gets it
    assert store.claim_runs(t1 + timedelta(minutes=1), "w2", t1 + DAY, graphs=[g]) == []
    assert store.renew_run(mine.id, "w1", t1 + timedelta(minutes=10))
    assert not store.renew_run(mine.id, "w2", t1 + timedelta(minutes=10))
    assert store.claim_runs(t1 + timedelta(minutes=9), "w2", t1 + DAY, graphs=[g]) == []
    # a lease is good up to and including its last millisecond
    assert store.claim_runs(t1 + timedelta(minutes=10), "w2", t1 + DAY, graphs=[g]) == []
    # w1 dies; after its lease ran out w2 takes the same run over
    t2 = t1 + timedelta(minutes=11)
    [taken] = store.claim_runs(t2, "w2", t2 + timedelta(minutes=5), graphs=[g])
    assert (taken.id, taken.owner, taken.attempts, taken.slot) == (mine.id, "w2", 2, T0)
    # the late w1 cannot finish it any more, w2 can
    assert not store.finish_run(finished(mine, t2), "w1")
    assert store.get_run(g, a.id, mine.id).status == "running"
    assert store.finish_run(finished(taken, t2 + timedelta(seconds=3)), "w2")
    done = store.get_run(g, a.id, mine.id)
    assert (done.status, done.finished_at, done.graph_version, done.result, done.owner, done.lease_until) == (
        "done", t2 + timedelta(seconds=3), "v1", '{"effective": 2.5}', None, None)
    assert store.claim_runs(t2 + DAY, "w3", t2 + 2 * DAY, graphs=[g]) == []


def test_claim_runs_oldest_slot_first_and_limit(store, g):
    a = store.create_audit(make_audit(g))
    late = store.queue_run(g, a.id, T0 + timedelta(hours=2), "r-late")
    early = store.queue_run(g, a.id, T0 + timedelta(hours=1), "r-early")
    first = store.claim_runs(T0 + DAY, "w", T0 + 2 * DAY, graphs=[g], limit=1)
    assert [r.id for r in first] == [early.id]
    assert [r.id for r in store.claim_runs(T0 + DAY, "w", T0 + 2 * DAY, graphs=[g], limit=5)] == [late.id]


def test_history_newest_first_with_paging(store, g):
    a = store.create_audit(make_audit(g))
    ids = []
    for day in range(4):
        now = T0 + day * DAY
        [r] = store.claim_due(now, daily, graphs=[g])
        [r] = store.claim_runs(now, "w", now + timedelta(minutes=5), graphs=[g])
        assert store.finish_run(finished(r, now + timedelta(minutes=1)), "w")
        ids.append(r.id)
    runs = store.list_runs(g, a.id)
    assert [r.id for r in runs] == ids[::-1]
    assert [r.status for r in runs] == ["done"] * 4
    assert [r.id for r in store.list_runs(g, a.id, limit=2)] == ids[:1:-1]
    assert [r.id for r in store.list_runs(g, a.id, before=T0 + 2 * DAY)] == [ids[1], ids[0]]
    with pytest.raises(RunNotFound):
        store.get_run(g, a.id, "nope")
    with pytest.raises(AuditNotFound):
        store.list_runs(g, "nope")


def test_paging_by_cursor_keeps_runs_that_share_a_slot(store, g):
    """A frozen clock (or fast clients) can give several runs one slot: a page that ends
    inside them must not lose the rest."""
    a = store.create_audit(make_audit(g))
    for i in range(5):
        store.queue_run(g, a.id, T0 + (timedelta(hours=1) if i == 4 else timedelta(0)), f"m{i}")
    every = store.list_runs(g, a.id)
    assert every[0].id == "m4" and len(every) == 5
    seen, after = [], None
    while page := store.list_runs(g, a.id, limit=2, after=after):
        seen += [r.id for r in page]
        after = page[-1]
    assert seen == [r.id for r in every]


def test_failed_run_keeps_its_error(store, g):
    a = store.create_audit(make_audit(g))
    store.queue_run(g, a.id, T0, "r1")
    [r] = store.claim_runs(T0, "w", T0 + DAY, graphs=[g])
    failed = msgspec.structs.replace(r, status="failed", finished_at=T0, error="account 'alice' is not in the graph")
    assert store.finish_run(failed, "w")
    got = store.get_run(g, a.id, "r1")
    assert (got.status, got.error, got.result) == ("failed", "account 'alice' is not in the graph", None)


def _finished_with_delivery(store, g, at=T0) -> tuple[Audit, AuditRun, Delivery]:
    a = store.create_audit(make_audit(g, webhook_url="http://127.0.0.1:9/hook", webhook_secret="k" * 32))
    store.queue_run(g, a.id, at, uuid.uuid4().hex[:12])
    [r] = store.claim_runs(at, "w", at + DAY, graphs=[g])
    d = delivery(r, at + timedelta(seconds=1))
    assert store.finish_run(finished(r, at + timedelta(seconds=1)), "w", [d])
    return a, r, d


def test_finish_run_writes_its_deliveries(store, g):
    a, r, d = _finished_with_delivery(store, g)
    [got] = store.list_deliveries(g, a.id)
    assert got == d
    assert got.attempts == [] and got.status == "pending"
    assert store.list_deliveries(g, a.id, run=r.id) == [d]
    assert store.list_deliveries(g, a.id, run="other") == []


def test_a_lost_lease_writes_no_deliveries(store, g):
    a = store.create_audit(make_audit(g))
    store.queue_run(g, a.id, T0, "r1")
    [r] = store.claim_runs(T0, "w1", T0 + timedelta(minutes=1), graphs=[g])
    [r2] = store.claim_runs(T0 + timedelta(minutes=2), "w2", T0 + DAY, graphs=[g])
    assert not store.finish_run(finished(r, T0 + timedelta(minutes=3)), "w1", [delivery(r, T0)])
    assert store.list_deliveries(g, a.id) == []


def test_delivery_attempts_and_retries(store, g):
    a, r, d = _finished_with_delivery(store, g)
    t = T0 + timedelta(seconds=1)
    assert store.claim_deliveries(t - timedelta(milliseconds=1), "w", t + DAY, graphs=[g]) == []
    [c] = store.claim_deliveries(t, "w1", t + timedelta(seconds=30), graphs=[g])
    assert (c.id, c.owner, c.body, c.url) == (d.id, "w1", d.body, d.url)
    assert store.claim_deliveries(t + timedelta(seconds=5), "w2", t + DAY, graphs=[g]) == []  # leased
    fail1 = DeliveryAttempt(number=1, at=t, duration_ms=12.5, status_code=500, delivered=False)
    assert not store.record_attempt(d.id, "w2", fail1, status="pending", next_attempt_at=t)
    assert store.record_attempt(d.id, "w1", fail1, status="pending", next_attempt_at=t + timedelta(seconds=10))
    assert store.claim_deliveries(t + timedelta(seconds=9), "w2", t + DAY, graphs=[g]) == []
    [c2] = store.claim_deliveries(t + timedelta(seconds=10), "w2", t + timedelta(seconds=40), graphs=[g])
    assert c2.attempts == [fail1]
    fail2 = DeliveryAttempt(number=2, at=t + timedelta(seconds=10), duration_ms=10000.0, error="timed out", delivered=False)
    assert store.record_attempt(d.id, "w2", fail2, status="pending", next_attempt_at=t + timedelta(seconds=30))
    [c3] = store.claim_deliveries(t + timedelta(seconds=30), "w1", t + timedelta(minutes=1), graphs=[g])
    ok = DeliveryAttempt(number=3, at=t + timedelta(seconds=30), duration_ms=3.0, status_code=204, delivered=True)
    assert store.record_attempt(d.id, "w1", ok, status="delivered", next_attempt_at=None)
    [final] = store.list_deliveries(g, a.id)
    assert final.attempts == [fail1, fail2, ok]
    assert (final.status, final.next_attempt_at, final.owner, final.lease_until) == ("delivered", None, None, None)
    assert store.claim_deliveries(t + DAY, "w1", t + 2 * DAY, graphs=[g]) == []


def test_expired_delivery_lease_is_taken_over(store, g):
    a, r, d = _finished_with_delivery(store, g)
    t = T0 + timedelta(seconds=1)
    [c] = store.claim_deliveries(t, "w1", t + timedelta(seconds=30), graphs=[g])
    assert store.claim_deliveries(t + timedelta(seconds=30), "w2", t + timedelta(minutes=2), graphs=[g]) == []
    [c2] = store.claim_deliveries(t + timedelta(seconds=31), "w2", t + timedelta(minutes=2), graphs=[g])
    assert c2.id == d.id and c2.owner == "w2"


def test_deleting_an_audit_removes_its_runs_and_deliveries(store, g):
    a, r, d = _finished_with_delivery(store, g)
    store.delete_audit(g, a.id)
    assert store.claim_deliveries(T0 + DAY, "w", T0 + 2 * DAY, graphs=[g]) == []
    with pytest.raises(AuditNotFound):
        store.list_runs(g, a.id)


def _second_store(store, request):
    """Another connection to the same store, as a second process would have."""
    if store.kind == "sqlite":
        from graph.store.sqlite import SqliteStore

        other = SqliteStore(store.path)
    else:
        from graph.store.neo4j import Neo4jStore

        server = request.getfixturevalue("neo4j_server")
        other = Neo4jStore(server.uri, server.user, server.password)
    request.addfinalizer(other.close)
    return other


def test_deliveries_page_newest_first_after_a_cursor(store, g):
    a = store.create_audit(make_audit(g, webhook_url="http://127.0.0.1:9/hook", webhook_secret="k" * 32))
    store.queue_run(g, a.id, T0, "r-page")
    [r] = store.claim_runs(T0, "w", T0 + DAY, graphs=[g])
    # two share a time: the id orders them
    ds = [delivery(r, T0 + timedelta(seconds=s)) for s in (1, 2, 2, 3, 4)]
    assert store.finish_run(finished(r, T0 + timedelta(seconds=5)), "w", ds)
    newest_first = [d.id for d in store.list_deliveries(g, a.id)]
    assert len(newest_first) == 5
    seen, cursor = [], None
    while True:
        page = store.list_deliveries(g, a.id, limit=2, after=cursor)
        seen += [d.id for d in page]
        if len(page) < 2:
            break
        cursor = (epoch_ms(page[-1].created_at), page[-1].id)
    assert seen == newest_first
    assert store.list_deliveries(g, a.id, after=(epoch_ms(T0), "")) == []  # older than all of them
    assert len(store.list_deliveries(g, a.id, run="r-page", after=(epoch_ms(T0 + DAY), ""))) == 5
