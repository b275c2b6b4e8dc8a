"""castles: raw closure / currency / isolation by hand on a planted graph, the null models'
z-scores, the rule, and reproducibility."""

from __future__ import annotations

import random
import re

import msgspec
import networkx as nx
import numpy as np
import pytest

from graph.analysis.castles import CASTLE_RULE, castles
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph


@pytest.fixture(scope="module", params=["fast", "reference"])
def engine(request):
    return get_engine(request.param)


POD = [f"p{i}" for i in range(6)]
TALK = [f"t{i}" for i in range(6)]
BACK = [f"b{i}" for i in range(60)]


def planted_rows():
    rows = []
    for a in POD:  # a pod: everyone reposts everyone twice and follows everyone
        for b in POD:
            if a != b:
                rows += [(a, b, "repost", 2, 0, 0), (a, b, "follow", 1, 0, 0)]
    for a in TALK:  # an equally dense circle that converses instead
        for b in TALK:
            if a != b:
                rows.append((a, b, "reply", 2, 0, 0))
    rnd = random.Random(11)
    for a in BACK:  # background: random replies, some answered, and a few reposts
        for b in BACK:
            if a != b and rnd.random() < 0.06:
                rows.append((a, b, "reply", rnd.randint(1, 3), 0, 0))
    for _ in range(40):
        a, b = rnd.sample(BACK, 2)
        rows.append((a, b, "repost", 1, 0, 0))
    for k, a in enumerate(POD):  # one unanswered reply each to the outside
        rows.append((a, BACK[k], "reply", 1, 0, 0))
    for k, a in enumerate(TALK):
        rows.append((a, BACK[10 + k], "reply", 1, 0, 0))
    return rows


@pytest.fixture(scope="module")
def planted():
    g = LayerGraph.from_rows(planted_rows())
    comm = {}
    comm.update({a: 0 for a in POD})
    comm.update({a: 1 for a in TALK})
    comm.update({b: 2 + i % 3 for i, b in enumerate(BACK)})  # arbitrary thirds
    comm["b58"] = comm["b59"] = 5  # too small to score
    comm["b57"] = -1
    return g, [comm[name] for name in g.nodes]


def test_planted_raw_components_by_hand(planted, engine):
    g, m = planted
    res = castles(g, m, engine=engine, null_samples=10, seed=1)
    by = {c.id: c for c in res.communities}
    assert sorted(by) == [0, 1, 2, 3, 4]  # 5 has two members, -1 is no community
    # thirds of 60 less b57 (unassigned), b58 and b59 (moved to 5)
    assert [by[c].size for c in range(5)] == [6, 6, 19, 19, 19]

    pod = by[0].components
    # 15 pairs inside (repost + follow count once), 6 unanswered replies out
    assert (pod.internal_ties, pod.external_ties) == (15, 6)
    assert pod.ei_index == pytest.approx((6 - 15) / 21)
    assert pod.conductance == pytest.approx(6 / (2 * 15 + 6))
    # interactions: per pair 2 + 2 reposts and 2 follows = 6, x 15 = 90 inside; 6 out
    assert pod.ei_index_weighted == pytest.approx((6 - 90) / 96)
    # 30 ordered pairs x 2 reposts; no internal conversation
    assert (pod.internal_amplification, pod.internal_conversation) == (60, 0)
    assert pod.amplification_share == 1.0 and pod.amplification_reciprocity == 1.0
    assert pod.amplification_per_member == 10.0
    assert pod.conversation_partner_ties == 0
    assert pod.conversation_outside_share is None and pod.insularity is None

    talk = by[1].components
    assert (talk.internal_ties, talk.external_ties) == (15, 6)
    assert (talk.internal_amplification, talk.internal_conversation) == (0, 60)
    assert talk.amplification_share == 0.0 and talk.amplification_reciprocity is None
    assert talk.conversation_partner_ties == 30 and talk.insularity == 1.0
    # 2 replies each way per pair = 4, x 15 = 60 inside; 6 out
    assert talk.ei_index_weighted == pytest.approx((6 - 60) / 66)

    # k-core depth against networkx's core numbers on the same structural graph
    s, d, _ = g.undirected(sorted(g.kinds))
    G = nx.Graph()
    G.add_nodes_from(range(g.n))
    G.add_edges_from(zip(s.tolist(), d.tolist()))
    core = nx.core_number(G)
    top = max(core.values())
    for cid, c in by.items():
        members = [i for i in range(g.n) if m[i] == cid]
        assert c.components.core_depth == pytest.approx(np.mean([core[i] for i in members]) / top)


def test_pod_is_a_castle_and_the_conversational_circle_is_not(planted, engine):
    g, m = planted
    res = castles(g, m, engine=engine, null_samples=20, seed=0)
    by = {c.id: c for c in res.communities}
    pod, talk = by[0], by[1]
    assert pod.castle and pod.checks.closed and pod.checks.own_currency
    assert pod.components.ei_index_z <= -2
    assert pod.components.amplification_share_z >= 2
    assert pod.components.amplification_reciprocity_z > 0
    # just as closed, but its currency is conversation
    assert talk.checks.closed and not talk.checks.own_currency and not talk.castle
    assert talk.components.amplification_share_z < 0
    assert not any(by[c].castle for c in (2, 3, 4))
    # score = (1 - weighted EI) / 2 * share
    assert pod.score == pytest.approx((1 + 84 / 96) / 2 * 1.0)
    assert talk.score == 0.0
    assert res.rule == CASTLE_RULE and res.null_samples == 20 and res.seed == 0
    assert res.structure_kinds == ["follow", "reply", "repost"]


def test_same_seed_same_answer_other_seed_other_null(planted, engine):
    g, m = planted
    a = castles(g, m, engine=engine, null_samples=5, seed=3)
    b = castles(g, m, engine=engine, null_samples=5, seed=3)
    c = castles(g, m, engine=engine, null_samples=5, seed=4)
    assert msgspec.to_builtins(a) == msgspec.to_builtins(b)
    za = [x.components.amplification_share_z for x in a.communities]
    zc = [x.components.amplification_share_z for x in c.communities]
    assert za != zc


def test_structure_kinds_choose_the_closure_graph(planted, engine):
    g, m = planted
    res = castles(g, m, engine=engine, null_samples=3, structure_kinds=["reply"])
    pod = next(c for c in res.communities if c.id == 0).components
    # on replies alone the pod has no inside tie, only its 6 replies out
    assert (pod.internal_ties, pod.external_ties, pod.ei_index) == (0, 6, 1.0)
    assert not next(c for c in res.communities if c.id == 0).castle


def _as(kind_map, rows):
    return [(a, b, kind_map.get(k, k), *rest) for a, b, k, *rest in rows]


def _inside(c) -> str:
    return f"{(1 - c.components.ei_index_weighted) / 2:.0%} of its members' interactions stay inside"


def test_with_both_layers_every_test_is_measured(planted, engine):
    g, m = planted
    res = castles(g, m, engine=engine, null_samples=20, seed=0)
    assert res.confidence == "full"
    assert [(t.name, t.measurable, t.reason) for t in res.tests] == [("closed", True, None),
                                                                     ("own_currency", True, None)]
    by = {c.id: c for c in res.communities}
    pod, talk = by[0], by[1]
    assert all(c.confidence == "full" for c in res.communities)
    assert all(isinstance(c.checks.closed, bool) and isinstance(c.checks.own_currency, bool)
               for c in res.communities)
    # one sentence each, naming the numbers the verdict rests on
    assert pod.explanation == (
        f"Closed: {_inside(pod)} (E-I z {pod.components.ei_index_z:.1f}); own currency: 100% of the "
        f"interactions inside are amplification (z {pod.components.amplification_share_z:.1f}), so it is a castle.")
    assert talk.explanation.startswith(f"Closed: {_inside(talk)} (E-I z {talk.components.ei_index_z:.1f}); "
                                       "no own currency: only 0% of the interactions inside are amplification")
    assert talk.explanation.endswith(", so it is not a castle.")
    for c in res.communities:
        assert c.explanation.endswith(".") and not re.search(r"\.\s", c.explanation)  # one sentence
        assert ("so it is a castle." in c.explanation) == c.castle


def test_without_conversation_currency_is_not_measurable_and_closure_decides(planted, engine):
    # every reply read as a mention: the graph has amplification but no conversation, so
    # the share is 1 wherever there is any currency and cannot separate pod from circle
    g0, m = planted
    full = {c.id: c for c in castles(g0, m, engine=engine, null_samples=10, seed=0).communities}
    g = LayerGraph.from_rows(_as({"reply": "mention"}, planted_rows()))
    assert g.nodes == g0.nodes
    res = castles(g, m, engine=engine, null_samples=10, seed=0)
    assert res.confidence == "closure only"
    closed, currency = res.tests
    assert (closed.name, closed.measurable, closed.reason) == ("closed", True, None)
    assert (currency.name, currency.measurable) == ("own_currency", False)
    assert currency.reason == "the graph has no conversation layer (reply, quote) to weigh its amplification against"
    by = {c.id: c for c in res.communities}
    for c in res.communities:
        assert c.confidence == "closure only" and c.checks.own_currency is None
        # the structural graph is the same ties under other names: closure is unchanged
        assert c.checks.closed == full[c.id].checks.closed
        assert c.castle == c.checks.closed
        assert c.score == pytest.approx((1 - c.components.ei_index_weighted) / 2)
        assert currency.reason in c.explanation
    # the pod stays a castle; the conversational circle, just as closed, is now one too:
    # the weaker verdict cannot tell them apart
    assert by[0].castle and by[1].castle and not any(by[c].castle for c in (2, 3, 4))
    assert by[1].explanation == (
        f"Closed: {_inside(by[1])} (E-I z {by[1].components.ei_index_z:.1f}); amplification share could not be "
        f"measured: {currency.reason}, so it is a castle on closure alone.")
    assert by[2].explanation.startswith("Not closed: ") and by[2].explanation.endswith(", so it is not a castle.")


def test_without_amplification_the_reason_names_the_missing_layer(planted, engine):
    g, m = planted
    g = LayerGraph.from_rows(_as({"repost": "mention"}, planted_rows()))
    res = castles(g, m, engine=engine, null_samples=5, seed=0)
    assert res.confidence == "closure only"
    assert res.tests[1].reason == "the graph has no amplification layer (repost, like) to weigh against its conversation"
    # neither kind of currency at all
    res = castles(g, m, engine=engine, null_samples=5, seed=0, conversation=("quote",))
    assert res.tests[1].reason == ("the graph has neither an amplification layer (repost, like) nor a "
                                   "conversation layer (quote)")


def test_with_no_structural_ties_nothing_is_flagged(planted, engine):
    g, m = planted
    res = castles(g, m, engine=engine, null_samples=3, seed=0, structure_kinds=["mention"])
    assert res.confidence == "currency only"
    assert res.tests[0].reason == "the structural layers (mention) have no ties"
    by = {c.id: c for c in res.communities}
    assert all(c.checks.closed is None for c in res.communities)
    # on currency alone the pod is flagged, and the conversational circle is not
    assert by[0].castle and by[0].checks.own_currency and not by[1].castle
    assert by[0].explanation.endswith("so it is a castle on currency alone.")
    res = castles(g, m, engine=engine, null_samples=3, seed=0, structure_kinds=["mention"], conversation=())
    assert res.confidence == "none" and not any(c.castle for c in res.communities)
    assert all(c.explanation.endswith("so it is not flagged.") for c in res.communities)


def test_a_measurable_test_whose_z_cannot_be_computed_fails(engine):
    # the whole graph is one complete community: every rewiring is the graph itself and
    # every label permutation leaves it the same mix, so neither null varies
    people = "abcdef"
    # 18 reposts, 12 replies, one interaction each: 60% amplification, however labelled
    rows = [(x, y, "reply" if x > y and x in "def" else "repost", 1, 0, 0) for x in people for y in people if x != y]
    g = LayerGraph.from_rows(rows)
    res = castles(g, [0] * 6, engine=engine, null_samples=5)
    (c,) = res.communities
    assert res.confidence == "full"
    assert c.components.ei_index == -1.0 and c.components.ei_index_z is None
    assert c.components.amplification_share == pytest.approx(0.6) and c.components.amplification_share_z is None
    # measurable, so a missing z is a failed condition, not "not measurable"
    assert c.checks.closed is False and c.checks.own_currency is False and not c.castle
    assert "the E-I z-score could not be computed" in c.explanation
    assert "60% of the interactions inside are amplification, but its z-score could not be computed" in c.explanation


def pod_with_conversation(partners_out, times=1):
    """The planted pod over a background, where member ``p{k}`` converses (``times``
    replies each way) with the background accounts ``partners_out[k]``."""
    rows = [r for r in planted_rows() if not r[0].startswith("t") and not r[1].startswith("t")]
    for k, outs in enumerate(partners_out):
        for b in outs:
            rows += [(POD[k], b, "reply", times, 0, 0), (b, POD[k], "reply", times, 0, 0)]
    g = LayerGraph.from_rows(rows)
    m = [0 if name in POD else 1 + int(name[1:]) % 3 for name in g.nodes]
    return g, m


def test_a_few_outward_ties_of_a_silent_pod_leave_it_a_castle(engine):
    # p0 alone converses, with two outsiders: insularity 0, yet the pod is still a castle
    g, m = pod_with_conversation([["b20", "b21"]])
    pod = next(c for c in castles(g, m, engine=engine, null_samples=10).communities if c.id == 0)
    c = pod.components
    assert (c.conversation_partner_ties, c.conversation_outside_share, c.insularity) == (2, 1.0, 0.0)
    # 90 interactions inside; 6 replies out + 2 x 2 exchanged with b20, b21 = 10 out
    assert c.ei_index_weighted == pytest.approx((10 - 90) / 100)
    assert pod.castle


def test_a_pod_that_mostly_talks_outside_is_not_closed(engine):
    # every member exchanges 10 replies each way with an outsider: 6 x 21 = 126 out, 90 in
    g, m = pod_with_conversation([[f"b{20 + k}"] for k in range(6)], times=10)
    pod = next(c for c in castles(g, m, engine=engine, null_samples=10).communities if c.id == 0)
    assert pod.components.ei_index_weighted == pytest.approx((126 - 90) / 216)
    assert pod.components.insularity == 0.0
    assert pod.checks.own_currency and not pod.checks.closed and not pod.castle


def test_bad_arguments(planted, engine):
    g, m = planted
    with pytest.raises(ValueError):
        castles(g, m, engine=engine, null_samples=1)
    with pytest.raises(ValueError):
        castles(g, m[:-1], engine=engine)


def test_no_community_large_enough(engine):
    g = LayerGraph.from_rows([("a", "b", "reply", 1, 0, 0), ("c", "d", "repost", 1, 0, 0)])
    res = castles(g, [0, 0, 1, -1], engine=engine)
    assert res.communities == [] and res.null_samples == 20
