"""``read_snapshot``: everything one analysis reads, at one graph version, the same on sqlite
and Neo4j, also while another client writes."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from graph.errors import GraphNotFound
from graph.model import Account, Interaction, Kind
from graph.store.port import Snapshot
from tests.contract.test_analysis_reads import BATCH, T0, edge_rows, ms

EVENT_KINDS = (Kind.REPOST, Kind.LIKE, Kind.REPLY, Kind.QUOTE)


def fixed_graph(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, BATCH)
    # "z" has a follower count and no interaction at all: it must still be a node
    store.upsert_accounts(graph_id, [Account(id="a", followers=5000), Account(id="c", followers=12),
                                     Account(id="z", followers=3)])


def test_snapshot_is_what_the_separate_reads_return(store, graph_id):
    fixed_graph(store, graph_id)
    snap = store.read_snapshot(graph_id, event_kinds=[Kind.REPOST, Kind.FOLLOW], followers=True)
    assert isinstance(snap, Snapshot)
    assert snap.graph == graph_id
    assert snap.version == store.get_graph(graph_id).version
    assert sorted(snap.table.nodes) == ["a", "b", "c", "d", "z"]
    assert sorted(snap.table.kinds) == sorted(k.value for k in Kind)
    assert edge_rows(snap.table) == [
        ("a", "b", "reply", 3, ms(0), ms(60)),
        ("b", "a", "reply", 1, ms(5), ms(5)),
        ("c", "a", "follow", 1, ms(30), ms(30)),
        ("c", "a", "repost", 1, ms(20), ms(20)),
        ("d", "a", "repost", 1, ms(21), ms(21)),
    ]
    assert [tuple(e) for e in snap.events] == [
        ("e4", "repost", "c", "a", ms(20), "post-1"),
        ("e5", "repost", "d", "a", ms(21), "post-1"),
        ("e6", "follow", "c", "a", ms(30), None),
    ]
    assert snap.followers == {"a": 5000, "c": 12, "z": 3}


def test_snapshot_defaults_and_kind_choice(store, graph_id):
    fixed_graph(store, graph_id)
    snap = store.read_snapshot(graph_id)
    assert sorted(snap.table.kinds) == sorted(k.value for k in Kind)
    assert snap.events == [] and snap.followers is None
    # an event kind that is not an edge kind is read for the events only
    snap = store.read_snapshot(graph_id, edge_kinds=[Kind.REPLY], event_kinds=[Kind.REPOST])
    assert sorted(snap.table.kinds) == ["reply"]
    assert [e[0] for e in snap.events] == ["e4", "e5"]
    snap = store.read_snapshot(graph_id, edge_kinds=[])
    assert snap.table.kinds == {} and sorted(snap.table.nodes) == ["a", "b", "c", "d", "z"]


def test_snapshot_window_is_half_open(store, graph_id):
    fixed_graph(store, graph_id)
    snap = store.read_snapshot(
        graph_id, since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=21),
        edge_kinds=[Kind.REPLY, Kind.REPOST], event_kinds=[Kind.REPLY, Kind.REPOST],
    )
    assert edge_rows(snap.table) == [
        ("a", "b", "reply", 1, ms(10), ms(10)),
        ("b", "a", "reply", 1, ms(5), ms(5)),
        ("c", "a", "repost", 1, ms(20), ms(20)),
    ]
    assert [e[0] for e in snap.events] == ["e3", "e2", "e4"]
    # the window narrows interactions, never accounts
    assert sorted(snap.table.nodes) == ["a", "b", "c", "d", "z"]
    later = store.read_snapshot(graph_id, since=T0 + timedelta(minutes=21), event_kinds=EVENT_KINDS)
    assert [e[0] for e in later.events] == ["e5", "e7"]


def test_snapshot_of_a_missing_graph(store, graph_id):
    with pytest.raises(GraphNotFound):
        store.read_snapshot(graph_id)
    store.create_graph(graph_id)
    store.delete_graph(graph_id)
    with pytest.raises(GraphNotFound):
        store.read_snapshot(graph_id, event_kinds=EVENT_KINDS, followers=True)


def test_snapshot_of_an_empty_graph(store, graph_id):
    info = store.create_graph(graph_id)
    snap = store.read_snapshot(graph_id, event_kinds=EVENT_KINDS, followers=True)
    assert snap.version == info.version
    assert snap.table.nodes == [] and snap.events == [] and snap.followers == {}
    assert all(len(c) == 0 for cols in snap.table.kinds.values() for c in cols)


@pytest.mark.neo4j
def test_neo4j_data_written_before_stamping_counts_as_revision_0(neo4j_server, graph_id):
    """Graphs written before writes stamped ``rev`` read whole, and later writes stamp on."""
    from graph.store.neo4j import Neo4jStore

    store = Neo4jStore(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    try:
        fixed_graph(store, graph_id)
        with store._session() as s:
            uid = s.run("MATCH (g:Graph {id: $id}) RETURN g.uid AS uid", id=graph_id).single()["uid"]
            s.run("MATCH (a:Account {graph_uid: $uid}) REMOVE a.rev, a.frev", uid=uid).consume()
            s.run("MATCH (:Account {graph_uid: $uid})-[r]->() REMOVE r.rev", uid=uid).consume()
        snap = store.read_snapshot(graph_id, event_kinds=list(Kind), followers=True)
        assert sorted(snap.table.nodes) == ["a", "b", "c", "d", "z"]
        assert len(snap.events) == len(BATCH) and snap.followers == {"a": 5000, "c": 12, "z": 3}
        late = Interaction(id="e8", kind=Kind.REPLY, source="y", target="a", at=T0)
        store.add_interactions(graph_id, [late])
        snap = store.read_snapshot(graph_id, event_kinds=list(Kind))
        assert snap.version == store.get_graph(graph_id).version
        assert "y" in snap.table.nodes and len(snap.events) == len(BATCH) + 1
    finally:
        store.close()


# --- under concurrent writes --------------------------------------------------------------

BATCHES = 40
PER_BATCH = 150
KINDS = list(Kind)


def writer_batch(b: int) -> list[Interaction]:
    """Every interaction names a new account (the race an analysis read used to lose), half
    of them act on an account of an earlier batch."""
    return [
        Interaction(
            id=f"w{b}-{i}",
            kind=KINDS[(b + i) % len(KINDS)],
            source=f"n{b}-{i}",
            target=f"n{b // 2}-{(i * 7) % PER_BATCH}" if i % 2 else f"m{b}-{i}",
            at=T0 + timedelta(seconds=b * PER_BATCH + i),
            object=f"p{i % 10}",
        )
        for i in range(PER_BATCH)
    ]


def take_snapshot(store, graph_id) -> Snapshot:
    return store.read_snapshot(graph_id, event_kinds=list(Kind), followers=True)


def test_snapshot_is_one_version_under_concurrent_writes(store, graph_id):
    info = store.create_graph(graph_id)
    # version -> (interactions, accounts, followers of "hub") written up to it, recorded by
    # the only writer right after each of its writes
    written = {info.version: (0, 0, None)}
    failures: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        total, hub = 0, None
        try:
            for b in range(BATCHES):
                total += store.add_interactions(graph_id, writer_batch(b)).accepted
                g = store.get_graph(graph_id)
                written[g.version] = (total, g.accounts, hub)
                # a follower count changed in place: no stamp of creation can hide that
                store.upsert_accounts(graph_id, [Account(id="hub", followers=b)])
                hub = b
                g = store.get_graph(graph_id)
                written[g.version] = (total, g.accounts, hub)
                time.sleep(0.002)  # let the reader in between writes
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    snaps: list[tuple[Snapshot, BaseException | None]] = []
    while not done.is_set():
        try:
            snaps.append((take_snapshot(store, graph_id), None))
        except Exception as e:  # collected: every snapshot must succeed
            snaps.append((None, e))
    writer.join()
    snaps.append((take_snapshot(store, graph_id), None))
    assert not failures, failures

    errors = [repr(e) for _, e in snaps if e is not None]
    assert not errors, f"{len(errors)} of {len(snaps)} snapshots failed: {errors[:3]}"
    seen_versions = set()
    for snap, _ in snaps:
        assert snap.version in written, snap.version
        interactions, accounts, hub = written[snap.version]
        table = snap.table
        got = sum(len(src) for src, _, _ in table.kinds.values())
        assert got == interactions, (snap.version, got, interactions)
        assert len(snap.events) == interactions
        # every account existing at the version, and none later
        assert len(table.nodes) == len(set(table.nodes)) == accounts, (snap.version, len(table.nodes))
        names = set(table.nodes)
        for src, dst, at in table.kinds.values():
            assert len(src) == len(dst) == len(at)
            if len(src):
                assert min(src.min(), dst.min()) >= 0
                assert max(src.max(), dst.max()) < len(table.nodes)
        assert {e[2] for e in snap.events} | {e[3] for e in snap.events} <= names
        assert [(e[4], e[0]) for e in snap.events] == sorted((e[4], e[0]) for e in snap.events)
        assert snap.followers.get("hub") == hub, (snap.version, snap.followers.get("hub"), hub)
        seen_versions.add(snap.version)
    # the reads really happened in between writes, not just before and after them
    assert len(seen_versions) >= 3, seen_versions
    last = snaps[-1][0]
    assert last.version == store.get_graph(graph_id).version
    assert written[last.version][0] == BATCHES * PER_BATCH
    assert np.array_equal(
        np.sort(np.concatenate([at for _, _, at in last.table.kinds.values()])),
        np.sort(np.asarray([e[4] for e in last.events])),
    )
