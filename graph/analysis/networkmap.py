"""The network as a picture: positions for the map page, at one of two levels.

A map is drawn from the same analysis as every other answer (communities, castles, pods,
gatekeepers, trusted voices), so what the page marks is what the API says. Laying out
thousands of accounts costs seconds, so a worker computes it once per graph version and
question, and the result is cached like any answer; a graph too big to draw account by
account is shown as its communities first (one node per community, one edge per pair of
communities with ties between them), and one community at a time after that.
"""

from __future__ import annotations

import math
import random
import threading
from typing import Any

import igraph as ig
import numpy as np

from graph.analysis.stages import Inputs
from graph.errors import FieldError, InvalidInput
from graph.analysis.palette import community_color

__all__ = ["network_map", "MAX_NODES", "MAX_EDGES", "LEVELS"]

#: accounts drawn at most in one map (a bigger graph starts at its community overview)
MAX_NODES = 2_000
#: edges drawn at most: the heaviest
MAX_EDGES = 20_000
LEVELS = ("auto", "accounts", "communities")
#: Fruchterman-Reingold iterations: enough to settle a few thousand nodes
_ITERATIONS = 200
# igraph draws from one process-wide generator: a layout swaps in its own, seeded
_RNG_LOCK = threading.Lock()


def network_map(x: Inputs, *, level: str = "auto", community: int | None = None,
                max_nodes: int = MAX_NODES) -> dict[str, Any]:
    r"""Positions and marks for drawing the analysed graph.

    Accounts are laid out with Fruchterman–Reingold (force-directed: ties pull, every
    pair repels; Fruchterman & Reingold 1991) on the undirected graph of the analysed
    layers, each tie weighted :math:`\log(1 + w)` for :math:`w` interactions, from
    starting positions drawn with ``x.params.seed``: the same graph version and seed give
    the same picture. Coordinates are scaled into :math:`[-1, 1]`.

    Parameters
    ----------
    x : Inputs
        With ``g`` and the stages communities, roles, gatekeepers, trusted, castles, pods.
    level : {"auto", "accounts", "communities"}
        ``accounts``: one node per analysed account (the ``max_nodes`` with the most
        interactions when there are more; ``truncated`` says so); ``communities``: one
        node per community, sized by members, with edges summing the ties between them;
        ``auto``: accounts when they fit in ``max_nodes``, else communities.
    community : int, optional
        Draw only this community's accounts (a drill-down from the overview).
    max_nodes : int

    Returns
    -------
    dict
        ``level``, ``community``, ``accounts_total``, ``truncated``, ``nodes`` (id, label: the
        account's handle where ``x.handles`` knows one, else its id,
        x, y, community, size, castle, pods, gatekeeper, trusted, brokerage_role,
        module_role: see :class:`graph.analysis.roles.AccountRoles`), ``edges``
        (source, target, weight), ``communities`` (id, size, castle, color) and ``pods``.

    Examples
    --------
    >>> from graph.analysis.params import AnalysisParams
    >>> from graph.analysis.graph import LayerGraph
    >>> from graph.analysis.stages import plan
    >>> pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"), ("c", "x")]
    >>> x = Inputs(AnalysisParams(layers=("reply",), null_samples=2), "g", events=[],
    ...            g=LayerGraph.from_rows([(s, t, "reply", 1, 0, 0) for s, t in pairs]))
    >>> for s in plan(["communities", "roles", "gatekeepers", "trusted", "castles", "pods"]):
    ...     x.results[s.name] = s.compute(x)
    >>> m = network_map(x)
    >>> m["level"], len(m["nodes"]), len(m["edges"])
    ('accounts', 6, 7)
    >>> network_map(x, level="communities")["nodes"][0]["id"]
    'c0'
    """
    if level not in LEVELS:
        raise InvalidInput([FieldError("level", f"one of {', '.join(LEVELS)}")])
    g, res = x.g, x.results
    membership = np.asarray(res["communities"].membership, dtype=np.int64)
    communities = {c.id: c for c in res["communities"].communities}
    if community is not None and community not in communities:
        raise InvalidInput([FieldError("community", f"no community {community} in this analysis")])
    castles = {c.id for c in res["castles"].communities if c.castle}
    src, dst, w = g.undirected(x.layers)
    analysed = np.flatnonzero(membership >= 0)
    out: dict[str, Any] = {
        "community": community, "accounts_total": int(len(analysed)), "truncated": False,
        "communities": [{"id": c.id, "size": c.size, "castle": c.id in castles, "color": _hex(c.id)}
                        for c in res["communities"].communities],
        "pods": [{"id": p.id, "members": list(p.members)} for p in res["pods"].pods],
    }
    if community is None and (level == "communities" or (level == "auto" and len(analysed) > max_nodes)):
        return out | _overview(x, membership, communities, castles, src, dst, w)

    keep = analysed if community is None else np.flatnonzero(membership == community)
    strength = np.bincount(np.concatenate([src, dst]), weights=np.concatenate([w, w]), minlength=g.n)
    if len(keep) > max_nodes:
        keep = keep[np.lexsort((keep, -strength[keep]))[:max_nodes]]
        out["truncated"] = True
    keep = np.sort(keep)
    local = np.full(g.n, -1, dtype=np.int64)
    local[keep] = np.arange(len(keep))
    inside = (local[src] >= 0) & (local[dst] >= 0)
    s, d, ew = local[src[inside]], local[dst[inside]], w[inside]
    if len(ew) > MAX_EDGES:
        top = np.lexsort((s, d, -ew))[:MAX_EDGES]
        s, d, ew = s[top], d[top], ew[top]
    xy = _layout(len(keep), s, d, ew, x.params.seed)

    pods: dict[str, list[int]] = {}
    for p in res["pods"].pods:
        for a in p.members:
            pods.setdefault(a, []).append(p.id)
    gatekeeper = {k.account: k.score for k in res["gatekeepers"].items}
    trusted = {v.account: v.score for v in res["trusted"].voices}
    roles = res["roles"]
    row_of = {node: j for j, node in enumerate(roles.nodes)}
    top = float(strength[keep].max()) if len(keep) else 1.0
    handles = x.handles([g.nodes[v] for v in keep.tolist()]) if x.handles else {}
    nodes = []
    for i, v in enumerate(keep.tolist()):
        account, c = g.nodes[v], int(membership[v])
        nodes.append({
            "id": account, "label": handles.get(account) or account, "x": float(xy[i, 0]), "y": float(xy[i, 1]), "community": c,
            # area grows with interactions: radius by square root, never zero
            "size": round(2.0 + 10.0 * math.sqrt(strength[v] / top if top > 0 else 0.0), 3),
            "castle": c in castles, "pods": pods.get(account, []),
            "gatekeeper": gatekeeper.get(account), "trusted": trusted.get(account),
            "brokerage_role": roles.brokerage_role[row_of[v]] if v in row_of else None,
            "module_role": roles.module_role[row_of[v]] if v in row_of else None,
        })
    names = [g.nodes[v] for v in keep.tolist()]
    edges = [{"source": names[a], "target": names[b], "weight": int(round(c))}
             for a, b, c in zip(s.tolist(), d.tolist(), ew.tolist())]
    return out | {"level": "accounts", "nodes": nodes, "edges": edges}


def _overview(x: Inputs, membership: np.ndarray, communities: dict, castles: set[int],
              src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    ids = sorted(communities)
    at = {c: i for i, c in enumerate(ids)}
    cs, cd = membership[src], membership[dst]
    cross = (cs >= 0) & (cd >= 0) & (cs != cd)
    lo, hi = np.minimum(cs[cross], cd[cross]), np.maximum(cs[cross], cd[cross])
    k = max(ids) + 1 if ids else 1
    pair, inverse = np.unique(lo * k + hi, return_inverse=True)
    weight = np.bincount(inverse, weights=w[cross], minlength=len(pair))
    a = np.array([at[int(p // k)] for p in pair], dtype=np.int64)
    b = np.array([at[int(p % k)] for p in pair], dtype=np.int64)
    xy = _layout(len(ids), a, b, weight, x.params.seed)
    biggest = max((communities[c].size for c in ids), default=1)
    nodes = [{
        "id": f"c{c}", "label": f"community {c} · {communities[c].size} accounts", "x": float(xy[i, 0]),
        "y": float(xy[i, 1]), "community": c, "size": round(3.0 + 17.0 * math.sqrt(communities[c].size / biggest), 3),
        "castle": c in castles, "pods": [], "gatekeeper": None, "trusted": None,
        "brokerage_role": None, "module_role": None,
    } for i, c in enumerate(ids)]
    edges = [{"source": f"c{ids[i]}", "target": f"c{ids[j]}", "weight": int(round(v))}
             for i, j, v in zip(a.tolist(), b.tolist(), weight.tolist())]
    return {"level": "communities", "nodes": nodes, "edges": edges}


def _layout(n: int, s: np.ndarray, d: np.ndarray, w: np.ndarray, seed: int) -> np.ndarray:
    """Fruchterman-Reingold positions in [-1, 1], the same for the same input and seed."""
    if n == 0:
        return np.zeros((0, 2))
    start = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 2))
    if n == 1 or not len(s):
        xy = start
    else:
        graph = ig.Graph(n=n, edges=list(zip(s.tolist(), d.tolist())))
        with _RNG_LOCK:
            ig.set_random_number_generator(random.Random(seed))
            try:
                xy = np.asarray(graph.layout_fruchterman_reingold(
                    weights=np.log1p(w).tolist(), seed=start.tolist(), niter=_ITERATIONS).coords)
            finally:
                ig.set_random_number_generator(random)
    xy = xy - xy.mean(axis=0)
    scale = float(np.abs(xy).max()) or 1.0
    return np.round(xy / scale, 5)


def _hex(community: int) -> str:
    # the exports' palette: a community has one colour on the map and in Gephi
    return "#{:02x}{:02x}{:02x}".format(*community_color(community))
