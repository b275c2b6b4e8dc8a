"""Polarization: modularity and assortativity against networkx, conversation crossing by
hand, RWC and the modularity z-score on planted and random graphs."""

from __future__ import annotations

import msgspec
import networkx as nx
import numpy as np
import pytest

from graph.analysis.communities import communities
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph
from graph.analysis.polarization import PolarizationResult, polarization

REF, FAST = get_engine("reference"), get_engine("fast")


def _layer(G: nx.Graph, kind: str = "reply") -> LayerGraph:
    return LayerGraph.from_rows(
        [(str(u), str(v), kind, int(d.get("weight", 1)), 0, 0) for u, v, d in G.edges(data=True)],
        nodes=[str(i) for i in range(G.number_of_nodes())],
    )


@pytest.fixture(scope="module")
def planted():
    G = nx.planted_partition_graph(2, 150, 0.1, 0.003, seed=1)
    return _layer(G), [0] * 150 + [1] * 150


@pytest.mark.parametrize("eng", [REF, FAST], ids=lambda e: e.name)
def test_karate_modularity_and_assortativity_match_networkx(eng):
    G = nx.karate_club_graph()
    memb = [0 if G.nodes[i]["club"] == "Mr. Hi" else 1 for i in G]
    res = polarization(_layer(G), ["reply"], memb, engine=eng, null_samples=0)
    groups = [{i for i in G if memb[i] == c} for c in (0, 1)]
    assert res.modularity == pytest.approx(nx.community.modularity(G, groups, weight="weight"))
    assert res.assortativity == pytest.approx(nx.attribute_assortativity_coefficient(G, "club"))
    assert res.sides == [0, 1]  # 17 members each: equal sizes go by id
    assert res.modularity_z is None and res.null_samples == 0


def test_assortativity_by_hand():
    # two triangles joined by one edge: 7 edges, 6 inside; every label holds half the edge
    # ends: r = (6/7 - 1/2) / (1 - 1/2) = 5/7
    rows = [(a, b, "reply", 1, 0, 0) for a, b in
            [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"), ("c", "x")]]
    res = polarization(LayerGraph.from_rows(rows), ["reply"], [0, 0, 0, 1, 1, 1],
                       engine=FAST, null_samples=0)
    assert res.assortativity == pytest.approx(5 / 7)
    assert res.modularity == pytest.approx(5 / 14)


def test_cross_community_share_by_hand():
    # conversation: a->b reply x3 (inside), a->x reply x1 (across), x->b quote x2 (across),
    # y->x quote x1 (inside); not conversation: b->y mention x5 (across), lurker -> a
    # reply x4 (lurker has no community: not counted)
    rows = [("a", "b", "reply", 3, 0, 0), ("a", "x", "reply", 1, 0, 0),
            ("x", "b", "quote", 2, 0, 0), ("y", "x", "quote", 1, 0, 0),
            ("b", "y", "mention", 5, 0, 0), ("lurker", "a", "reply", 4, 0, 0)]
    g = LayerGraph.from_rows(rows)
    memb = [{"a": 0, "b": 0, "x": 1, "y": 1}.get(name, -1) for name in g.nodes]
    res = polarization(g, ["mention"], memb, engine=FAST, null_samples=0)
    assert res.cross_community_share == pytest.approx(3 / 7)
    no_talk = LayerGraph.from_rows([("a", "b", "like", 1, 0, 0)])
    assert polarization(no_talk, ["like"], [0, 1], engine=FAST,
                        null_samples=0).cross_community_share is None


def test_rwc_planted_partition_is_high_and_seeded(planted):
    g, memb = planted
    a = polarization(g, ["reply"], memb, engine=FAST, seed=1, null_samples=0)
    b = polarization(g, ["reply"], memb, engine=REF, seed=1, null_samples=0)
    assert a.rwc == b.rwc  # walks depend on the partition and seed only, not the engine
    assert a.rwc > 0.5
    assert a.rwc_walks == 10000
    assert a.sides == [0, 1]
    c = polarization(g, ["reply"], memb, engine=FAST, seed=2, null_samples=0)
    assert c.rwc != a.rwc and abs(c.rwc - a.rwc) < 0.05


def test_rwc_random_split_is_near_zero():
    # a random graph cut in random halves: walks cross freely. RWC is slightly positive
    # by construction: walks starting on one of the 10 hubs (7% of starts) end at once
    g = _layer(nx.gnp_random_graph(300, 0.05, seed=2))
    memb = np.random.default_rng(0).integers(0, 2, 300).tolist()
    res = polarization(g, ["reply"], memb, engine=FAST, null_samples=0)
    assert abs(res.rwc) < 0.15
    assert abs(res.modularity) < 0.03


def test_modularity_z_planted_vs_random(planted):
    g, memb = planted
    res = polarization(g, ["reply"], memb, engine=FAST, null_samples=10)
    assert res.null_samples == 10
    assert res.modularity_z > 10
    assert res.modularity_unweighted > res.modularity_null_mean + 0.2
    rand = _layer(nx.gnp_random_graph(300, 0.05, seed=2))
    memb = communities(rand, ["reply"], engine=FAST).membership
    res = polarization(rand, ["reply"], memb, engine=FAST, null_samples=10)
    # Louvain finds Q ~ 0.22 in a random graph too: the z-score says it is chance
    assert res.modularity > 0.15
    assert abs(res.modularity_z) < 3


def test_modularity_z_reference_engine_small():
    G = nx.planted_partition_graph(2, 30, 0.3, 0.02, seed=4)
    res = polarization(_layer(G), ["reply"], [0] * 30 + [1] * 30, engine=REF, null_samples=4)
    assert res.modularity_z > 3
    assert res.engine == "reference"


def test_single_community_and_empty():
    G = nx.complete_graph(5)
    res = polarization(_layer(G), ["reply"], [0] * 5, engine=FAST, null_samples=0)
    assert res.rwc is None and res.sides == []
    assert res.assortativity is None  # one label everywhere: 0/0
    empty = polarization(_layer(G), ["like"], [0] * 5, engine=FAST)
    assert empty.modularity is None and empty.rwc is None
    assert msgspec.json.decode(msgspec.json.encode(res), type=PolarizationResult) == res


def _score(G: nx.Graph, eng=FAST) -> float:
    g = _layer(G)
    return polarization(g, ["reply"], np.zeros(g.n, dtype=np.int64), engine=eng, walks=0, null_samples=0).score


@pytest.mark.parametrize("eng", [FAST, REF], ids=["fast", "reference"])
def test_score_two_sides_without_a_tie_is_complete_and_a_stray_clique_is_not_a_split(eng):
    # two random halves with no tie between them: the complete split
    apart = nx.disjoint_union(nx.gnm_random_graph(300, 1500, seed=1), nx.gnm_random_graph(300, 1500, seed=2))
    assert _score(apart, eng) >= 0.9
    # one random graph, and one with a 6-clique off to the side: the clique's own leading
    # eigenvalue (5) stands out of the bulk (sqrt 10), but it is not a split of the network
    one = nx.gnm_random_graph(600, 3000, seed=3)
    stray = nx.disjoint_union(one, nx.complete_graph(6))
    assert _score(one, eng) < 0.05 and _score(stray, eng) == pytest.approx(_score(one, eng), abs=1e-6)
    # the same halves joined by a tenth of their ties: in between, and far from both
    joined = apart.copy()
    rng = np.random.default_rng(4)
    joined.add_edges_from(zip(rng.integers(0, 300, 300).tolist(), rng.integers(300, 600, 300).tolist()))
    assert 0.3 < _score(joined, eng) < 0.85
