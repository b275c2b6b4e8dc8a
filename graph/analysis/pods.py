"""Coordinated amplification: accounts that repeatedly amplify the same posts within seconds
of each other ("pods").

Two accounts *co-act* when both amplify the same object within ``tau`` seconds; a pair that
co-acts on at least ``min_repeats`` distinct objects is linked, and the clusters of that
co-action graph are candidate pods (Keller et al. 2020; Giglietto et al. 2020, CooRnet; the
QUT Coordination Network Toolkit). A pod is evidence of coordination, not of intent:
newsrooms, campaigns and fan groups coordinate too.

Two weights are on offer (``count``). ``"objects"``, the default, reads only an account's
first amplification of each object and counts the distinct objects a pair co-acted on: one
symmetric weight, and re-posting the same thing cannot inflate it. ``"messages"`` is the
co-retweet network of the QUT Coordination Network Toolkit (1.5.2, ``compute_co_retweet_parallel``)
exactly: every amplification is a message, and the weight of ``u -> v`` counts ``u``'s
messages that some message of ``v`` on the same object falls within ``tau`` of, so ``u -> v``
and ``v -> u`` differ when one of them amplified an object more than once. The two agree on
every pair whenever nobody amplifies the same object twice (rare for one tweet's retweets;
common when the object is something coarser, such as the retweeted account). Both take the
window as inclusive (``|t_u - t_v| <= tau``), never pair an account with itself, and key the
object by what was amplified (the toolkit's ``repost_id``). Every result carries its
:class:`PodsDefinition`, which names what differs from the toolkit.
"""

from __future__ import annotations

from typing import Iterable

import msgspec
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graph.analysis.events import Event

__all__ = ["PodEdge", "Pod", "PodsParameters", "PodsDefinition", "PodsResult", "COUNTS",
           "coordinated_pods"]

# Pairs are reduced to per-pair counts whenever this many are pending, so that a burst of
# thousands of amplifiers on one object does not hold every pair in memory at once.
_REDUCE_EVERY = 4_000_000

#: what a pair's weight counts: distinct objects (an account's first act on each), or
#: messages (every act; the QUT toolkit's co-retweet weight)
COUNTS = ("objects", "messages")

#: the time before any other, for "no earlier message by this account on this object"
_NEVER = np.iinfo(np.int64).min // 2


class PodEdge(msgspec.Struct, frozen=True, kw_only=True):
    """Two pod members (``a < b``) and how they co-acted."""

    a: str
    b: str
    #: count "objects": distinct objects both amplified within ``tau`` of each other;
    #: count "messages": the larger of ``weight_ab`` and ``weight_ba``
    weight: int
    #: the directed weights of the QUT toolkit (its ``user_1 -> user_2``): ``a``'s acts that
    #: an act of ``b`` on the same object falls within ``tau`` of, and ``b``'s; both equal
    #: ``weight`` when counting objects
    weight_ab: int
    weight_ba: int
    #: co-actions (pairs of acts within ``tau``) where ``a`` acted strictly first, and where
    #: ``b`` did (ties count for neither)
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
    count: str


class PodsDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """What a co-action and a pair's weight were taken to be, and how that differs from the
    QUT Coordination Network Toolkit's co-retweet network (1.5.2)."""

    #: "objects" (distinct objects) or "messages" (acts, per account)
    count: str
    #: "first" (an account's first amplification of an object is its only act) or "every"
    acts: str
    #: "inclusive": two acts co-act when ``|t_u - t_v| <= tau``
    window: str
    #: "symmetric" (one weight per pair) or "directed" (``weight_ab``, ``weight_ba``; a pair
    #: is linked when either reaches ``min_repeats``)
    weights: str
    #: each difference from the toolkit's definition, one sentence each; empty when the
    #: linked pairs and their weights are the toolkit's
    toolkit_differences: list[str]


class PodsResult(msgspec.Struct, frozen=True, kw_only=True):
    pods: list[Pod]
    parameters: PodsParameters
    definition: PodsDefinition
    #: amplification events of ``kinds`` that name an object (counting objects, repeats by
    #: the same account on the same object are counted once)
    events_considered: int
    accounts_considered: int
    objects_considered: int
    #: co-actions (pairs of acts by two accounts on one object) found within ``tau``,
    #: before the ``min_repeats`` filter
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
    count: str = "objects",
) -> PodsResult:
    r"""Groups of accounts that repeatedly amplify the same objects within ``tau`` seconds.

    Accounts :math:`u \ne v` co-act on object :math:`o` when both amplified :math:`o`
    (an event of one of ``kinds`` with ``object = o``) at times :math:`t_u(o), t_v(o)` with
    :math:`|t_u(o) - t_v(o)| \le \tau`, where :math:`t_u(o)` is :math:`u`'s *first*
    amplification of :math:`o`. The co-action graph links :math:`u, v` with weight

    .. math:: w_{uv} = |\{o : u, v \text{ co-act on } o\}| \quad\text{kept when}\quad
              w_{uv} \ge r = \text{min\_repeats}.

    With ``count="messages"`` (the QUT toolkit's co-retweet network) every amplification
    :math:`m` of :math:`u` is an act, and

    .. math:: w_{u \to v} = |\{m \text{ of } u : \exists\, m' \text{ of } v,\
              o(m') = o(m),\ |t(m) - t(m')| \le \tau\}|,

    kept when :math:`\max(w_{u \to v}, w_{v \to u}) \ge r` (the toolkit keeps each direction
    reaching :math:`r`; both are on the edge). Without repeated amplification of one object
    by one account the two definitions give the same pairs and weights.

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
    Counting messages costs the same: a message counts once per partner, for the partner's
    first message inside its window, which the pass tells from the partner's previous
    message on the object, so no (message, partner) set is kept.

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
    count : {"objects", "messages"}
        What a pair's weight counts: distinct objects, from each account's first act on
        each (default), or every message, per direction (the QUT toolkit's weight).

    Returns
    -------
    PodsResult
        Pods, largest first (ties: more co-actions first), with members, edges, objects,
        co-actions and density, the parameters used and the definition (with what differs
        from the QUT toolkit's).

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
    if count not in COUNTS:
        raise ValueError(f"count must be one of {', '.join(COUNTS)}; got {count!r}")
    messages = count == "messages"
    kindset = frozenset(kinds)
    params = PodsParameters(
        tau=float(tau), min_repeats=int(min_repeats), kinds=sorted(kindset),
        min_size=int(min_size), split_above=int(split_above), max_objects=int(max_objects),
        seed=int(seed), count=count,
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

    # Counting objects, an account's first amplification of an object is its act;
    # re-posting the same thing later must not count twice with the same partner.
    # Counting messages every act stays, and each remembers the time of the same account's
    # previous act on the object (the window pass uses it to count a message once per partner).
    prev_t = None
    if len(acc):
        order = np.lexsort((t, acc, obj))
        acc, obj, t = acc[order], obj[order], t[order]
        first = np.ones(len(acc), dtype=bool)
        first[1:] = (acc[1:] != acc[:-1]) | (obj[1:] != obj[:-1])
        if messages:
            prev = np.empty(len(t), dtype=np.int64)
            prev[0] = _NEVER
            prev[1:] = t[:-1]
            prev[first] = _NEVER
        else:
            acc, obj, t = acc[first], obj[first], t[first]
        order = np.lexsort((acc, t, obj))
        acc, obj, t = acc[order], obj[order], t[order]
        if messages:
            # within one account and object, time order is sorted order: so "previous"
            # still means the one just before it among that account's acts
            prev_t = prev[order]

    names = list(acc_index)
    objects = list(obj_index)
    n_acc = len(names)
    tau_ms = int(round(tau * 1000))

    keys, w_lohi, w_hilo, lo_first, hi_first, total = _pair_counts(acc, obj, t, tau_ms, n_acc, prev_t)
    weight = np.maximum(w_lohi, w_hilo)
    keep = weight >= min_repeats
    keys, weight, lo_first, hi_first = keys[keep], weight[keep], lo_first[keep], hi_first[keep]
    w_lohi, w_hilo = w_lohi[keep], w_hilo[keep]
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
            same = (label[sa[i]] == label[sa[j]]) & (sa[i] != sa[j])
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
            wa, wb = int(w_lohi[k]), int(w_hilo[k])
            if b < a:
                a, b, fa, fb, wa, wb = b, a, fb, fa, wb, wa
            edges.append(PodEdge(a=a, b=b, weight=int(weight[k]), weight_ab=wa, weight_ba=wb,
                                 a_first=fa, b_first=fb, symmetry=_symmetry(fa, fb)))
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
        pods=pods, parameters=params, definition=_definition(count, min_size, split),
        events_considered=int(len(acc)),
        accounts_considered=n_acc, objects_considered=len(objects), co_actions=int(total),
        linked_pairs=int(len(keys)), split_components=split,
    )


def _definition(count: str, min_size: int, split: int) -> PodsDefinition:
    differences = []
    if count == "objects":
        differences += [
            "acts: an account's first amplification of an object is its only act on it"
            " (the toolkit pairs every retweet)",
            "count: a pair's weight counts distinct objects (the toolkit counts messages,"
            " so an account amplifying one object again adds to it)",
            "weights: one symmetric weight per pair (the toolkit's user_1 -> user_2 and"
            " user_2 -> user_1 weights differ when an account repeats itself)",
        ]
    if min_size > 2:
        differences.append(f"min_size: pairs are listed only inside pods of at least {min_size}"
                           " accounts (the toolkit lists every linked pair)")
    if split:
        differences.append(f"split_above: {split} large component(s) were split into Louvain"
                           " clusters, and linked pairs across clusters are not listed")
    return PodsDefinition(
        count=count, acts="first" if count == "objects" else "every", window="inclusive",
        weights="symmetric" if count == "objects" else "directed",
        toolkit_differences=differences,
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


def _pair_counts(acc, obj, t, tau_ms, n_acc, prev_t=None):
    """Per unordered account pair (key ``lo * n_acc + hi``): the directed weights
    ``lo -> hi`` and ``hi -> lo``, and how many co-actions ``lo`` / ``hi`` led; with the
    total of co-actions. Without ``prev_t`` (counting objects) every co-action adds one to
    both weights. With it (counting messages) the act of ``lo`` adds to ``lo -> hi`` only
    when the act of ``hi`` is ``hi``'s first inside its window: the previous act of ``hi``
    on the object came more than ``tau`` earlier."""
    agg = tuple(np.zeros(0, np.int64) for _ in range(5))
    pending: list[tuple[np.ndarray, ...]] = []
    pending_n = 0
    total = 0
    n = max(n_acc, 1)
    for i, j in _window_pairs(obj, t, tau_ms):
        ai, aj = acc[i], acc[j]
        if prev_t is not None:
            # an account's repeats on one object are not a co-action with itself
            other = ai != aj
            i, j, ai, aj = i[other], j[other], ai[other], aj[other]
            if not len(i):
                continue
        lo, hi = np.minimum(ai, aj), np.maximum(ai, aj)
        i_lo = ai == lo
        # pending marks stay booleans (None: every pair adds one) to keep the buffer small
        if prev_t is None:
            w_lohi = w_hilo = None
        else:
            i_counts = prev_t[j] < t[i] - tau_ms  # j is aj's first act in i's window
            j_counts = prev_t[i] < t[j] - tau_ms
            w_lohi = np.where(i_lo, i_counts, j_counts)
            w_hilo = np.where(i_lo, j_counts, i_counts)
        led = t[i] < t[j]  # sorted by time, so only i can lead
        pending.append((lo * n + hi, w_lohi, w_hilo, led & i_lo, led & ~i_lo))
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
    uniq, inv = np.unique(keys, return_inverse=True)
    m = len(uniq)

    def column(c):
        parts = [p[c] if p[c] is not None else np.ones(len(p[0]), bool) for p in pending]
        return np.bincount(inv, weights=np.concatenate([agg[c]] + parts), minlength=m).astype(np.int64)

    return (uniq, *(column(c) for c in range(1, len(agg))))


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
