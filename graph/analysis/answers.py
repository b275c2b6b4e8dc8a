"""The answers castlegate gives, and which stages each is cut from.

One struct per answer, each a result with the manifest of the analysis behind it: the API
sends them, the audits store them, the exports read them, so a number means the same thing
everywhere. ``TARGETS`` maps each answer to the stages it needs (``graph.analysis.stages``),
the data it reads beyond them, its arguments (with their defaults, so that the same question
spelled two ways is one cache entry) and the function that cuts it from the stage results.

A new answer is one struct, one render function and one ``TARGETS`` entry (plus its route).

Example
-------
>>> TARGETS["diversity"].stages
('communities', 'pods', 'trusted', 'castles')
>>> TARGETS["gatekeepers"].arguments({})
{'limit': 20, 'after': None}

Every list in an answer is one page, ``items``, with ``next``: the ``after`` that asks for
the page after it (null on the last). A cursor names the last item listed (an account, a
community or a pod id), not a position, so a page asked of the graph's next version
continues after the same item, or says that it is gone (422 naming ``after``).

Every answer carries ``notes``: one plain sentence for each part of it that is empty, null
or partial, saying why (the numbers) and what to change (``graph.analysis.notes``); a full
answer has none, and a page of a longer list is not partial (``next`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Iterator, Mapping

import msgspec
import numpy as np

from graph.analysis import notes
from graph.analysis.castles import CastleCommunity, CastleTest, Confidence
from graph.analysis.communities import Community
from graph.analysis.compare import community_stability, label_agreement
from graph.analysis.diversity import DiversityResult, diversity
from graph.analysis.events import Event
from graph.analysis.gatekeepers import Gatekeeper, GatekeeperComponents
from graph.analysis.manifest import Manifest
from graph.analysis.networkmap import MAX_NODES, network_map
from graph.analysis.pods import Pod, PodsDefinition, PodsParameters
from graph.analysis.polarization import PolarizationResult
from graph.analysis.reach import ReachResult, reach
from graph.analysis.roles import AccountRoles, roles_of
from graph.analysis.stages import EVENTS, GRAPH, STAGES, Inputs
from graph.analysis.trusted import TrustedVoice
from graph.errors import AccountNotFound, FieldError, InvalidInput, NotFound

__all__ = [
    "CommunitiesAnswer", "MembersAnswer", "MapAnswer", "StabilityAnswer", "CompareAnswer", "LABELS", "RolesAnswer", "GatekeepersAnswer", "TrustedAnswer", "CastlesAnswer",
    "PodsAnswer", "PolarizationAnswer", "DiversityAnswer", "ReachAnswer", "AnalysisAnswer",
    "Target", "TARGETS", "FOLLOWS", "FULL", "EXPORT", "DEFAULT_ANSWERS",
]

#: a reach answer also reads follow events and claimed follower counts
FOLLOWS = "follows"
#: a comparison reads one attribute of every account
LABELS = "labels"

#: why any part of an answer is empty, null or partial, one sentence each, with the numbers
#: and the parameter to change (``graph.analysis.notes``); empty when nothing is
Notes = Annotated[list[str], msgspec.Meta(
    title="Notes",
    description="Why any part of this answer is empty, null or partial: one sentence each, naming the numbers"
                " behind it and the parameter to change. Empty when nothing is; a page of a longer list is not"
                " partial (next says so).")]


class CommunitiesAnswer(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    engine: str
    resolution: float
    seed: int
    #: "louvain" or "leiden"
    algorithm: str
    modularity: float | None
    #: communities found (``items`` is one page of them, largest first)
    total: int
    #: each community's ``members`` cut to ``members_limit`` (``size`` counts them all;
    #: ``/communities/{id}/members`` pages through every one)
    items: list[Community]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class MembersAnswer(msgspec.Struct, frozen=True, kw_only=True):
    community: int
    size: int
    #: account ids, in the order the communities answer lists them
    items: list[str]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class RolesAnswer(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    roles: AccountRoles
    notes: Notes = []
    manifest: Manifest


class GatekeepersAnswer(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    weights: GatekeeperComponents
    betweenness_method: str
    pivots: int | None
    #: accounts with a tie to another community (all were scored; the ranking keeps
    #: the top ``graph.analysis.stages.RANKED_MAX`` of them)
    candidates: int
    items: list[Gatekeeper]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class TrustedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    #: accounts with at least ``min_partners`` reciprocated partners (all were scored; the
    #: ranking keeps the top ``graph.analysis.stages.RANKED_MAX`` of them)
    candidates: int
    score: str
    damping: float
    min_partners: int
    conversation: list[str]
    amplification: list[str]
    items: list[TrustedVoice]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class CastlesAnswer(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    null_model: str
    null_sampler: str
    null_samples: int
    seed: int
    structure_kinds: list[str]
    conversation: list[str]
    amplification: list[str]
    #: each condition of the rule, whether this graph's layers can measure it and why not
    tests: list[CastleTest]
    #: what every verdict rests on: "full", or a weaker one when a test was not measurable
    confidence: Confidence
    #: communities scored (``items`` is one page of them, in the communities' order)
    total: int
    #: of them, flagged castles
    castles: int
    items: list[CastleCommunity]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class PodsAnswer(msgspec.Struct, frozen=True, kw_only=True):
    parameters: PodsParameters
    #: what a co-action and a weight were taken to be, and what differs from the QUT toolkit
    definition: PodsDefinition
    events_considered: int
    accounts_considered: int
    objects_considered: int
    co_actions: int
    linked_pairs: int
    split_components: int
    #: pods found (``items`` is one page of them); each pod's ``edges`` are its strongest
    #: ``pairs_limit`` pairs, ``edges_total`` counts them all
    total: int
    items: list[Pod]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class PolarizationAnswer(PolarizationResult, frozen=True, kw_only=True):
    notes: Notes = []
    manifest: Manifest


class DiversityAnswer(DiversityResult, frozen=True, kw_only=True):
    notes: Notes = []
    manifest: Manifest


class ReachAnswer(ReachResult, frozen=True, kw_only=True):
    notes: Notes = []
    manifest: Manifest


class MapNode(msgspec.Struct, frozen=True, kw_only=True):
    #: an account id; on the community overview "c<community id>"
    id: str
    #: the account's handle (its id when it has none); on the overview the community's name
    label: str
    #: position in [-1, 1]
    x: float
    y: float
    community: int
    #: radius to draw, from the account's interactions (the community's members)
    size: float
    castle: bool
    pods: list[int]
    gatekeeper: float | None
    trusted: float | None
    #: the dominant Gould–Fernandez brokerage role, and the Guimerà–Amaral role (its place
    #: inside its own community): see ``graph.analysis.roles.AccountRoles``
    brokerage_role: str | None
    module_role: str | None


class MapEdge(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    #: interactions between the two in the analysed layers, both directions
    weight: int


class MapCommunity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    castle: bool
    #: "#rrggbb", the colour the exports give it too
    color: str


class MapPod(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    members: list[str]


class MapAnswer(msgspec.Struct, frozen=True, kw_only=True):
    #: "accounts" or "communities" (the overview of a graph too big to draw account by account)
    level: str
    #: the community drilled into, if any
    community: int | None
    #: analysed accounts in the graph (drawn or not)
    accounts_total: int
    #: fewer accounts drawn than asked for: the most active ``graph.analysis.networkmap.MAX_NODES``
    truncated: bool
    nodes: list[MapNode]
    edges: list[MapEdge]
    communities: list[MapCommunity]
    pods: list[MapPod]
    notes: Notes = []
    manifest: Manifest


class CommunityStability(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    #: mean share of its member pairs that the other runs keep together, in [0, 1]
    stability: float


class StabilityAnswer(msgspec.Struct, frozen=True, kw_only=True):
    algorithm: str
    #: the seeds of the other runs (the answer's own seed is the manifest's)
    seeds: list[int]
    #: mean over communities, weighted by size
    mean_stability: float | None
    items: list[CommunityStability]
    next: str | None
    notes: Notes = []
    manifest: Manifest


#: label -> accounts with it
LabelCounts = Annotated[dict[str, int], msgspec.Meta(title="LabelCounts")]


class LabelMix(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    #: members carrying the attribute
    labelled: int
    #: label -> members with it
    mix: LabelCounts
    majority: str | None
    #: majority's share of the labelled members; null without any
    purity: float | None


class CompareAnswer(msgspec.Struct, frozen=True, kw_only=True):
    attribute: str
    #: accounts in the partition with the attribute, and without it
    labelled: int
    unlabelled: int
    #: label -> accounts in the partition with it
    labels: LabelCounts
    #: share of labelled accounts whose community's majority label is theirs
    purity: float | None
    #: normalised mutual information and adjusted Rand index, communities vs labels
    nmi: float | None
    ari: float | None
    #: per community (largest first): its label mix
    items: list[LabelMix]
    next: str | None
    notes: Notes = []
    manifest: Manifest


class AnalysisAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a full analysis job leaves behind: the stages it holds, and the manifest."""

    stages: list[str]
    notes: Notes = []
    manifest: Manifest


@dataclass(frozen=True)
class Target:
    name: str
    #: the stages the answer is cut from (their own needs are added by ``stages.plan``)
    stages: tuple[str, ...]
    #: data read beyond the stages' results: GRAPH, FOLLOWS
    reads: frozenset[str]
    answer: type
    #: ``render(inputs, args) -> fields of answer``, the manifest aside
    render: Callable[[Inputs, dict], dict]
    #: the arguments and their defaults
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: ``write(inputs, args, manifest) -> byte chunks`` of an answer that is a file (an
    #: export) rather than ``answer`` as JSON
    write: Callable[[Inputs, dict, dict], Iterator[bytes]] | None = None

    def arguments(self, given: Mapping[str, Any]) -> dict:
        """The defaults overlaid with the arguments given (None keeps the default);
        unknown names are refused, so a typo never silently makes a new cache entry."""
        unknown = set(given) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name} takes no argument {sorted(unknown)}")
        return {k: (given[k] if given.get(k) is not None else v) for k, v in self.defaults.items()}


def _builtins(x: Inputs, stage: str) -> dict:
    return msgspec.to_builtins(x.results[stage])


def page(items: list, key: Callable[[Any], str], limit: int, after: str | None) -> tuple[list, str | None]:
    """``limit`` items after the one whose ``key`` is ``after`` (from the first when None),
    and the cursor of the page after them (None when nothing follows).

    >>> page(["a", "b", "c"], str, 2, None)
    (['a', 'b'], 'b')
    >>> page(["a", "b", "c"], str, 2, "b")
    (['c'], None)
    """
    start = 0
    if after is not None:
        for i, item in enumerate(items):
            if key(item) == after:
                start = i + 1
                break
        else:
            raise InvalidInput([FieldError("after", "not an item of this list (the list changed with the graph,"
                                                    " or no page gave this cursor): start again without after")])
    chunk = items[start:start + limit]
    return chunk, (key(chunk[-1]) if chunk and start + limit < len(items) else None)


def _by_id(item: dict) -> str:
    return str(item["id"])


def _paged(out: dict, field: str, args: dict, key: Callable[[Any], str] = _by_id) -> dict:
    """``out`` with its list ``field`` turned into the page ``items`` and ``next``."""
    out["items"], out["next"] = page(out.pop(field), key, args["limit"], args["after"])
    return out


def _count(x: Inputs) -> int:
    """Communities in the partition."""
    return len(x.results["communities"].communities)


def _communities(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "communities")
    out.pop("membership", None)
    out["total"] = len(out["communities"])
    out["notes"] = notes.communities_notes(out["total"], x.params)
    _paged(out, "communities", args)
    for c in out["items"]:
        c["members"] = c["members"][: args["members_limit"]]
    return out


def _members(x: Inputs, args: dict) -> dict:
    wanted = args["community"]
    for c in x.results["communities"].communities:
        if c.id == wanted:
            items, nxt = page(c.members, str, args["limit"], args["after"])
            return {"community": c.id, "size": c.size, "items": items, "next": nxt}
    raise NotFound("community", str(wanted))


def _roles(x: Inputs, args: dict) -> dict:
    try:
        roles = roles_of(x.results["roles"], args["account"])
    except KeyError:
        # an account that exists but has no edge in the analysed layers and window has no
        # place in the partition: it is not found *in this analysis*
        raise AccountNotFound(x.graph, args["account"]) from None
    return {"account": args["account"], "roles": msgspec.to_builtins(roles), "notes": notes.roles_notes(roles)}


def _by_account(item: dict) -> str:
    return item["account"]


def _gatekeepers(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "gatekeepers")
    out["notes"] = notes.gatekeepers_notes(x.results["gatekeepers"], _count(x), x.params)
    return _paged(out, "items", args, _by_account)


def _trusted(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "trusted")
    # the counts behind the notes, not part of the answer's shape
    for k in ("conversation_interactions", "reciprocated_pairs", "max_partners"):
        out.pop(k, None)
    out["notes"] = notes.trusted_notes(x.results["trusted"], x.params)
    return _paged(out, "voices", args, _by_account)


def _castles(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "castles")
    out["total"] = len(out["communities"])
    out["castles"] = sum(1 for c in out["communities"] if c["castle"])
    out["notes"] = _castle_notes(x)
    return _paged(out, "communities", args)


def _castle_notes(x: Inputs) -> list[str]:
    sizes = [c.size for c in x.results["communities"].communities]
    return notes.castles_notes(x.results["castles"], sizes, x.params)


def _pods(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "pods")
    out["total"] = len(out["pods"])
    out["notes"] = notes.pods_notes(x.results["pods"], x.params)
    _paged(out, "pods", args)
    for p in out["items"]:
        # the strongest pairs: a pod of n accounts has up to n (n - 1) / 2 of them
        p["edges"] = sorted(p["edges"], key=lambda e: (-e["weight"], e["a"], e["b"]))[: args["pairs_limit"]]
    return out


def _castle_members(x: Inputs) -> set[str]:
    castles = {c.id for c in x.results["castles"].communities if c.castle}
    return {a for c in x.results["communities"].communities if c.id in castles for a in c.members}


def _diversity(x: Inputs, args: dict) -> dict:
    account = args["account"]
    if account not in x.g.index:
        raise AccountNotFound(x.graph, account)
    castles = {c.id for c in x.results["castles"].communities if c.castle}
    result = diversity(x.g, account, x.membership, castle_communities=castles, trusted=x.results["trusted"])
    return msgspec.to_builtins(result) | {"notes": notes.diversity_notes(result, x.layers)}


def _reach(x: Inputs, args: dict) -> dict:
    pods = {a for p in x.results["pods"].pods for a in p.members}
    events: list[Event] = list(x.events or ()) + list(x.follows or ())
    result = reach(events, x.followers or {}, accounts=args["accounts"] or None,
                   objects=args["objects"] or None, castle_members=_castle_members(x), pod_members=pods)
    return msgspec.to_builtins(result) | {"notes": notes.reach_notes(result)}


def _stability(x: Inputs, args: dict) -> dict:
    part = x.results["communities"]
    src, dst, w = x.g.undirected(x.layers)
    active = np.unique(np.concatenate([src, dst]))
    local = np.full(x.g.n, -1, dtype=np.int64)
    local[active] = np.arange(len(active))
    find = x.engine.leiden if part.algorithm == "leiden" else x.engine.louvain
    seeds = [(x.params.seed + i) % 2**31 for i in range(1, args["runs"] + 1)]

    def rerun(seed: int) -> np.ndarray:
        out = np.full(x.g.n, -1, dtype=np.int64)
        out[active] = find(len(active), local[src], local[dst], w, resolution=part.resolution, seed=seed)
        return out

    stable = community_stability(part.membership, rerun, seeds)
    rows = [{"id": c.id, "size": c.size, "stability": stable[c.id]} for c in part.communities]
    total = sum(r["size"] for r in rows)
    out = {"algorithm": part.algorithm, "seeds": seeds,
           "mean_stability": sum(r["size"] * r["stability"] for r in rows) / total if total else None,
           "communities": rows, "notes": notes.stability_notes(len(rows), x.params)}
    return _paged(out, "communities", args)


def _compare(x: Inputs, args: dict) -> dict:
    part = x.results["communities"]
    labels = x.labels or {}
    out = label_agreement(part.membership, [labels.get(a) for a in x.g.nodes])
    out["attribute"] = args["attribute"]
    out["notes"] = notes.compare_notes(args["attribute"], out["labelled"], out["unlabelled"], x.params)
    by_id = {c["id"]: c for c in out.pop("communities")}
    out["communities"] = [by_id[c.id] for c in part.communities]  # largest first, as /communities lists them
    return _paged(out, "communities", args)


def _map(x: Inputs, args: dict) -> dict:
    out = network_map(x, level=args["level"], community=args["community"])
    out["notes"] = notes.map_notes(out, args["level"], MAX_NODES, x.params)
    return out


def _polarization(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "polarization")
    out["notes"] = notes.polarization_notes(x.results["polarization"], _count(x), x.params)
    return out


def _analysis(x: Inputs, args: dict) -> dict:
    """The full analysis: its stages, and the notes of the answers it renders."""
    r, p = x.results, x.params
    said = (notes.communities_notes(_count(x), p) + notes.gatekeepers_notes(r["gatekeepers"], _count(x), p)
            + notes.trusted_notes(r["trusted"], p) + _castle_notes(x) + notes.pods_notes(r["pods"], p)
            + notes.polarization_notes(r["polarization"], _count(x), p))
    # the reason for an empty partition is given once, not by every answer cut from it
    return {"stages": list(STAGES), "notes": list(dict.fromkeys(said))}


_NONE: frozenset[str] = frozenset()
#: the arguments of a paged list, with their defaults
_PAGE = {"limit": 20, "after": None}

#: the name every full analysis job is filed under
FULL = "analysis"
#: the graph as a file (``graph.export``), with every analysis as node attributes; its
#: target is added to ``TARGETS`` by ``graph.usecases.analyse`` (graph.export builds on
#: this package, not the other way round)
EXPORT = "export"
#: what the map marks: the stages every export reads too
MAP_NEEDS = ("communities", "roles", "gatekeepers", "trusted", "castles", "pods")

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("communities", ("communities",), _NONE, CommunitiesAnswer, _communities,
           {"limit": 100, "after": None, "members_limit": 100}),
    Target("members", ("communities",), _NONE, MembersAnswer, _members,
           {"community": None, "limit": 1000, "after": None}),
    Target("roles", ("roles",), _NONE, RolesAnswer, _roles, {"account": None}),
    Target("gatekeepers", ("gatekeepers",), _NONE, GatekeepersAnswer, _gatekeepers, _PAGE),
    Target("trusted-voices", ("trusted",), _NONE, TrustedAnswer, _trusted, _PAGE),
    Target("castles", ("castles",), _NONE, CastlesAnswer, _castles, {"limit": 100, "after": None}),
    Target("pods", ("pods",), _NONE, PodsAnswer, _pods, {"limit": 20, "after": None, "pairs_limit": 100}),
    Target("polarization", ("polarization",), _NONE, PolarizationAnswer, _polarization),
    Target("diversity", ("communities", "pods", "trusted", "castles"), frozenset({GRAPH}), DiversityAnswer,
           _diversity, {"account": None}),
    Target("reach", ("communities", "castles", "pods"), frozenset({EVENTS, FOLLOWS}), ReachAnswer, _reach,
           {"accounts": (), "objects": ()}),
    Target(FULL, tuple(STAGES), _NONE, AnalysisAnswer, _analysis),
    Target("stability", ("communities",), frozenset({GRAPH}), StabilityAnswer, _stability,
           {"runs": 5, "limit": 100, "after": None}),
    Target("compare", ("communities",), frozenset({GRAPH, LABELS}), CompareAnswer, _compare,
           {"attribute": None, "limit": 100, "after": None}),
    Target("map", MAP_NEEDS, frozenset({GRAPH}), MapAnswer, _map, {"level": "auto", "community": None}),
)}

#: what a full analysis also renders, so that the usual questions after it are cache hits
DEFAULT_ANSWERS = ("communities", "gatekeepers", "trusted-voices", "castles", "pods", "polarization")
