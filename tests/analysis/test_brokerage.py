"""Gould–Fernandez brokerage counts, by hand and against a brute-force enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from graph.analysis.brokerage import BROKERAGE_ROLES, gould_fernandez

# Groups: A = {0, 1, 2}, B = {3, 4}; node 5 is in no group (-1): a singleton group C.
EDGES = [(0, 1), (1, 2), (2, 0), (0, 2), (1, 3), (3, 4), (4, 1), (5, 3), (1, 5)]
MEMBERSHIP = [0, 0, 0, 1, 1, -1]
# Counted by hand, broker v, in-neighbours x out-neighbours, pairs (a, b) with a != b and
# no a -> b; groups of (a, v, b):
#   0: in {2}, out {1, 2}: (2,1) AAA coordinator; (2,2) is a == b
#   1: in {0, 4}, out {2, 3, 5}: (0,2) linked, skipped; (0,3) AAB representative;
#      (0,5) AAC representative; (4,2) BAA gatekeeper; (4,3) BAB itinerant;
#      (4,5) BAC liaison
#   2: in {0, 1}, out {0}: (1,0) AAA coordinator; (0,0) is a == b
#   3: in {1, 5}, out {4}: (1,4) ABB gatekeeper; (5,4) CBB gatekeeper
#   4: in {3}, out {1}: (3,1) BBA representative
#   5: in {1}, out {3}: (1,3) linked, skipped
#              coordinator, itinerant, gatekeeper, representative, liaison
BY_HAND = [
    [1, 0, 0, 0, 0],
    [0, 1, 1, 2, 1],
    [1, 0, 0, 0, 0],
    [0, 0, 2, 0, 0],
    [0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0],
]


def _arrays(edges):
    e = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return e[:, 0], e[:, 1]


def _brute(n, src, dst, membership):
    groups = list(membership)
    nxt = max(groups) + 1
    for i, g in enumerate(groups):
        if g < 0:
            groups[i], nxt = nxt, nxt + 1
    edges = {(a, b) for a, b in zip(src.tolist(), dst.tolist()) if a != b}
    ins = {v: {a for a, b in edges if b == v} for v in range(n)}
    outs = {v: {b for a, b in edges if a == v} for v in range(n)}
    out = np.zeros((n, 5), dtype=np.int64)
    for v in range(n):
        for a in ins[v]:
            for b in outs[v]:
                if a == b or (a, b) in edges:
                    continue
                ga, gv, gb = groups[a], groups[v], groups[b]
                if ga == gv == gb:
                    role = "coordinator"
                elif ga == gb:
                    role = "itinerant"
                elif gv == gb:
                    role = "gatekeeper"
                elif ga == gv:
                    role = "representative"
                else:
                    role = "liaison"
                out[v, BROKERAGE_ROLES.index(role)] += 1
    return out


def test_role_order():
    assert BROKERAGE_ROLES == ("coordinator", "itinerant", "gatekeeper", "representative",
                               "liaison")


def test_hand_counted_six_node_graph():
    src, dst = _arrays(EDGES)
    assert gould_fernandez(6, src, dst, MEMBERSHIP).tolist() == BY_HAND


def test_duplicates_and_self_loops_are_ignored():
    src, dst = _arrays(EDGES + EDGES[:3] + [(2, 2), (4, 4)])
    assert gould_fernandez(6, src, dst, MEMBERSHIP).tolist() == BY_HAND


def test_unassigned_nodes_are_separate_groups():
    # 0 -> 1 -> 2 with 0 and 2 both unassigned: two different singleton groups, so the
    # pair is a liaison through 1 (not an itinerant one)
    src, dst = _arrays([(0, 1), (1, 2)])
    assert gould_fernandez(3, src, dst, [-1, 0, -1])[1].tolist() == [0, 0, 0, 0, 1]


def test_no_edges():
    e = np.zeros(0, dtype=np.int64)
    out, approx = gould_fernandez(3, e, e, [0, 0, 1], return_approximate=True)
    assert out.tolist() == [[0] * 5] * 3 and not approx.any()


def test_membership_length_is_checked():
    src, dst = _arrays(EDGES)
    with pytest.raises(ValueError):
        gould_fernandez(6, src, dst, [0, 0, 1])


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    m = int(rng.integers(1, 5 * n))
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    membership = rng.integers(-1, 4, n).tolist()
    assert gould_fernandez(n, src, dst, membership).tolist() == _brute(
        n, src, dst, membership).tolist()


def test_hub_over_budget_is_sampled_and_flagged():
    # node 7 has 300 in- and 300 out-neighbours: with a budget of 1000 listing steps it is
    # estimated from sampled pairs; its pair totals stay exact, only the (few) linked
    # pairs are estimated, so the estimate is close
    rng = np.random.default_rng(0)
    n = 400
    src = np.concatenate([rng.integers(0, n, 4000), rng.integers(0, n, 300), np.full(300, 7)])
    dst = np.concatenate([rng.integers(0, n, 4000), np.full(300, 7), rng.integers(0, n, 300)])
    membership = rng.integers(0, 3, n)
    exact = gould_fernandez(n, src, dst, membership)
    est, approx = gould_fernandez(n, src, dst, membership, max_work=1000, samples=200_000,
                                  seed=1, return_approximate=True)
    assert approx[7] and approx.sum() < 5
    assert (est[~approx] == exact[~approx]).all()
    assert np.abs(est[7] - exact[7]).max() <= 0.01 * exact[7].max()
    again, _ = gould_fernandez(n, src, dst, membership, max_work=1000, samples=200_000,
                               seed=1, return_approximate=True)
    assert (again == est).all()
