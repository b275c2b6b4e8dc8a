"""A planted bridge: two dense communities and one account in real, reciprocated
conversation with both. It must come out as the top gatekeeper."""

from __future__ import annotations

import numpy as np
import pytest

from graph.analysis.communities import communities
from graph.analysis.engine import get_engine
from graph.analysis.gatekeepers import gatekeepers
from graph.analysis.graph import LayerGraph
from graph.analysis.roles import account_roles, roles_of


def _planted(seed: int = 7) -> LayerGraph:
    rng = np.random.default_rng(seed)
    rows = []
    sides = {"L": [f"L{i}" for i in range(60)], "R": [f"R{i}" for i in range(60)]}
    for members in sides.values():
        for i, u in enumerate(members):
            for v in members[i + 1:]:
                if rng.random() < 0.15:  # p_in = 0.15, direction at random
                    a, b = (u, v) if rng.random() < 0.5 else (v, u)
                    rows.append((a, b, "reply", int(rng.integers(1, 4)), 0, 0))
    # background noise: 10 one-way replies across, from random accounts
    for _ in range(10):
        rows.append((str(rng.choice(sides["L"])), str(rng.choice(sides["R"])), "reply", 1, 0, 0))
    # the bridge converses both ways with 12 accounts on each side
    for side in sides.values():
        for v in rng.choice(side, 12, replace=False):
            rows += [("bridge", str(v), "reply", 2, 0, 0), (str(v), "bridge", "reply", 2, 0, 0)]
    return LayerGraph.from_rows(rows)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_planted_bridge_is_the_top_gatekeeper(engine):
    eng = get_engine(engine)
    g = _planted()
    comm = communities(g, ["reply"], engine=eng, seed=0)
    assert [c.size for c in comm.communities[:2]] in ([61, 60], [60, 61])
    roles = account_roles(g, ["reply"], comm.membership, engine=eng)
    res = gatekeepers(g, ["reply"], comm.membership, roles, limit=5)
    top = res.items[0]
    print(f"{engine}: top gatekeeper {top.account} score {top.score:.3f} "
          f"(next {res.items[1].account} {res.items[1].score:.3f}) {top.components}")
    assert top.account == "bridge"
    assert sorted(top.communities_bridged) == [0, 1]
    assert top.ranks.betweenness == 1.0 and top.ranks.cross_brokerage == 1.0
    # ranks compress the lead (score 1.0 vs ~0.96); the raw counts show it
    assert top.score == 1.0
    runner_up = res.items[1].components.cross_brokerage
    assert top.components.cross_brokerage > 5 * runner_up
    r = roles_of(roles, "bridge")
    assert r.participation > 0.4  # half its ties on each side
    assert r.brokerage.gatekeeper + r.brokerage.representative > 100
