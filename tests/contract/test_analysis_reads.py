"""What analyses read from a store, the same on sqlite and Neo4j."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from graph.analysis.graph import LayerGraph
from graph.model import Account, Interaction, Kind, epoch_ms

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def ev(n, kind, s, t, minutes, obj=None):
    return Interaction(id=f"e{n}", kind=kind, source=s, target=t, at=T0 + timedelta(minutes=minutes), object=obj)


BATCH = [
    ev(1, Kind.REPLY, "a", "b", 0),
    ev(2, Kind.REPLY, "a", "b", 10),
    ev(3, Kind.REPLY, "b", "a", 5),
    ev(4, Kind.REPOST, "c", "a", 20, "post-1"),
    ev(5, Kind.REPOST, "d", "a", 21, "post-1"),
    ev(6, Kind.FOLLOW, "c", "a", 30),
    ev(7, Kind.REPLY, "a", "b", 60),
]


def ms(minutes):
    return epoch_ms(T0 + timedelta(minutes=minutes))


def edge_rows(table):
    """(source, target, kind, count, first_ms, last_ms) rows, aggregated the way the
    analysis aggregates the store's columns."""
    g = LayerGraph.from_table(table)
    return sorted(
        (g.nodes[s], g.nodes[t], kind, int(c), int(f), int(l))
        for kind, e in g.kinds.items()
        for s, t, c, f, l in zip(e.src, e.dst, e.count, e.first, e.last)
    )


def test_edge_table_holds_every_interaction(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, BATCH)
    table = store.read_snapshot(graph_id, edge_kinds=[Kind.REPLY, Kind.REPOST]).table
    assert sorted(table.nodes) == ["a", "b", "c", "d"]
    assert sorted(table.kinds) == ["reply", "repost"]
    src, dst, at = table.kinds["reply"]
    assert sorted((table.nodes[s], table.nodes[t], int(x)) for s, t, x in zip(src, dst, at)) == [
        ("a", "b", ms(0)), ("a", "b", ms(10)), ("a", "b", ms(60)), ("b", "a", ms(5))]
    assert edge_rows(table) == [
        ("a", "b", "reply", 3, ms(0), ms(60)),
        ("b", "a", "reply", 1, ms(5), ms(5)),
        ("c", "a", "repost", 1, ms(20), ms(20)),
        ("d", "a", "repost", 1, ms(21), ms(21)),
    ]


def test_time_window_is_half_open(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, BATCH)
    rows = edge_rows(store.read_snapshot(graph_id, edge_kinds=[Kind.REPLY], since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=60)).table)
    assert rows == [("a", "b", "reply", 1, ms(10), ms(10)), ("b", "a", "reply", 1, ms(5), ms(5))]
    assert store.read_snapshot(graph_id, edge_kinds=[]).table.kinds == {}


def test_events_in_time_order(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, BATCH)
    got = list(store.read_snapshot(graph_id, edge_kinds=[], event_kinds=[Kind.REPOST, Kind.FOLLOW]).events)
    assert got == [
        ("e4", "repost", "c", "a", ms(20), "post-1"),
        ("e5", "repost", "d", "a", ms(21), "post-1"),
        ("e6", "follow", "c", "a", ms(30), None),
    ]


def test_followers(store, graph_id):
    store.create_graph(graph_id)
    store.add_interactions(graph_id, BATCH)
    store.upsert_accounts(graph_id, [Account(id="a", followers=5000), Account(id="c", followers=12)])
    assert store.read_snapshot(graph_id, edge_kinds=[], followers=True).followers == {"a": 5000, "c": 12}
