"""Gatekeeper ranking: components, rank normalisation, bridged communities."""

from __future__ import annotations

from itertools import combinations

import msgspec
import pytest

from graph.analysis.engine import get_engine
from graph.analysis.gatekeepers import GATEKEEPER_WEIGHTS, GatekeepersResult, gatekeepers
from graph.analysis.graph import LayerGraph
from graph.analysis.roles import account_roles, dominant_brokerage_role

REF = get_engine("reference")


def _three_groups():
    """Triangles A = {a0,a1,a2}, B = {b0,b1,b2}, C = {c0,c1,c2} (replies both ways).
    "hub" (in A) talks both ways with a0, b0, b1 and c0; b2 replies once to c1."""
    rows = []
    for side in ("a", "b", "c"):
        for i, j in combinations(range(3), 2):
            rows += [(f"{side}{i}", f"{side}{j}", "reply", 1, 0, 0),
                     (f"{side}{j}", f"{side}{i}", "reply", 1, 0, 0)]
    for other in ("a0", "b0", "b1", "c0"):
        rows += [("hub", other, "reply", 1, 0, 0), (other, "hub", "reply", 1, 0, 0)]
    rows.append(("b2", "c1", "reply", 1, 0, 0))
    g = LayerGraph.from_rows(rows)
    side = {"a": 0, "b": 1, "c": 2, "h": 0}
    return g, [side[name[0]] for name in g.nodes]


def test_hub_ranks_first_with_its_components():
    g, memb = _three_groups()
    roles = account_roles(g, ["reply"], memb, engine=REF)
    res = gatekeepers(g, ["reply"], memb, roles)
    top = res.items[0]
    assert top.account == "hub"
    assert top.community == 0
    # hub's cross ties: b0, b1 (community 1) and c0 (community 2): both >= 10%
    assert top.communities_bridged == [0, 1, 2]
    hub = roles.accounts.index("hub")
    br = {k: v[hub] for k, v in roles.brokerage.items()}
    cross = br["gatekeeper"] + br["representative"] + br["liaison"]
    assert top.components.cross_brokerage == cross
    assert top.components.cross_brokerage_share == pytest.approx(cross / sum(br.values()))
    assert top.components.structural_holes == pytest.approx(1 - roles.constraint[hub])
    assert top.components.betweenness == roles.betweenness[hub]
    assert top.components.participation == roles.participation[hub]
    # hub has the highest betweenness and cross brokerage of all 10 accounts: rank 1
    assert top.ranks.betweenness == 1.0 and top.ranks.cross_brokerage == 1.0
    assert top.score == pytest.approx(sum(GATEKEEPER_WEIGHTS[k] * v for k, v in msgspec.structs.asdict(top.ranks).items()))
    assert top.module_role == roles.module_role[hub]
    assert top.brokerage_role == roles.brokerage_role[hub] == dominant_brokerage_role(br)


def test_only_accounts_with_cross_ties_are_listed():
    g, memb = _three_groups()
    res = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF))
    listed = {i.account for i in res.items}
    # b0, b1, c0 talk with hub (community 0), b2 replied to c1; a0 talks with hub too,
    # but inside its own community, like all the others
    assert listed == {"hub", "b0", "b1", "c0", "b2", "c1"}
    scores = [i.score for i in res.items]
    assert scores == sorted(scores, reverse=True)
    assert msgspec.structs.asdict(res.weights) == GATEKEEPER_WEIGHTS and sum(GATEKEEPER_WEIGHTS.values()) == pytest.approx(1)


def test_limit_and_serialisation():
    g, memb = _three_groups()
    res = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF),
                      limit=2)
    assert len(res.items) == 2
    assert msgspec.json.decode(msgspec.json.encode(res), type=GatekeepersResult) == res


def test_bridged_communities_need_ten_percent():
    # x (community 0) has 19 ties to community 1 and one to community 2: 5% -> not listed
    rows = [("x", f"p{i}", "reply", 1, 0, 0) for i in range(19)] + [("x", "q", "reply", 1, 0, 0)]
    g = LayerGraph.from_rows(rows)
    memb = [0] + [1] * 19 + [2]
    res = gatekeepers(g, ["reply"], memb, account_roles(g, ["reply"], memb, engine=REF))
    x = next(i for i in res.items if i.account == "x")
    assert x.communities_bridged == [0, 1]


def test_mismatched_inputs_are_refused():
    g, memb = _three_groups()
    roles = account_roles(g, ["reply"], memb, engine=REF)
    with pytest.raises(ValueError):
        gatekeepers(g, ["reply", "quote"], memb, roles)
    other = list(memb)
    other[0] = 2
    with pytest.raises(ValueError):
        gatekeepers(g, ["reply"], other, roles)
