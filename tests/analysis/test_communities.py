"""Communities on two 5-cliques joined by one edge: every per-community number by hand."""

from __future__ import annotations

from itertools import combinations

import msgspec
import networkx as nx
import pytest

from graph.analysis.communities import CommunitiesResult, communities
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph

ENGINES = [get_engine("reference"), get_engine("fast")]

A = [f"a{i}" for i in range(5)]
B = [f"b{i}" for i in range(5)]


def _two_cliques() -> LayerGraph:
    """Clique A and clique B (replies a_i -> a_j for i < j, once each), except a0 -> a1
    replied 3 times; one reply a4 -> b0 joins them. Not analysed: 5 likes a0 -> a1 and
    2 likes b1 -> b2 inside, 3 reposts a2 -> b3 across, and "lurker", who only follows a0.
    """
    rows = []
    for side in (A, B):
        for u, v in combinations(side, 2):
            rows.append((u, v, "reply", 3 if (u, v) == ("a0", "a1") else 1, 0, 0))
    rows += [
        ("a4", "b0", "reply", 1, 0, 0),
        ("a0", "a1", "like", 5, 0, 0),
        ("b1", "b2", "like", 2, 0, 0),
        ("a2", "b3", "repost", 3, 0, 0),
        ("lurker", "a0", "follow", 1, 0, 0),
    ]
    return LayerGraph.from_rows(rows, nodes=["lurker"])


@pytest.fixture(params=ENGINES, ids=lambda e: e.name)
def result(request) -> CommunitiesResult:
    return communities(_two_cliques(), ["reply"], engine=request.param, seed=3, top=2)


def test_membership_finds_the_cliques_and_leaves_out_the_lurker(result):
    # lurker is node 0 (given first); A's clique has the smallest indices after it, and
    # equal sizes are numbered by smallest member: A = 0, B = 1
    assert result.membership == [-1] + [0] * 5 + [1] * 5
    assert [c.members for c in result.communities] == [A, B]
    assert [c.size for c in result.communities] == [5, 5]
    assert result.kinds == ["reply"] and result.seed == 3


def test_clique_a_by_hand(result):
    a = result.communities[0]
    # internal weight I = 9 edges x 1 + 3 (a0-a1) = 12; cut E = 1 (a4-b0)
    assert a.internal_density == 1.0  # 10 of 10 pairs
    assert a.conductance == pytest.approx(1 / (2 * 12 + 1))
    # E-I over member edge ends: E = 1, I = 2 x 12 = 24
    assert a.ei_index == pytest.approx((1 - 24) / (1 + 24))
    # inside: 12 replies and 5 likes (the repost crosses, the follow involves an outsider)
    assert a.dominant_layers == pytest.approx(
        {"reply": 12 / 17, "like": 5 / 17, "follow": 0.0, "repost": 0.0})
    assert list(a.dominant_layers) == ["reply", "like", "follow", "repost"]
    # weighted degree inside: a0 and a1 = 3 + 1 + 1 + 1 = 6, the others 4
    assert [(t.account, t.degree) for t in a.top_accounts] == [("a0", 6.0), ("a1", 6.0)]


def test_clique_b_by_hand(result):
    b = result.communities[1]
    assert b.internal_density == 1.0
    assert b.conductance == pytest.approx(1 / 21)  # I = 10, E = 1
    assert b.ei_index == pytest.approx(-19 / 21)
    assert b.dominant_layers == pytest.approx(
        {"reply": 10 / 12, "like": 2 / 12, "follow": 0.0, "repost": 0.0})
    # all have degree 4 inside except b0 (the bridge end is outside): ties by node order
    assert [(t.account, t.degree) for t in b.top_accounts] == [("b0", 4.0), ("b1", 4.0)]


def test_modularity_against_networkx(result):
    g = _two_cliques()
    G = nx.Graph()
    src, dst, w = g.undirected(["reply"])
    G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist()))
    expected = nx.community.modularity(G, [set(range(1, 6)), set(range(6, 11))])
    assert result.modularity == pytest.approx(expected)
    # by hand: 2m = 2 * 23; Q = (12 + 10)/23 - ((2*12+1)^2 + (2*10+1)^2) / 46^2
    assert result.modularity == pytest.approx(22 / 23 - (25**2 + 21**2) / 46**2)


def test_sparser_community_density():
    # a 4-cycle and a triangle joined by one edge: the cycle has 4 of 6 possible pairs
    rows = [(u, v, "quote", 1, 0, 0) for u, v in
            [("p", "q"), ("q", "r"), ("r", "s"), ("s", "p"), ("x", "y"), ("y", "z"),
             ("z", "x"), ("s", "x")]]
    res = communities(LayerGraph.from_rows(rows), ["quote"], engine=get_engine("reference"))
    sizes = {c.size: c for c in res.communities}
    assert sizes[4].internal_density == pytest.approx(4 / 6)
    assert sizes[3].internal_density == 1.0


def test_same_seed_same_result_and_serialisable():
    g = _two_cliques()
    for eng in ENGINES:
        a = communities(g, ["reply", "quote"], engine=eng, seed=11)
        b = communities(g, ["reply", "quote"], engine=eng, seed=11)
        assert a == b
        assert msgspec.json.decode(msgspec.json.encode(a), type=CommunitiesResult) == a


def test_kinds_without_edges():
    res = communities(_two_cliques(), ["mention"], engine=get_engine("fast"))
    assert res.modularity is None and res.communities == []
    assert res.membership == [-1] * 11
