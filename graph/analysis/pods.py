"""Coordinated amplification: accounts that repeatedly amplify the same posts within seconds
of each other ("pods").

Two accounts *co-act* when both amplify the same object within ``tau`` seconds; a pair that
co-acts on at least ``min_repeats`` distinct objects is linked, and the clusters of that
co-action graph are candidate pods (Keller et al. 2020; Giglietto et al. 2020, CooRnet; the
QUT Coordination Network Toolkit). A pod is evidence of coordination, not of intent:
newsrooms, campaigns and fan groups coordinate too.
"""

from __future__ import annotations

from typing import Iterable

import msgspec
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graph.analysis.events import Event

__all__ = ["PodEdge", "Pod", "PodsParameters", "PodsResult", "coordinated_pods"]

# Pairs are reduced to per-pair counts whenever this many are pending, so that a burst of
# thousands of amplifiers on one object does not hold every pair in memory at once.
_REDUCE_EVERY = 4_000_000


class PodEdge(msgspec.Struct, frozen=True, kw_only=True):
    """Two pod members (``a < b``) and how they co-acted."""

    a: str
    b: str
    #: distinct objects both amplified within ``tau`` of each other
    weight: int
    #: co-actions where ``a`` acted strictly first, and where ``b`` did (ties count for neither)
    a_first: int
    b_first: int
    #: 1 - |a_first - b_first| / (a_first + b_first): 1 = they take turns leading, 0 = one
    #: always leads; 1.0 when every co-action was simultaneous
    symmetry: float


class Pod(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    members: list[str]
    #: linked pairs (``a < b``, by ``a`` then ``b``; an answer lists its strongest first)
    edges: list[PodEdge]
    #: linked pairs in the pod (an answer may list fewer ``edges``)
    edges_total: int
    #: co-amplified objects (on which at least two members co-acted), most co-actions first,
    #: at most ``max_objects`` of them; ``objects_total`` counts them all
    objects: list[str]
    objects_total: int
    #: sum of the edge weights
    co_actions: int
    #: linked pairs / possible pairs among the members
    density: float
    #: co-action-weighted mean of the edge symmetries
    symmetry: float


class PodsParameters(msgspec.Struct, frozen=True, kw_only=True):
    tau: float
    min_repeats: int
    kinds: list[str]
    min_size: int
    split_above: int
    max_objects: int
    seed: int


class PodsResult(msgspec.Struct, frozen=True, kw_only=True):
    pods: list[Pod]
    parameters: PodsParameters
    #: amplification events of ``kinds`` that name an object (repeats by the same account
    #: on the same object are counted once)
    events_considered: int
    accounts_considered: int
    objects_considered: int
    #: (pair, object) co-actions found within ``tau``, before the ``min_repeats`` filter
    co_actions: int
    #: pairs that co-acted at least ``min_repeats`` times
    linked_pairs: int
    #: linked components larger than ``split_above`` that were split with Louvain
    split_components: int


def coordinated_pods(
    events: Iterable[Event],
    *,
    tau: float = 60.0,
    min_repeats: int = 3,
    kinds: Iterable[str] = ("repost",),
    min_size: int = 3,
    split_above: int = 500,
    max_objects: int = 20,
    seed: int = 0,
) -> PodsResult:
    r"""Groups of accounts that repeatedly amplify the same objects within ``tau`` seconds.

    Accounts :math:`u \ne v` co-act on object :math:`o` when both amplified :math:`o`
    (an event of one of ``kinds`` with ``object = o``) at times :math:`t_u(o), t_v(o)` with
    :math:`|t_u(o) - t_v(o)| \le \tau`, where :math:`t_u(o)` is :math:`u`'s *first*
    amplification of :math:`o`. The co-action graph links :math:`u, v` with weight

    .. math:: w_{uv} = |\{o : u, v \text{ co-act on } o\}| \quad\text{kept when}\quad
              w_{uv} \ge r = \text{min\_repeats}.

    Its edges carry a symmetry score :math:`1 - |f_u - f_v| / (f_u + f_v)` where
    :math:`f_u` counts the co-actions in which :math:`u` acted strictly first. Pods are the
    connected components with at least ``min_size`` members; a component with more than
    ``split_above`` members (a chain of unrelated bursts can glue large components) is
    split into Louvain clusters (networkx, weighted by :math:`w`, seeded by ``seed``) and
    each cluster is a candidate pod.

    Cost: one sort of the :math:`m` events, :math:`O(m \log m)`, then a sliding window per
    object that only visits pairs within :math:`\tau` of each other (two pointers over the
    time-sorted amplifiers), :math:`O(m + P)` for :math:`P` such pairs. An object with
    thousands of amplifiers spread over hours costs only its close pairs; a true burst of
    :math:`k` amplifiers inside one window costs :math:`k^2/2`, reduced to per-pair counts
    every few million pairs so memory stays bounded by the number of distinct pairs.

    Parameters
    ----------
    events : iterable of Event
        Interactions; only those of ``kinds`` with an ``object`` are read.
    tau : float
        Co-action window in seconds (inclusive).
    min_repeats : int
        Distinct objects a pair must have co-acted on to be linked.
    kinds : iterable of str
        Which interaction kinds count as amplifying (``("repost",)``, or with ``"like"``).
    min_size : int
        Smallest pod reported.
    split_above : int
        Components larger than this are split into Louvain clusters.
    max_objects : int
        Objects listed per pod (the total is always reported).
    seed : int
        Seed of the Louvain split; the only randomness.

    Returns
    -------
    PodsResult
        Pods, largest first (ties: more co-actions first), with members, edges, objects,
        co-actions and density, and the parameters used.

    Examples
    --------
    >>> from graph.analysis.events import Event
    >>> evs = [Event(f"{u}{o}", "repost", u, "author", 1000 * (10 * o + d), f"p{o}")
    ...        for o in range(3) for d, u in enumerate("abc")]
    >>> res = coordinated_pods(evs, tau=5, min_repeats=3)
    >>> res.pods[0].members, res.pods[0].co_actions, res.pods[0].density
    (['a', 'b', 'c'], 9, 1.0)
    >>> [(e.a, e.b, e.a_first, e.symmetry) for e in res.pods[0].edges]
    [('a', 'b', 3, 0.0), ('a', 'c', 3, 0.0), ('b', 'c', 3, 0.0)]

    References
    ----------
    .. [1] F. B. Keller, D. Schoch, S. Stier, J. Yang. "Political Astroturfing on Twitter:
       How to Coordinate a Disinformation Campaign." Political Communication 37(2), 2020.
       doi:10.1080/10584609.2019.1661888
    .. [2] F. Giglietto, N. Righetti, L. Rossi, G. Marino. "It takes a village to manipulate
       the media: coordinated link sharing behavior during 2018 and 2019 Italian elections."
       Information, Communication & Society 23(6), 2020. doi:10.1080/1369118X.2020.1739732
    .. [3] QUT Digital Observatory. Coordination Network Toolkit, 2020.
       https://github.com/QUT-Digital-Observatory/coordination-network-toolkit
    """
    if tau < 0:
        raise ValueError("tau must be >= 0 seconds")
    if min_repeats < 1:
        raise ValueError("min_repeats must be >= 1")
    if min_size < 2:
        raise ValueError("min_size must be >= 2")
    kindset = frozenset(kinds)
    params = PodsParameters(
        tau=float(tau), min_repeats=int(min_repeats), kinds=sorted(kindset),
        min_size=int(min_size), split_above=int(split_above), max_objects=int(max_objects),
        seed=int(seed),
    )

    acc_index: dict[str, int] = {}
    obj_index: dict[str, int] = {}
    acc_l: list[int] = []
    obj_l: list[int] = []
    t_l: list[int] = []
    for e in events:
        if e.kind not in kindset or e.object is None:
            continue
        a = acc_index.setdefault(e.source, len(acc_index))
        o = obj_index.setdefault(e.object, len(obj_index))
        acc_l.append(a)
        obj_l.append(o)
        t_l.append(e.at)
    acc = np.asarray(acc_l, dtype=np.int64)
    obj = np.asarray(obj_l, dtype=np.int64)
    t = np.asarray(t_l, dtype=np.int64)

    # An account's first amplification of an object is its act; re-posting the same thing
    # later must not make it co-act with itself or count twice with the same partner.
    if len(acc):
        order = np.lexsort((t, acc, obj))
        acc, obj, t = acc[order], obj[order], t[order]
        first = np.ones(len(acc), dtype=bool)
        first[1:] = (acc[1:] != acc[:-1]) | (obj[1:] != obj[:-1])
        acc, obj, t = acc[first], obj[first], t[first]
        order = np.lexsort((acc, t, obj))
        acc, obj, t = acc[order], obj[order], t[order]

    names = list(acc_index)
    objects = list(obj_index)
    n_acc = len(names)
    tau_ms = int(round(tau * 1000))

    keys, weight, lo_first, hi_first, total = _pair_counts(acc, obj, t, tau_ms, n_acc)
    keep = weight >= min_repeats
    keys, weight, lo_first, hi_first = keys[keep], weight[keep], lo_first[keep], hi_first[keep]
    lo = (keys // max(n_acc, 1)).astype(np.int64)
    hi = (keys % max(n_acc, 1)).astype(np.int64)

    clusters, split = _clusters(n_acc, lo, hi, weight, split_above, seed)
    clusters = [c for c in clusters if len(c) >= min_size]

    label = np.full(n_acc, -1, dtype=np.int64)
    for ci, members in enumerate(clusters):
        label[members] = ci

    # Objects per pod: a second window pass over the pod members' events only, which are
    # few, so that the main pass need not remember which objects each pair shared.
    pod_objects: list[list[tuple[int, int]]] = [[] for _ in clusters]
    if clusters:
        mask = label[acc] >= 0
        sa, so, st = acc[mask], obj[mask], t[mask]
        n_obj = max(len(objects), 1)
        keys_po = np.zeros(0, np.int64)
        counts_po = np.zeros(0, np.int64)
        for i, j in _window_pairs(so, st, tau_ms):
            same = label[sa[i]] == label[sa[j]]
            k, c = np.unique(label[sa[i]][same] * n_obj + so[i][same], return_counts=True)
            keys_po, inv = np.unique(np.concatenate([keys_po, k]), return_inverse=True)
            counts_po = np.bincount(inv, weights=np.concatenate([counts_po, c]),
                                    minlength=len(keys_po)).astype(np.int64)
        for key, c in zip(keys_po.tolist(), counts_po.tolist()):
            pod_objects[key // n_obj].append((key % n_obj, c))

    edge_cluster = label[lo] if len(lo) else np.zeros(0, dtype=np.int64)
    inside = (edge_cluster >= 0) & (label[hi] == edge_cluster) if len(lo) else edge_cluster >= 0
    pods: list[Pod] = []
    for ci, members in enumerate(clusters):
        sel = np.flatnonzero(inside & (edge_cluster == ci))
        edges = []
        for k in sel.tolist():
            a, b = names[lo[k]], names[hi[k]]
            fa, fb = int(lo_first[k]), int(hi_first[k])
            if b < a:
                a, b, fa, fb = b, a, fb, fa
            edges.append(PodEdge(a=a, b=b, weight=int(weight[k]), a_first=fa, b_first=fb,
                                 symmetry=_symmetry(fa, fb)))
        edges.sort(key=lambda e: (e.a, e.b))
        co = sum(e.weight for e in edges)
        size = len(members)
        counts = sorted(pod_objects[ci], key=lambda kv: (-kv[1], objects[kv[0]]))
        pods.append(Pod(
            id=0, size=size, members=sorted(names[m] for m in members), edges=edges, edges_total=len(edges),
            objects=[objects[o] for o, _ in counts[:max_objects]], objects_total=len(counts),
            co_actions=co, density=2 * len(edges) / (size * (size - 1)),
            symmetry=(sum(e.symmetry * e.weight for e in edges) / co) if co else 1.0,
        ))
    pods.sort(key=lambda p: (-p.size, -p.co_actions, p.members[0]))
    pods = [msgspec.structs.replace(p, id=i) for i, p in enumerate(pods)]
    return PodsResult(
        pods=pods, parameters=params, events_considered=int(len(acc)),
        accounts_considered=n_acc, objects_considered=len(objects), co_actions=int(total),
        linked_pairs=int(len(keys)), split_components=split,
    )


def _symmetry(fa: int, fb: int) -> float:
    return 1.0 if fa + fb == 0 else 1.0 - abs(fa - fb) / (fa + fb)


def _window_pairs(obj: np.ndarray, t: np.ndarray, tau_ms: int):
    """Yields index arrays ``(i, j)``, ``i < j``, of events on the same object within
    ``tau_ms``, for input sorted by (object, time). The k-th round pairs each event with the
    one k places later; an event drops out at the first partner that is too late or on
    another object, since every later one is too."""
    n = len(t)
    i = np.arange(n - 1, dtype=np.int64) if n > 1 else np.zeros(0, dtype=np.int64)
    k = 1
    while len(i):
        j = i + k
        ok = j < n
        i, j = i[ok], j[ok]
        ok = (obj[j] == obj[i]) & (t[j] - t[i] <= tau_ms)
        i, j = i[ok], j[ok]
        if len(i):
            yield i, j
        k += 1


def _pair_counts(acc, obj, t, tau_ms, n_acc):
    """Per unordered account pair (key ``lo * n_acc + hi``): co-actions, and how many of
    them ``lo`` / ``hi`` led."""
    agg = (np.zeros(0, np.int64),) + (np.zeros(0, np.int64),) * 3
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_n = 0
    total = 0
    n = max(n_acc, 1)
    for i, j in _window_pairs(obj, t, tau_ms):
        ai, aj = acc[i], acc[j]
        lo, hi = np.minimum(ai, aj), np.maximum(ai, aj)
        led = t[i] < t[j]  # sorted by time, so only i can lead
        pending.append((lo * n + hi, led & (ai == lo), led & (ai == hi)))
        pending_n += len(i)
        total += len(i)
        if pending_n >= _REDUCE_EVERY:
            agg = _reduce(agg, pending)
            pending, pending_n = [], 0
    if pending:
        agg = _reduce(agg, pending)
    return (*agg, total)


def _reduce(agg, pending):
    keys = np.concatenate([agg[0]] + [p[0] for p in pending])
    w = np.concatenate([agg[1]] + [np.ones(len(p[0]), np.int64) for p in pending])
    lf = np.concatenate([agg[2]] + [p[1].astype(np.int64) for p in pending])
    hf = np.concatenate([agg[3]] + [p[2].astype(np.int64) for p in pending])
    uniq, inv = np.unique(keys, return_inverse=True)
    m = len(uniq)
    return (
        uniq,
        np.bincount(inv, weights=w, minlength=m).astype(np.int64),
        np.bincount(inv, weights=lf, minlength=m).astype(np.int64),
        np.bincount(inv, weights=hf, minlength=m).astype(np.int64),
    )


def _clusters(n, lo, hi, weight, split_above, seed):
    """Connected components of the linked pairs (isolated accounts left out); components
    above ``split_above`` are replaced by their Louvain clusters."""
    if len(lo) == 0:
        return [], 0
    adj = coo_matrix((np.ones(len(lo)), (lo, hi)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    linked = np.zeros(n, dtype=bool)
    linked[lo] = True
    linked[hi] = True
    out: list[np.ndarray] = []
    split = 0
    order = np.argsort(comp[linked], kind="stable")
    nodes = np.flatnonzero(linked)[order]
    labels = comp[nodes]
    bounds = np.flatnonzero(np.diff(labels)) + 1
    for members in np.split(nodes, bounds):
        if len(members) <= split_above:
            out.append(members)
            continue
        import networkx as nx

        split += 1
        sub = nx.Graph()
        inside = np.isin(lo, members)
        sub.add_weighted_edges_from(
            zip(lo[inside].tolist(), hi[inside].tolist(), weight[inside].tolist()))
        for part in nx.community.louvain_communities(sub, weight="weight", seed=seed):
            out.append(np.asarray(sorted(part), dtype=np.int64))
    return out, split
