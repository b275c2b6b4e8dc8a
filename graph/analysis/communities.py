"""Communities: Louvain on a chosen layer mix, with the numbers that say how closed each
community is."""

from __future__ import annotations

from typing import Annotated, Sequence

import msgspec
import numpy as np

from graph.analysis.engine import Engine
from graph.analysis.graph import LayerGraph

__all__ = ["Community", "CommunitiesResult", "LayerShares", "TopAccount", "communities"]

#: interaction kind -> share, largest first
LayerShares = Annotated[dict[str, float], msgspec.Meta(title="LayerShares")]


class TopAccount(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    #: weighted degree inside the community (interactions with other members)
    degree: float


class Community(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    members: list[str]
    #: internal edges / (size (size - 1) / 2) on the undirected simple graph; None for size 1
    internal_density: float | None
    #: cut / (2 internal + cut), weighted; None when the community has no edge at all
    conductance: float | None
    #: (E - I) / (E + I) over the members' weighted edge ends; None without edges
    ei_index: float | None
    #: kind -> share of the interactions among members, over every kind in the graph,
    #: largest first (so a map of the kinds the graph holds, in that order; not a Struct)
    dominant_layers: LayerShares
    top_accounts: list[TopAccount]


class CommunitiesResult(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    engine: str
    resolution: float
    seed: int
    #: "louvain" or "leiden"
    algorithm: str = "louvain"
    modularity: float | None
    #: community id per node of the graph; -1 = no edge in ``kinds``, not analysed
    membership: list[int]
    communities: list[Community]


def communities(
    g: LayerGraph,
    kinds: Sequence[str],
    *,
    engine: Engine,
    resolution: float = 1.0,
    seed: int = 0,
    top: int = 5,
    algorithm: str = "louvain",
) -> CommunitiesResult:
    r"""Louvain (or Leiden) communities of the undirected graph over ``kinds``, with
    closure measures.

    Louvain (Blondel et al. 2008) maximises the modularity

    .. math::

        Q = \frac{1}{2m} \sum_{ij} \Big(A_{ij} - \gamma \frac{k_i k_j}{2m}\Big)
            \delta(c_i, c_j)

    on ``g.undirected(kinds)`` (weights = interactions summed over both directions and the
    kinds; :math:`\gamma` = ``resolution``). Accounts without any edge in ``kinds`` are
    left out (membership -1): they would otherwise each be a singleton community. Leiden
    (Traag, Waltman & van Eck 2019) maximises the same :math:`Q` but refines each
    community before aggregating it, which guarantees that every community is connected
    (Louvain can return a community held together only by a node that has since left).

    Per community :math:`C` with :math:`s` members, :math:`I` the summed weight of edges
    inside, :math:`E` the summed weight of edges with one end inside (the cut) and
    :math:`e_C` the number of distinct member pairs linked:

    - internal density :math:`e_C / (s(s-1)/2)`;
    - conductance :math:`E / (2I + E)` (Shi & Malik 2000), the share of the members'
      weighted degree that leaves;
    - E-I index :math:`(E - 2I)/(E + 2I)` (Krackhardt & Stern 1988), counted over edge
      *ends* of members (an inside edge has two member ends, a cut edge one), i.e. the sum
      of the members' own E-I tallies; -1 = fully closed, +1 = all ties outside. Counted
      this way it equals :math:`2\,\mathrm{conductance} - 1`;
    - dominant layers: for every kind in ``g`` (not only the analysed ones), the share of
      the interactions among members that are of that kind;
    - top accounts: the ``top`` members with the highest weighted degree inside.

    Parameters
    ----------
    g : LayerGraph
    kinds : sequence of str
        Interaction kinds to analyse, e.g. ``["reply", "quote"]``.
    engine : Engine
        ``get_engine("fast")`` or ``get_engine("reference")``.
    resolution : float
        Modularity resolution :math:`\gamma`; larger gives more, smaller communities.
    seed : int
        Random seed: same seed, same partition.
    top : int
        How many top accounts to list per community.
    algorithm : {"louvain", "leiden"}
        Leiden needs an engine with ``leiden`` (the fast one).

    Returns
    -------
    CommunitiesResult
        ``modularity`` (None when the graph has no edge), ``membership`` per node of ``g``
        (ids 0..k-1 by decreasing size, -1 = not analysed) and ``communities`` in id order.

    Examples
    --------
    Two triangles joined by one reply:

    >>> from graph.analysis.engine import get_engine
    >>> rows = [(a, b, "reply", 1, 0, 0) for a, b in
    ...         [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"),
    ...          ("c", "x")]]
    >>> res = communities(LayerGraph.from_rows(rows), ["reply"], engine=get_engine("reference"))
    >>> res.membership
    [0, 0, 0, 1, 1, 1]
    >>> c = res.communities[0]
    >>> c.members, c.internal_density, c.conductance, c.ei_index
    (['a', 'b', 'c'], 1.0, 0.14285714285714285, -0.7142857142857143)

    References
    ----------
    Blondel, Guillaume, Lambiotte & Lefebvre, "Fast unfolding of communities in large
    networks", J. Stat. Mech. (2008) P10008. doi:10.1088/1742-5468/2008/10/P10008
    Krackhardt & Stern, "Informal networks and organizational crises: an experimental
    simulation", Social Psychology Quarterly 51(2) (1988) 123-140. doi:10.2307/2786835
    Traag, Waltman & van Eck, "From Louvain to Leiden: guaranteeing well-connected
    communities", Sci. Rep. 9 (2019) 5233. doi:10.1038/s41598-019-41695-z
    Shi & Malik, "Normalized cuts and image segmentation", IEEE TPAMI 22(8) (2000).
    doi:10.1109/34.868688
    """
    kinds = list(kinds)
    src, dst, w = g.undirected(kinds)
    active = np.unique(np.concatenate([src, dst]))
    membership = np.full(g.n, -1, dtype=np.int64)
    if len(active) == 0:
        return CommunitiesResult(kinds=kinds, engine=engine.name, resolution=resolution, algorithm=algorithm,
                                 seed=seed, modularity=None, membership=membership.tolist(),
                                 communities=[])
    # Louvain runs on the accounts that have an edge; ids keep the nodes' order so the
    # engines' size-then-smallest-index numbering carries over unchanged
    local = np.full(g.n, -1, dtype=np.int64)
    local[active] = np.arange(len(active))
    ls, ld = local[src], local[dst]
    find = engine.leiden if algorithm == "leiden" else engine.louvain
    sub = find(len(active), ls, ld, w, resolution=resolution, seed=seed)
    q = engine.modularity(len(active), ls, ld, w, sub, resolution=resolution)
    membership[active] = sub
    found = _describe(g, membership, int(sub.max()) + 1, src, dst, w, top)
    return CommunitiesResult(kinds=kinds, engine=engine.name, resolution=resolution, seed=seed,
                             algorithm=algorithm, modularity=float(q), membership=membership.tolist(),
                             communities=found)


def _describe(g, membership, k, src, dst, w, top) -> list[Community]:
    # every per-community number in one pass over the edges (bincount by community id):
    # a loop over communities would cost O(k m) on graphs with thousands of them
    cs, cd = membership[src], membership[dst]
    inside = cs == cd
    internal = np.bincount(cs[inside], weights=w[inside], minlength=k)
    pairs = np.bincount(cs[inside], minlength=k)
    cross = ~inside
    cut = np.bincount(cs[cross], weights=w[cross], minlength=k)
    cut += np.bincount(cd[cross], weights=w[cross], minlength=k)

    per_kind = {}
    for kind in sorted(g.kinds):
        ks, kd, kw = g.directed([kind])
        a, b = membership[ks], membership[kd]
        same = (a == b) & (a >= 0)
        per_kind[kind] = np.bincount(a[same], weights=kw[same], minlength=k)
    interactions = sum(per_kind.values()) if per_kind else np.zeros(k)

    strength = np.bincount(src[inside], weights=w[inside], minlength=g.n)
    strength += np.bincount(dst[inside], weights=w[inside], minlength=g.n)
    nodes = np.flatnonzero(membership >= 0)
    by_comm = nodes[np.argsort(membership[nodes], kind="stable")]
    bounds = np.searchsorted(membership[by_comm], np.arange(k + 1))
    ranked = nodes[np.lexsort((nodes, -strength[nodes], membership[nodes]))]

    out = []
    for c in range(k):
        members = by_comm[bounds[c]:bounds[c + 1]]
        s = len(members)
        ends = 2 * internal[c] + cut[c]
        total = interactions[c]
        layers = {kind: (float(v[c] / total) if total else 0.0) for kind, v in per_kind.items()}
        layers = dict(sorted(layers.items(), key=lambda kv: (-kv[1], kv[0])))
        tops = ranked[bounds[c]:bounds[c] + min(top, s)]
        out.append(Community(
            id=c,
            size=s,
            members=[g.nodes[i] for i in members],
            internal_density=float(pairs[c] / (s * (s - 1) / 2)) if s > 1 else None,
            conductance=float(cut[c] / ends) if ends > 0 else None,
            ei_index=float((cut[c] - 2 * internal[c]) / ends) if ends > 0 else None,
            dominant_layers=layers,
            top_accounts=[TopAccount(account=g.nodes[i], degree=float(strength[i])) for i in tops],
        ))
    return out
