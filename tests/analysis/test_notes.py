"""The notes module: each empty, null or partial result gets a sentence naming its numbers,
computed here from real stage results on small graphs made to produce each case."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from graph.analysis import notes
from graph.analysis.castles import castles
from graph.analysis.diversity import diversity
from graph.analysis.engine import get_engine
from graph.analysis.events import Event
from graph.analysis.gatekeepers import gatekeepers
from graph.analysis.graph import LayerGraph
from graph.analysis.params import AnalysisParams
from graph.analysis.pods import coordinated_pods
from graph.analysis.polarization import polarization
from graph.analysis.reach import reach
from graph.analysis.roles import account_roles
from graph.analysis.stages import RANKED_MAX
from graph.analysis.trusted import trusted_voices

REF = get_engine("reference")
P = AnalysisParams()


def graph(pairs, kind="reply") -> LayerGraph:
    return LayerGraph.from_rows([(a, b, kind, 1, 0, 0) for a, b in pairs])


def test_an_empty_partition_names_the_layers_and_the_window():
    p = AnalysisParams(layers=("reply", "quote"), since=datetime(2030, 1, 1, tzinfo=timezone.utc))
    (note,) = notes.communities_notes(0, p)
    assert note.startswith("no interactions of the analysed layers (quote, reply) since 2030-01-01T00:00:00+00:00")
    assert "wider since/until window" in note
    (plain,) = notes.communities_notes(0, AnalysisParams(layers=("reply",)))
    assert "(reply):" in plain and "window" not in plain
    assert notes.communities_notes(2, p) == [] and notes.stability_notes(2, p) == []


def test_trusted_voices_say_which_step_left_nobody():
    memb4 = [0, 0, 0, 0]
    only_reposts = trusted_voices(graph([("a", "b"), ("c", "b"), ("d", "b")], "repost"), memb4)
    assert only_reposts.conversation_interactions == 0
    (note,) = notes.trusted_notes(only_reposts, P)
    assert note.startswith("no reply or quote interactions between accounts")

    one_way = trusted_voices(graph([("a", "b"), ("a", "c"), ("b", "c"), ("c", "d"), ("d", "a")]), memb4)
    assert (one_way.conversation_interactions, one_way.reciprocated_pairs) == (5, 0)
    (note,) = notes.trusted_notes(one_way, P)
    assert note.startswith("5 reply or quote interactions, but no two accounts answered each other")

    # a - b and c - d answer each other: two pairs, one partner each
    pairs = trusted_voices(graph([("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("a", "c")]), memb4)
    assert (pairs.candidates, pairs.reciprocated_pairs, pairs.max_partners) == (0, 2, 1)
    (note,) = notes.trusted_notes(pairs, P)
    assert "nobody has 2 reciprocated conversation partners: 2 pairs conversed both ways" in note
    assert "the most partners any account has is 1" in note

    hub = trusted_voices(graph([("h", "x"), ("x", "h"), ("h", "y"), ("y", "h")]), [0, 0, 0])
    assert hub.candidates == 1 and notes.trusted_notes(hub, P) == []


def test_a_ranking_cut_at_its_longest_and_sampled_betweenness_are_partial():
    pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"), ("c", "x"), ("x", "c")]
    g, memb = graph(pairs), [0, 0, 0, 1, 1, 1]
    exact = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF))
    assert exact.candidates == 2 and notes.gatekeepers_notes(exact, 2, P) == []
    sampled = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF, k=3))
    (note,) = notes.gatekeepers_notes(sampled, 2, P)
    assert note.startswith("betweenness is estimated from 3 seeded pivots") and "betweenness_se" in note
    # the sampled ranking carries each estimate's standard error, the exact one none
    assert all(k.betweenness_se is not None and k.betweenness_se >= 0 for k in sampled.items)
    assert all(k.betweenness_se is None for k in exact.items)
    cut = msgspec.structs.replace(exact, candidates=RANKED_MAX + 5)
    (note,) = notes.gatekeepers_notes(cut, 2, P)
    assert note == f"the ranking keeps the top {RANKED_MAX} of {RANKED_MAX + 5} accounts with a tie to another community"


def test_gatekeepers_without_a_border_say_why():
    g = graph([("a", "b"), ("b", "c"), ("x", "y"), ("y", "z")])
    memb = [0, 0, 0, 1, 1, 1]
    apart = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF))
    (note,) = notes.gatekeepers_notes(apart, 2, P)
    assert note.startswith("none of the 2 communities has a tie to another")
    one = gatekeepers(g, ["reply"], [0] * 6, account_roles(g, ["reply"], [0] * 6, engine=REF))
    (note,) = notes.gatekeepers_notes(one, 1, AnalysisParams(resolution=0.5))
    assert note.startswith("one community holds every analysed account") and "resolution (now 0.5)" in note


def test_pods_say_which_parameter_to_loosen():
    def rp(acc, obj, s):
        return Event(f"{acc}{obj}{s}", "repost", acc, "p", int(s * 1000), obj)

    # three accounts, two posts, a minute apart each: within tau=60 s only neighbours
    events = [rp(a, o, t0 + 60 * i) for o, t0 in (("o1", 0), ("o2", 10_000)) for i, a in enumerate("abc")]
    none = coordinated_pods([e._replace(object=None) for e in events])
    (note,) = notes.pods_notes(none, P)
    assert note.startswith("no repost events naming an object")
    far = coordinated_pods(events, tau=30)
    (note,) = notes.pods_notes(far, P)
    assert note.startswith("6 repost events by 3 accounts on 2 objects") and "tau=30 s" in note
    # a-b and b-c co-act on both posts (4 co-actions), twice each: fewer than 3
    few = coordinated_pods(events, tau=60, min_repeats=3)
    assert (few.co_actions, few.linked_pairs) == (4, 0)
    (note,) = notes.pods_notes(few, P)
    assert note.startswith("4 co-actions within tau=60 s") and "min_repeats=3" in note
    # linked, but a chain of two pairs is one group of 3: with min_size 4 no pod
    small = coordinated_pods(events, tau=60, min_repeats=2, min_size=4)
    assert small.linked_pairs == 2 and small.pods == []
    (note,) = notes.pods_notes(small, P)
    assert note.startswith("2 pairs co-acted at least min_repeats=2 times") and "group of 4 or more" in note
    assert notes.pods_notes(coordinated_pods(events, tau=60, min_repeats=2), P) == []


def test_castles_say_when_communities_are_too_small_or_quiet():
    g = graph([("a", "b"), ("b", "a"), ("c", "d")])
    tiny = castles(g, [0, 0, 1, 1], engine=REF, null_samples=2)
    (note,) = notes.castles_notes(tiny, [2, 2], P)
    assert note.startswith("none of the 2 communities has at least 3 members (the largest has 2)")
    assert notes.castles_notes(tiny, [], P)[0].startswith("no interactions of the analysed layers")
    # a graph of mentions only: currency cannot be measured at all, and the note says why
    only = castles(graph([("a", "b"), ("b", "c"), ("c", "a")], "mention"), [0, 0, 0], engine=REF, null_samples=2)
    said = notes.castles_notes(only, [3], P)
    assert any(n.startswith("own_currency could not be measured: the graph has neither") for n in said)
    assert any(n.startswith("none of the 1 communities scored is a castle: 0 are closed,") for n in said)
    # both layers in the graph, but one community of mentions only: its currency is null
    rows = [(a, b, "mention", 1, 0, 0) for a, b in (("a", "b"), ("b", "c"), ("c", "a"))]
    rows += [(a, b, k, 1, 0, 0) for a, b in (("d", "e"), ("e", "f"), ("f", "d")) for k in ("repost", "reply")]
    quiet = castles(LayerGraph.from_rows(rows), [0, 0, 0, 1, 1, 1], engine=REF, null_samples=2)
    said = notes.castles_notes(quiet, [3, 3], P)
    assert any(n.startswith("communities 0 have no repost/like or reply/quote among their members") for n in said)


def test_polarization_names_its_null_fields():
    g = graph([("a", "b"), ("b", "c"), ("c", "a")], "repost")
    one = polarization(g, ["repost"], [0, 0, 0], engine=REF, null_samples=2)
    said = notes.polarization_notes(one, 1, P)
    assert one.rwc is None and one.cross_community_share is None
    assert any("rwc needs two sides" in n for n in said)
    assert any(n.startswith("no reply or quote interactions between accounts in communities") for n in said)
    flat = msgspec.structs.replace(one, sides=[0, 1], rwc=0.1, assortativity=0.3, modularity_z=None, modularity_null_sd=0.0,
                                   null_samples=4, cross_community_share=0.2)
    assert notes.polarization_notes(flat, 2, P) == [
        "the score rests on the 3 ties of the graph's main body (the large connected parts of its 2-core), fewer"
        " than 1000: a faint split can hide in so few ties, so a low score here is weak evidence of no split",
        "all 4 degree-preserving draws have the same modularity: modularity_z is null (the degrees allow only one"
        " graph); nothing to compare with"]


def test_polarization_of_a_forest_says_why_there_is_no_score():
    # two stars joined at their centres: every tie hangs off a tree, no cycle to measure
    g = graph([("a", "b"), ("a", "c"), ("a", "d"), ("a", "x"), ("x", "y"), ("x", "z")], "reply")
    res = polarization(g, ["reply"], [0, 0, 0, 0, 1, 1, 1], engine=REF, null_samples=0)
    assert res.score is None and res.polarized is None and res.split.core_ties == 0
    said = notes.polarization_notes(res, 2, P)
    assert said[0].startswith("no tie of the analysed graph lies on a cycle (its 2-core is empty")


def test_diversity_of_an_account_without_ties():
    g = LayerGraph.from_rows([("me", "a", "reply", 1, 0, 0), ("a", "b", "reply", 1, 0, 0),
                              ("b", "a", "reply", 1, 0, 0)])
    d = diversity(g, "me", [0, 0, 0])
    said = notes.diversity_notes(d, ["reply"])
    assert said[0].startswith("me follows nobody in this graph")
    assert said[1].startswith("me has no reciprocated reply or quote partner")
    assert len(said) == 2
    # a tie to someone, but one community: the normalised entropy has nothing to divide by
    talk = diversity(g, "a", [0, 0, 0])
    assert notes.diversity_notes(talk, ["reply"])[1:] == [
        "the partition has 1 community: normalized_entropy needs two and is null"]


def test_reach_says_what_evidence_is_missing():
    events = [Event("1", "repost", "b", "a", 1000, "post"), Event("2", "follow", "f", "a", 1000, None)]
    r = reach(events, {}, accounts=["a"])
    said = notes.reach_notes(r)
    assert r.followers_known_for == 1 and r.claimed_reach == 0
    assert any(n.startswith(f"followers are known for 1 of the circle's {r.circle_size} accounts") for n in said)
    assert any(n.startswith(f"no claimed follower count for any of the circle's {r.circle_size}") for n in said)
    gone = reach(events, {}, objects=["no-such-post"])
    assert gone.circle_size == 0
    assert notes.reach_notes(gone)[0].startswith("none of the accounts or objects given appears")


def test_map_compare_and_static_time():
    assert notes.map_notes({"accounts_total": 5000, "level": "communities", "truncated": False}, "auto", 2000, P) == [
        "5000 accounts are more than the 2000 drawn one by one: one node per community; ask for one with"
        " community= to draw its accounts"]
    assert notes.map_notes({"accounts_total": 5000, "level": "communities", "truncated": False},
                           "communities", 2000, P) == []
    (note,) = notes.map_notes({"accounts_total": 3000, "level": "accounts", "truncated": True}, "accounts", 2000, P)
    assert note.startswith("drawn the 2000 most active of the 3000 accounts")
    assert notes.compare_notes("party", 3, 0, P) == []
    until = AnalysisParams(until=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert len(notes.static_time_notes(True, until, "pods")) == 2
    assert notes.static_time_notes(None, until, "pods") == []
