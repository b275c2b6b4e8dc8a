"""The analyse use case: one answer (communities, castles, the diversity of an account, ...)
for one graph and one set of parameters, computing only the stages it needs.

Where the workers call it: ``produce`` reads the graph through the store port in one
consistent snapshot, runs the missing stages through the stage registry
(``graph.analysis.stages``), files each stage's result in the result cache as soon as it
is done (so a later question, or a retry after a worker died, reuses it), cuts the answer
(``graph.analysis.answers``) and files it, pre-encoded, under ``answer_key``: the key the
API looks up. The analysis code itself never sees the store.

Keys: a stage result is filed under (graph, version, stage, the parameters that stage
depends on), so pods computed for one Louvain seed serve every seed; an answer under
(graph, version, answer, every parameter, its arguments), so that its manifest states
exactly what was asked.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Mapping, Protocol

import msgspec

from graph.analysis.answers import DEFAULT_ANSWERS, EXPORT, FOLLOWS, FULL, LABELS, TARGETS, Target
from graph.analysis.engine import get_engine
from graph.analysis.events import Event
from graph.analysis.graph import LayerGraph
from graph.analysis.manifest import Manifest, library_versions
from graph.analysis.notes import static_time_notes
from graph.analysis.params import AnalysisParams
from graph.analysis.stages import EVENTS, GRAPH, STAGES, Inputs, Stage, param_names, plan
from graph.errors import FieldError, InvalidInput
from graph.export import FORMATS as EXPORTS
from graph.export import NEEDS as EXPORT_NEEDS
from graph.model import Kind
from graph.store.port import GraphStore

__all__ = ["produce", "answer_key", "stage_key", "Produced", "ResultCache", "StageRecord", "EVENT_KINDS"]

#: the single events the event-level stages read (coordination timing, example exchanges)
EVENT_KINDS = (Kind.REPOST, Kind.LIKE, Kind.REPLY, Kind.QUOTE)


def _export(x: Inputs, args: dict, manifest: dict):
    return EXPORTS[args["format"]].write(x, manifest)


# The exports are answers like the others (computed by a worker, filed per graph version),
# registered here because graph.export builds on graph.analysis
TARGETS[EXPORT] = Target(EXPORT, EXPORT_NEEDS, frozenset({GRAPH}), bytes, lambda x, args: {}, {"format": "gexf"},
                         _export)

#: ``progress(stage, fraction_done)``, called as steps start
Progress = Callable[[str, float], None]


class ResultCache(Protocol):
    """What the use case needs of the result cache (``graph.jobs.port.JobStore``)."""

    def get_result(self, key: str) -> bytes | None: ...

    def put_result(self, key: str, graph: str, data: bytes) -> bool: ...


class StageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stage's result as it is filed: the result itself stays encoded until used."""

    stage: str
    graph_version: str
    computed_at: datetime
    duration_seconds: float
    result: msgspec.Raw
    #: every interaction it read carries the static date (``Manifest.static_time``);
    #: ``None``: it read none, or was filed by a version that did not look
    static_time: bool | None = None


@dataclass(frozen=True)
class Produced:
    #: where the answer is filed, and the graph version it was computed on
    result_key: str
    graph_version: str


#: the shape of what is filed: moved on whenever a stage result or an answer changes shape,
#: so that results a previous release left in a shared cache are never decoded as the new
#: shape (they are simply not found, and age out)
RESULTS_FORMAT = 6


def _digest(*parts: Any) -> str:
    return hashlib.blake2b(msgspec.msgpack.encode((RESULTS_FORMAT, *parts)), digest_size=16).hexdigest()


def answer_key(graph: str, version: str, target: str, params: AnalysisParams, args: Mapping[str, Any]) -> str:
    """The cache key of one answer. ``args`` as ``TARGETS[target].arguments`` gives them.

    >>> a = answer_key("g", "v.1", "pods", AnalysisParams(), {})
    >>> a == answer_key("g", "v.1", "pods", AnalysisParams(layers=("like", "reply", "quote", "mention", "repost")), {})
    True
    >>> a == answer_key("g", "v.2", "pods", AnalysisParams(), {})
    False
    """
    return f"answer:{target}:{_digest(graph, version, target, params.key(), list(args.items()))}"


def stage_key(graph: str, version: str, stage: str, params: AnalysisParams) -> str:
    """The cache key of one stage's result: only the parameters it depends on count.

    >>> stage_key("g", "v.1", "pods", AnalysisParams(seed=1)) == stage_key("g", "v.1", "pods", AnalysisParams(seed=2))
    True
    """
    p = params.normalised()
    relevant = [(name, getattr(p, name)) for name in param_names(stage)]
    return f"stage:{stage}:{_digest(graph, version, stage, relevant)}"


def produce(
    store: GraphStore,
    cache: ResultCache,
    graph: str,
    params: AnalysisParams,
    target: str,
    args: Mapping[str, Any] | None = None,
    *,
    version: str | None = None,
    progress: Progress | None = None,
) -> Produced:
    """Computes (or finds) the answer ``target`` with ``args`` for ``graph`` and files it.

    ``version`` is the graph version the question was asked at: when every stage the
    answer needs is already filed for it and the answer reads nothing else, the store is
    not read at all. Otherwise the graph is read as it is now, in one snapshot, and the
    answer is filed for that version (``Produced.graph_version``).

    Raises ``GraphNotFound``, ``AccountNotFound`` (the account has no interaction in the
    analysed window) and ``ValueError`` for an unknown target or argument.
    """
    t = TARGETS[target]
    args = t.arguments(args or {})
    params = params.normalised()
    report = progress or (lambda stage, done: None)
    stages = plan(t.stages)

    if version is not None and not t.reads:
        records = _load(cache, graph, version, stages, params)
        if len(records) == len(stages):
            report("render", 0.9)
            return _file(cache, store.kind, graph, version, params, target, args, records, Inputs(params, graph))

    report("load", 0.0)
    reads = set(t.reads).union(*(s.reads for s in stages))
    snap = store.read_snapshot(
        graph, since=params.since, until=params.until,
        event_kinds=(EVENT_KINDS if EVENTS in reads else ()) + ((Kind.FOLLOW,) if FOLLOWS in reads else ()),
        followers=FOLLOWS in reads,
    )
    records = _load(cache, graph, snap.version, stages, params)
    todo = [s for s in stages if s.name not in records]
    needs = set(t.reads).union(*(s.reads for s in todo))
    # read only if an answer draws labels, and only for the accounts it draws
    x = Inputs(params, graph, handles=lambda ids: store.account_handles(graph, ids))
    if GRAPH in needs:
        x.g = LayerGraph.from_table(snap.table)
    if EVENTS in needs or FOLLOWS in needs:
        events = [Event(*r) for r in snap.events]
        x.events = [e for e in events if e.kind != Kind.FOLLOW.value]
        x.follows = [e for e in events if e.kind == Kind.FOLLOW.value]
        x.followers = snap.followers
    if LABELS in needs:
        # read after the snapshot: a label that changed since is read as it is now
        x.labels = store.account_labels(graph, args["attribute"])
    for s in stages:
        if s.name in records:
            x.results[s.name] = _decode(s, records[s.name])
    # a stage whose work is pieces for helper processes (the null draws) starts as soon as
    # its inputs are there: its pieces and those of the stages before it in the plan
    # (the role metrics) then keep every core busy together (graph.analysis.parallel)
    early: dict[str, Future] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="stage") as beside:
        try:
            for i, s in enumerate(todo):
                for t in todo:
                    if t.beside and t.name not in early and all(n in x.results for n in t.needs):
                        early[t.name] = beside.submit(_compute, cache, graph, snap.version, params, t, x)
                report(s.name, (i + 1) / (len(todo) + 2))
                if s.name in early:
                    records[s.name] = early[s.name].result()
                else:
                    records[s.name] = _compute(cache, graph, snap.version, params, s, x)
        finally:
            for f in early.values():
                f.cancel()
    report("render", (len(todo) + 1) / (len(todo) + 2))
    return _file(cache, store.kind, graph, snap.version, params, target, args, records, x)


def _load(cache: ResultCache, graph: str, version: str, stages: list[Stage],
          params: AnalysisParams) -> dict[str, StageRecord]:
    out = {}
    for s in stages:
        data = cache.get_result(stage_key(graph, version, s.name, params))
        if data is not None:
            out[s.name] = msgspec.msgpack.decode(data, type=StageRecord)
    return out


def _decode(stage: Stage, record: StageRecord) -> Any:
    return msgspec.msgpack.decode(record.result, type=stage.result_type)


def _compute(cache: ResultCache, graph: str, version: str, params: AnalysisParams, s: Stage,
             x: Inputs) -> StageRecord:
    started = time.perf_counter()
    result = s.compute(x)
    x.results[s.name] = result
    record = StageRecord(stage=s.name, graph_version=version, computed_at=datetime.now(timezone.utc),
                         duration_seconds=round(time.perf_counter() - started, 4),
                         result=msgspec.Raw(msgspec.msgpack.encode(result)), static_time=_static_time(x))
    # filed at once: a later question, or this job retried after its worker died, reuses it
    cache.put_result(stage_key(graph, version, s.name, params), graph, msgspec.msgpack.encode(record))
    return record


def _static_time(x: Inputs) -> bool | None:
    # a static network's edges are all dated 1970-01-01Z, epoch 0 (graph.ingest.formats.
    # static_graph); a graph of real interactions has none there
    if x.g is not None and any(len(e) for e in x.g.kinds.values()):
        return not any(e.first.any() or e.last.any() for e in x.g.kinds.values())
    if x.events:
        return not any(e.at for e in x.events)
    return None


def _file(cache: ResultCache, store_kind: str, graph: str, version: str, params: AnalysisParams,
          target: str, args: dict, records: dict[str, StageRecord], x: Inputs) -> Produced:
    for s in STAGES.values():
        if s.name in records and s.name not in x.results:
            x.results[s.name] = _decode(s, records[s.name])
    key = _render(cache, store_kind, graph, version, params, target, args, records, x)
    if target == FULL:
        # the usual questions after a full analysis are then answered without a job
        for name in DEFAULT_ANSWERS:
            _render(cache, store_kind, graph, version, params, name, TARGETS[name].arguments({}), records, x)
    return Produced(result_key=key, graph_version=version)


def _render(cache: ResultCache, store_kind: str, graph: str, version: str, params: AnalysisParams,
            target: str, args: dict, records: dict[str, StageRecord], x: Inputs) -> str:
    t = TARGETS[target]
    used = [s.name for s in plan(t.stages)]
    manifest = Manifest(
        graph=graph,
        graph_version=version,
        store=store_kind,
        layers=list(params.layers),
        since=params.since,
        until=params.until,
        parameters=params.normalised(),
        analyses=used,
        seed=params.seed,
        engine=params.engine,
        libraries=dict(_libraries(params.engine)),
        static_time=next((records[s].static_time for s in used if records[s].static_time is not None), None),
        computed_at=max(records[s].computed_at for s in used),
        duration_seconds=round(sum(records[s].duration_seconds for s in used), 4),
    )
    key = answer_key(graph, version, target, params, args)
    if t.write is not None:
        body = b"".join(t.write(x, args, msgspec.to_builtins(manifest)))
        if not cache.put_result(key, graph, body):
            # a file the result cache cannot hold would be computed and lost: say so
            raise InvalidInput([FieldError(
                "format", f"the {args.get('format')} export is {len(body) >> 20} MiB, more than half the result"
                          " cache (CASTLEGATE_RESULTS_MAX_BYTES): run `castlegate export` next to the store")])
        return key
    fields = t.render(x, args) | {"manifest": msgspec.to_builtins(manifest)}
    # what only the manifest knows: the interactions carry no time (a static import)
    fields["notes"] = [*fields.get("notes", ()), *static_time_notes(manifest.static_time, params, target)]
    body = msgspec.json.encode(msgspec.convert(fields, t.answer))
    cache.put_result(key, graph, body)
    return key


@lru_cache(maxsize=None)
def _libraries(engine: str) -> dict[str, str]:
    return get_engine(engine).versions() | library_versions("castlegate", "numpy", "scipy", "networkx", "msgspec")
