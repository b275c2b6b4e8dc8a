"""One analysis run: read the graph from the store once, build it, and compute every
graph-wide result from it (communities, roles, gatekeepers, trusted voices, castles, pods,
polarization). Per-account answers (roles of one account, diversity) and reach are cut
from this bundle afterwards, so that all of them agree on one partition.

The store is only read at the start; everything after is pure computation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Collection

from graph.analysis.castles import CastlesResult, castles
from graph.analysis.communities import CommunitiesResult, communities
from graph.analysis.diversity import DiversityResult, diversity
from graph.analysis.engine import get_engine
from graph.analysis.events import Event
from graph.analysis.gatekeepers import GatekeepersResult, gatekeepers
from graph.analysis.graph import LayerGraph
from graph.analysis.manifest import Manifest, library_versions
from graph.analysis.params import AnalysisParams
from graph.analysis.pods import PodsResult, coordinated_pods
from graph.analysis.polarization import PolarizationResult, polarization
from graph.analysis.roles import RolesTable, account_roles
from graph.analysis.trusted import TrustedResult, trusted_voices
from graph.model import Kind
from graph.store.port import GraphStore

__all__ = ["Bundle", "account_diversity", "run_analysis", "STAGES", "DIVERSITY_STAGES"]

#: the stages a run reports progress through, in order
STAGES = ("load", "events", "build", "communities", "roles", "gatekeepers", "pods", "trusted", "castles", "polarization")

#: the analyses a diversity audit is cut from: the partition, the castles and the trusted
#: voices (which need the pods). Roles, gatekeepers and polarization do not feed it and
#: are most of a large graph's time, so scheduled audits skip them. No result depends on
#: a skipped stage: each stage is seeded on its own, so the kept ones give the same numbers
#: as in a full run.
DIVERSITY_STAGES = ("communities", "pods", "trusted", "castles")
_OPTIONAL = ("roles", "gatekeepers", "polarization")

#: kinds whose single events are read (timing for pods, ids for example exchanges, follow
#: edges for diversity and reach)
_EVENT_KINDS = (Kind.REPOST, Kind.LIKE, Kind.REPLY, Kind.QUOTE)


@dataclass
class Bundle:
    graph: str
    graph_version: str
    params: AnalysisParams
    g: LayerGraph
    events: list[Event]
    communities: CommunitiesResult
    #: None when the run skipped the stage (``run_analysis(only=...)``)
    roles: RolesTable | None
    gatekeepers: GatekeepersResult | None
    pods: PodsResult
    trusted: TrustedResult
    castles: CastlesResult
    polarization: PolarizationResult | None
    manifest: Manifest
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def castle_communities(self) -> set[int]:
        return {c.id for c in self.castles.communities if c.castle}

    @property
    def castle_members(self) -> set[str]:
        ids = self.castle_communities
        m = self.communities.membership
        return {self.g.nodes[i] for i in range(self.g.n) if m[i] in ids}

    @property
    def pod_members(self) -> set[str]:
        return {a for p in self.pods.pods for a in p.members}


def run_analysis(
    store: GraphStore,
    graph: str,
    params: AnalysisParams,
    *,
    progress: Callable[[str, float], None] | None = None,
    only: Collection[str] | None = None,
) -> Bundle:
    """Runs every graph-wide analysis for ``params`` and returns the results with one
    manifest. ``progress(stage, fraction_done)`` is called as stages start. ``only``
    names the analyses wanted (e.g. ``DIVERSITY_STAGES``); of the others, those no wanted
    one needs (roles, gatekeepers, polarization) are skipped and left None."""
    skip = set() if only is None else {s for s in _OPTIONAL if s not in only}
    params = params.normalised()
    report = progress or (lambda stage, done: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    current: list = [None, started]  # the stage running and when it began

    def stage(name: str) -> None:
        now = time.perf_counter()
        if current[0] is not None:
            timings[current[0]] = round(now - current[1], 4)
        current[:] = [name, now]
        report(name, STAGES.index(name) / len(STAGES) if name in STAGES else 1.0)

    stage("load")
    info = store.get_graph(graph)
    table = store.edge_table(graph, list(Kind), params.since, params.until)
    stage("events")
    events = [Event(*r) for r in store.events(graph, list(_EVENT_KINDS), params.since, params.until)]
    stage("build")
    g = LayerGraph.from_table(table)
    engine = get_engine(params.engine)
    layers = list(params.layers)
    stage("communities")
    comms = communities(g, layers, engine=engine, resolution=params.resolution, seed=params.seed)
    roles = gates = polar = None
    if "roles" not in skip or "gatekeepers" not in skip:
        stage("roles")
        roles = account_roles(g, layers, comms.membership, engine=engine, seed=params.seed)
    if "gatekeepers" not in skip:
        stage("gatekeepers")
        gates = gatekeepers(g, layers, comms.membership, roles)
    stage("pods")
    pods = coordinated_pods(events, tau=params.tau, min_repeats=params.min_repeats)
    pod_members = {a for p in pods.pods for a in p.members}
    stage("trusted")
    trusted = trusted_voices(g, comms.membership, events, pod_members=pod_members)
    stage("castles")
    # the closure of a community is judged on the layers it was found on
    cast = castles(g, comms.membership, engine=engine, null_samples=params.null_samples,
                   seed=params.seed, structure_kinds=tuple(layers))
    if "polarization" not in skip:
        stage("polarization")
        polar = polarization(g, layers, comms.membership, engine=engine, seed=params.seed)
    stage("done")
    manifest = Manifest(
        graph=graph,
        graph_version=info.version,
        store=store.kind,
        layers=layers,
        since=params.since,
        until=params.until,
        parameters=params.as_dict(),
        analyses=[s for s in STAGES[3:] if s not in skip],
        seed=params.seed,
        engine=engine.name,
        libraries=engine.versions()
        | library_versions("castlegate", "numpy", "scipy", "networkx", "msgspec"),
        computed_at=datetime.now(timezone.utc),
        duration_seconds=round(time.perf_counter() - started, 4),
    )
    return Bundle(
        graph=graph,
        graph_version=info.version,
        params=params,
        g=g,
        events=events,
        communities=comms,
        roles=roles,
        gatekeepers=gates,
        pods=pods,
        trusted=trusted,
        castles=cast,
        polarization=polar,
        manifest=manifest,
        timings=timings,
    )


def account_diversity(bundle: Bundle, account: str) -> DiversityResult:
    """The diversity audit of ``account`` on the bundle's partition, castles and trusted
    voices, so that it agrees with every other answer cut from the same run. Raises
    ``AccountNotFound`` when the account has no interaction in the graph."""
    return diversity(bundle.g, account, bundle.communities.membership,
                     castle_communities=bundle.castle_communities, trusted=bundle.trusted)
