"""Guimerà–Amaral z, P and roles by hand; the roles table against the engines."""

from __future__ import annotations

import math

import msgspec
import networkx as nx
import numpy as np
import pytest

from graph.analysis.brokerage import gould_fernandez
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph
from graph.analysis.roles import (
    betweenness_standard_error,
    RolesTable,
    account_roles,
    dominant_brokerage_role,
    guimera_amaral_role,
    participation_coefficient,
    roles_of,
    within_module_degree,
)

REF, FAST = get_engine("reference"), get_engine("fast")

# Module 0 = {0, 1, 2, 3}: 0-1, 0-2, 0-3, 1-2; module 1 = {4, 5, 6}: 4-5, 5-6;
# across: 0-4, 3-6
EDGES = [(0, 1), (0, 2), (0, 3), (1, 2), (4, 5), (5, 6), (0, 4), (3, 6)]
MEMB = [0, 0, 0, 0, 1, 1, 1]


def _arrays():
    e = np.array(EDGES)
    return e[:, 0], e[:, 1]


@pytest.mark.parametrize(
    "z,p,role",
    [
        (0.0, 0.0, "ultra-peripheral"),
        (2.49, 0.05, "ultra-peripheral"),
        (0.0, 0.0501, "peripheral"),
        (-1.0, 0.62, "peripheral"),
        (0.0, 0.6201, "connector"),
        (2.0, 0.80, "connector"),
        (0.0, 0.8001, "kinless"),
        (2.5, 0.0, "provincial hub"),
        (4.0, 0.30, "provincial hub"),
        (2.5, 0.3001, "connector hub"),
        (3.0, 0.75, "connector hub"),
        (3.0, 0.7501, "kinless hub"),
    ],
)
def test_guimera_amaral_thresholds(z, p, role):
    assert guimera_amaral_role(z, p) == role


def test_role_of_nan_is_refused():
    with pytest.raises(ValueError):
        guimera_amaral_role(float("nan"), 0.1)


def test_within_module_degree_by_hand():
    # kappa in module 0: 3, 2, 2, 1 (mean 2, sd sqrt(1/2)); module 1: 1, 2, 1
    # (mean 4/3, sd sqrt(2/9))
    src, dst = _arrays()
    z = within_module_degree(7, src, dst, None, MEMB)
    s0, s1 = math.sqrt(0.5), math.sqrt(2 / 9)
    assert z.tolist() == pytest.approx(
        [1 / s0, 0, 0, -1 / s0, (1 - 4 / 3) / s1, (2 - 4 / 3) / s1, (1 - 4 / 3) / s1])


def test_within_module_degree_weighted_and_flat_module():
    # two nodes linked once with weight 5, alone in their module: same kappa -> z = 0
    z = within_module_degree(2, np.array([0]), np.array([1]), np.array([5.0]), [0, 0],
                             weighted=True)
    assert z.tolist() == [0.0, 0.0]


def test_participation_by_hand():
    # 0: 3 links in module 0, 1 in module 1 -> 1 - (9 + 1)/16; 3 and 6: one link each way
    # -> 1/2; 4: one to each -> 1/2; 1, 2, 5: all inside -> 0
    src, dst = _arrays()
    p = participation_coefficient(7, src, dst, None, MEMB)
    assert p.tolist() == pytest.approx([6 / 16, 0, 0, 0.5, 0.5, 0, 0.5])


def test_participation_weighted():
    # node 0: weight 3 to module 0 (node 1), weight 1 to module 1 (node 2)
    p = participation_coefficient(3, np.array([0, 0]), np.array([1, 2]), np.array([3.0, 1.0]),
                                  [0, 0, 1], weighted=True)
    assert p[0] == pytest.approx(1 - (9 + 1) / 16)


def test_outside_the_partition_is_nan():
    src, dst = _arrays()
    memb = list(MEMB)
    memb[6] = -1
    z = within_module_degree(7, src, dst, None, memb)
    p = participation_coefficient(7, src, dst, None, memb)
    assert math.isnan(z[6]) and math.isnan(p[6])
    # 6 is a singleton group for its neighbours: 3 keeps P = 1/2, 5 gets 1/2 too
    assert p[3] == pytest.approx(0.5) and p[5] == pytest.approx(0.5)


def _graph() -> LayerGraph:
    # the module graph as replies, 0-1 and 4-0 both ways, plus an account that only likes
    names = [str(i) for i in range(7)]
    rows = [(names[a], names[b], "reply", 1, 0, 0) for a, b in EDGES]
    rows += [("1", "0", "reply", 2, 0, 0), ("4", "0", "reply", 1, 0, 0),
             ("fan", "0", "like", 1, 0, 0)]
    return LayerGraph.from_rows(rows)


@pytest.fixture(params=[REF, FAST], ids=lambda e: e.name)
def table(request) -> RolesTable:
    return account_roles(_graph(), ["reply"], MEMB + [-1], engine=request.param)


def test_table_covers_the_analysed_accounts(table):
    assert table.accounts == [str(i) for i in range(7)]  # "fan" has no reply
    assert table.nodes == list(range(7))
    assert table.community == MEMB
    assert table.betweenness_method == "exact" and table.pivots is None
    assert table.betweenness_se is None and roles_of(table, "0").betweenness_se is None
    with pytest.raises(KeyError):
        roles_of(table, "fan")


def test_account_roles_by_hand(table):
    r = roles_of(table, "0")
    assert r.community == 0
    assert r.z == pytest.approx(1 / math.sqrt(0.5))
    assert r.participation == pytest.approx(6 / 16)
    assert r.module_role == "peripheral"
    assert roles_of(table, "1").module_role == "ultra-peripheral"
    assert roles_of(table, "3").module_role == "peripheral"
    # sum of PageRank and HITS scores is 1
    assert sum(table.pagerank) == pytest.approx(1.0)
    assert sum(table.hub) == pytest.approx(1.0) and sum(table.authority) == pytest.approx(1.0)


def test_table_brokerage_is_gould_fernandez_on_the_directed_graph(table):
    g = _graph()
    src, dst, _ = g.directed(["reply"])
    counts = gould_fernandez(g.n, src, dst, MEMB + [-1])
    for i in range(7):
        r = roles_of(table, str(i))
        assert list(msgspec.structs.astuple(r.brokerage)) == counts[i].tolist()
        assert r.brokerage_approximate is False
    # by hand, broker 0: in {1, 4}, out {1, 2, 3, 4}: (1,3) AAA, (1,4) AAB
    # representative, (4,1) BAA gatekeeper, (4,2) BAA gatekeeper, (4,3) BAA gatekeeper;
    # (1,2) is linked
    assert msgspec.structs.asdict(roles_of(table, "0").brokerage) == {"coordinator": 1, "itinerant": 0,
                                              "gatekeeper": 3, "representative": 1,
                                              "liaison": 0}
    # three of its five brokered pairs are gatekeeper pairs: that is the role it reads as,
    # though inside its own community it is "peripheral"
    assert roles_of(table, "0").brokerage_role == "gatekeeper"
    for i in range(7):
        r = roles_of(table, str(i))
        assert r.brokerage_role == dominant_brokerage_role(msgspec.structs.asdict(r.brokerage))


def test_dominant_brokerage_role_prefers_the_role_crossing_more_borders():
    none = dict.fromkeys(("coordinator", "itinerant", "gatekeeper", "representative", "liaison"), 0)
    assert dominant_brokerage_role(none) is None
    assert dominant_brokerage_role(none | {"coordinator": 5, "liaison": 1}) == "coordinator"
    assert dominant_brokerage_role(none | {"coordinator": 2, "representative": 2}) == "representative"
    assert dominant_brokerage_role(none | {"gatekeeper": 2, "representative": 2, "liaison": 2}) == "liaison"


def test_table_metrics_against_networkx(table):
    G = nx.Graph(EDGES)
    G[0][1]["weight"], G[0][4]["weight"] = 3.0, 2.0  # replies both ways add up
    btw = nx.betweenness_centrality(G)
    con = nx.constraint(G, weight="weight")
    eff = nx.effective_size(G)
    for i in range(7):
        r = roles_of(table, str(i))
        assert r.betweenness == pytest.approx(btw[i])
        assert r.constraint == pytest.approx(con[i])
        assert r.effective_size == pytest.approx(eff[i])


def test_both_engines_give_the_same_table():
    a = account_roles(_graph(), ["reply"], MEMB + [-1], engine=REF)
    b = account_roles(_graph(), ["reply"], MEMB + [-1], engine=FAST)
    for field in ("z", "participation", "constraint", "effective_size", "betweenness",
                  "pagerank", "hub", "authority"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-9), field
    assert a.module_role == b.module_role and a.brokerage == b.brokerage
    assert a.brokerage_role == b.brokerage_role


def test_sampled_betweenness_is_said():
    g = _graph()
    t = account_roles(g, ["reply"], MEMB + [-1], engine=FAST, k=3, seed=5)
    assert t.betweenness_method == "sampled" and t.pivots == 3
    ref = account_roles(g, ["reply"], MEMB + [-1], engine=REF, k=3, seed=5)
    assert t.betweenness == pytest.approx(ref.betweenness)
    # each estimate carries its standard error, the same on both engines
    assert len(t.betweenness_se) == 7 and all(se >= 0 for se in t.betweenness_se)
    assert t.betweenness_se == pytest.approx(ref.betweenness_se, abs=1e-12)
    assert roles_of(t, "0").betweenness_se == t.betweenness_se[0]
    # over the exact-size limit, all 7 nodes as pivots is still the exact computation
    t = account_roles(g, ["reply"], MEMB + [-1], engine=FAST, betweenness_exact_max_nodes=3)
    assert t.betweenness_method == "exact"


def test_the_standard_error_of_sampled_betweenness_is_the_spread_of_its_estimates():
    # 2,000 accounts, 200 pivots: over 16 seeds, each top account's estimates spread about
    # as far as the standard error each run reports, and the exact value lies within three
    # of them of almost every estimate
    G = nx.powerlaw_cluster_graph(2_000, 3, 0.1, seed=3)
    g = LayerGraph.from_rows([(str(a), str(b), "reply", 1, 0, 0) for a, b in G.edges()])
    exact = account_roles(g, ["reply"], [0] * g.n, engine=FAST)
    top = np.argsort(exact.betweenness)[::-1][:30]
    runs = [account_roles(g, ["reply"], [0] * g.n, engine=FAST, k=200, seed=s) for s in range(16)]
    est = np.array([[r.betweenness[i] for i in top] for r in runs])
    se = np.array([[r.betweenness_se[i] for i in top] for r in runs])
    ratio = est.std(axis=0, ddof=1) / se.mean(axis=0)
    assert 0.6 < float(np.median(ratio)) < 1.6, ratio
    truth = np.array([exact.betweenness[i] for i in top])
    assert np.mean(np.abs(est - truth) <= 3 * se) >= 0.85


def test_standard_error_from_shares_by_hand():
    # two shares of 0.1 and 0.3: each doubled is an estimate (0.2, 0.6) of the sum 0.4
    se = betweenness_standard_error([np.array([0.1, 0.2]), np.array([0.3, 0.2])])
    assert se.tolist() == pytest.approx([0.2, 0.0])
    with pytest.raises(ValueError):
        betweenness_standard_error([np.array([0.1])])


def test_serialisable(table):
    assert msgspec.json.decode(msgspec.json.encode(table), type=RolesTable) == table
