"""Comparing partitions: ARI against its definition counted pair by pair, a partition
against known labels, and the stability of communities across seeds on the demo network
(its planted groups stay together with every seed)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from graph.analysis.communities import communities
from graph.analysis.compare import ari, community_stability, label_agreement, nmi
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph
from graph.demo import demo_network


def ari_by_pairs(a, b) -> float:
    """Hubert & Arabie's index from the four pair counts, by brute force."""
    n = len(a)
    both = only_a = only_b = neither = 0
    for i, j in itertools.combinations(range(n), 2):
        sa, sb = a[i] == a[j], b[i] == b[j]
        both += sa and sb
        only_a += sa and not sb
        only_b += sb and not sa
        neither += not sa and not sb
    pairs = n * (n - 1) / 2
    expected = (both + only_a) * (both + only_b) / pairs
    top = ((both + only_a) + (both + only_b)) / 2
    return (both - expected) / (top - expected)


@pytest.mark.parametrize("seed", range(5))
def test_ari_matches_its_definition(seed):
    rng = random.Random(seed)
    a = [rng.randrange(4) for _ in range(40)]
    b = [x if rng.random() < 0.6 else rng.randrange(5) for x in a]
    assert ari(a, b) == pytest.approx(ari_by_pairs(a, b))
    assert ari(a, a) == 1.0 and ari(a, [9 - x for x in a]) == 1.0


def test_label_agreement_counts_only_labelled_accounts_in_the_partition():
    membership = [0, 0, 0, 0, 1, 1, 1, -1, 2]
    labels = ["l", "l", "l", "r", "r", "r", None, "l", "x"]
    out = label_agreement(membership, labels)
    assert (out["labelled"], out["unlabelled"]) == (7, 1)  # the -1 account is outside
    assert out["labels"] == {"l": 3, "r": 3, "x": 1}
    assert out["purity"] == pytest.approx((3 + 2 + 1) / 7)
    c0, c1, c2 = out["communities"]
    assert (c0["mix"], c0["majority"], c0["purity"]) == ({"l": 3, "r": 1}, "l", 0.75)
    assert (c1["size"], c1["labelled"], c1["purity"]) == (3, 2, 1.0)
    codes = [{"l": 0, "r": 1, "x": 2}[x] for x in ["l", "l", "l", "r", "r", "r", "x"]]
    assert out["nmi"] == pytest.approx(nmi([0, 0, 0, 0, 1, 1, 2], codes))
    assert out["ari"] == pytest.approx(ari([0, 0, 0, 0, 1, 1, 2], codes))
    empty = label_agreement([0, 1], [None, None])
    assert (empty["purity"], empty["nmi"], empty["ari"]) == (None, None, None)


@pytest.mark.parametrize("engine, algorithm", [("fast", "louvain"), ("reference", "louvain"), ("fast", "leiden")])
def test_planted_groups_are_stable_across_seeds(engine, algorithm):
    _, interactions = demo_network(seed=7)
    g = LayerGraph.from_rows([(i.source, i.target, "reply", 1, 0, 0) for i in interactions
                              if i.kind in ("reply", "quote", "mention")])
    eng = get_engine(engine)
    res = communities(g, ["reply"], engine=eng, seed=0, algorithm=algorithm)
    src, dst, w = g.undirected(["reply"])
    find = eng.leiden if algorithm == "leiden" else eng.louvain

    def rerun(seed):
        return find(g.n, src, dst, w, seed=seed)

    stable = community_stability(res.membership, rerun, [1, 2, 3])
    by_name = dict(zip(g.nodes, res.membership))
    # a bridge account may change sides with the seed; the group around it does not
    for group in ("north", "south", "east"):
        assert stable[by_name[f"{group}-00"]] >= 0.9, group
    # against a partition that splits everything in two halves at random, stability drops
    rng = np.random.default_rng(0)
    halves = community_stability(res.membership, lambda s: rng.integers(0, 2, g.n), [1, 2, 3])
    assert all(v < 0.75 for c, v in halves.items() if res.communities[c].size > 10)
