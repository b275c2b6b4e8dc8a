"""Why an answer is empty, null or partial: the ``notes`` every answer carries.

An empty list, a null number or a cut ranking is a result, but one a reader cannot tell
from a fault without a reason. Each function here reads what the stage results already
hold and returns plain sentences a user can act on: what is missing, the numbers that show
it, and the parameter to change. A full answer gets no note; a page of a longer list is
not partial (its ``next`` says so).

One function per answer, called by its render function in ``graph.analysis.answers``.

Example
-------
>>> from graph.analysis.params import AnalysisParams
>>> window(AnalysisParams())
''
>>> pods_notes_for(events=0, accounts=0, objects=0, co_actions=0, linked_pairs=0, pods=0,
...                tau=60.0, min_repeats=3, min_size=3, kinds=["repost"], params=AnalysisParams())
['no repost events naming an object (a post): pods are accounts that repeatedly amplify the same objects within tau seconds of each other; ingest reposts with their object']
"""

from __future__ import annotations

from typing import Any, Sequence

from graph.analysis.params import AnalysisParams
from graph.analysis.stages import RANKED_MAX

__all__ = [
    "window", "communities_notes", "stability_notes", "compare_notes", "roles_notes", "gatekeepers_notes",
    "trusted_notes", "castles_notes", "pods_notes", "pods_notes_for", "polarization_notes", "diversity_notes",
    "reach_notes", "map_notes", "static_time_notes",
]

#: the conversation kinds trusted voices, diversity and cross-community share read
_CONVERSATION = "reply or quote"


def window(params: AnalysisParams) -> str:
    """`` between <since> and <until>`` (or one of them), or '' without a window.

    >>> from datetime import datetime, timezone
    >>> window(AnalysisParams(since=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    ' since 2024-01-01T00:00:00+00:00'
    """
    since = params.since.isoformat() if params.since else None
    until = params.until.isoformat() if params.until else None
    if since and until:
        return f" between {since} and {until}"
    if since:
        return f" since {since}"
    if until:
        return f" until {until}"
    return ""


def _layers(params: AnalysisParams) -> str:
    return ", ".join(sorted(params.layers))


def _ids(ids: Sequence[int], most: int = 8) -> str:
    shown = ", ".join(str(i) for i in ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _no_interactions(params: AnalysisParams) -> str:
    widen = " or a wider since/until window" if window(params) else ""
    return (f"no interactions of the analysed layers ({_layers(params)}){window(params)}: communities are found"
            f" on those interactions; choose other layers (the graph's counts per kind are in GET /v1/graphs/"
            f"{{graph}}){widen}")


def communities_notes(communities: int, params: AnalysisParams) -> list[str]:
    """Notes of the communities answer (and of everything cut from an empty partition).

    >>> communities_notes(0, AnalysisParams(layers=("reply",)))[0][:50]
    'no interactions of the analysed layers (reply): co'
    >>> communities_notes(3, AnalysisParams())
    []
    """
    return [_no_interactions(params)] if communities == 0 else []


def stability_notes(communities: int, params: AnalysisParams) -> list[str]:
    """Notes of the stability answer: ``mean_stability`` is null without communities."""
    if communities == 0:
        return [_no_interactions(params) + "; mean_stability is null"]
    return []


def compare_notes(attribute: str, labelled: int, unlabelled: int, params: AnalysisParams) -> list[str]:
    """Notes of the comparison with a label: who lacks the attribute.

    >>> compare_notes("party", 0, 5, AnalysisParams())[0][:60]
    'none of the 5 accounts in the partition carries the attribut'
    >>> compare_notes("party", 8, 2, AnalysisParams())[0][:45]
    '2 of the 10 accounts in the partition have no'
    """
    total = labelled + unlabelled
    if total == 0:
        return [_no_interactions(params) + "; there is nothing to compare"]
    if labelled == 0:
        return [f"none of the {total} accounts in the partition carries the attribute {attribute!r}: purity, nmi"
                f" and ari are null; set it with POST /v1/graphs/{{graph}}/accounts (attributes), or ask about"
                f" an attribute they carry"]
    if unlabelled:
        return [f"{unlabelled} of the {total} accounts in the partition have no {attribute!r}: purity, nmi and ari"
                f" are over the {labelled} labelled ones only"]
    return []


def _betweenness(method: str, pivots: int | None) -> list[str]:
    if method == "sampled":
        return [f"betweenness is estimated from {pivots} seeded pivots (exact only up to 5000 analysed accounts):"
                f" it and the scores built on it are approximate, another seed gives another estimate, and"
                f" betweenness_se is each estimate's standard error (accounts closer than about two of them are"
                f" not told apart)"]
    return []


def roles_notes(roles: Any) -> list[str]:
    """Notes of one account's roles (``graph.analysis.roles.AccountRoles``)."""
    out = []
    if roles.brokerage_role is None:
        out.append(f"{roles.account} brokers no pair (no a -> {roles.account} -> b with a and b not linked):"
                   f" brokerage_role is null; its module_role ({roles.module_role}) is its place inside its own"
                   f" community {roles.community}")
    if roles.brokerage_approximate:
        out.append(f"{roles.account}'s brokerage counts are sampled estimates (it has too many neighbours to count"
                   f" every pair exactly)")
    return out + _betweenness(roles.betweenness_method, roles.pivots)


def _cross(communities: int, params: AnalysisParams, what: str) -> str:
    if communities == 0:
        return _no_interactions(params)
    if communities == 1:
        return (f"one community holds every analysed account: {what}; raise resolution (now {params.resolution:g})"
                f" or analyse more layers to split it")
    return (f"none of the {communities} communities has a tie to another (they are separate components): {what}")


def gatekeepers_notes(result: Any, communities: int, params: AnalysisParams) -> list[str]:
    """Notes of the gatekeepers answer (``GatekeepersResult``), given how many communities
    the partition has."""
    out = []
    if result.candidates == 0:
        out.append(_cross(communities, params, "no account has a tie to another community, so nobody brokers"
                                                " between communities"))
    elif result.candidates > RANKED_MAX:
        out.append(f"the ranking keeps the top {RANKED_MAX} of {result.candidates} accounts with a tie to another"
                   f" community")
    if result.candidates:
        out += _betweenness(result.betweenness_method, result.pivots)
    return out


def trusted_notes(result: Any, params: AnalysisParams) -> list[str]:
    """Notes of the trusted voices answer (``TrustedResult``)."""
    kinds = " or ".join(result.conversation)
    out = []
    if result.candidates == 0:
        if result.conversation_interactions == 0:
            out.append(f"no {kinds} interactions between accounts{window(params)}: trusted voices need conversation,"
                       f" accounts that reply to or quote each other; this graph holds none (ingest replies and"
                       f" quotes{', or widen since/until' if window(params) else ''})")
        elif result.reciprocated_pairs == 0:
            out.append(f"{result.conversation_interactions} {kinds} interactions{window(params)}, but no two accounts"
                       f" answered each other: trusted voices need reciprocated conversation")
        else:
            pairs = result.reciprocated_pairs
            out.append(f"nobody has {result.min_partners} reciprocated conversation partners: {pairs}"
                       f" pair{'s' if pairs != 1 else ''} conversed both ways, and the most partners any account"
                       f" has is {result.max_partners}; more conversation (a wider window, more replies and quotes)"
                       f" is what makes trusted voices")
    elif result.candidates > RANKED_MAX:
        out.append(f"the ranking keeps the top {RANKED_MAX} of {result.candidates} accounts with at least"
                   f" {result.min_partners} reciprocated partners")
    return out


_CURRENCY_Z = ("amplification_share_z", "amplification_reciprocity_z", "amplification_per_member_z")
_CLOSURE_Z = ("ei_index_z", "conductance_z", "core_depth_z")


def castles_notes(result: Any, communities: Sequence[int], params: AnalysisParams) -> list[str]:
    """Notes of the castles answer (``CastlesResult``), given the sizes of the partition's
    communities."""
    scored = result.communities
    out = []
    if not scored:
        if not communities:
            return [_no_interactions(params)]
        return [f"none of the {len(communities)} communities has at least 3 members (the largest has"
                f" {max(communities)}): castles are scored on groups of 3 or more; lower resolution (now"
                f" {params.resolution:g}) to merge small communities"]
    flagged = sum(1 for c in scored if c.castle)
    measurable = {t.name: t.measurable for t in result.tests}
    if flagged == 0:
        found = []
        if measurable.get("closed", True):
            found.append(f"{sum(1 for c in scored if c.checks.closed)} are closed")
        if measurable.get("own_currency", True):
            found.append(f"{sum(1 for c in scored if c.checks.own_currency)} have their own currency")
        need = "a castle needs both" if len(found) == 2 else "the verdict rests on what could be measured"
        out.append(f"none of the {len(scored)} communities scored is a castle: {' and '.join(found) or 'nothing could be measured'},"
                   f" and {need}")
    for t in result.tests:
        if not t.measurable:
            out.append(f"{t.name} could not be measured: {t.reason}; the verdicts' confidence is"
                       f" '{result.confidence}'")
    quiet = [c.id for c in scored if measurable.get("own_currency", True) and c.components.amplification_share is None]
    if quiet:
        out.append(f"communities {_ids(quiet)} have no {'/'.join(result.amplification)} or"
                   f" {'/'.join(result.conversation)} among their members: their currency values and z-scores are"
                   f" null")
    flat = [c.id for c in scored if measurable.get("own_currency", True) and c.components.amplification_share is not None
            and all(getattr(c.components, z) is None for z in _CURRENCY_Z)]
    if flat:
        out.append(f"the currency z-scores of communities {_ids(flat)} are null: shuffling which ties are"
                   f" amplification and which conversation changes nothing (the graph's ties are nearly all of one"
                   f" kind), so their own currency cannot be tested")
    closure = [c.id for c in scored if any(getattr(c.components, z) is None for z in _CLOSURE_Z)]
    if closure:
        out.append(f"some closure z-scores of communities {_ids(closure)} are null: their value is the same in"
                   f" every one of the {result.null_samples} degree-preserving draws; more null_samples may"
                   f" give them a spread")
    return out


def pods_notes(result: Any, params: AnalysisParams) -> list[str]:
    """Notes of the pods answer (``PodsResult``)."""
    p = result.parameters
    return pods_notes_for(events=result.events_considered, accounts=result.accounts_considered,
                          objects=result.objects_considered, co_actions=result.co_actions,
                          linked_pairs=result.linked_pairs, pods=len(result.pods), tau=p.tau,
                          min_repeats=p.min_repeats, min_size=p.min_size, kinds=p.kinds, params=params)


def pods_notes_for(*, events: int, accounts: int, objects: int, co_actions: int, linked_pairs: int, pods: int,
                   tau: float, min_repeats: int, min_size: int, kinds: Sequence[str],
                   params: AnalysisParams) -> list[str]:
    """The pods notes from the counts a ``PodsResult`` holds: which step of the search
    left nothing, and which parameter to loosen."""
    if pods:
        return []
    kind = "/".join(kinds)
    if events == 0:
        widen = ", or widen since/until" if window(params) else ""
        return [f"no {kind} events naming an object (a post){window(params)}: pods are accounts that repeatedly"
                f" amplify the same objects within tau seconds of each other; ingest {kind}s with their"
                f" object{widen}"]
    if co_actions == 0:
        return [f"{events} {kind} events by {accounts} accounts on {objects} objects, but no two accounts acted on"
                f" the same object within tau={tau:g} s of each other: raise tau"]
    if linked_pairs == 0:
        return [f"{co_actions} co-actions within tau={tau:g} s, but no pair of accounts co-acted min_repeats="
                f"{min_repeats} times: lower min_repeats or raise tau"]
    return [f"{linked_pairs} pairs co-acted at least min_repeats={min_repeats} times, but they form no group of"
            f" {min_size} or more accounts: lower min_repeats or raise tau to link more pairs"]


#: below this many core ties a planted two-way split with a tenth of ties crossing is often
#: invisible (tests/validity/test_polarization_grid.py: mean degree 2, up to 2,000 accounts;
#: at 200 accounts to any test, bench/results/polarization-limit.md)
SMALL_CORE = 1_000


def polarization_notes(result: Any, communities: int, params: AnalysisParams) -> list[str]:
    """Notes of the polarization answer (``PolarizationResult``) on its null fields."""
    out = []
    if communities == 0:
        return [_no_interactions(params) + "; every measure is null"]
    if result.score is None:
        out.append("no tie of the analysed graph lies on a cycle (its 2-core is empty: a forest of stars and"
                   " chains), so no split can stand out of chance: score and polarized are null")
    elif not result.polarized and result.split.core_ties < SMALL_CORE:
        out.append(f"the score rests on the {result.split.core_ties} ties of the graph's main body (the large"
                   f" connected parts of its 2-core), fewer than {SMALL_CORE}: a faint split can hide in so few ties, so a low"
                   f" score here is weak evidence of no split")
    if len(result.sides) < 2:
        out.append(_cross(communities, params, "rwc needs two sides and assortativity two labels, so they are"
                                               " null"))
    elif result.rwc is None:
        out.append(f"no random walk between communities {result.sides[0]} and {result.sides[1]} reached a"
                   f" high-degree node: rwc is null")
    elif result.assortativity is None:
        out.append("every tie joins accounts of the same community: assortativity is null (0/0)")
    if result.cross_community_share is None:
        out.append(f"no {_CONVERSATION} interactions between accounts in communities{window(params)}:"
                   f" cross_community_share measures conversation across communities, so it is null")
    if result.modularity_z is None and result.modularity is not None:
        if result.modularity_null_sd == 0:
            out.append(f"all {result.null_samples} degree-preserving draws have the same modularity: modularity_z"
                       f" is null (the degrees allow only one graph); nothing to compare with")
        else:
            out.append("modularity_z is null: no null draws were made (null_samples)")
    return out


def diversity_notes(result: Any, layers: Sequence[str]) -> list[str]:
    """Notes of one account's diversity (``DiversityResult``): the views without partners."""
    out = []
    a = result.account
    lv, cv = result.listens_to, result.converses_with
    if lv.partners == 0:
        out.append(f"{a} follows nobody in this graph (no follow interactions from it): listens_to's entropy and"
                   f" shares are null; ingest its follows to measure whom it listens to")
    elif lv.unassigned == lv.partners:
        out.append(f"none of the {lv.partners} accounts {a} follows is in a community (they have no"
                   f" {', '.join(layers)} interactions): listens_to's shares are null")
    if cv.partners == 0:
        out.append(f"{a} has no reciprocated {_CONVERSATION} partner (nobody it replied to or quoted answered it):"
                   f" converses_with's entropy and shares are null and active_reciprocated_ties is 0")
    elif cv.unassigned == cv.partners:
        out.append(f"none of {a}'s {cv.partners} conversation partners is in a community: converses_with's shares"
                   f" are null")
    if result.communities_in_partition < 2 and (lv.partners or cv.partners):
        out.append(f"the partition has {result.communities_in_partition} community: normalized_entropy needs two"
                   f" and is null")
    return out


def reach_notes(result: Any) -> list[str]:
    """Notes of a reach answer (``ReachResult``): which evidence the graph lacks."""
    if result.circle_size == 0:
        return ["none of the accounts or objects given appears in the graph's events: there is no circle to"
                " measure; check the ids"]
    n = result.circle_size
    out = []
    if result.followers_known_for == 0:
        out.append(f"no follow interactions name any of the circle's {n} accounts: deduplicated_reach is 0 and"
                   f" inflation_claimed_over_deduplicated null; ingest follow interactions to measure it")
    elif result.followers_known_for < n:
        out.append(f"followers are known for {result.followers_known_for} of the circle's {n} accounts:"
                   f" deduplicated_reach counts only theirs")
    if result.claimed_reach == 0:
        out.append(f"no claimed follower count for any of the circle's {n} accounts: claimed_reach is 0; send"
                   f" followers with the accounts (POST /v1/graphs/{{graph}}/accounts)")
    if result.conversational_reach == 0:
        out.append("nobody outside the circle replied to or quoted it: conversational_reach is 0 and"
                   " inflation_claimed_over_conversational null")
    return out


def map_notes(answer: dict, asked: str, max_nodes: int, params: AnalysisParams) -> list[str]:
    """Notes of the map (``graph.analysis.networkmap.network_map``'s dict) drawn at the
    level ``asked``."""
    total = answer["accounts_total"]
    if total == 0:
        return [_no_interactions(params) + "; there is nothing to draw"]
    if answer["level"] == "communities" and asked == "auto":
        return [f"{total} accounts are more than the {max_nodes} drawn one by one: one node per community; ask for"
                f" one with community= to draw its accounts"]
    if answer["truncated"]:
        return [f"drawn the {max_nodes} most active of the {total} accounts asked for; the others are left out"]
    return []


def static_time_notes(static_time: bool | None, params: AnalysisParams, target: str) -> list[str]:
    """Notes of any answer on a graph imported from a static network file, whose
    interactions all carry the import's placeholder date 1970-01-01Z (the manifest's
    ``static_time``).

    >>> static_time_notes(True, AnalysisParams(), "pods")[0][:60]
    "this graph's interactions carry no time (a static network fi"
    >>> static_time_notes(True, AnalysisParams(), "castles"), static_time_notes(False, AnalysisParams(), "pods")
    ([], [])
    """
    if not static_time:
        return []
    out = []
    head = "this graph's interactions carry no time (a static network file: every one is dated 1970-01-01Z)"
    if params.since or params.until:
        out.append(f"{head}: since/until keep all of them or none; leave the window out")
    if target == "pods":
        out.append(f"{head}: pods, which are about timing, mean nothing on it")
    return out
