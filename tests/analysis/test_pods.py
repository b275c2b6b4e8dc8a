"""coordinated_pods: co-actions within tau, the min_repeats filter, symmetry, pods as
components (or Louvain clusters when huge), the window's cost on big objects, and the two
weights (distinct objects; messages per direction, the QUT toolkit's) with the definition
each result names. tests/validity/test_pods_toolkit.py runs the toolkit itself."""

from __future__ import annotations

import itertools
import random
import time

import msgspec
import pytest

import graph.analysis.pods as pods_mod
from graph.analysis.events import Event
from graph.analysis.pods import PodEdge, coordinated_pods

S = 1000  # ms per second


def rp(account: str, obj: str, at_s: float, kind: str = "repost", target: str = "author") -> Event:
    return Event(f"{kind}:{account}:{obj}:{at_s}", kind, account, target, int(at_s * S), obj)


def test_pair_below_min_size_and_symmetry_by_hand():
    # a and b co-act on p0..p3: a leads on p0, p1, p2, b leads on p3 -> weight 4,
    # a_first 3, b_first 1, symmetry 1 - |3 - 1| / 4 = 0.5.
    # c co-acts with a and b on p0 and p1 only (2 < min_repeats 3): not linked.
    evs = [
        rp("a", "p0", 0), rp("b", "p0", 5), rp("c", "p0", 9),
        rp("a", "p1", 100), rp("b", "p1", 101), rp("c", "p1", 102),
        rp("a", "p2", 200), rp("b", "p2", 230),
        rp("b", "p3", 300), rp("a", "p3", 359),
        rp("c", "p3", 500),  # 141 s after a: outside tau
    ]
    res = coordinated_pods(evs, tau=60, min_repeats=3)
    assert res.pods == []  # a-b is a pair, below min_size 3
    assert res.linked_pairs == 1
    # co-actions within 60 s: p0: ab, ac, bc; p1: ab, ac, bc; p2: ab; p3: ab -> 8
    assert res.co_actions == 8
    assert (res.events_considered, res.accounts_considered, res.objects_considered) == (11, 3, 4)

    res2 = coordinated_pods(evs, tau=60, min_repeats=3, min_size=2)
    (pod,) = res2.pods
    assert pod.members == ["a", "b"] and pod.size == 2
    assert pod.edges == [PodEdge(a="a", b="b", weight=4, weight_ab=4, weight_ba=4, a_first=3, b_first=1,
                                 symmetry=0.5)]
    assert pod.co_actions == 4 and pod.density == 1.0 and pod.symmetry == 0.5
    assert pod.objects == ["p0", "p1", "p2", "p3"] and pod.objects_total == 4


def test_tau_is_inclusive_and_in_seconds():
    evs = [rp("a", f"p{i}", 10 * i) for i in range(3)] + [rp("b", f"p{i}", 10 * i + 2) for i in range(3)]
    assert coordinated_pods(evs, tau=2, min_repeats=3, min_size=2).linked_pairs == 1
    assert coordinated_pods(evs, tau=1.999, min_repeats=3, min_size=2).linked_pairs == 0


def test_simultaneous_actions_lead_for_neither():
    evs = [rp(u, f"p{i}", 7 * i) for i in range(3) for u in "ab"]
    (pod,) = coordinated_pods(evs, tau=0, min_repeats=3, min_size=2).pods
    assert (pod.edges[0].a_first, pod.edges[0].b_first, pod.edges[0].symmetry) == (0, 0, 1.0)


def test_repeat_amplification_counts_once_from_the_first_time():
    # a reposts p0 twice; the second time (t=100) is not its act, so only b's t=3 co-acts
    evs = [rp("a", "p0", 0), rp("a", "p0", 100), rp("b", "p0", 3), rp("c", "p0", 99)]
    res = coordinated_pods(evs, tau=10, min_repeats=1, min_size=2)
    assert res.events_considered == 3
    assert [p.members for p in res.pods] == [["a", "b"]]
    assert res.pods[0].edges[0].weight == 1


def test_kinds_and_objectless_events():
    evs = [Event(f"l{i}{u}", "like", u, "x", i * 60_000 + d * 1000, f"p{i}")
           for i in range(3) for d, u in enumerate("abc")]
    evs += [Event(f"r{i}{u}", "repost", u, "x", i * 60_000 + d * 1000, None)
            for i in range(3) for d, u in enumerate("abc")]
    assert coordinated_pods(evs, tau=5).pods == []
    res = coordinated_pods(evs, tau=5, kinds=("repost", "like"))
    assert [p.members for p in res.pods] == [["a", "b", "c"]]
    assert res.parameters.kinds == ["like", "repost"]


def test_two_pods_ordered_with_ids_and_object_cap():
    evs = []
    for i in range(6):  # pod 1: four accounts, six objects
        evs += [rp(u, f"big{i}", 1000 * i + d) for d, u in enumerate(["p", "q", "r", "s"])]
    for i in range(3):  # pod 2: three accounts, three objects
        evs += [rp(u, f"small{i}", 50_000 + 1000 * i + d) for d, u in enumerate(["x", "y", "z"])]
    res = coordinated_pods(evs, tau=10, min_repeats=3, max_objects=2)
    assert [(p.id, p.members) for p in res.pods] == [(0, ["p", "q", "r", "s"]), (1, ["x", "y", "z"])]
    big = res.pods[0]
    assert big.co_actions == 6 * 6  # six pairs, six objects each
    assert big.objects_total == 6 and big.objects == ["big0", "big1"]  # ties broken by name
    assert res.pods[1].co_actions == 9 and res.pods[1].density == 1.0


def test_density_of_a_chain():
    # a-b, b-c linked, a-c co-act only twice: density 2 / 3
    evs = []
    for i in range(3):
        evs += [rp("a", f"ab{i}", 100 * i), rp("b", f"ab{i}", 100 * i + 1)]
        evs += [rp("b", f"bc{i}", 10_000 + 100 * i), rp("c", f"bc{i}", 10_000 + 100 * i + 1)]
    evs += [rp("a", "ac0", 50_000), rp("c", "ac0", 50_001)]
    (pod,) = coordinated_pods(evs, tau=5, min_repeats=3).pods
    assert pod.members == ["a", "b", "c"]
    assert pod.density == pytest.approx(2 / 3)
    assert [(e.a, e.b) for e in pod.edges] == [("a", "b"), ("b", "c")]
    # a-c's co-action on ac0 is between members, so ac0 is a co-amplified object too
    assert pod.objects_total == 7


def test_huge_component_is_split_with_louvain():
    # two 5-cliques of co-actors bridged by one linked pair
    evs = []
    for name, group in (("L", [f"l{k}" for k in range(5)]), ("R", [f"r{k}" for k in range(5)])):
        for i in range(4):
            evs += [rp(u, f"{name}{i}", 1000 * i + d) for d, u in enumerate(group)]
    for i in range(3):
        evs += [rp("l0", f"bridge{i}", 90_000 + 100 * i), rp("r0", f"bridge{i}", 90_000 + 100 * i + 1)]
    whole = coordinated_pods(evs, tau=10, min_repeats=3)
    assert [p.size for p in whole.pods] == [10] and whole.split_components == 0
    split = coordinated_pods(evs, tau=10, min_repeats=3, split_above=6, seed=1)
    assert split.split_components == 1
    assert sorted(p.members for p in split.pods) == [
        [f"l{k}" for k in range(5)], [f"r{k}" for k in range(5)]]
    # the bridge edge crosses the clusters and belongs to neither pod
    assert all(e.weight == 4 for p in split.pods for e in p.edges)


def _brute(evs, tau_ms):
    first: dict[tuple[str, str], int] = {}
    for e in evs:
        k = (e.source, e.object)
        first[k] = min(first.get(k, e.at), e.at)
    by_obj: dict[str, list[tuple[str, int]]] = {}
    for (u, o), t in first.items():
        by_obj.setdefault(o, []).append((u, t))
    out: dict[tuple[str, str], list[int]] = {}
    for acts in by_obj.values():
        for (u, tu), (v, tv) in itertools.combinations(acts, 2):
            if abs(tu - tv) <= tau_ms:
                a, b = sorted((u, v))
                ta, tb = (tu, tv) if a == u else (tv, tu)
                c = out.setdefault((a, b), [0, 0, 0])
                c[0] += 1
                c[1] += ta < tb
                c[2] += tb < ta
    return out


def test_matches_brute_force_on_random_events():
    rnd = random.Random(7)
    evs = [rp(f"u{rnd.randrange(30)}", f"o{rnd.randrange(40)}", rnd.randrange(0, 600))
           for _ in range(1500)]
    expect = {k: v for k, v in _brute(evs, 20 * S).items() if v[0] >= 2}
    res = coordinated_pods(evs, tau=20, min_repeats=2, min_size=2)
    got = {(e.a, e.b): [e.weight, e.a_first, e.b_first] for p in res.pods for e in p.edges}
    # every linked pair lands in some pod (min_size 2, no split)
    assert got == expect
    assert res.co_actions == sum(v[0] for v in _brute(evs, 20 * S).values())


def test_reducing_in_chunks_gives_the_same_counts(monkeypatch):
    rnd = random.Random(3)
    evs = [rp(f"u{rnd.randrange(50)}", f"o{rnd.randrange(20)}", rnd.randrange(0, 300))
           for _ in range(2000)]
    whole = coordinated_pods(evs, tau=30, min_repeats=2, min_size=2)
    monkeypatch.setattr(pods_mod, "_REDUCE_EVERY", 50)
    chunked = coordinated_pods(evs, tau=30, min_repeats=2, min_size=2)
    assert msgspec.to_builtins(whole) == msgspec.to_builtins(chunked)


def test_spread_out_object_costs_only_close_pairs():
    # 2000 amplifiers of one object, one every 10 s, tau 60 s: each pairs with the next 6
    # (the last six with 5, 4, 3, 2, 1, 0): 1994 * 6 + 15 = 11979 co-actions, not 2 million
    evs = [rp(f"u{k}", "viral", 10 * k) for k in range(2000)]
    t0 = time.perf_counter()
    res = coordinated_pods(evs, tau=60, min_repeats=1, min_size=2, split_above=10**6)
    assert time.perf_counter() - t0 < 2
    assert res.co_actions == 11979
    (pod,) = res.pods  # the close pairs chain all 2000 into one component
    assert pod.size == 2000 and len(pod.edges) == 11979


def test_burst_of_a_thousand_is_counted_exactly():
    evs = [rp(f"u{k}", "burst", k / 1000) for k in range(1000)]
    res = coordinated_pods(evs, tau=1, min_repeats=2)
    assert res.co_actions == 1000 * 999 // 2
    assert res.linked_pairs == 0 and res.pods == []


def test_bad_parameters():
    with pytest.raises(ValueError):
        coordinated_pods([], tau=-1)
    with pytest.raises(ValueError):
        coordinated_pods([], min_repeats=0)
    with pytest.raises(ValueError):
        coordinated_pods([], min_size=1)
    with pytest.raises(ValueError):
        coordinated_pods([], count="retweets")
    empty = coordinated_pods([])
    assert empty.pods == [] and empty.co_actions == 0 and empty.parameters.tau == 60.0


def test_messages_count_each_direction_by_hand():
    # a reposts o1 at 0 and again at 20, b at 10; on o2 a at 100, b at 110, c at 111 (tau 10)
    # a -> b: a's messages at 0, 20 (b's 10 within 10 s of both) and 100 (b's 110): 3
    # b -> a: b's messages at 10 (a's 0 and 20: one message, counted once) and 110: 2
    # b <-> c: 110 and 111: 1 each way; a and c are 11 s apart: not paired
    evs = [rp("a", "o1", 0), rp("b", "o1", 10), rp("a", "o1", 20),
           rp("a", "o2", 100), rp("b", "o2", 110), rp("c", "o2", 111)]
    msgs = coordinated_pods(evs, tau=10, min_repeats=1, min_size=2, count="messages")
    got = {(e.a, e.b): (e.weight, e.weight_ab, e.weight_ba) for p in msgs.pods for e in p.edges}
    assert got == {("a", "b"): (3, 3, 2), ("b", "c"): (1, 1, 1)}
    # message pairs within tau: (0,10), (10,20), (100,110), (110,111); a's own 0-20 is no co-action
    assert msgs.co_actions == 4 and msgs.events_considered == 6
    assert msgs.definition.toolkit_differences == [] and msgs.definition.weights == "directed"
    # counting objects, a's act on o1 is at 0 only: a-b co-act on o1 and o2, once each
    objs = coordinated_pods(evs, tau=10, min_repeats=1, min_size=2)
    got = {(e.a, e.b): (e.weight, e.weight_ab, e.weight_ba) for p in objs.pods for e in p.edges}
    assert got == {("a", "b"): (2, 2, 2), ("b", "c"): (1, 1, 1)}
    assert objs.definition.count == "objects" and objs.definition.acts == "first"
    assert [d.split(":")[0] for d in objs.definition.toolkit_differences] == ["acts", "count", "weights"]


def test_messages_linked_when_either_direction_reaches_min_repeats():
    # a reposts o0 three times within 2 s, b once: a -> b = 3, b -> a = 1; a's repeats of
    # "solo", which nobody else touched, are no co-action and no co-amplified object
    evs = [rp("a", "o0", 0), rp("a", "o0", 1), rp("a", "o0", 2), rp("b", "o0", 1),
           rp("a", "solo", 50), rp("a", "solo", 51)]
    (pod,) = coordinated_pods(evs, tau=5, min_repeats=3, min_size=2, count="messages").pods
    (e,) = pod.edges
    assert (e.a, e.b, e.weight, e.weight_ab, e.weight_ba) == ("a", "b", 3, 3, 1)
    assert pod.objects == ["o0"] and pod.objects_total == 1
    assert coordinated_pods(evs, tau=5, min_repeats=3, min_size=2).pods == []


def test_definition_names_min_size_and_splits():
    evs = [rp(u, f"p{i}", 10 * i + d) for i in range(3) for d, u in enumerate("abc")]
    three = coordinated_pods(evs, tau=5, min_repeats=3, count="messages").definition
    assert [d.split(":")[0] for d in three.toolkit_differences] == ["min_size"]
    assert coordinated_pods(evs, tau=5, min_repeats=3, min_size=2, count="messages").definition \
        .toolkit_differences == []
    split = coordinated_pods(evs, tau=5, min_repeats=3, min_size=2, split_above=2, count="messages")
    assert split.split_components == 1
    assert [d.split(":")[0] for d in split.definition.toolkit_differences] == ["split_above"]


def _brute_messages(evs, tau_ms):
    """The QUT toolkit's co-retweet weight, as its SQL states it: for each ordered pair of
    distinct accounts, u's messages with a message of v on the same object within tau."""
    out: dict[tuple[str, str], int] = {}
    for m in evs:
        partners = {n.source for n in evs
                    if n.object == m.object and n.source != m.source and abs(n.at - m.at) <= tau_ms}
        for v in partners:
            out[(m.source, v)] = out.get((m.source, v), 0) + 1
    return out


def test_messages_match_brute_force_with_repeats_and_ties(monkeypatch):
    rnd = random.Random(11)
    # few objects and whole seconds: repeats by one account and simultaneous acts are common
    evs = [rp(f"u{rnd.randrange(15)}", f"o{rnd.randrange(6)}", rnd.randrange(0, 200))
           for _ in range(500)]
    expect = _brute_messages(evs, 15 * S)
    assert any(expect.get((b, a)) != w for (a, b), w in expect.items())  # directions differ
    for reduce_every in (pods_mod._REDUCE_EVERY, 37):
        monkeypatch.setattr(pods_mod, "_REDUCE_EVERY", reduce_every)
        res = coordinated_pods(evs, tau=15, min_repeats=1, min_size=2, count="messages",
                               split_above=10**6)
        got = {}
        for p in res.pods:
            for e in p.edges:
                got[(e.a, e.b)] = e.weight_ab
                got[(e.b, e.a)] = e.weight_ba
        assert {k: v for k, v in got.items() if v} == expect


def test_analysis_parameters_allow_pairs_and_name_the_count():
    from graph.analysis.params import AnalysisParams
    from graph.errors import InvalidInput

    p = msgspec.convert({"min_size": 2, "count": "messages"}, AnalysisParams)
    assert (p.min_size, p.count) == (2, "messages")
    assert (AnalysisParams().min_size, AnalysisParams().count) == (3, "objects")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"min_size": 1}, AnalysisParams)
    with pytest.raises(InvalidInput):
        AnalysisParams(count="retweets")
