"""Trusted voices: accounts that many distinct others actually converse with, across
communities, and whose attention is not mainly amplification from a coordinated circle.
"""

from __future__ import annotations

import bisect
import math
from typing import AbstractSet, Iterable, Sequence

import msgspec
import numpy as np
from scipy.sparse import csr_matrix

from graph.analysis.events import Event
from graph.analysis.graph import LayerGraph

__all__ = ["Exchange", "TrustedComponents", "TrustedVoice", "TrustedResult", "trusted_voices",
           "TRUSTED_SCORE"]

TRUSTED_SCORE = (
    "score = (pagerank / max pagerank) * exp(H) * (1 - pod_amplification_share), where "
    "pagerank is over the reciprocated conversation graph, H is the Shannon entropy (nats) "
    "of the partners' communities (exp(H) = effective number of communities conversed with) "
    "and pod_amplification_share is the share of the account's incoming amplification that "
    "comes from pod members (0 when it has none)"
)


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """One reciprocated exchange with a partner: two interaction ids, earlier first (a
    message from the partner and the account's answer where the events allow)."""

    partner: str
    ids: list[str]


class TrustedComponents(msgspec.Struct, frozen=True, kw_only=True):
    #: distinct reciprocated conversation partners
    partners: int
    #: answered exchanges summed over partners (min of the two directions per partner)
    exchanges: int
    #: distinct communities among the partners (unassigned partners not counted)
    partner_communities: int
    #: Shannon entropy, in nats, of the partners' community distribution
    partner_community_entropy: float
    #: share of partners outside the account's own community
    outside_partner_share: float
    pagerank: float
    #: incoming amplification (interaction count) and the share from pod members
    incoming_amplification: int
    pod_amplification_share: float


class TrustedVoice(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    community: int
    score: float
    components: TrustedComponents
    example_exchanges: list[Exchange]


class TrustedResult(msgspec.Struct, frozen=True, kw_only=True):
    voices: list[TrustedVoice]
    #: accounts with at least ``min_partners`` reciprocated partners (all were scored)
    candidates: int
    score: str
    damping: float
    min_partners: int
    conversation: list[str]
    amplification: list[str]
    #: why the list can be short or empty: interactions of the conversation kinds between
    #: two accounts, the pairs that conversed both ways, and the most reciprocated
    #: partners any one account has
    conversation_interactions: int = 0
    reciprocated_pairs: int = 0
    max_partners: int = 0


def trusted_voices(
    g: LayerGraph,
    membership: Sequence[int],
    events: Sequence[Event] | None = None,
    *,
    pod_members: AbstractSet[str] = frozenset(),
    limit: int = 20,
    conversation: Iterable[str] = ("reply", "quote"),
    amplification: Iterable[str] = ("repost", "like"),
    min_partners: int = 2,
    damping: float = 0.85,
) -> TrustedResult:
    r"""Accounts many distinct others converse with, from several communities, not mainly
    amplified by a pod.

    The base is PageRank :math:`\pi` over the reciprocated conversation graph (undirected:
    :math:`u - v` when both replied to / quoted the other; weight = answered exchanges),
    computed here by deterministic power iteration (uniform start and teleport, dangling mass
    spread uniformly, until the L1 change is below :math:`10^{-12}`), so no engine and no seed
    are needed. For an account :math:`v` whose partners' communities have shares
    :math:`p_s`, with :math:`H_v = -\sum_s p_s \ln p_s` and :math:`q_v` the share of its
    incoming amplification (``amplification`` kinds, interaction counts) sent by
    ``pod_members``:

    .. math:: \mathrm{score}_v = \frac{\pi_v}{\max_u \pi_u}\, e^{H_v}\, (1 - q_v)

    :math:`e^{H_v}` is the effective number of communities :math:`v` converses with (1 for
    one community), so bridging multiplies, and pod-supplied attention divides out. Only
    accounts with at least ``min_partners`` reciprocated partners are scored.

    Parameters
    ----------
    g : LayerGraph
        The graph.
    membership : sequence of int
        Community id per account (``-1`` = none).
    events : sequence of Event, optional
        Raw events, only used to pick ``example_exchanges``.
    pod_members : set of str
        Members of coordinated pods (``coordinated_pods``).
    limit : int
        How many accounts to return, best first.
    conversation, amplification : iterable of str
        The kinds of each layer.
    min_partners : int
        Fewest distinct reciprocated partners to be a candidate.
    damping : float
        PageRank damping factor.

    Returns
    -------
    TrustedResult
        ``voices``: account, community, score, components and up to three example exchanges
        each (with its top partners), best first; the formula and parameters.

    Examples
    --------
    >>> rows = [(a, b, "reply", 1, 0, 0) for a, b in
    ...         [("hub", "x"), ("x", "hub"), ("hub", "y"), ("y", "hub"), ("x", "y"), ("y", "x"),
    ...          ("hub", "z"), ("z", "hub")]]
    >>> g = LayerGraph.from_rows(rows)
    >>> res = trusted_voices(g, [0, 0, 0, 1])  # hub, x, y in 0; z in 1
    >>> [(v.account, v.components.partners, v.components.partner_communities) for v in res.voices]
    [('hub', 3, 2), ('x', 2, 1), ('y', 2, 1)]

    References
    ----------
    .. [1] S. Brin, L. Page. "The anatomy of a large-scale hypertextual Web search engine."
       Computer Networks and ISDN Systems 30(1-7), 1998. doi:10.1016/S0169-7552(98)00110-X
    .. [2] C. E. Shannon. "A mathematical theory of communication." Bell System Technical
       Journal 27(3), 1948. doi:10.1002/j.1538-7305.1948.tb01338.x
    .. [3] B. Gonçalves, N. Perra, A. Vespignani. "Modeling users' activity on Twitter
       networks: validation of Dunbar's number." PLoS ONE 6(8), 2011.
       doi:10.1371/journal.pone.0022656 (reciprocated replies as real ties)
    """
    n = g.n
    memb = np.asarray(membership, dtype=np.int64)
    if memb.shape != (n,):
        raise ValueError(f"membership has {len(memb)} entries for {n} accounts")
    conversation = list(dict.fromkeys(conversation))
    amplification = list(dict.fromkeys(amplification))

    r_src, r_dst, r_w = g.reciprocated(conversation)
    r_src, r_dst = r_src.astype(np.int64), r_dst.astype(np.int64)
    # both directions, so each account's partner list is one slice of a CSR row
    u = np.concatenate([r_src, r_dst])
    v = np.concatenate([r_dst, r_src])
    w = np.concatenate([r_w, r_w])
    adj = csr_matrix((w, (u, v)), shape=(n, n))
    pr = _pagerank(adj, damping)
    pr_max = float(pr.max()) if n else 0.0

    pod = np.zeros(n, dtype=bool)
    for name in pod_members:
        i = g.index.get(name)
        if i is not None:
            pod[i] = True
    a_src, a_dst, a_w = g.directed(amplification)
    amp_in = np.bincount(a_dst, weights=a_w, minlength=n) if n else np.zeros(0)
    amp_pod = np.bincount(a_dst[pod[a_src]], weights=a_w[pod[a_src]], minlength=n) if n else np.zeros(0)

    degree = np.diff(adj.indptr)
    candidates = np.flatnonzero(degree >= max(min_partners, 1))
    scored = []
    for i in candidates.tolist():
        lo, hi = adj.indptr[i], adj.indptr[i + 1]
        partners = adj.indices[lo:hi]
        pc = memb[partners]
        assigned = pc[pc >= 0]
        if len(assigned):
            _, counts = np.unique(assigned, return_counts=True)
            p = counts / counts.sum()
            entropy = float(max(0.0, -(p * np.log(p)).sum()))
        else:
            counts, entropy = np.zeros(0), 0.0
        q = float(amp_pod[i] / amp_in[i]) if amp_in[i] > 0 else 0.0
        rel = float(pr[i] / pr_max) if pr_max > 0 else 0.0
        score = rel * math.exp(entropy) * (1.0 - q)
        comp = TrustedComponents(
            partners=int(hi - lo), exchanges=int(round(adj.data[lo:hi].sum())),
            partner_communities=int(len(counts)), partner_community_entropy=entropy,
            outside_partner_share=float(np.mean(pc != memb[i])),
            pagerank=float(pr[i]), incoming_amplification=int(round(amp_in[i])),
            pod_amplification_share=q,
        )
        scored.append((score, g.nodes[i], i, comp))
    scored.sort(key=lambda s: (-s[0], s[1]))
    top = scored[: max(limit, 0)]

    # example exchanges: each top account's strongest partners, found in one pass
    wanted: dict[int, list[int]] = {}
    for _, _, i, _ in top:
        lo, hi = adj.indptr[i], adj.indptr[i + 1]
        order = np.lexsort((adj.indices[lo:hi], -adj.data[lo:hi]))
        wanted[i] = adj.indices[lo:hi][order][:3].tolist()
    examples = _exchanges(g, events, wanted, set(conversation)) if events is not None else {}

    items = [
        TrustedVoice(account=name, community=int(memb[i]), score=float(score), components=comp,
                     example_exchanges=examples.get(i, []))
        for score, name, i, comp in top
    ]
    return TrustedResult(
        voices=items, candidates=len(scored), score=TRUSTED_SCORE, damping=float(damping),
        min_partners=int(min_partners), conversation=conversation, amplification=amplification,
        conversation_interactions=int(round(g.directed(conversation)[2].sum())),
        reciprocated_pairs=int(len(r_src)), max_partners=int(degree.max()) if n else 0,
    )


def _pagerank(adj: csr_matrix, damping: float, tol: float = 1e-12, max_iter: int = 1000) -> np.ndarray:
    n = adj.shape[0]
    if n == 0:
        return np.zeros(0)
    out = np.asarray(adj.sum(axis=1)).ravel()
    dangling = out == 0
    inv = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out))
    # row-stochastic transition, transposed so that one product moves the mass forward
    walk = (csr_matrix(adj.multiply(inv[:, None]))).T.tocsr()
    x = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        nxt = damping * (walk @ x + x[dangling].sum() / n) + (1.0 - damping) / n
        if np.abs(nxt - x).sum() < tol:
            x = nxt
            break
        x = nxt
    return x / x.sum()


def _exchanges(g: LayerGraph, events: Sequence[Event], wanted: dict[int, list[int]],
               kinds: set[str]) -> dict[int, list[Exchange]]:
    pairs: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for i, partners in wanted.items():
        a = g.nodes[i]
        for j in partners:
            b = g.nodes[j]
            pairs[(a, b)] = []
            pairs[(b, a)] = []
    for e in events:
        if e.kind in kinds:
            lst = pairs.get((e.source, e.target))
            if lst is not None:
                lst.append((e.at, e.id))
    out: dict[int, list[Exchange]] = {}
    for i, partners in wanted.items():
        a = g.nodes[i]
        found = []
        for j in partners:
            b = g.nodes[j]
            incoming = sorted(pairs[(b, a)])
            outgoing = sorted(pairs[(a, b)])
            if not incoming or not outgoing:
                continue
            # prefer the partner's first message that the account answered afterwards
            pick = None
            if incoming[0][0] <= outgoing[-1][0]:
                k = bisect.bisect_left(outgoing, (incoming[0][0], ""))
                pick = [incoming[0][1], outgoing[k][1]]
            else:
                first = sorted([incoming[0], outgoing[0]])
                pick = [first[0][1], first[1][1]]
            found.append(Exchange(partner=b, ids=pick))
        out[i] = found
    return out
