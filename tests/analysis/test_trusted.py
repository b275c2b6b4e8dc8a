"""trusted_voices: reciprocated partners, their communities, PageRank base, the pod
penalty and example exchanges, checked by hand and against networkx."""

from __future__ import annotations

import math

import networkx as nx
import pytest

from graph.analysis.events import Event
from graph.analysis.graph import LayerGraph
from graph.analysis.trusted import Exchange, trusted_voices


def both(a, b, n=1, kind="reply"):
    return [(a, b, kind, n, 0, 0), (b, a, kind, n, 0, 0)]


ROWS = (
    # hub h converses with a1, a2 (community 0) and b1, b2 (community 1); twice with a1
    both("h", "a1", 2) + both("h", "a2") + both("h", "b1") + both("h", "b2")
    + both("a1", "a2") + both("b1", "b2")
    # q converses with q1, q2 (community 2) and is reposted mostly by the pod member pm
    + both("q", "q1") + both("q", "q2", kind="quote")
    + [("pm", "q", "repost", 3, 0, 0), ("x", "q", "like", 1, 0, 0)]
    # one-sided replies do not count: s replied to h, h never answered
    + [("s", "h", "reply", 5, 0, 0)]
)
COMM = {"h": 0, "a1": 0, "a2": 0, "b1": 1, "b2": 1, "q": 2, "q1": 2, "q2": 2,
        "pm": 3, "x": -1, "s": -1}


@pytest.fixture(scope="module")
def g():
    return LayerGraph.from_rows(ROWS)


def membership(g):
    return [COMM[name] for name in g.nodes]


def test_components_by_hand(g):
    res = trusted_voices(g, membership(g), pod_members={"pm"})
    by = {v.account: v for v in res.voices}
    # candidates (>= 2 reciprocated partners): h, a1, a2, b1, b2, q
    assert set(by) == {"h", "a1", "a2", "b1", "b2", "q"} and res.candidates == 6
    h = by["h"].components
    assert (h.partners, h.exchanges, h.partner_communities) == (4, 5, 2)
    assert h.partner_community_entropy == pytest.approx(math.log(2))
    assert h.outside_partner_share == 0.5  # b1, b2 of 4
    assert h.incoming_amplification == 0 and h.pod_amplification_share == 0.0
    q = by["q"].components
    assert (q.partners, q.partner_communities, q.partner_community_entropy) == (2, 1, 0.0)
    # incoming amplification: 3 reposts from pm (pod) + 1 like from x -> 3 / 4
    assert q.incoming_amplification == 4 and q.pod_amplification_share == 0.75
    assert by["q"].community == 2 and by["h"].community == 0


def test_pagerank_matches_networkx_and_score_formula(g):
    res = trusted_voices(g, membership(g), pod_members={"pm"}, limit=100)
    nxg = nx.Graph()
    nxg.add_nodes_from(g.nodes)
    src, dst, w = g.reciprocated(["reply", "quote"])
    nxg.add_weighted_edges_from((g.nodes[a], g.nodes[b], float(c))
                                for a, b, c in zip(src.tolist(), dst.tolist(), w.tolist()))
    pr = nx.pagerank(nxg, alpha=0.85, weight="weight", tol=1e-14, max_iter=1000)
    top = max(pr.values())
    for v in res.voices:
        assert v.components.pagerank == pytest.approx(pr[v.account], abs=1e-9)
        expect = pr[v.account] / top * math.exp(v.components.partner_community_entropy) * (
            1 - v.components.pod_amplification_share)
        assert v.score == pytest.approx(expect, rel=1e-6)
    # h has the highest PageRank and two equally used communities: 1 * e^(ln 2) * 1 = 2
    assert res.voices[0].account == "h" and res.voices[0].score == pytest.approx(2.0)
    assert [v.score for v in res.voices] == sorted((v.score for v in res.voices), reverse=True)


def test_pod_penalty_moves_q_down(g):
    plain = [v.account for v in trusted_voices(g, membership(g)).voices]
    penalised = [v.account for v in trusted_voices(g, membership(g), pod_members={"pm"}).voices]
    assert plain.index("q") < penalised.index("q")


def test_limit_and_min_partners(g):
    assert [v.account for v in trusted_voices(g, membership(g), limit=1).voices] == ["h"]
    res = trusted_voices(g, membership(g), min_partners=3)
    assert [v.account for v in res.voices] == ["h"]


def test_example_exchanges_pick_an_answered_message(g):
    events = [
        Event("m0", "reply", "h", "a1", 5, None),    # h wrote first, before a1's message
        Event("m1", "reply", "a1", "h", 10, None),   # a1's first message to h
        Event("m2", "reply", "h", "a1", 20, None),   # h's answer
        Event("m3", "reply", "h", "a1", 30, None),
        Event("n1", "reply", "b1", "h", 40, None),
        Event("n2", "reply", "h", "b1", 41, None),
        Event("k1", "reply", "h", "a2", 50, None),   # h wrote, a2 answered later
        Event("k2", "reply", "a2", "h", 60, None),
        Event("zz", "like", "b2", "h", 70, None),    # not conversation
    ]
    res = trusted_voices(g, membership(g), events, limit=1)
    (h,) = res.voices
    # strongest partner first (a1: 2 exchanges), then in graph order (a2, b1); at most 3
    assert h.example_exchanges == [
        Exchange(partner="a1", ids=["m1", "m2"]),
        Exchange(partner="a2", ids=["k1", "k2"]),
        Exchange(partner="b1", ids=["n1", "n2"]),
    ]


def test_no_events_no_examples_and_bad_membership(g):
    assert all(v.example_exchanges == [] for v in trusted_voices(g, membership(g)).voices)
    with pytest.raises(ValueError):
        trusted_voices(g, [0])


def test_empty_conversation_graph():
    g = LayerGraph.from_rows([("a", "b", "repost", 1, 0, 0)])
    res = trusted_voices(g, [0, 0])
    assert res.voices == [] and res.candidates == 0
