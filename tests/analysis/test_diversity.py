"""diversity: both views' entropies and shares, Dunbar ratio, and suggestions from
under-sampled communities, all by hand."""

from __future__ import annotations

import math

import pytest

from graph.analysis.diversity import Suggestion, diversity
from graph.analysis.graph import LayerGraph
from graph.analysis.trusted import trusted_voices
from graph.errors import AccountNotFound

COMM = {"me": 0, "a1": 0, "a2": 0, "a3": 0, "b1": 1, "b2": 1, "b3": 1,
        "c1": 2, "c2": 2, "c3": 2, "d1": 3, "d2": 3, "d3": 3, "dv": 3}


def both(a, b):
    return [(a, b, "reply", 1, 0, 0), (b, a, "reply", 1, 0, 0)]


def build(extra=()):
    rows = [("me", t, "follow", 1, 0, 0) for t in ("a1", "a2", "b1", "c1")]
    rows += both("me", "a1") + both("me", "a2") + both("me", "c1")
    rows += both("b2", "b1") + both("b2", "b3")
    rows += both("c1", "c2") + both("c1", "c3")
    rows += both("dv", "d1") + both("dv", "d2") + both("dv", "d3") + both("d1", "d2")
    rows += list(extra)
    g = LayerGraph.from_rows(rows, nodes=list(COMM))
    return g, [COMM[name] for name in g.nodes]


def test_views_by_hand():
    g, m = build()
    d = diversity(g, "me", m, castle_communities={2})
    assert d.community == 0 and d.communities_in_partition == 4
    # listens to a1, a2 (0), b1 (1), c1 (2): p = (1/2, 1/4, 1/4)
    L = d.listens_to
    assert (L.partners, L.unassigned, L.communities_reached) == (4, 0, 3)
    h = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))  # = 1.5 ln 2
    assert L.entropy == pytest.approx(h) and h == pytest.approx(1.5 * math.log(2))
    assert L.normalized_entropy == pytest.approx(0.75)  # 1.5 ln 2 / ln 4
    assert L.effective_communities == pytest.approx(2 ** 1.5)
    assert L.gini_simpson == pytest.approx(1 - (0.25 + 0.0625 + 0.0625))  # 0.625
    assert (L.share_own_community, L.share_in_castles) == (0.5, 0.25)
    # converses with a1, a2 (0), c1 (2): p = (2/3, 1/3)
    C = d.converses_with
    assert (C.partners, C.communities_reached) == (3, 2)
    assert C.entropy == pytest.approx(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))
    assert C.gini_simpson == pytest.approx(4 / 9)
    assert C.share_own_community == pytest.approx(2 / 3)
    assert C.share_in_castles == pytest.approx(1 / 3)
    assert d.active_reciprocated_ties == 3 and d.dunbar == 150
    assert d.dunbar_ratio == pytest.approx(0.02)


def test_suggestions_from_the_unreached_community():
    g, m = build()
    # ties {a1, a2, b1, c1}: shares 0: 1/2, 1: 1/4, 2: 1/4, 3: 0; sizes 4, 3, 3, 4 of 14.
    # representation: 1 and 2 -> (1/4) / (3/14) = 7/6 (not under-sampled); 3 -> 0.
    # trusted candidates in 3: dv (3 partners), d1 and d2 (2 each); d3 has only one.
    trusted = trusted_voices(g, m, limit=100)
    d = diversity(g, "me", m, trusted=trusted)
    assert [(s.account, s.community, s.community_representation) for s in d.suggestions] == [
        ("dv", 3, 0.0), ("d1", 3, 0.0), ("d2", 3, 0.0)]
    score = {v.account: v.score for v in trusted.voices}
    assert d.suggestions[0] == Suggestion(account="dv", community=3, score=score["dv"],
                                          community_representation=0.0)
    # without a precomputed result, the same voices come out
    assert diversity(g, "me", m).suggestions == d.suggestions


def test_suggestions_skip_known_accounts_and_order_by_representation():
    g, m = build(extra=[("me", "dv", "follow", 1, 0, 0)])
    # ties {a1, a2, b1, c1, dv}: 1 -> (1/5) / (3/14) = 14/15, 2 -> 14/15, 3 -> (1/5) / (4/14) = 0.7
    # 3 first (d1, d2; dv is followed already), then 1 (b2) and 2 (c1 is a partner, c2/c3
    # have one partner each, so no candidate there)
    d = diversity(g, "me", m, trusted=trusted_voices(g, m, limit=100))
    got = [(s.account, s.community, round(s.community_representation, 6)) for s in d.suggestions]
    assert got == [("d1", 3, 0.7), ("d2", 3, 0.7), ("b2", 1, round(14 / 15, 6))]


def test_an_account_with_no_ties():
    g, m = build()
    d = diversity(g, "a3", m)
    for view in (d.listens_to, d.converses_with):
        assert view.partners == 0 and view.communities_reached == 0
        assert view.entropy is None and view.normalized_entropy is None
        assert view.gini_simpson is None and view.share_own_community is None
    assert d.active_reciprocated_ties == 0 and d.dunbar_ratio == 0.0
    # every other community is unreached: best voices of the lowest-representation ones
    assert len(d.suggestions) == 5


def test_single_community_has_no_normalised_entropy_and_no_suggestions():
    g, _ = build()
    d = diversity(g, "me", [0] * g.n)
    assert d.communities_in_partition == 1
    assert d.listens_to.entropy == 0.0 and d.listens_to.normalized_entropy is None
    assert d.listens_to.effective_communities == 1.0
    assert d.suggestions == []


def test_unassigned_partners_are_counted_apart():
    g, m = build()
    m = list(m)
    m[g.index["b1"]] = -1
    L = diversity(g, "me", m).listens_to
    assert (L.partners, L.unassigned) == (4, 1)
    assert L.share_own_community == pytest.approx(2 / 3)  # a1, a2 of the 3 assigned


def test_unknown_account():
    g, m = build()
    with pytest.raises(AccountNotFound) as err:
        diversity(g, "nobody", m)
    assert err.value.ident == "nobody"
