"""Gatekeepers: the accounts that carry information across community borders.

"Gatekeeper" in the brokerage sense (Gould & Fernandez 1989; Burt 1992). Not Garimella et
al.'s (WWW 2018) "gatekeeper" (diverse consumption, partisan production): castlegate calls
that a "filter".
"""

from __future__ import annotations

from typing import Sequence

import msgspec
import numpy as np
from scipy.stats import rankdata

from graph.analysis.graph import LayerGraph
from graph.analysis.roles import RolesTable

__all__ = ["GATEKEEPER_WEIGHTS", "Gatekeeper", "GatekeeperComponents", "GatekeepersResult", "gatekeepers"]

#: Weight of each rank-normalised component in the score (they sum to 1). Cross-group
#: brokerage is the most direct evidence of carrying something *across* a border, so it
#: weighs most; the share is shown for reading, not scored (an account with one brokered
#: pair, crossing, would otherwise rank with the busiest brokers).
GATEKEEPER_WEIGHTS: dict[str, float] = {
    "cross_brokerage": 0.4,
    "betweenness": 0.2,
    "structural_holes": 0.2,
    "participation": 0.2,
    "cross_brokerage_share": 0.0,
}

#: a neighbouring community is "bridged" when it holds at least this share of the
#: account's cross-community ties
BRIDGED_SHARE = 0.10


class GatekeeperComponents(msgspec.Struct, frozen=True, kw_only=True):
    """One number per component of the gatekeeper score (the keys of
    :data:`GATEKEEPER_WEIGHTS`): a raw value, its percentile rank, or its weight."""

    #: Gould-Fernandez gatekeeper + representative + liaison pairs
    cross_brokerage: float
    betweenness: float
    #: 1 - Burt's constraint
    structural_holes: float
    participation: float
    #: cross_brokerage over all brokered pairs (shown, weight 0)
    cross_brokerage_share: float


class Gatekeeper(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    score: float
    community: int
    #: the Gould–Fernandez role of most of its brokered pairs: which groups it mediates
    #: between (gatekeeper, representative and liaison cross a border); null when it
    #: brokers no pair
    brokerage_role: str | None
    #: raw values
    components: GatekeeperComponents
    #: the same components as percentile ranks in [0, 1] among all analysed accounts
    ranks: GatekeeperComponents
    #: standard error of ``components.betweenness`` when betweenness is sampled (null when
    #: exact): two accounts whose betweenness differ by less than about two of these are not
    #: told apart by the sample
    betweenness_se: float | None
    #: the Guimerà–Amaral role: its place *inside its own community* (a broker whose ties
    #: are mostly with its own, large community is "peripheral" there); not a brokerage role
    module_role: str | None
    #: own community first, then neighbouring ones with >= 10% of its cross-community ties
    communities_bridged: list[int]


class GatekeepersResult(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    weights: GatekeeperComponents
    betweenness_method: str
    pivots: int | None
    #: accounts with a tie to another community: all were scored, ``items`` holds the
    #: first ``limit`` of them
    candidates: int
    items: list[Gatekeeper]


def gatekeepers(
    g: LayerGraph,
    kinds: Sequence[str],
    membership: Sequence[int] | np.ndarray,
    roles: RolesTable,
    *,
    limit: int = 20,
) -> GatekeepersResult:
    r"""Accounts ranked by how much they carry information across community borders.

    For every analysed account :math:`i` (from ``roles``), five components:

    - cross brokerage :math:`x_i` = Gould–Fernandez gatekeeper + representative + liaison
      counts: brokered pairs :math:`a \to i \to b` whose ends are in different groups;
    - its share of all of :math:`i`'s brokered pairs (shown, weight 0);
    - betweenness :math:`b_i`;
    - structural holes :math:`1 - c_i` (Burt's constraint);
    - participation coefficient :math:`P_i`.

    Each is turned into a percentile rank :math:`r \in [0, 1]` among all analysed
    accounts (average rank for ties, :math:`(\mathrm{rank} - 1)/(N - 1)`), so that no
    component dominates by its scale, and

    .. math::

        \mathrm{score}_i = \sum_c w_c\, r_c(i), \qquad
        w = (0.4, 0.2, 0.2, 0.2) \text{ for } (x, b, 1 - c, P)

    (:data:`GATEKEEPER_WEIGHTS`, returned in ``weights``). Only accounts with at least
    one tie to another community are listed.

    Parameters
    ----------
    g : LayerGraph
    kinds : sequence of str
        Must be the kinds ``roles`` was computed on.
    membership : sequence of int, length ``g.n``
        The partition ``roles`` was computed with (-1 = outside).
    roles : RolesTable
        From :func:`graph.analysis.roles.account_roles`.
    limit : int
        Longest list returned.

    Returns
    -------
    GatekeepersResult
        ``items`` by decreasing score (ties by account order in the graph).

    Examples
    --------
    Two triangles joined by c - x, with replies both ways on the bridge:

    >>> from graph.analysis.engine import get_engine
    >>> from graph.analysis.roles import account_roles
    >>> pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"),
    ...          ("c", "x"), ("x", "c")]
    >>> g = LayerGraph.from_rows([(a, b, "reply", 1, 0, 0) for a, b in pairs])
    >>> memb = [0, 0, 0, 1, 1, 1]
    >>> t = account_roles(g, ["reply"], memb, engine=get_engine("reference"))
    >>> res = gatekeepers(g, ["reply"], memb, t)
    >>> [(i.account, i.communities_bridged, i.brokerage_role) for i in res.items]
    [('c', [0, 1], 'gatekeeper'), ('x', [1, 0], 'gatekeeper')]

    References
    ----------
    Gould & Fernandez, "Structures of mediation", Sociological Methodology 19 (1989)
    89-126. doi:10.2307/270949
    Burt, "Structural Holes: The Social Structure of Competition" (1992).
    doi:10.4159/9780674029095
    Guimerà & Amaral, Nature 433 (2005) 895-900. doi:10.1038/nature03288
    Freeman, "A set of measures of centrality based on betweenness", Sociometry 40(1)
    (1977) 35-41. doi:10.2307/3033543
    """
    kinds = list(kinds)
    if sorted(kinds) != sorted(roles.kinds):
        raise ValueError(f"roles were computed on {roles.kinds}, not {kinds}")
    memb_all = np.asarray(membership, dtype=np.int64)
    nodes = np.asarray(roles.nodes, dtype=np.int64)
    own = np.asarray(roles.community, dtype=np.int64)
    if memb_all.shape != (g.n,) or not np.array_equal(memb_all[nodes], own):
        raise ValueError("membership differs from the partition the roles were computed with")
    n = len(nodes)
    if n == 0:
        return GatekeepersResult(kinds=kinds, weights=GatekeeperComponents(**GATEKEEPER_WEIGHTS),
                                 betweenness_method=roles.betweenness_method,
                                 pivots=roles.pivots, candidates=0, items=[])

    br = {k: np.asarray(v, dtype=np.float64) for k, v in roles.brokerage.items()}
    cross = br["gatekeeper"] + br["representative"] + br["liaison"]
    total = sum(br.values())
    raw = {
        "cross_brokerage": cross,
        "betweenness": np.asarray(roles.betweenness, dtype=np.float64),
        "structural_holes": 1.0 - np.asarray(roles.constraint, dtype=np.float64),
        "participation": np.asarray(roles.participation, dtype=np.float64),
        "cross_brokerage_share": np.divide(cross, total, out=np.zeros(n), where=total > 0),
    }
    ranks = {k: _percentile(v) for k, v in raw.items()}
    score = sum(GATEKEEPER_WEIGHTS[k] * ranks[k] for k in raw)

    # cross-community ties: distinct neighbours (either direction) in another community
    usrc, udst, _ = g.undirected(kinds)
    s = np.concatenate([usrc, udst]).astype(np.int64)
    d = np.concatenate([udst, usrc]).astype(np.int64)
    cs, cd = memb_all[s], memb_all[d]
    keep = (cs >= 0) & (cd >= 0) & (cs != cd)
    k = int(memb_all.max()) + 1 if len(memb_all) else 1
    keys, ties = np.unique(s[keep] * k + cd[keep], return_counts=True)
    tie_node, tie_comm = keys // k, keys % k
    total_ties = np.bincount(tie_node, weights=ties, minlength=g.n)

    candidates = np.flatnonzero((own >= 0) & (total_ties[nodes] > 0))
    order = candidates[np.lexsort((candidates, -score[candidates]))][:limit]
    starts = np.searchsorted(tie_node, nodes[order], side="left")
    stops = np.searchsorted(tie_node, nodes[order], side="right")
    items = []
    for i, a, b in zip(order.tolist(), starts.tolist(), stops.tolist()):
        v = int(nodes[i])
        comm, cnt = tie_comm[a:b], ties[a:b]
        big = cnt >= BRIDGED_SHARE * total_ties[v]
        sel = np.lexsort((comm[big], -cnt[big]))
        items.append(Gatekeeper(
            account=roles.accounts[i],
            score=float(score[i]),
            community=int(own[i]),
            brokerage_role=roles.brokerage_role[i],
            components=GatekeeperComponents(**{c: float(raw[c][i]) for c in raw}),
            ranks=GatekeeperComponents(**{c: float(ranks[c][i]) for c in raw}),
            betweenness_se=None if roles.betweenness_se is None else roles.betweenness_se[i],
            module_role=roles.module_role[i],
            communities_bridged=[int(own[i])] + comm[big][sel].tolist(),
        ))
    return GatekeepersResult(kinds=kinds, weights=GatekeeperComponents(**GATEKEEPER_WEIGHTS),
                             betweenness_method=roles.betweenness_method, pivots=roles.pivots,
                             candidates=int(len(candidates)), items=items)


def _percentile(values: np.ndarray) -> np.ndarray:
    """Percentile rank in [0, 1], ties averaged; NaN (undefined) ranks lowest."""
    v = np.where(np.isnan(values), -np.inf, values)
    if len(v) < 2:
        return np.ones(len(v))
    return (rankdata(v, method="average") - 1.0) / (len(v) - 1.0)
