"""The GraphStore contract: every test here runs, unchanged, against sqlite and Neo4j."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from graph.errors import AccountNotFound, GraphExists, GraphNotFound, IngestConflict
from graph.model import Account, Interaction, Kind
from graph.store.port import GraphStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def it(n: int, kind: Kind = Kind.REPLY, s: str = "alice", t: str = "bob", **kw) -> Interaction:
    return Interaction(id=f"i{n}", kind=kind, source=s, target=t, at=T0 + timedelta(minutes=n), **kw)


def test_is_a_graph_store(store):
    assert isinstance(store, GraphStore)
    assert store.kind in ("sqlite", "neo4j")
    assert store.server_version()


def test_graph_lifecycle(store, graph_id):
    info = store.create_graph(graph_id, "client A")
    assert (info.id, info.description, info.accounts) == (graph_id, "client A", 0)
    assert msgspec.structs.asdict(info.interactions) == {k.value: 0 for k in Kind}
    assert info.first_at is None and info.last_at is None
    assert graph_id in [g.id for g in store.list_graphs()]
    with pytest.raises(GraphExists):
        store.create_graph(graph_id)
    store.delete_graph(graph_id)
    assert graph_id not in [g.id for g in store.list_graphs()]
    with pytest.raises(GraphNotFound):
        store.get_graph(graph_id)
    with pytest.raises(GraphNotFound):
        store.delete_graph(graph_id)
    with pytest.raises(GraphNotFound):
        store.add_interactions(graph_id, [it(1)])


def test_counts_and_time_range(store, graph_id):
    store.create_graph(graph_id)
    batch = [
        it(1, Kind.REPLY, "a", "b"),
        it(2, Kind.REPLY, "b", "a"),
        it(3, Kind.QUOTE, "c", "a"),
        it(0, Kind.REPOST, "d", "a", object="post-9"),
        it(7, Kind.FOLLOW, "a", "d"),
    ]
    r = store.add_interactions(graph_id, batch)
    assert (r.accepted, r.duplicates) == (5, 0)
    info = store.get_graph(graph_id)
    assert info.accounts == 4
    assert msgspec.structs.asdict(info.interactions) == {"reply": 2, "quote": 1, "mention": 0, "repost": 1, "like": 0, "follow": 1}
    assert info.first_at == T0
    assert info.last_at == T0 + timedelta(minutes=7)


def test_resend_is_idempotent_and_keeps_the_version(store, graph_id):
    store.create_graph(graph_id)
    batch = [it(n) for n in range(20)]
    assert store.add_interactions(graph_id, batch).accepted == 20
    v = store.get_graph(graph_id).version
    again = store.add_interactions(graph_id, batch + [it(20)])
    assert (again.accepted, again.duplicates) == (1, 20)
    assert store.get_graph(graph_id).interactions.reply == 21
    v2 = store.get_graph(graph_id).version
    assert v2 != v
    # a pure re-send changes nothing, so the version (and any cached analysis) holds
    assert store.add_interactions(graph_id, batch).accepted == 0
    assert store.get_graph(graph_id).version == v2


def test_duplicates_within_one_batch_count_once(store, graph_id):
    store.create_graph(graph_id)
    r = store.add_interactions(graph_id, [it(1), it(1), it(2)])
    assert (r.accepted, r.duplicates) == (2, 1)
    assert store.get_graph(graph_id).interactions.reply == 2


def test_conflicting_resend_is_refused_whole(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, [it(1)])
    before = store.get_graph(graph_id)
    changed = it(1, t="carol")  # same id, other target
    with pytest.raises(IngestConflict) as e:
        store.add_interactions(graph_id, [it(5), changed, it(6)])
    assert e.value.ids == ["i1"] and e.value.indexes == [1]
    after = store.get_graph(graph_id)
    assert after == before  # nothing written: not i5, not i6, not carol
    assert [x.id for x in store.iter_interactions(graph_id)] == ["i1"]
    with pytest.raises(AccountNotFound):
        store.get_account(graph_id, "carol")


def test_conflict_inside_one_batch(store, graph_id):
    store.create_graph(graph_id)
    with pytest.raises(IngestConflict) as e:
        store.add_interactions(graph_id, [it(1), it(2), it(1, kind=Kind.LIKE)])
    assert e.value.indexes == [2]
    assert store.get_graph(graph_id).interactions.reply == 0


def test_concurrent_duplicate_batches_count_once(store, graph_id):
    store.create_graph(graph_id)
    batch = [it(n, s=f"u{n % 7}", t=f"u{(n + 1) % 7}") for n in range(300)]
    results, errors = [], []

    def send():
        try:
            results.append(store.add_interactions(graph_id, batch))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 300
    assert sum(r.duplicates for r in results) == 900
    info = store.get_graph(graph_id)
    assert info.interactions.reply == 300
    assert info.accounts == 7
    assert len(list(store.iter_interactions(graph_id))) == 300


def test_round_trip_keeps_every_field(store, graph_id):
    store.create_graph(graph_id)
    original = Interaction(
        id="x-1", kind=Kind.QUOTE, source="s", target="t",
        at=datetime(2026, 3, 1, 12, 0, 5, 123000, tzinfo=timezone.utc),
        post="p2", in_reply_to="p1", object="https://ex.org/p1", conversation="c1", platform="x",
    )
    store.add_interactions(graph_id, [original])
    assert list(store.iter_interactions(graph_id)) == [original]


def test_accounts_upsert_and_detail(store, graph_id):
    store.create_graph(graph_id)
    store.upsert_accounts(graph_id, [Account(id="a", handle="@a", followers=10, attributes={"lang": "en"})])
    store.add_interactions(
        graph_id,
        [it(1, Kind.REPLY, "a", "b"), it(2, Kind.REPLY, "b", "a"), it(3, Kind.MENTION, "a", "c"),
         it(4, Kind.FOLLOW, "c", "a"), it(5, Kind.FOLLOW, "b", "a")],
    )
    # a later upsert without handle keeps the stored handle
    store.upsert_accounts(graph_id, [Account(id="a", followers=12)])
    d = store.get_account(graph_id, "a")
    assert d.account == Account(id="a", handle="@a", followers=12, attributes={"lang": "en"})
    assert msgspec.structs.asdict(d.outgoing) == {"reply": 1, "quote": 0, "mention": 1, "repost": 0, "like": 0, "follow": 0}
    assert msgspec.structs.asdict(d.incoming) == {"reply": 1, "quote": 0, "mention": 0, "repost": 0, "like": 0, "follow": 2}
    assert store.get_account(graph_id, "c").account == Account(id="c")
    assert store.get_graph(graph_id).accounts == 3
    with pytest.raises(AccountNotFound):
        store.get_account(graph_id, "nobody")


def test_same_accounts_resent_keep_the_version(store, graph_id):
    store.create_graph(graph_id)
    accts = [Account(id=f"a{i}", handle=f"@a{i}", followers=i) for i in range(5)]
    store.upsert_accounts(graph_id, accts)
    v = store.get_graph(graph_id).version
    store.upsert_accounts(graph_id, accts)
    assert store.get_graph(graph_id).version == v
    store.upsert_accounts(graph_id, [Account(id="a0", followers=99)])
    assert store.get_graph(graph_id).version != v
    assert store.get_graph(graph_id).accounts == 5


def test_graphs_are_separate_workspaces(store, graph_id):
    other = graph_id + "-b"
    store.create_graph(graph_id)
    store.create_graph(other)
    store.add_interactions(graph_id, [it(1)])
    # the same interaction id in another graph is a different interaction
    r = store.add_interactions(other, [it(1, t="zed")])
    assert r.accepted == 1
    assert store.get_account(other, "zed").incoming.reply == 1
    with pytest.raises(AccountNotFound):
        store.get_account(graph_id, "zed")
    store.delete_graph(other)
    assert store.get_graph(graph_id).interactions.reply == 1


def test_recreated_graph_starts_empty_with_a_new_version(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, [it(1)])
    old = store.get_graph(graph_id).version
    store.delete_graph(graph_id)
    fresh = store.create_graph(graph_id)
    assert fresh.version != old and fresh.accounts == 0
    assert list(store.iter_interactions(graph_id)) == []
    assert store.add_interactions(graph_id, [it(1)]).accepted == 1


def test_query_lookalike_strings_are_just_data(store, graph_id):
    store.create_graph(graph_id)
    nasty = "x'}) DETACH DELETE n; DROP TABLE interactions; --"
    store.add_interactions(graph_id, [it(1, s=nasty, t="b", post="') RETURN 1 //")])
    d = store.get_account(graph_id, nasty)
    assert d.account.id == nasty and d.outgoing.reply == 1
    assert store.get_graph(graph_id).accounts == 2


def test_graphs_list_by_id_after_a_cursor(store, graph_id):
    ids = [f"{graph_id}-{c}" for c in "dbeac"]
    for g in ids:
        store.create_graph(g)
    mine = sorted(ids)
    listed = [g.id for g in store.list_graphs() if g.id in mine]
    assert listed == mine
    assert [g.id for g in store.list_graphs(after=mine[1], limit=2)] == mine[2:4]
    assert [g.id for g in store.list_graphs(after=mine[-1]) if g.id.startswith(graph_id)] == []


def test_accounts_found_by_id_or_handle_prefix(store, graph_id):
    store.create_graph(graph_id)
    store.upsert_accounts(graph_id, [
        Account(id="north-01", handle="@Nora"), Account(id="north-02"), Account(id="north-10", handle="@zed"),
        Account(id="south-01", handle="@Northwind_Co"), Account(id="x%1", handle="@100%_real"),
        Account(id="ünï", handle="@ünï"), Account(id="zz", handle="north"),
    ])

    def ids(q, **kw):
        return [a.id for a in store.find_accounts(graph_id, q, **kw)]

    # the id prefix, and the handles that start with it (case and a leading @ aside), by id
    assert ids("north") == ["north-01", "north-02", "north-10", "south-01", "zz"]
    assert ids("north-0") == ["north-01", "north-02"]
    assert ids("@NOR") == ["north-01", "south-01", "zz"]
    assert ids("no", after="north-02", limit=2) == ["north-10", "south-01"]
    # LIKE's wildcards are letters like any other
    assert ids("100%") == ["x%1"] and ids("%") == [] and ids("_") == []
    assert ids("ün") == ["ünï"]
    every = ids("")
    assert every == sorted(every) and len(every) == 7
    assert [a.handle for a in store.find_accounts(graph_id, "north-01")] == ["@Nora"]
    with pytest.raises(GraphNotFound):
        store.find_accounts(graph_id + "-missing", "a")


def test_account_handles_for_the_labels_of_some_accounts(store, graph_id):
    store.create_graph(graph_id)
    # more than one round trip's worth, and ids that look like SQL or Cypher
    many = [Account(id=f"a{i:05d}", handle=f"@h{i}") for i in range(12_000)]
    store.upsert_accounts(graph_id, [*many, Account(id="plain"), Account(id="x') OR 1=1 --", handle="@sly")])
    asked = [f"a{i:05d}" for i in range(0, 12_000, 7)] + ["plain", "x') OR 1=1 --", "nobody"]
    got = store.account_handles(graph_id, asked)
    # an account without a handle, or not in the graph, is left out
    assert got == {**{f"a{i:05d}": f"@h{i}" for i in range(0, 12_000, 7)}, "x') OR 1=1 --": "@sly"}
    assert store.account_handles(graph_id, []) == {}
    with pytest.raises(GraphNotFound):
        store.account_handles(graph_id + "-missing", ["a00001"])


def test_deleted_interactions_are_gone_with_their_counts_time_range_and_version(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, [
        it(0, Kind.REPOST, "d", "a", object="post-9"), it(1, Kind.REPLY, "a", "b"), it(2, Kind.REPLY, "b", "a"),
        it(3, Kind.QUOTE, "c", "a"), it(7, Kind.FOLLOW, "a", "d"),
    ])
    before = store.get_graph(graph_id)
    out = store.delete_interactions(graph_id, ["i2", "i3", "i2", "nope"])
    assert (out.deleted, out.missing) == (2, ["nope"])
    info = store.get_graph(graph_id)
    assert msgspec.structs.asdict(info.interactions) == {"reply": 1, "quote": 0, "mention": 0, "repost": 1, "like": 0, "follow": 1}
    assert info.version != before.version and info.accounts == 4  # accounts stay
    assert (info.first_at, info.last_at) == (T0, T0 + timedelta(minutes=7))
    assert sorted(i.id for i in store.iter_interactions(graph_id)) == ["i0", "i1", "i7"]
    # the ends of the time range go with the interactions that made them
    assert store.delete_interactions(graph_id, ["i0", "i7"]).deleted == 2
    info = store.get_graph(graph_id)
    assert (info.first_at, info.last_at) == (T0 + timedelta(minutes=1),) * 2
    # nothing to delete: nothing changes, not even the version
    assert store.delete_interactions(graph_id, ["i0"]).missing == ["i0"]
    assert store.get_graph(graph_id).version == info.version
    # a deleted id may be sent again, with any content
    assert store.add_interactions(graph_id, [it(3, Kind.MENTION, "x", "y")]).accepted == 1
    assert store.get_graph(graph_id).interactions.mention == 1
    store.delete_interactions(graph_id, ["i1", "i3"])
    info = store.get_graph(graph_id)
    assert info.interactions.total() == 0 and info.first_at is None and info.last_at is None
    with pytest.raises(GraphNotFound):
        store.delete_interactions(graph_id + "-missing", ["i1"])


def test_account_labels_read_one_attribute(store, graph_id):
    store.create_graph(graph_id)
    store.upsert_accounts(graph_id, [
        Account(id="a", attributes={"party": "left", "lang": "en"}), Account(id="b", attributes={"party": "right"}),
        Account(id="c", attributes={"lang": "de"}), Account(id="d"),
        Account(id="e", attributes={"party": "'); DROP TABLE accounts; --"}),
    ])
    assert store.account_labels(graph_id, "party") == {"a": "left", "b": "right", "e": "'); DROP TABLE accounts; --"}
    assert store.account_labels(graph_id, "lang") == {"a": "en", "c": "de"}
    assert store.account_labels(graph_id, '$."party"') == {}
    with pytest.raises(GraphNotFound):
        store.account_labels(graph_id + "-missing", "party")
