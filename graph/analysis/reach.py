"""Reach inflation: what a dashboard claims a post or an account reached, next to what the
known follow edges and the actual conversation support.
"""

from __future__ import annotations

from typing import AbstractSet, Mapping, Sequence

import msgspec

from graph.analysis.events import Event

__all__ = ["ReachContribution", "ReachResult", "reach"]

_AMPLIFY = frozenset({"repost", "quote"})
# A like names the post's author as target, so it identifies authors, though likers are
# not amplifiers: a like is not re-broadcast to the liker's followers.
_AUTHOR_EVIDENCE = frozenset({"repost", "quote", "like"})
_CONVERSE = frozenset({"reply", "quote"})


class ReachContribution(msgspec.Struct, frozen=True, kw_only=True):
    """One account of the amplifying circle and what it adds."""

    account: str
    role: str  # "author" or "amplifier"
    #: follower count the platform reports (``followers``; 0 when missing)
    claimed_followers: int
    #: followers known from follow events
    known_followers: int
    castle: bool
    pod: bool


class ReachResult(msgspec.Struct, frozen=True, kw_only=True):
    #: the subject as given
    accounts: list[str]
    objects: list[str]
    authors: list[str]
    amplifiers: list[str]
    amplifier_count: int
    #: authors + amplifiers
    circle_size: int
    #: sum of the claimed follower counts of the circle, each account once
    claimed_reach: int
    #: size of the union of the circle's known follower sets
    deduplicated_reach: int
    #: the same union without the circle's own members
    deduplicated_reach_outside_circle: int
    #: circle members with at least one known follower edge
    followers_known_for: int
    #: distinct accounts outside the circle that replied to / quoted the circle (or replied
    #: to the objects)
    conversational_reach: int
    #: claimed reach supplied by castle members / pod members, absolute and as a share
    castle_claimed_reach: int
    pod_claimed_reach: int
    castle_share: float | None
    pod_share: float | None
    #: claimed / deduplicated (None when deduplicated is 0)
    inflation_claimed_over_deduplicated: float | None
    #: claimed / conversational (None when conversational is 0)
    inflation_claimed_over_conversational: float | None
    components: list[ReachContribution]


def reach(
    events: Sequence[Event],
    followers: Mapping[str, int],
    *,
    accounts: Sequence[str] | None = None,
    objects: Sequence[str] | None = None,
    castle_members: AbstractSet[str] = frozenset(),
    pod_members: AbstractSet[str] = frozenset(),
) -> ReachResult:
    r"""Claimed, de-duplicated and conversational reach of posts and/or accounts, side by side.

    The subject is a set of objects :math:`O` (post ids or URLs) and/or accounts :math:`A`.

    - Authors :math:`U`: the targets of repost, quote and like events whose object is in
      :math:`O`, plus :math:`A` itself.
    - Amplifiers :math:`M`: the sources of repost and quote events whose object is in
      :math:`O` or whose target is in :math:`A`, authors excluded. The circle is
      :math:`C = U \cup M`.
    - Claimed reach: :math:`\sum_{u \in C} f_u` with :math:`f_u` = ``followers[u]``
      (0 when missing), each account counted once: what dashboards print.
    - De-duplicated reach: :math:`|\bigcup_{u \in C} F(u)|` where :math:`F(u)` are the
      sources of follow events targeting :math:`u`. Only accounts with known follow edges
      contribute, so ``followers_known_for`` says for how many of :math:`C` that is the case.
    - Conversational reach: :math:`|\{s \notin C\}|` over reply and quote events whose
      target is in :math:`C`, and reply events whose object is in :math:`O`. (A quote of an
      object in :math:`O` makes its author an amplifier, so it never counts here.)
    - Castle / pod share: :math:`\sum_{u \in C \cap S} f_u / \sum_{u \in C} f_u` for the
      member set :math:`S` (None when the claimed reach is 0).
    - Inflation: claimed / de-duplicated and claimed / conversational (None when the
      denominator is 0).

    Parameters
    ----------
    events : sequence of Event
        Interactions of the window to measure, follow events included.
    followers : mapping of str to int
        Follower counts as the platform reports them.
    accounts : sequence of str, optional
        Accounts whose posts are the subject.
    objects : sequence of str, optional
        Posts (ids or URLs) that are the subject. At least one of ``accounts`` and
        ``objects`` is required.
    castle_members, pod_members : set of str
        Members of communities flagged as castles (``castles``) and of coordinated pods
        (``coordinated_pods``).

    Returns
    -------
    ReachResult
        The reach figures, the authors and amplifiers, and one contribution per account of
        the circle, largest claimed followers first.

    Examples
    --------
    >>> from graph.analysis.events import Event
    >>> evs = [Event("1", "repost", "b", "a", 0, "p"), Event("2", "follow", "x", "a", 0, None),
    ...        Event("3", "follow", "x", "b", 0, None), Event("4", "reply", "y", "a", 0, "p")]
    >>> r = reach(evs, {"a": 100, "b": 50}, objects=["p"])
    >>> r.claimed_reach, r.deduplicated_reach, r.conversational_reach
    (150, 1, 1)
    >>> r.inflation_claimed_over_deduplicated
    150.0

    References
    ----------
    .. [1] M. Cha, H. Haddadi, F. Benevenuto, K. P. Gummadi. "Measuring User Influence in
       Twitter: The Million Follower Fallacy." ICWSM 2010. doi:10.1609/icwsm.v4i1.14033
    .. [2] E. Bakshy, J. M. Hofman, W. A. Mason, D. J. Watts. "Everyone's an influencer:
       quantifying influence on Twitter." WSDM 2011. doi:10.1145/1935826.1935845
    """
    if not accounts and not objects:
        raise ValueError("reach needs a subject: accounts and/or objects")
    subject_accounts = list(dict.fromkeys(accounts or ()))
    subject_objects = list(dict.fromkeys(objects or ()))
    acc_set = set(subject_accounts)
    obj_set = set(subject_objects)

    authors: dict[str, None] = dict.fromkeys(subject_accounts)
    amplifiers: dict[str, None] = {}
    for e in events:
        on_object = e.object is not None and e.object in obj_set
        if on_object and e.kind in _AUTHOR_EVIDENCE:
            authors.setdefault(e.target)
        if e.kind in _AMPLIFY and (on_object or e.target in acc_set):
            amplifiers.setdefault(e.source)
    for a in authors:
        amplifiers.pop(a, None)
    circle = set(authors) | set(amplifiers)

    follower_sets: dict[str, set[str]] = {}
    talkers: set[str] = set()
    for e in events:
        if e.kind == "follow":
            if e.target in circle and e.source != e.target:
                follower_sets.setdefault(e.target, set()).add(e.source)
        elif e.kind in _CONVERSE and e.source not in circle:
            if e.target in circle or (e.kind == "reply" and e.object is not None
                                      and e.object in obj_set):
                talkers.add(e.source)
    union: set[str] = set().union(*follower_sets.values()) if follower_sets else set()

    def claimed(u: str) -> int:
        return int(followers.get(u, 0) or 0)

    components = [
        ReachContribution(
            account=u, role="author" if u in authors else "amplifier",
            claimed_followers=claimed(u), known_followers=len(follower_sets.get(u, ())),
            castle=u in castle_members, pod=u in pod_members,
        )
        for u in list(authors) + list(amplifiers)
    ]
    components.sort(key=lambda c: (-c.claimed_followers, c.role != "author", c.account))
    total = sum(c.claimed_followers for c in components)
    castle_total = sum(c.claimed_followers for c in components if c.castle)
    pod_total = sum(c.claimed_followers for c in components if c.pod)
    dedup = len(union)
    conv = len(talkers)
    return ReachResult(
        accounts=subject_accounts, objects=subject_objects,
        authors=sorted(authors), amplifiers=sorted(amplifiers),
        amplifier_count=len(amplifiers), circle_size=len(circle),
        claimed_reach=total, deduplicated_reach=dedup,
        deduplicated_reach_outside_circle=len(union - circle),
        followers_known_for=sum(1 for u in circle if follower_sets.get(u)),
        conversational_reach=conv,
        castle_claimed_reach=castle_total, pod_claimed_reach=pod_total,
        castle_share=castle_total / total if total else None,
        pod_share=pod_total / total if total else None,
        inflation_claimed_over_deduplicated=total / dedup if dedup else None,
        inflation_claimed_over_conversational=total / conv if conv else None,
        components=components,
    )
