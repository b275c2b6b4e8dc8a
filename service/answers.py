"""The analysis answers as they go on the wire: each result with the manifest of the run it
was cut from. Typed, so that the OpenAPI document describes exactly what is sent."""

from __future__ import annotations

import msgspec

from graph.analysis.castles import CastlesResult
from graph.analysis.communities import Community
from graph.analysis.diversity import DiversityResult
from graph.analysis.gatekeepers import Gatekeeper
from graph.analysis.manifest import Manifest
from graph.analysis.pods import PodsResult
from graph.analysis.polarization import PolarizationResult
from graph.analysis.reach import ReachResult
from graph.analysis.roles import AccountRoles
from graph.analysis.trusted import TrustedResult


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
