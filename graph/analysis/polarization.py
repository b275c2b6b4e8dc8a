"""Graph-level polarization: how strongly a partition splits the conversation."""

from __future__ import annotations

import math
from typing import Sequence

import msgspec
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from graph.analysis.engine import Engine
from graph.analysis.graph import LayerGraph
from graph.analysis.nulls import NullDraws, degree_preserving_draws, z_standard_error
from graph.analysis.spectral import POLARIZED_AT, SPLIT_METHOD, SpectralSplit, spectral_split

__all__ = ["PolarizationResult", "polarization"]

#: high-degree nodes per side that absorb the random walks (Garimella et al. use k = 10)
RWC_HUBS = 10
#: safety stop for a walk; walks only start where a hub is reachable, so it is not hit in
#: practice (expected hitting times are thousands of steps on 1e5-edge graphs)
RWC_MAX_STEPS = 100_000
CONVERSATION_KINDS = ("reply", "quote")


class PolarizationResult(msgspec.Struct, frozen=True, kw_only=True):
    #: how strongly the network splits in two, in [0, 1], comparable across sizes and
    #: densities (``method``); None when the analysed graph has no cycle to measure
    score: float | None
    #: ``score >= graph.analysis.spectral.POLARIZED_AT``
    polarized: bool | None
    method: str
    #: the eigenvalues the score is read from
    split: SpectralSplit
    # the raw measures below are the score's context, not comparable across graphs of
    # other sizes or densities (Salloum, Chen & Kivelä 2022)
    kinds: list[str]
    engine: str
    seed: int
    #: Newman modularity of the given partition on the weighted analysed graph
    modularity: float | None
    #: nominal assortativity of community labels (networkx semantics, unweighted)
    assortativity: float | None
    #: Random Walk Controversy between ``sides``; None with fewer than two communities
    rwc: float | None
    rwc_method: str
    #: walks that reached a high-degree node (the ones the probabilities are built from)
    rwc_walks: int
    #: share of reply + quote interactions crossing communities; None without any
    cross_community_share: float | None
    #: (Q_max - mean Q_null) / sd Q_null, on the simple unweighted analysed graph
    modularity_z: float | None
    #: standard error of ``modularity_z`` from the number of draws
    modularity_z_se: float | None
    #: Louvain's modularity on the simple unweighted analysed graph (what is compared)
    modularity_unweighted: float | None
    modularity_null_mean: float | None
    modularity_null_sd: float | None
    null_samples: int
    #: how the engine draws the degree-preserving null model
    null_sampler: str
    #: ids of the two largest communities, X and Y
    sides: list[int]


def polarization(
    g: LayerGraph,
    kinds: Sequence[str],
    membership: Sequence[int] | np.ndarray,
    *,
    engine: Engine,
    seed: int = 0,
    walks: int = 10000,
    null_samples: int = 20,
    nulls: NullDraws | None = None,
) -> PolarizationResult:
    r"""One normalised polarization score, with modularity, label assortativity, Random
    Walk Controversy and a null-model z-score of modularity for a partition of the graph
    over ``kinds`` as its context.

    The analysed graph is ``g.undirected(kinds)`` restricted to accounts with an edge;
    accounts with membership -1 there count as singleton communities.

    - ``score``: how far the strongest two-way split of the analysed graph stands out of
      what a random graph shows, in [0, 1], from its non-backtracking spectrum
      (:func:`graph.analysis.spectral.spectral_split`, ``method``); unlike the raw
      measures below it does not grow as graphs get smaller or sparser, and it needs no
      partition. ``polarized`` is ``score >= POLARIZED_AT``.
    - ``modularity``: Newman's Q of ``membership`` (weighted).
    - ``assortativity``: nominal assortativity of the community labels (Newman 2003),
      :math:`r = (\sum_i e_{ii} - \sum_i a_i^2)/(1 - \sum_i a_i^2)` over edge ends,
      unweighted, as ``networkx.attribute_assortativity_coefficient``.
    - ``rwc``: Random Walk Controversy (Garimella et al. 2018) between the two largest
      communities X and Y, on the subgraph induced by X ∪ Y (unweighted):
      :math:`\mathrm{RWC} = P_{XX} P_{YY} - P_{XY} P_{YX}` with
      :math:`P_{AB} = \Pr(\text{walk started in } A \mid \text{it ended in } B)`.
      Estimated as in the paper by ``walks`` seeded random walks, half starting at a
      uniformly chosen node of each side (so each side is equally likely a priori), each
      stopped on reaching one of the ``10`` highest-degree nodes of either side (fewer on
      sides under 100 accounts: one per ten members, at least one, since with every node
      a hub walks would stop where they start). Nodes from which no such hub is reachable
      are not used as starts (their walks never end). In [-1, 1]: near 1, walks rarely
      cross; near 0, the sides mix.
    - ``cross_community_share``: share of conversation interactions (reply + quote counts
      in ``g``, whatever ``kinds``) between two accounts of different communities, over
      those whose accounts both have a community.
    - ``modularity_z``: raw modularity grows with sparsity and size, even in random
      graphs, so it is compared with a null model (Salloum, Chen & Kivelä 2022):
      :math:`z = (Q_{\max} - \overline{Q}_{\text{null}}) / \sigma_{Q_\text{null}}`, where
      :math:`Q_{\max}` is Louvain's modularity on the simple unweighted analysed graph and
      each null value is Louvain's modularity on a random simple graph with the same
      degrees (``null_samples`` draws of :func:`graph.analysis.nulls.degree_preserving_draws`,
      the ones castles are scored against). The null model cannot keep weights, so
      both sides of the comparison are unweighted. ``modularity_z_se`` is its standard
      error from the number of draws.

    Parameters
    ----------
    g : LayerGraph
    kinds : sequence of str
        Interaction kinds forming the analysed graph.
    membership : sequence of int, length ``g.n``
        Community per node (e.g. ``communities(...).membership``).
    engine : Engine
    seed : int
        Seeds the walks, the null draws and their Louvain runs.
    walks : int
        Random walks for RWC.
    null_samples : int
        Draws of the null model for the modularity z-score; 0 skips it.
    nulls : NullDraws, optional
        Draws already made for this graph, ``kinds`` and ``seed`` (their number is
        then ``null_samples``); drawn here when absent.

    Returns
    -------
    PolarizationResult

    Examples
    --------
    Two 4-cliques joined by one reply:

    >>> from itertools import combinations
    >>> from graph.analysis.engine import get_engine
    >>> rows = [(a, b, "reply", 1, 0, 0) for side in ("abcd", "wxyz")
    ...         for a, b in combinations(side, 2)] + [("d", "w", "reply", 1, 0, 0)]
    >>> g = LayerGraph.from_rows(rows)
    >>> res = polarization(g, ["reply"], [0, 0, 0, 0, 1, 1, 1, 1],
    ...                    engine=get_engine("fast"), null_samples=0)
    >>> round(res.modularity, 4), round(res.assortativity, 4), res.cross_community_share
    (0.4231, 0.8462, 0.07692307692307693)
    >>> res.rwc  # d and w are the hubs: every walk meets its own side's hub first
    1.0
    >>> res.score, res.polarized  # 13 ties: too few for a split to stand out of chance
    (0.0, False)

    References
    ----------
    Krzakala, Moore, Mossel, Neeman, Sly, Zdeborová & Zhang, "Spectral redemption in
    clustering sparse networks", PNAS 110(52) (2013) 20935-20940. doi:10.1073/pnas.1312486110
    Garimella, De Francisci Morales, Gionis & Mathioudakis, "Quantifying controversy on
    social media", ACM Trans. Social Computing 1(1) (2018) 3. doi:10.1145/3140565
    Salloum, Chen & Kivelä, "Separating polarization from noise: comparison and
    normalization of structural polarization measures", Proc. ACM HCI 6 (CSCW1) (2022).
    doi:10.1145/3512962
    Newman, "Mixing patterns in networks", Phys. Rev. E 67 (2003) 026126.
    doi:10.1103/PhysRevE.67.026126
    Newman, "Modularity and community structure in networks", PNAS 103(23) (2006)
    8577-8582. doi:10.1073/pnas.0601602103
    """
    kinds = list(kinds)
    memb_all = np.asarray(membership, dtype=np.int64)
    if memb_all.shape != (g.n,):
        raise ValueError(f"membership must have one entry per account ({g.n})")
    src, dst, w = g.undirected(kinds)
    active = np.unique(np.concatenate([src, dst]))
    n = len(active)
    local = np.full(g.n, -1, dtype=np.int64)
    local[active] = np.arange(n)
    us, ud = local[src], local[dst]
    labels = _singletons(memb_all[active])

    cross = _cross_share(g, memb_all)
    split = spectral_split(g.n, src, dst, coreness=engine.coreness(g.n, src, dst), seed=seed)
    scored = dict(score=split.score, polarized=None if split.score is None else split.score >= POLARIZED_AT,
                  method=SPLIT_METHOD, split=split)
    method = (f"{walks} seeded random walks on the two largest communities, half from each "
              f"side, absorbed at the {RWC_HUBS} highest-degree nodes of each side (one per "
              f"ten members on smaller sides) (Garimella et al. 2018)")
    if n == 0:
        return PolarizationResult(
            **scored, kinds=kinds, engine=engine.name, seed=seed, modularity=None, assortativity=None,
            rwc=None, rwc_method=method, rwc_walks=0, cross_community_share=cross,
            modularity_z=None, modularity_z_se=None, modularity_unweighted=None,
            modularity_null_mean=None,
            modularity_null_sd=None, null_samples=0, null_sampler=engine.null_sampler, sides=[],
        )
    q = engine.modularity(n, us, ud, w, labels)
    r = _assortativity(us, ud, labels)

    comm = memb_all[active]
    ids, sizes = np.unique(comm[comm >= 0], return_counts=True)
    sides: list[int] = []
    rwc, absorbed = None, 0
    if len(ids) >= 2:
        top = np.lexsort((ids, -sizes))[:2]
        sides = [int(ids[top[0]]), int(ids[top[1]])]
        rwc, absorbed = _rwc(n, us, ud, comm, sides, walks, seed)

    z = z_se = q_max = null_mean = null_sd = None
    if nulls is None and null_samples > 0 and len(us) > 0:
        nulls = degree_preserving_draws(g, kinds, memb_all, engine=engine, samples=null_samples, seed=seed)
    if nulls is not None and len(us) > 0:
        if sorted(nulls.kinds) != sorted(kinds) or nulls.seed != seed:
            raise ValueError("nulls were drawn for other kinds or another seed")
        null_samples = nulls.samples
        ones = np.ones(len(us))
        q_max = engine.modularity(n, us, ud, ones, engine.louvain(n, us, ud, ones, seed=seed))
        null = np.asarray(nulls.modularity, dtype=np.float64)
        null_mean = float(np.mean(null))
        null_sd = float(np.std(null, ddof=1)) if null_samples > 1 else None
        if null_sd:
            z = (q_max - null_mean) / null_sd
            z_se = z_standard_error(z, null_samples)
    return PolarizationResult(
        **scored, kinds=kinds, engine=engine.name, seed=seed,
        modularity=None if math.isnan(q) else float(q),
        assortativity=r, rwc=rwc, rwc_method=method, rwc_walks=absorbed,
        cross_community_share=cross, modularity_z=z, modularity_z_se=z_se,
        modularity_unweighted=None if q_max is None else float(q_max),
        modularity_null_mean=null_mean, modularity_null_sd=null_sd,
        null_samples=null_samples if z is not None or null_mean is not None else 0,
        null_sampler=engine.null_sampler,
        sides=sides,
    )


def _singletons(labels: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    loose = labels < 0
    if loose.any():
        labels[loose] = max(int(labels.max()), -1) + 1 + np.arange(int(loose.sum()))
    return labels


def _assortativity(us, ud, labels) -> float | None:
    m = len(us)
    if m == 0:
        return None
    same = float(np.sum(labels[us] == labels[ud])) / m
    ends = np.bincount(np.concatenate([labels[us], labels[ud]])) / (2.0 * m)
    expected = float(np.sum(ends**2))
    if expected >= 1.0:
        return None  # one label everywhere: 0/0
    return (same - expected) / (1.0 - expected)


def _cross_share(g: LayerGraph, memb: np.ndarray) -> float | None:
    cs, cd, cw = g.directed([k for k in CONVERSATION_KINDS if k in g.kinds])
    a, b = memb[cs], memb[cd]
    known = (a >= 0) & (b >= 0)
    total = float(cw[known].sum())
    if total == 0:
        return None
    return float(cw[known & (a != b)].sum()) / total


def _rwc(n, us, ud, comm, sides, walks, seed) -> tuple[float | None, int]:
    side = np.full(n, -1, dtype=np.int64)
    side[comm == sides[0]] = 0
    side[comm == sides[1]] = 1
    keep = (side[us] >= 0) & (side[ud] >= 0)
    s = np.concatenate([us[keep], ud[keep]])
    d = np.concatenate([ud[keep], us[keep]])
    adj = csr_matrix((np.ones(len(s)), (s, d)), shape=(n, n))
    adj.sum_duplicates()
    ptr, nbr = adj.indptr, adj.indices
    deg = np.diff(ptr)

    hub = np.zeros(n, dtype=bool)
    for x in (0, 1):
        members = np.flatnonzero((side == x) & (deg > 0))
        k = max(1, min(RWC_HUBS, -(-len(members) // 10)))
        top = members[np.lexsort((members, -deg[members]))][:k]
        hub[top] = True
    # a walk in a component without a hub never stops: do not start there
    _, comp = connected_components(adj, directed=False)
    reachable = np.zeros(comp.max() + 1, dtype=bool)
    reachable[comp[hub]] = True
    rng = np.random.default_rng(seed)
    counts = np.zeros((2, 2))
    absorbed = 0
    for x in (0, 1):
        starts = np.flatnonzero((side == x) & reachable[comp])
        k = walks // 2 if x == 0 else walks - walks // 2
        if len(starts) == 0 or k == 0:
            return None, 0
        pos = starts[rng.integers(len(starts), size=k)]
        for _ in range(RWC_MAX_STEPS):
            done = hub[pos]
            if done.any():
                counts[x] += np.bincount(side[pos[done]], minlength=2)
                absorbed += int(done.sum())
                pos = pos[~done]
            if len(pos) == 0:
                break
            step = (rng.random(len(pos)) * deg[pos]).astype(np.int64)
            pos = nbr[ptr[pos] + step]
    # equal numbers of walks per side: Pr(start A | end B) is a ratio of counts per start
    frac = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    end_x, end_y = frac[0, 0] + frac[1, 0], frac[0, 1] + frac[1, 1]
    if end_x == 0 or end_y == 0:
        return None, absorbed
    p_xx, p_yx = frac[0, 0] / end_x, frac[1, 0] / end_x
    p_yy, p_xy = frac[1, 1] / end_y, frac[0, 1] / end_y
    return float(p_xx * p_yy - p_xy * p_yx), absorbed
