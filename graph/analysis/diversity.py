"""Diversity audit of one account: how many communities it listens to and converses with,
how evenly, how much of it stays inside its own community or inside castles, and which
trusted voices from the communities it under-samples would widen its view.
"""

from __future__ import annotations

import math
from typing import AbstractSet, Iterable, Sequence

import msgspec
import numpy as np

from graph.analysis.graph import LayerGraph
from graph.analysis.trusted import TrustedResult, trusted_voices
from graph.errors import AccountNotFound

__all__ = ["DiversityView", "Suggestion", "DiversityResult", "diversity"]


class DiversityView(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of tie of the account (whom it follows, whom it converses with) spread over
    the partition's communities. Shares and entropies are over the partners that belong to
    a community; ``unassigned`` counts the others."""

    partners: int
    unassigned: int
    communities_reached: int
    #: Shannon entropy in nats; None without assigned partners
    entropy: float | None
    #: entropy / ln K; None when K < 2 or without assigned partners
    normalized_entropy: float | None
    #: exp(entropy): the effective number of communities
    effective_communities: float | None
    gini_simpson: float | None
    share_own_community: float | None
    share_in_castles: float | None


class Suggestion(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    community: int
    score: float
    #: share of the account's ties (listening and conversation together) in that community
    #: divided by the community's share of all accounts; < 1 means under-sampled
    community_representation: float


class DiversityResult(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    community: int
    #: K: communities in the partition
    communities_in_partition: int
    listens_to: DiversityView
    converses_with: DiversityView
    active_reciprocated_ties: int
    dunbar: int
    dunbar_ratio: float
    suggestions: list[Suggestion]


def diversity(
    g: LayerGraph,
    account: str,
    membership: Sequence[int],
    *,
    castle_communities: AbstractSet[int] = frozenset(),
    trusted: TrustedResult | None = None,
    dunbar: int = 150,
    conversation: Iterable[str] = ("reply", "quote"),
) -> DiversityResult:
    r"""How diverse the accounts are that ``account`` listens to and converses with.

    Two views: *listens to* = the accounts it follows (follow edges out of it); *converses
    with* = its reciprocated reply/quote partners. For a view whose assigned partners fall
    into communities with shares :math:`p_s`, and :math:`K` communities in the partition:

    .. math:: H = -\sum_s p_s \ln p_s, \quad \frac{H}{\ln K}, \quad e^{H}, \quad
              1 - \sum_s p_s^2

    (Shannon entropy, normalised entropy, effective number, Gini-Simpson), plus the share
    of partners in its own community and in ``castle_communities``.

    ``active_reciprocated_ties`` (conversation partners) is compared with Dunbar's number
    (``dunbar``, ~150, which Gonçalves et al. found Twitter users' reciprocated ties
    saturate at) as ``dunbar_ratio``.

    ``suggestions``: for each community :math:`s` other than its own, the representation
    :math:`r_s = (\text{ties in } s / \text{ties}) / (|s| / n_{assigned})` over both views
    together; communities with :math:`r_s < 1` are under-sampled, the lowest first. From
    them, up to 5 trusted voices (``trusted``, best score first within a community) the
    account has no tie with yet. Without ``trusted``, ``trusted_voices`` is run on ``g``
    (no events, no pod penalty).

    Parameters
    ----------
    g : LayerGraph
        The graph.
    account : str
        The account audited.
    membership : sequence of int
        Community id per account (``-1`` = none).
    castle_communities : set of int
        Ids of communities ``castles`` flagged.
    trusted : TrustedResult, optional
        Trusted voices to suggest from.
    dunbar : int
        The reference number of sustained ties.
    conversation : iterable of str
        The conversation kinds.

    Returns
    -------
    DiversityResult
        Both views, the reciprocated-ties count against Dunbar and the suggestions.

    Raises
    ------
    graph.errors.AccountNotFound
        When ``account`` is not in ``g``.

    Examples
    --------
    >>> rows = [("me", "a", "follow", 1, 0, 0), ("me", "b", "follow", 1, 0, 0),
    ...         ("me", "a", "reply", 1, 0, 0), ("a", "me", "reply", 1, 0, 0)]
    >>> g = LayerGraph.from_rows(rows)  # nodes me, a, b
    >>> d = diversity(g, "me", [0, 0, 1], trusted=None)
    >>> d.listens_to.communities_reached, round(d.listens_to.entropy, 4)
    (2, 0.6931)
    >>> d.converses_with.partners, d.converses_with.share_own_community, d.dunbar_ratio
    (1, 1.0, 0.006666666666666667)

    References
    ----------
    .. [1] C. E. Shannon. "A mathematical theory of communication." Bell System Technical
       Journal 27(3), 1948. doi:10.1002/j.1538-7305.1948.tb01338.x
    .. [2] E. H. Simpson. "Measurement of diversity." Nature 163, 688, 1949.
       doi:10.1038/163688a0
    .. [3] M. O. Hill. "Diversity and evenness: a unifying notation and its consequences."
       Ecology 54(2), 1973. doi:10.2307/1934352 (exp(H) as effective number)
    .. [4] B. Gonçalves, N. Perra, A. Vespignani. "Modeling users' activity on Twitter
       networks: validation of Dunbar's number." PLoS ONE 6(8), 2011.
       doi:10.1371/journal.pone.0022656
    """
    i = g.index.get(account)
    if i is None:
        raise AccountNotFound("", account)
    n = g.n
    memb = np.asarray(membership, dtype=np.int64)
    if memb.shape != (n,):
        raise ValueError(f"membership has {len(memb)} entries for {n} accounts")
    conversation = list(dict.fromkeys(conversation))
    own = int(memb[i])
    ids, sizes = np.unique(memb[memb >= 0], return_counts=True)
    K = len(ids)

    follows = np.zeros(0, dtype=np.int64)
    fe = g.kinds.get("follow")
    if fe is not None:
        sel = (fe.src == i) & (fe.dst != i)
        follows = np.unique(fe.dst[sel]).astype(np.int64)
    r_src, r_dst, _ = g.reciprocated(conversation)
    talks = np.unique(np.concatenate([r_dst[r_src == i], r_src[r_dst == i]])).astype(np.int64)

    castle_set = {int(c) for c in castle_communities}
    listens_view = _view(memb[follows], own, K, castle_set)
    converse_view = _view(memb[talks], own, K, castle_set)

    # under-sampled communities: the account's ties there against the community's size
    ties = np.union1d(follows, talks)
    tie_comms = memb[ties]
    tie_comms = tie_comms[tie_comms >= 0]
    n_assigned = int(sizes.sum())
    representation: dict[int, float] = {}
    if len(tie_comms) and n_assigned:
        tie_ids, tie_counts = np.unique(tie_comms, return_counts=True)
        tie_share = dict(zip(tie_ids.tolist(), (tie_counts / len(tie_comms)).tolist()))
        for c, size in zip(ids.tolist(), sizes.tolist()):
            if c != own:
                representation[c] = tie_share.get(c, 0.0) / (size / n_assigned)
    elif n_assigned:
        representation = {c: 0.0 for c in ids.tolist() if c != own}
    under = {c: r for c, r in representation.items() if r < 1.0}

    suggestions: list[Suggestion] = []
    if under:
        if trusted is None:
            trusted = trusted_voices(g, memb, None, limit=n, conversation=conversation)
        known = set(ties.tolist()) | {i}
        pool = [
            (under[v.community], -v.score, v.account, v)
            for v in trusted.voices
            if v.community in under and g.index.get(v.account) not in known
        ]
        pool.sort(key=lambda p: p[:3])
        for r, _, _, v in pool[:5]:
            suggestions.append(Suggestion(account=v.account, community=v.community,
                                          score=v.score, community_representation=r))

    active = int(len(talks))
    return DiversityResult(
        account=account, community=own, communities_in_partition=K,
        listens_to=listens_view, converses_with=converse_view,
        active_reciprocated_ties=active, dunbar=int(dunbar),
        dunbar_ratio=active / dunbar if dunbar > 0 else 0.0, suggestions=suggestions,
    )


def _view(comms: np.ndarray, own: int, K: int, castles: set[int]) -> DiversityView:
    assigned = comms[comms >= 0]
    m = len(assigned)
    if m == 0:
        return DiversityView(
            partners=int(len(comms)), unassigned=int(len(comms)), communities_reached=0,
            entropy=None, normalized_entropy=None, effective_communities=None,
            gini_simpson=None, share_own_community=None, share_in_castles=None,
        )
    ids, counts = np.unique(assigned, return_counts=True)
    p = counts / m
    h = float(max(0.0, -(p * np.log(p)).sum()))
    in_castles = sum(int(c) for s, c in zip(ids.tolist(), counts.tolist()) if s in castles)
    return DiversityView(
        partners=int(len(comms)), unassigned=int(len(comms) - m),
        communities_reached=int(len(ids)), entropy=h,
        normalized_entropy=h / math.log(K) if K >= 2 else None,
        effective_communities=math.exp(h), gini_simpson=float(1.0 - (p * p).sum()),
        share_own_community=float(np.count_nonzero(assigned == own) / m),
        share_in_castles=in_castles / m,
    )
