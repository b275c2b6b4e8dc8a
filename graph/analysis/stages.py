"""The stage registry: every graph-wide analysis as a stage with declared inputs.

A stage names the stages it needs (``needs``), the data it reads (``reads``: the layered
graph, the single events), the analysis parameters its numbers depend on (``params``,
its own; ``param_names`` adds those of its inputs) and the function that computes it from
an :class:`Inputs`. Whoever runs stages (``graph.usecases.analyse``) computes only what a
question needs, in dependency order, and can reuse a stage already computed for the same
graph version and the same *relevant* parameters: the pods of a graph do not change with
the Louvain seed, so asking again with another seed reuses them.

A new metric is one function in its own module plus one entry in ``STAGES``.

Example
-------
>>> [s.name for s in plan(["trusted"])]
['communities', 'pods', 'trusted']
>>> param_names("pods")
('count', 'min_repeats', 'min_size', 'since', 'tau', 'until')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from graph.analysis.castles import CastlesResult, castles
from graph.analysis.communities import CommunitiesResult, communities
from graph.analysis.engine import Engine, get_engine
from graph.analysis.events import Event
from graph.analysis.gatekeepers import GatekeepersResult, gatekeepers
from graph.analysis.graph import LayerGraph
from graph.analysis.nulls import NullDraws, degree_preserving_draws
from graph.analysis.params import AnalysisParams
from graph.analysis.pods import PodsResult, coordinated_pods
from graph.analysis.polarization import PolarizationResult, polarization
from graph.analysis.roles import RolesTable, account_roles
from graph.analysis.trusted import TrustedResult, trusted_voices

__all__ = ["Stage", "Inputs", "STAGES", "GRAPH", "EVENTS", "RANKED_MAX", "plan", "param_names"]

#: the longest ranking a stage keeps (gatekeepers, trusted voices): the answers page
#: through it; below the top ten thousand of a percentile-ranked score, order means little
RANKED_MAX = 10_000

#: what a stage can read besides other stages' results
GRAPH = "graph"
EVENTS = "events"

#: parameters that change which interactions are read at all
_WINDOW = ("since", "until")
#: parameters the partition depends on
_PARTITION = ("layers", "seed", "engine", "resolution", "algorithm") + _WINDOW


@dataclass
class Inputs:
    """What a stage computes from: the snapshot's graph and events (None when the run
    did not need to read them), the parameters, and the results of the stages before."""

    params: AnalysisParams
    #: the graph's id (for error messages)
    graph: str = ""
    g: LayerGraph | None = None
    events: list[Event] | None = None
    results: dict[str, Any] = field(default_factory=dict)
    #: follow events and claimed follower counts (only reach reads them)
    follows: list[Event] | None = None
    followers: dict[str, int] | None = None
    #: account id -> its value of the attribute a comparison asks about
    labels: dict[str, str] | None = None
    #: looks up the handles of some accounts (id -> handle, for those that have one): the
    #: labels of the map and the exports; None reads none (the ids are the labels)
    handles: Callable[[Sequence[str]], dict[str, str]] | None = None

    @property
    def engine(self) -> Engine:
        return get_engine(self.params.engine)

    @property
    def layers(self) -> list[str]:
        return list(self.params.layers)

    @property
    def membership(self) -> list[int]:
        return self.results["communities"].membership


@dataclass(frozen=True)
class Stage:
    name: str
    #: the stages whose results this one reads
    needs: tuple[str, ...]
    #: GRAPH and/or EVENTS
    reads: frozenset[str]
    #: the AnalysisParams fields this stage's own numbers depend on
    params: tuple[str, ...]
    #: the msgspec Struct ``compute`` returns (how a stored result is decoded)
    result_type: type
    compute: Callable[[Inputs], Any]
    #: its work is pieces for helper processes (``graph.analysis.parallel``): it starts
    #: as soon as its inputs are there, beside the stages before it
    beside: bool = False


def _communities(x: Inputs) -> CommunitiesResult:
    p = x.params
    return communities(x.g, x.layers, engine=x.engine, resolution=p.resolution, seed=p.seed,
                       algorithm=p.algorithm)


def _roles(x: Inputs) -> RolesTable:
    return account_roles(x.g, x.layers, x.membership, engine=x.engine, seed=x.params.seed)


def _gatekeepers(x: Inputs) -> GatekeepersResult:
    return gatekeepers(x.g, x.layers, x.membership, x.results["roles"], limit=RANKED_MAX)


def _pods(x: Inputs) -> PodsResult:
    return coordinated_pods(x.events, tau=x.params.tau, min_repeats=x.params.min_repeats,
                            min_size=x.params.min_size, count=x.params.count)


def _trusted(x: Inputs) -> TrustedResult:
    pod_members = {a for p in x.results["pods"].pods for a in p.members}
    return trusted_voices(x.g, x.membership, x.events, pod_members=pod_members, limit=RANKED_MAX)


def _nulls(x: Inputs) -> NullDraws:
    # one set of draws for castles and polarization: the same graph, the same question
    return degree_preserving_draws(x.g, x.layers, x.membership, engine=x.engine,
                                   samples=x.params.null_samples, seed=x.params.seed)


def _castles(x: Inputs) -> CastlesResult:
    # the closure of a community is judged on the layers it was found on
    return castles(x.g, x.membership, engine=x.engine, null_samples=x.params.null_samples,
                   seed=x.params.seed, structure_kinds=tuple(x.layers), nulls=x.results["nulls"])


def _polarization(x: Inputs) -> PolarizationResult:
    return polarization(x.g, x.layers, x.membership, engine=x.engine, seed=x.params.seed,
                        nulls=x.results["nulls"])


_G, _E, _GE = frozenset({GRAPH}), frozenset({EVENTS}), frozenset({GRAPH, EVENTS})

#: every stage, in an order that respects ``needs``
STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("communities", (), _G, _PARTITION, CommunitiesResult, _communities),
    Stage("roles", ("communities",), _G, (), RolesTable, _roles),
    Stage("gatekeepers", ("communities", "roles"), _G, (), GatekeepersResult, _gatekeepers),
    Stage("pods", (), _E, _WINDOW + ("tau", "min_repeats", "min_size", "count"), PodsResult, _pods),
    Stage("trusted", ("communities", "pods"), _GE, (), TrustedResult, _trusted),
    Stage("nulls", ("communities",), _G, ("null_samples",), NullDraws, _nulls, beside=True),
    Stage("castles", ("communities", "nulls"), _G, (), CastlesResult, _castles),
    Stage("polarization", ("communities", "nulls"), _G, (), PolarizationResult, _polarization),
)}


def plan(wanted: Iterable[str]) -> list[Stage]:
    """The stages ``wanted`` with everything they need, in registry order. Raises
    ``KeyError`` for an unknown stage."""
    todo: set[str] = set()

    def add(name: str) -> None:
        if name not in todo:
            todo.add(name)
            for n in STAGES[name].needs:
                add(n)

    for name in wanted:
        add(name)
    return [s for s in STAGES.values() if s.name in todo]


def param_names(stage: str) -> tuple[str, ...]:
    """Every parameter the stage's result depends on, its inputs' included, sorted."""
    return tuple(sorted({p for s in plan([stage]) for p in s.params}))
