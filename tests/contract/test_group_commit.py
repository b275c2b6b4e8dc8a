"""Group commit on a real Neo4j: several requests in one transaction, each answered as if
written alone (``add_interaction_batches``, ``GroupCommitter``)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone

import pytest

from graph.errors import IngestConflict, StoreUnavailable
from graph.model import IngestResult, Interaction, Kind
from graph.usecases.group_commit import Busy, GroupCommitter, Limits

pytestmark = pytest.mark.neo4j

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def it(ident: str, s: str = "alice", t: str = "bob", kind: Kind = Kind.REPLY, minute: int = 0) -> Interaction:
    return Interaction(id=ident, kind=kind, source=s, target=t, at=T0 + timedelta(minutes=minute))


@pytest.fixture
def neo4j_store(neo4j_server):
    from graph.store.neo4j import Neo4jStore

    s = Neo4jStore(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    yield s
    s.close()


class Gate:
    """The store's ``add_interaction_batches``, held at its first call until ``open()``:
    what arrives meanwhile waits in the committer's queue."""

    def __init__(self, store) -> None:
        self.store = store
        self.entered = threading.Event()
        self._open = threading.Event()
        self.calls: list[int] = []  # requests per transaction

    def open(self) -> None:
        self._open.set()

    def __call__(self, graph, batches):
        self.calls.append(len(batches))
        self.entered.set()
        self._open.wait(30)
        return self.store.add_interaction_batches(graph, batches)


def test_one_transaction_refuses_only_the_conflicting_requests(neo4j_store, graph_id):
    store = neo4j_store
    store.create_graph(graph_id)
    store.add_interactions(graph_id, [it("stored", "a", "b")])
    v0 = store.get_graph(graph_id).version
    outcomes = store.add_interaction_batches(graph_id, [
        [it("x1", "a", "c"), it("x2", "c", "d", Kind.QUOTE, 5)],
        [it("stored", "a", "b"), it("x3", "d", "e")],      # a duplicate of what is stored, and new
        [it("stored", "b", "a"), it("y1", "z", "z")],      # stored with other content: refused
        [it("x1", "a", "c"), it("x4", "e", "f")],          # x1 as the first request sent it: duplicate
        [it("x2", "c", "d"), it("y2", "z", "y")],          # x2 otherwise than the first request: refused
        [it("y3", "q", "r"), it("y3", "r", "q")],          # conflicts within itself: refused
    ])
    assert outcomes[0] == IngestResult(accepted=2, duplicates=0)
    assert outcomes[1] == IngestResult(accepted=1, duplicates=1)
    assert isinstance(outcomes[2], IngestConflict) and outcomes[2].ids == ["stored"] and outcomes[2].indexes == [0]
    assert outcomes[3] == IngestResult(accepted=1, duplicates=1)
    assert isinstance(outcomes[4], IngestConflict) and outcomes[4].ids == ["x2"]
    assert isinstance(outcomes[5], IngestConflict) and outcomes[5].ids == ["y3"] and outcomes[5].indexes == [1]
    stored = {i.id: (i.source, i.target, i.kind) for i in store.iter_interactions(graph_id)}
    assert stored == {"stored": ("a", "b", Kind.REPLY), "x1": ("a", "c", Kind.REPLY),
                      "x2": ("c", "d", Kind.QUOTE), "x3": ("d", "e", Kind.REPLY), "x4": ("e", "f", Kind.REPLY)}
    info = store.get_graph(graph_id)
    # nothing of the refused requests: no accounts z, y, q, r
    assert info.accounts == 6
    assert info.interactions.reply == 4 and info.interactions.quote == 1
    assert info.last_at == T0 + timedelta(minutes=5)
    # one transaction, one revision: the version moved once, and a snapshot at it has it all
    assert int(info.version.split(".")[1]) == int(v0.split(".")[1]) + 1
    snap = store.read_snapshot(graph_id)
    assert snap.version == info.version
    assert sorted(snap.table.nodes) == ["a", "b", "c", "d", "e", "f"]
    assert sum(len(cols[0]) for cols in snap.table.kinds.values()) == 5


def test_a_pure_resend_writes_nothing_and_keeps_the_version(neo4j_store, graph_id):
    store = neo4j_store
    store.create_graph(graph_id)
    batch = [it(f"i{n}", minute=n) for n in range(5)]
    store.add_interactions(graph_id, batch)
    v = store.get_graph(graph_id).version
    assert store.add_interaction_batches(graph_id, [batch, batch[:2]]) == [
        IngestResult(accepted=0, duplicates=5), IngestResult(accepted=0, duplicates=2)]
    assert store.get_graph(graph_id).version == v


def test_four_clients_each_request_committed_once_and_the_conflict_refused_alone(neo4j_store, graph_id):
    store = neo4j_store
    store.create_graph(graph_id)
    store.add_interactions(graph_id, [it("taken", "a", "b")])
    gate = Gate(store)
    committer = GroupCommitter(gate, Limits(writers_per_graph=1))
    first = committer.submit(graph_id, [it("c0-first", "a", "b")])
    assert gate.entered.wait(10)  # the first group holds the writer: the rest queue up
    futures: dict[str, Future] = {}
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(5):
            items = [it(f"c{c}-r{r}-{k}", f"u{c}", f"u{(c + k) % 4}", minute=r) for k in range(10)]
            if (c, r) == (2, 3):
                items.append(it("taken", "x", "y"))  # stored with other content
            f = committer.submit(graph_id, items)
            with lock:
                futures[f"c{c}-r{r}"] = f

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gate.open()
    assert first.result(30) == IngestResult(accepted=1, duplicates=0)
    for name, f in futures.items():
        if name == "c2-r3":
            with pytest.raises(IngestConflict) as e:
                f.result(30)
            assert e.value.ids == ["taken"] and e.value.indexes == [10]
        else:
            assert f.result(30) == IngestResult(accepted=10, duplicates=0), name
    committer.close()
    # the 20 queued requests were coalesced: far fewer transactions than requests
    assert gate.calls[0] == 1 and len(gate.calls) < 20 and sum(gate.calls) == 21
    ids = [i.id for i in store.iter_interactions(graph_id)]
    assert len(ids) == len(set(ids)) == 2 + 19 * 10
    assert not [i for i in ids if i.startswith("c2-r3-")]
    info = store.get_graph(graph_id)
    assert info.interactions.reply == 2 + 190
    snap = store.read_snapshot(graph_id)
    assert snap.version == info.version and sum(len(c[0]) for c in snap.table.kinds.values()) == 192


def test_a_request_that_breaks_the_group_transaction_fails_alone(neo4j_store, graph_id):
    store = neo4j_store
    store.create_graph(graph_id)
    gate = Gate(store)
    committer = GroupCommitter(gate, Limits(writers_per_graph=1))
    held = committer.submit(graph_id, [it("held")])
    assert gate.entered.wait(10)
    good = [committer.submit(graph_id, [it(f"good{n}", "a", f"b{n}")]) for n in range(3)]
    # an id far longer than the API allows (512): too large for Neo4j's key index, so the
    # transaction holding it fails, whoever else is in it
    bad = committer.submit(graph_id, [it("x" * 40_000, "a", "b")])
    more = committer.submit(graph_id, [it("good3", "a", "b3")])
    gate.open()
    assert held.result(30).accepted == 1
    assert [f.result(30) for f in good + [more]] == [IngestResult(accepted=1, duplicates=0)] * 4
    with pytest.raises(Exception) as e:
        bad.result(30)
    assert not isinstance(e.value, (IngestConflict, StoreUnavailable))
    committer.close()
    assert gate.calls[:2] == [1, 5]  # the group of five failed, then went one by one
    assert sorted(i.id for i in store.iter_interactions(graph_id)) == ["good0", "good1", "good2", "good3", "held"]
    assert store.get_graph(graph_id).interactions.reply == 5


def test_neo4j_gone_acknowledges_nothing(neo4j_server, graph_id):
    from graph.store.neo4j import Neo4jStore
    from tests.conftest import free_port

    gone = Neo4jStore(f"bolt://127.0.0.1:{free_port()}", "neo4j", "x", connect_timeout=1, retry_time=1)
    committer = GroupCommitter(gone.add_interaction_batches)
    try:
        futures = [committer.submit(graph_id, [it(f"i{n}")]) for n in range(4)]
        for f in futures:
            with pytest.raises(StoreUnavailable):
                f.result(30)
    finally:
        committer.close()
        gone.close()


def test_waiting_is_bounded_and_a_queued_request_can_be_withdrawn(neo4j_store, graph_id):
    store = neo4j_store
    store.create_graph(graph_id)
    gate = Gate(store)
    committer = GroupCommitter(gate, Limits(max_waiting_requests=3, max_waiting_items=25, writers_per_graph=1))
    held = committer.submit(graph_id, [it("held")])
    assert gate.entered.wait(10)
    queued = [committer.submit(graph_id, [it(f"q{n}")]) for n in range(2)]
    with pytest.raises(Busy):  # 2 waiting with 2 items, 30 more would exceed 25
        committer.submit(graph_id, [it(f"big{n}") for n in range(30)])
    third = committer.submit(graph_id, [it("q2")])
    with pytest.raises(Busy):  # 3 requests waiting
        committer.submit(graph_id, [it("q3")])
    assert queued[1].cancel()  # withdrawn while still queued: never written
    gate.open()
    assert held.result(30).accepted == 1 and queued[0].result(30).accepted == 1 and third.result(30).accepted == 1
    committer.close()
    assert sorted(i.id for i in store.iter_interactions(graph_id)) == ["held", "q0", "q2"]
    # room again once the queue drained
    later = GroupCommitter(store.add_interaction_batches, Limits(max_waiting_requests=1))
    assert later.submit(graph_id, [it("q3")]).result(30).accepted == 1
    later.close()
