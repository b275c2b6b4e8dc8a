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
{'limit': 20}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import msgspec

from graph.analysis.castles import CastlesResult
from graph.analysis.communities import Community
from graph.analysis.diversity import DiversityResult, diversity
from graph.analysis.events import Event
from graph.analysis.gatekeepers import Gatekeeper
from graph.analysis.manifest import Manifest
from graph.analysis.pods import PodsResult
from graph.analysis.polarization import PolarizationResult
from graph.analysis.reach import ReachResult, reach
from graph.analysis.roles import AccountRoles, roles_of
from graph.analysis.stages import EVENTS, GRAPH, STAGES, Inputs
from graph.analysis.trusted import TrustedResult
from graph.errors import AccountNotFound

__all__ = [
    "CommunitiesAnswer", "RolesAnswer", "GatekeepersAnswer", "TrustedAnswer", "CastlesAnswer",
    "PodsAnswer", "PolarizationAnswer", "DiversityAnswer", "ReachAnswer", "AnalysisAnswer",
    "Target", "TARGETS", "FOLLOWS", "FULL", "DEFAULT_ANSWERS",
]

#: a reach answer also reads follow events and claimed follower counts
FOLLOWS = "follows"


class CommunitiesAnswer(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    engine: str
    resolution: float
    seed: int
    modularity: float | None
    communities: list[Community]
    manifest: Manifest


class RolesAnswer(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    roles: AccountRoles
    manifest: Manifest


class GatekeepersAnswer(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[str]
    weights: dict[str, float]
    betweenness_method: str
    pivots: int | None
    gatekeepers: list[Gatekeeper]
    manifest: Manifest


class TrustedAnswer(TrustedResult, frozen=True, kw_only=True):
    manifest: Manifest


class CastlesAnswer(CastlesResult, frozen=True, kw_only=True):
    manifest: Manifest


class PodsAnswer(PodsResult, frozen=True, kw_only=True):
    manifest: Manifest


class PolarizationAnswer(PolarizationResult, frozen=True, kw_only=True):
    manifest: Manifest


class DiversityAnswer(DiversityResult, frozen=True, kw_only=True):
    manifest: Manifest


class ReachAnswer(ReachResult, frozen=True, kw_only=True):
    manifest: Manifest


class AnalysisAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a full analysis job leaves behind: the stages it holds, and the manifest."""

    stages: list[str]
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

    def arguments(self, given: Mapping[str, Any]) -> dict:
        """The defaults overlaid with the arguments given (None keeps the default);
        unknown names are refused, so a typo never silently makes a new cache entry."""
        unknown = set(given) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name} takes no argument {sorted(unknown)}")
        return {k: (given[k] if given.get(k) is not None else v) for k, v in self.defaults.items()}


def _builtins(x: Inputs, stage: str) -> dict:
    return msgspec.to_builtins(x.results[stage])


def _communities(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "communities")
    out.pop("membership", None)
    if args["members_limit"] is not None:
        for c in out["communities"]:
            c["members"] = c["members"][: args["members_limit"]]
    return out


def _roles(x: Inputs, args: dict) -> dict:
    try:
        roles = roles_of(x.results["roles"], args["account"])
    except KeyError:
        # an account that exists but has no edge in the analysed layers and window has no
        # place in the partition: it is not found *in this analysis*
        raise AccountNotFound(x.graph, args["account"]) from None
    return {"account": args["account"], "roles": msgspec.to_builtins(roles)}


def _gatekeepers(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "gatekeepers")
    out["gatekeepers"] = out.pop("items")[: args["limit"]]
    return out


def _trusted(x: Inputs, args: dict) -> dict:
    out = _builtins(x, "trusted")
    out["voices"] = out["voices"][: args["limit"]]
    return out


def _castle_members(x: Inputs) -> set[str]:
    castles = {c.id for c in x.results["castles"].communities if c.castle}
    return {a for c in x.results["communities"].communities if c.id in castles for a in c.members}


def _diversity(x: Inputs, args: dict) -> dict:
    account = args["account"]
    if account not in x.g.index:
        raise AccountNotFound(x.graph, account)
    castles = {c.id for c in x.results["castles"].communities if c.castle}
    return msgspec.to_builtins(diversity(x.g, account, x.membership, castle_communities=castles,
                                         trusted=x.results["trusted"]))


def _reach(x: Inputs, args: dict) -> dict:
    pods = {a for p in x.results["pods"].pods for a in p.members}
    events: list[Event] = list(x.events or ()) + list(x.follows or ())
    result = reach(events, x.followers or {}, accounts=args["accounts"] or None,
                   objects=args["objects"] or None, castle_members=_castle_members(x), pod_members=pods)
    return msgspec.to_builtins(result)


def _whole(stage: str) -> Callable[[Inputs, dict], dict]:
    return lambda x, args: _builtins(x, stage)


_NONE: frozenset[str] = frozenset()

#: the name every full analysis job is filed under
FULL = "analysis"

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("communities", ("communities",), _NONE, CommunitiesAnswer, _communities, {"members_limit": None}),
    Target("roles", ("roles",), _NONE, RolesAnswer, _roles, {"account": None}),
    Target("gatekeepers", ("gatekeepers",), _NONE, GatekeepersAnswer, _gatekeepers, {"limit": 20}),
    Target("trusted-voices", ("trusted",), _NONE, TrustedAnswer, _trusted, {"limit": 20}),
    Target("castles", ("castles",), _NONE, CastlesAnswer, _whole("castles")),
    Target("pods", ("pods",), _NONE, PodsAnswer, _whole("pods")),
    Target("polarization", ("polarization",), _NONE, PolarizationAnswer, _whole("polarization")),
    Target("diversity", ("communities", "pods", "trusted", "castles"), frozenset({GRAPH}), DiversityAnswer,
           _diversity, {"account": None}),
    Target("reach", ("communities", "castles", "pods"), frozenset({EVENTS, FOLLOWS}), ReachAnswer, _reach,
           {"accounts": (), "objects": ()}),
    Target(FULL, tuple(STAGES), _NONE, AnalysisAnswer, lambda x, args: {"stages": list(STAGES)}),
)}

#: what a full analysis also renders, so that the usual questions after it are cache hits
DEFAULT_ANSWERS = ("communities", "gatekeepers", "trusted-voices", "castles", "pods", "polarization")
