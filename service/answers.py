"""The analysis answers as they go on the wire: each result with the manifest of the run it
was cut from. Typed, so that the OpenAPI document describes exactly what is sent."""

from __future__ import annotations

from datetime import datetime

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
from graph.audits.trend import Trend
from service.wire import DeliveryOut


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


class RunOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    audit: str
    graph: str
    slot: datetime
    #: "schedule" or "manual"
    trigger: str
    #: queued, running, done or failed
    status: str
    #: executions started (more than one only when a process died during a run)
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    graph_version: str | None
    error: str | None
    #: the diversity audit with the manifest of its analysis; null until done
    result: DiversityAnswer | None
    #: webhook deliveries of this run with every attempt (only on the single-run answer)
    deliveries: list[DeliveryOut] | None = None
    links: dict[str, str]


class RunsPage(msgspec.Struct, frozen=True, kw_only=True):
    audit: str
    #: newest first
    runs: list[RunOut]
    #: the next (older) page, when there is one
    next: str | None


class TrendOut(Trend, frozen=True, kw_only=True):
    audit: str
    account: str
