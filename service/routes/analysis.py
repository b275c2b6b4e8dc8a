"""Analysis endpoints: communities, roles, gatekeepers, trusted voices, castles, pods,
polarization, reach, diversity; and the analysis jobs.

A handler parses its parameters and asks ``service.analyses.Analyses`` for the answer:
the pre-encoded bytes when the result cache has them (or a worker computes them within
the short wait), else 202 with the job. Nothing here computes.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_304_NOT_MODIFIED

from graph.analysis.answers import (
    DEFAULT_ANSWERS, FULL, CastlesAnswer, CommunitiesAnswer, CompareAnswer, MapAnswer, MembersAnswer,
    StabilityAnswer, DiversityAnswer, GatekeepersAnswer,
    PodsAnswer, PolarizationAnswer, ReachAnswer, RolesAnswer, TrustedAnswer,
)
from graph.analysis.engine import ENGINES
from graph.analysis.networkmap import LEVELS as MAP_LEVELS
from graph.export import FORMATS as EXPORTS
from graph.analysis.params import ALGORITHMS, AnalysisParams
from graph.analysis.pods import COUNTS
from graph.errors import FieldError, InvalidInput
from graph.ingest.validate import split_error
from graph.jobs.model import Job, JobStatus
from graph.jobs.port import JobNotFound
from graph.keys import reaches
from graph.model import Kind
from service.analyses import Analyses
from service.auth import caller
from service.held import ANSWER_CACHING, IF_NONE_MATCH_MAX, asked, matches
from service.openapi import json_body, problems
from service.paging import After, Limit, cut
from service.routes.graphs import AccountPath, GraphPath
from service.wire import JOB_STATES, CompareRequest, JobArguments, JobLinks, JobOut, JobsPage, ReachRequest

_PARAMS = {f.name: f.type for f in msgspec.inspect.type_info(AnalysisParams).fields}


def _bounds(name: str) -> dict[str, float]:
    """The bounds ``AnalysisParams`` puts on a number, for its query parameter: one rule,
    declared once, enforced at the door (400) and stated in the document."""
    t = _PARAMS[name]
    return {k: getattr(t, k) for k in ("gt", "ge", "lt", "le") if getattr(t, k) is not None}


_KINDS = "|".join(k.value for k in Kind)
#: ``layers`` in a query: kinds separated by commas, spaces around them allowed. The
#: document states this pattern and ``params_from`` enforces it (422 naming layers)
LAYERS_PATTERN = rf"^ *({_KINDS}) *(, *({_KINDS}) *)*$"
Layers = Annotated[str | None, QueryParameter(
    description="comma-separated kinds: reply, quote, mention, repost, like, follow"
                " (default: reply, quote, mention, repost, like)",
    schema_extra={"pattern": LAYERS_PATTERN})]
Since = Annotated[str | None, QueryParameter(format="date-time",
                                             description="RFC 3339 with a timezone; interactions at or after")]
Until = Annotated[str | None, QueryParameter(format="date-time",
                                             description="RFC 3339 with a timezone; interactions before")]
# numbers are not Optional: the framework would read "null" as left out
Seed = Annotated[int, QueryParameter(**_bounds("seed"), description="random seed")]
EngineQ = Annotated[str | None, QueryParameter(
    title="Engine", enum=list(ENGINES), description="fast (igraph/NetworKit, default) or reference (networkx)")]
Resolution = Annotated[float, QueryParameter(**_bounds("resolution"), description="Louvain resolution")]
NullSamples = Annotated[int, QueryParameter(
    **_bounds("null_samples"), description="degree-preserving rewirings (at most CASTLEGATE_MAX_NULL_SAMPLES)")]
Tau = Annotated[float, QueryParameter(**_bounds("tau"), description="seconds")]
MinRepeats = Annotated[int, QueryParameter(**_bounds("min_repeats"),
                                            description="co-actions needed to link two accounts")]
MinSize = Annotated[int, QueryParameter(**_bounds("min_size"),
                                        description="smallest pod reported (2: linked pairs too)")]
PodCount = Annotated[str, QueryParameter(
    title="PodCount", enum=list(COUNTS),
    description="what a pair's weight counts: objects (distinct objects, default) or messages"
                " (every act, per direction: the QUT Coordination Network Toolkit's co-retweet weight)")]
#: the defaults of the numbers above
DEFAULT = AnalysisParams()
MembersLimit = Annotated[int, QueryParameter(
    ge=0, le=1000, description="cut each community's members list (`size` counts them all;"
                               " `/communities/{community}/members` pages through every one)")]
PairsLimit = Annotated[int, QueryParameter(
    ge=0, le=1000, description="cut each pod's `edges` to its strongest pairs (`edges_total` counts them all)")]
AlgorithmQ = Annotated[str | None, QueryParameter(
    title="Algorithm", enum=list(ALGORITHMS),
    description="louvain (default) or leiden (every community connected; fast engine only)")]
MapLevel = Annotated[str, QueryParameter(
    title="MapLevel", enum=list(MAP_LEVELS), description="auto (default), accounts or communities")]
ExportFormat = Annotated[str, QueryParameter(
    title="ExportFormat", enum=list(EXPORTS), description="gexf (default), graphml or csv")]
CommunityPath = Annotated[int, PathParameter(ge=0, le=2**31 - 1, description="community id (from /communities)")]
JobPath = Annotated[str, PathParameter(max_length=64, description="job id")]
IfNoneMatch = Annotated[str | None, HeaderParameter(
    name="If-None-Match", max_length=IF_NONE_MATCH_MAX,
    description="ETags of answers the client holds: 304 without a body when the answer is one of them")]

#: the GET route of each answer, for links (reach is a POST: its answer is the job's result)
_ROUTES = {
    "communities": "communities", "members": "communities/{community}/members", "export": "export", "map": "map",
    "stability": "communities/stability", "gatekeepers": "gatekeepers", "trusted-voices": "trusted-voices",
    "castles": "castles", "pods": "pods", "polarization": "polarization",
    "roles": "accounts/{account}/roles", "diversity": "accounts/{account}/diversity",
}


def params_from(**given: Any) -> AnalysisParams:
    """Query parameters -> AnalysisParams, with errors naming the parameter."""
    raw = {k: v for k, v in given.items() if v is not None}
    if isinstance(raw.get("layers"), str):
        if not re.fullmatch(LAYERS_PATTERN, raw["layers"]):
            raise InvalidInput([FieldError("layers", f"comma-separated kinds, each one of {', '.join(Kind)}; "
                                                     f"got {raw['layers'][:200]!r}")])
        raw["layers"] = [x.strip() for x in raw["layers"].split(",")]
    for k in ("since", "until"):
        if isinstance(raw.get(k), datetime):  # from a body: already read as RFC 3339
            raw[k] = raw[k].isoformat()
    try:
        return in_utc(msgspec.convert(raw, AnalysisParams))
    except msgspec.ValidationError as e:
        field, message = split_error(str(e))
        raise InvalidInput([FieldError(field or "query", message)]) from None


def in_utc(p: AnalysisParams) -> AnalysisParams:
    """``since`` and ``until`` as the workers read them, in UTC, where some RFC 3339 times
    do not exist (0001-01-01T00:00:00+02:00 falls in the year 0): 422 for those."""
    errors = []
    for name in ("since", "until"):
        value = getattr(p, name)
        if value is not None and value.tzinfo is not None:
            try:
                value.astimezone(timezone.utc)
            except OverflowError:
                errors.append(FieldError(name, "out of range: a time between the years 1 and 9999 in UTC"))
    if errors:
        raise InvalidInput(errors)
    return p


def answer_url(graph: str, target: str, params: dict, args: dict) -> str | None:
    """The GET URL that asks exactly this question again (None for reach, a POST)."""
    route = _ROUTES.get(target)
    if route is None:
        return None
    path = f"/v1/graphs/{quote(graph, safe='')}/" + route.format(account=quote(str(args.get("account")), safe=""),
                                                                 community=args.get("community"))
    query = [(k, ",".join(v) if isinstance(v, list) else v) for k, v in params.items() if v is not None]
    query += [(k, v) for k, v in args.items() if k not in ("account", "community") and v is not None]
    return f"{path}?{urlencode(query)}"


def job_out(job: Job) -> JobOut:
    links = {"self": f"/v1/analyses/{job.id}"}
    if job.status == JobStatus.DONE:
        links["result"] = f"/v1/analyses/{job.id}/result"
        if job.target == FULL:
            links |= {name: answer_url(job.graph, name, job.params, {}) for name in DEFAULT_ANSWERS}
        elif (url := answer_url(job.graph, job.target, job.params, job.args)) is not None:
            links["answer"] = url
    return JobOut(
        id=job.id, graph=job.graph, target=job.target, graph_version=job.graph_version, status=job.status,
        stage=job.stage, progress=job.progress, error=job.error, error_kind=job.error_kind,
        parameters=msgspec.convert(job.params, AnalysisParams), arguments=msgspec.convert(job.args, JobArguments),
        attempts=job.attempts, created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        links=msgspec.convert(links, JobLinks),
    )


def _accepted(job: Job) -> Response:
    return Response(
        content=job_out(job),
        status_code=HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/analyses/{job.id}", "Retry-After": "2"},
    )


#: the GET routes whose answers ``service/held.py`` may serve
ANSWER_ROUTES = {"communities", "members", "stability", "map", "roles", "gatekeepers", "trusted", "castles", "pods", "polarization", "diversity"}


async def respond(analyses: Analyses, graph: str, params: AnalysisParams, target: str,
                  args: dict | None = None, if_none_match: str | None = None, *,
                  media_type: str = "application/json", headers: dict[str, str] | None = None) -> Response:
    """A held answer straight from the event loop; anything that needs the store, the
    result cache or a wait in a worker thread. The parsed question is told to the
    held-answers middleware (``service/held.py``), which answers the next request of the
    same shape itself."""
    params, args = analyses.question(params, target, args)
    asked(graph, target, params, args)
    out = analyses.hot_answer(graph, params, target, args)
    if out is None:
        out = await to_thread.run_sync(analyses.answer, graph, params, target, args)
    if isinstance(out, Job):
        return _accepted(out)
    headers = {"ETag": out.etag, "Cache-Control": ANSWER_CACHING} | (headers or {})
    if if_none_match is not None and matches(if_none_match, out.etag):
        return Response(content=None, status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=out.body, media_type=media_type, headers=headers)




#: what an analysis answer can be refused for, beyond the guard's answers
_ANSWER_PROBLEMS = {
    409: "the job computing this answer was cancelled",
    422: "invalid parameters (layers, engine, until not after since, a time without its timezone or out of the"
         " years 1-9999 in UTC, null_samples above CASTLEGATE_MAX_NULL_SAMPLES), named in errors",
    429: "the graph has CASTLEGATE_MAX_ACTIVE_JOBS_PER_GRAPH analyses queued or running",
    503: "the job computing it hit its time limit (CASTLEGATE_JOB_TIME_LIMIT) or outlived its workers",
}


_NO_ACCOUNT = "the account has no interaction in the analysed layers and window"


def _responses(kind: type, more: dict[int, str] | None = None) -> dict:
    return {
        200: ResponseSpec(data_container=kind, generate_examples=False,
                          description="the result, with the manifest of its analysis; its ETag names this"
                                      " graph version's answer to this question"),
        304: ResponseSpec(data_container=None, generate_examples=False,
                          description="If-None-Match named the answer's ETag: the client's copy is current"),
        202: ResponseSpec(data_container=JobOut, generate_examples=False,
                          description="not cached, and not computed within the wait: follow the job"),
        **problems(_ANSWER_PROBLEMS | (more or {})),
    }


class AnalysisController(Controller):
    path = "/v1/graphs/{graph:str}"
    tags = ["analysis"]

    @get("/communities", operation_id="communities", responses=_responses(CommunitiesAnswer),
         summary="Louvain communities with modularity and per-community structure, largest first (paged)")
    async def communities(self, state: State, graph: GraphPath, limit: Limit = 100, after: After = None,
                          members_limit: MembersLimit = 100, layers: Layers = None, since: Since = None,
                          until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                          resolution: Resolution = DEFAULT.resolution,
                          algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        """Default layers: reply, quote, mention, repost, like. ``items`` is one page of
        communities, ``next`` the ``after`` of the next page. Each community lists its
        first ``members_limit`` members (``size`` is always the full count); its members
        page by page: ``/communities/{community}/members``."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "communities",
                             {"limit": limit, "after": after, "members_limit": members_limit},
                             if_none_match=if_none_match)

    @get("/communities/{community:int}/members", operation_id="communityMembers",
         responses=_responses(MembersAnswer, {404: "no community with this id in this analysis"}),
         summary="Every member of one community, page by page")
    async def members(self, state: State, graph: GraphPath, community: CommunityPath, limit: Limit = 1000,
                      after: After = None, layers: Layers = None, since: Since = None, until: Until = None,
                      seed: Seed = DEFAULT.seed, engine: EngineQ = None, resolution: Resolution = DEFAULT.resolution,
                      algorithm: AlgorithmQ = None,
                      if_none_match: IfNoneMatch = None) -> Response:
        """The community ids are those of ``/communities`` with the same parameters."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "members",
                             {"community": community, "limit": limit, "after": after}, if_none_match=if_none_match)

    @get("/communities/stability", operation_id="communityStability", responses=_responses(StabilityAnswer),
         summary="How often each community's members stay together when the detection runs with other seeds")
    async def stability(self, state: State, graph: GraphPath,
                        runs: Annotated[int, QueryParameter(ge=1, le=20, description="other seeds to run")] = 5,
                        limit: Limit = 100, after: After = None, layers: Layers = None, since: Since = None,
                        until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                        resolution: Resolution = DEFAULT.resolution, algorithm: AlgorithmQ = None,
                        if_none_match: IfNoneMatch = None) -> Response:
        """The communities of ``/communities`` with the same parameters; each with the mean
        share of its member pairs that ``runs`` runs with seeds ``seed + 1`` ... keep
        together (1: always whole; low: an accident of one seed)."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "stability", {"runs": runs, "limit": limit, "after": after},
                             if_none_match=if_none_match)

    @post("/communities/compare", operation_id="compareCommunities", status_code=200, opt={"scope": "read"},
          **json_body(CompareRequest),
          responses=_responses(CompareAnswer),
          summary="The communities against an attribute the accounts carry (e.g. party): purity, NMI, ARI, label mix")
    async def compare(self, state: State, graph: GraphPath, payload: NamedDependency[CompareRequest],
                      limit: Limit = 100, after: After = None, layers: Layers = None, since: Since = None,
                      until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                      resolution: Resolution = DEFAULT.resolution, algorithm: AlgorithmQ = None) -> Response:
        """``{"attribute": "party"}``: over the accounts in the partition that carry it
        (``POST /accounts`` with ``attributes``), how well the communities of ``/communities``
        (same parameters) match it: purity, NMI and ARI, and each community's label mix."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "compare",
                             {"attribute": payload.attribute, "limit": limit, "after": after})

    @get("/accounts/{account:str}/roles", operation_id="accountRoles",
         responses=_responses(RolesAnswer, {404: _NO_ACCOUNT}),
         summary="One account's structural roles: module z, participation, brokerage, constraint, centralities")
    async def roles(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
                    since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                    resolution: Resolution = DEFAULT.resolution,
                    algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        """404 when the account has no interaction in the analysed layers and window."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "roles", {"account": account}, if_none_match=if_none_match)

    @get("/gatekeepers", operation_id="gatekeepers", responses=_responses(GatekeepersAnswer),
         summary="Accounts ranked by how much they carry information across community borders")
    async def gatekeepers(self, state: State, graph: GraphPath, limit: Limit = 20, after: After = None,
                          layers: Layers = None,
                          since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                          resolution: Resolution = DEFAULT.resolution,
                          algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "gatekeepers", {"limit": limit, "after": after}, if_none_match=if_none_match)

    @get("/trusted-voices", operation_id="trustedVoices", responses=_responses(TrustedAnswer),
         summary="Accounts many distinct others converse with, across communities")
    async def trusted(self, state: State, graph: GraphPath, limit: Limit = 20, after: After = None,
                      layers: Layers = None,
                      since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                      resolution: Resolution = DEFAULT.resolution,
                      algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "trusted-voices", {"limit": limit, "after": after},
                             if_none_match=if_none_match)

    @get("/castles", operation_id="castles", responses=_responses(CastlesAnswer),
         summary="Every community's castle score, its components as z-scores against a null model")
    async def castles(self, state: State, graph: GraphPath, limit: Limit = 100, after: After = None,
                      layers: Layers = None, since: Since = None,
                      until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                      resolution: Resolution = DEFAULT.resolution,
                      algorithm: AlgorithmQ = None, null_samples: NullSamples = DEFAULT.null_samples,
                      if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, algorithm=algorithm, null_samples=null_samples)
        return await respond(state.analyses, graph, p, "castles", {"limit": limit, "after": after},
                             if_none_match=if_none_match)

    @get("/pods", operation_id="pods", responses=_responses(PodsAnswer),
         summary="Coordinated amplification: accounts that amplify the same object within tau seconds, repeatedly")
    async def pods(self, state: State, graph: GraphPath, limit: Limit = 20, after: After = None,
                   pairs_limit: PairsLimit = 100, tau: Tau = DEFAULT.tau, min_repeats: MinRepeats = DEFAULT.min_repeats,
                   min_size: MinSize = DEFAULT.min_size, count: PodCount = DEFAULT.count, layers: Layers = None, since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed,
                   engine: EngineQ = None, resolution: Resolution = DEFAULT.resolution, algorithm: AlgorithmQ = None,
                   if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, algorithm=algorithm, tau=tau, min_repeats=min_repeats,
                        min_size=min_size, count=count)
        return await respond(state.analyses, graph, p, "pods",
                             {"limit": limit, "after": after, "pairs_limit": pairs_limit}, if_none_match=if_none_match)

    @get("/polarization", operation_id="polarization", responses=_responses(PolarizationAnswer),
         summary="Graph-level polarization: modularity (raw and against a null model), assortativity, RWC, cross-community conversation")
    async def polarization(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                           until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                           resolution: Resolution = DEFAULT.resolution,
                           algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "polarization", if_none_match=if_none_match)

    @get("/map", operation_id="networkMap", responses=_responses(MapAnswer),
         summary="Positions and marks for drawing the network: accounts, or communities first for a big graph")
    async def map(self, state: State, graph: GraphPath, level: MapLevel = "auto",
                  # not Optional: the framework would read "community=null" as left out
                  community: Annotated[int, QueryParameter(
                      ge=-1, le=2**31 - 1,
                      description="draw only this community's accounts (drill-down); -1 (default): all")] = -1,
                  layers: Layers = None, since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed,
                  engine: EngineQ = None, resolution: Resolution = DEFAULT.resolution, algorithm: AlgorithmQ = None,
                  null_samples: NullSamples = DEFAULT.null_samples, if_none_match: IfNoneMatch = None) -> Response:
        """What the map page draws (``/ui``): nodes with positions (force-directed,
        seeded: the same graph version and seed give the same picture), community colours,
        castle and pod marks, gatekeeper and trusted-voice scores; edges weighted by
        interactions. ``level=auto`` draws accounts up to 2,000 analysed accounts, else
        one node per community; ``community`` drills into one."""
        if level not in MAP_LEVELS:
            raise InvalidInput([FieldError("level", f"one of {', '.join(MAP_LEVELS)}; got {level[:64]!r}")])
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm,
                        null_samples=null_samples)
        return await respond(state.analyses, graph, p, "map",
                             {"level": level, "community": None if community < 0 else community},
                             if_none_match=if_none_match)

    @get("/export", operation_id="exportGraph",
         responses={**_responses(bytes), 200: ResponseSpec(
             data_container=bytes, media_type="application/octet-stream", generate_examples=False,
             description="the file, as an attachment: application/gexf+xml (gexf), application/graphml+xml"
                         " (graphml) or application/zip (csv: nodes.csv, edges.csv, meta.json); its ETag"
                         " names this graph version's export with these parameters")},
         summary="The graph as a file for Gephi, networkx or pandas, with every analysis as node attributes")
    async def export(self, state: State, graph: GraphPath, format: ExportFormat = "gexf", layers: Layers = None,
                     since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                     resolution: Resolution = DEFAULT.resolution,
                     algorithm: AlgorithmQ = None, null_samples: NullSamples = DEFAULT.null_samples,
                     tau: Tau = DEFAULT.tau, min_repeats: MinRepeats = DEFAULT.min_repeats,
                     if_none_match: IfNoneMatch = None) -> Response:
        """One node per account (community, castle flag, pods, role, gatekeeper and
        trusted-voice scores, role metrics), one edge per (source, target, kind) with the
        count and the first and last time. GEXF is dynamic (each edge's spell from its
        first to its last interaction: Gephi's timeline replays it) and coloured by
        community. Computed by a worker like any answer (202 and the job when it takes
        longer than the wait)."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm,
                        null_samples=null_samples, tau=tau, min_repeats=min_repeats)
        kind = EXPORTS.get(format)
        if kind is None:
            raise InvalidInput([FieldError("format", f"one of {', '.join(EXPORTS)}; got {format[:64]!r}")])
        name = f"{graph}.{kind.extension}"
        disposition = (f'attachment; filename="{re.sub(r"[^A-Za-z0-9._-]", "_", name)}";'
                       f" filename*=UTF-8''{quote(name, safe='')}")
        return await respond(state.analyses, graph, p, "export", {"format": format}, if_none_match,
                             media_type=kind.media_type, headers={"Content-Disposition": disposition})

    @get("/accounts/{account:str}/diversity", operation_id="accountDiversity",
         responses=_responses(DiversityAnswer, {404: _NO_ACCOUNT}),
         summary="How diverse one account's listening (follows) and conversation are, across communities")
    async def diversity(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
                        since: Since = None, until: Until = None, seed: Seed = DEFAULT.seed, engine: EngineQ = None,
                        resolution: Resolution = DEFAULT.resolution,
                        algorithm: AlgorithmQ = None, if_none_match: IfNoneMatch = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution,
                        algorithm=algorithm)
        return await respond(state.analyses, graph, p, "diversity", {"account": account}, if_none_match=if_none_match)

    @post("/reach", operation_id="reach", status_code=200, opt={"scope": "read"},
          **json_body(ReachRequest),
          responses=_responses(ReachAnswer, {422: _ANSWER_PROBLEMS[422] + "; or neither accounts nor objects"}),
          summary="Claimed vs de-duplicated vs conversational reach, and who supplies the claim")
    async def reach(self, state: State, graph: GraphPath, payload: NamedDependency[ReachRequest],
                    seed: Seed = DEFAULT.seed, engine: EngineQ = None, resolution: Resolution = DEFAULT.resolution,
                    algorithm: AlgorithmQ = None,
                    layers: Layers = None) -> Response:
        """Castle and pod members come from the analysis for the same window and
        parameters; the answer's manifest is that analysis'."""
        if not payload.accounts and not payload.objects:
            raise InvalidInput([FieldError("accounts", "give accounts, objects or both")])
        p = params_from(layers=layers, since=payload.since, until=payload.until, seed=seed, engine=engine,
                        resolution=resolution, algorithm=algorithm)
        # sorted and de-duplicated: the same question in another order is one cache entry
        args = {"accounts": sorted(set(payload.accounts)), "objects": sorted(set(payload.objects))}
        return await respond(state.analyses, graph, p, "reach", args)


@post("/v1/graphs/{graph:str}/analyses", operation_id="startAnalysis", tags=["analysis"],
      status_code=HTTP_202_ACCEPTED, sync_to_thread=True, opt={"scope": "read"}, **json_body(AnalysisParams),
      responses=problems({422: _ANSWER_PROBLEMS[422],
                          429: _ANSWER_PROBLEMS[429]}),
      summary="Start (or find) a background analysis of every graph-wide stage")
def start_analysis(state: State, graph: GraphPath, payload: NamedDependency[AnalysisParams]) -> Response:
    """Answers 202 with the job; an identical job (same graph version and parameters)
    is returned instead of starting another, and a cached result gives a job that is
    already done. When done, its links lead to the usual answers, already computed."""
    return _accepted(state.analyses.start(graph, in_utc(payload), FULL))


@get("/v1/analyses", operation_id="listAnalyses", tags=["analysis"], sync_to_thread=True,
     responses=problems({404: "no job `after` (or one of a graph the key does not reach)"}),
     summary="Analysis jobs of the graphs this key reaches, newest first")
def list_analyses(
    request: Request,
    state: State,
    graph: Annotated[str | None, QueryParameter(max_length=128, description="only this graph's jobs")] = None,
    status: Annotated[str | None, QueryParameter(title="JobStatus", enum=list(JOB_STATES), description="only jobs in this state")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500, description="how many items to list (one page)")] = 50,
    after: Annotated[str | None, QueryParameter(max_length=64, description="the `next` of the page before")] = None,
) -> JobsPage:
    if status is not None and status not in JOB_STATES:
        raise ValidationException(f"status must be one of {', '.join(JOB_STATES)}",
                                  extra=[{"key": "status", "source": "query", "message": f"got {status[:64]!r}"}])
    key = caller(request)
    if graph is not None and not reaches(key, graph):
        return JobsPage(items=[], next=None)  # as for a graph without jobs: nothing to enumerate
    jobs_store = state.analyses.jobs
    if after is not None:
        _job_of(request, state, after)  # a job of another key's graph is not a cursor either
    page: list[Job] = []
    cursor, scanned = after, 0
    # a key that reaches only some graphs sees only their jobs: read on until the page is full
    while len(page) <= limit and scanned < _SCAN_MAX:
        batch = jobs_store.list(graph=graph, status=status, limit=limit + 1, after=cursor)
        scanned += len(batch)
        page += [j for j in batch if reaches(key, j.graph)]
        if len(batch) < limit + 1:
            break
        cursor = batch[-1].id
    page, nxt = cut(page, limit, lambda j: j.id)
    return JobsPage(items=[job_out(j) for j in page], next=nxt)


#: jobs read at most to fill one page for a key that reaches few graphs
_SCAN_MAX = 5_000


def _job_of(request: Request, state: State, job_id: str) -> Job:
    """The job, when the key reaches its graph; else not found, as for no job at all."""
    job = state.analyses.jobs.get(job_id)
    if not reaches(caller(request), job.graph):
        raise JobNotFound(job_id)
    return job


@get("/v1/analyses/{job:str}", operation_id="getAnalysis", tags=["analysis"], sync_to_thread=True,
     summary="Status and progress of an analysis job; links to the results when done",
     # without it the document would take the thread wrapper's docstring
     description="Poll it until ``status`` is done, failed or cancelled; ``links.result`` (and"
                 " ``links.answer``) then give what it computed.")
def get_analysis(request: Request, state: State, job: JobPath) -> JobOut:
    return job_out(_job_of(request, state, job))


@get("/v1/analyses/{job:str}/result", operation_id="getAnalysisResult", tags=["analysis"], sync_to_thread=True,
     responses=problems({404: "the result was evicted from the result cache since: ask again",
                         409: "the job is not done (queued, running, failed or cancelled)"}),
     summary="The answer a finished job computed (409 while it is not done)")
def get_analysis_result(request: Request, state: State, job: JobPath) -> Response:
    """The same bytes the answer's own endpoint gives (for reach, the only way to read a
    result computed in the background). 404 when it was evicted from the result cache
    since: ask again."""
    j = _job_of(request, state, job)
    if j.status != JobStatus.DONE:
        raise HTTPException(status_code=409, detail=f"job {j.id} is {j.status}, not done")
    return Response(content=state.analyses.result(j), media_type="application/json")


@delete("/v1/analyses/{job:str}", operation_id="cancelAnalysis", tags=["analysis"], status_code=200,
        sync_to_thread=True, summary="Cancel a queued or running job; its worker stops within seconds")
def cancel_analysis(request: Request, state: State, job: JobPath) -> JobOut:
    """The job becomes ``cancelled`` at once; a running analysis is stopped (its process
    killed) within a couple of seconds. A finished job is answered unchanged."""
    return job_out(state.analyses.cancel(_job_of(request, state, job).id))
