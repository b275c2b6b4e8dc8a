"""Analysis endpoints: communities, roles, gatekeepers, trusted voices, castles, pods,
polarization, reach, diversity; and analysis jobs.

Every answer carries the manifest of the analysis it was cut from. Answers come from the
cache for the graph's current version and parameters; on a miss a small graph is analysed
in the request and a large one answers 202 with a job link (``service/jobs.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Callable

import msgspec
from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from graph.analysis.params import AnalysisParams
from graph.analysis.pipeline import Bundle, account_diversity
from graph.analysis.reach import reach
from graph.analysis.roles import roles_of
from graph.errors import AccountNotFound, FieldError, InvalidInput
from graph.ingest.validate import split_error
from graph.model import Kind
from service.answers import (
    CastlesAnswer, CommunitiesAnswer, DiversityAnswer, GatekeepersAnswer, PodsAnswer,
    PolarizationAnswer, ReachAnswer, RolesAnswer, TrustedAnswer,
)
from service.jobs import Analyses, Job
from service.routes.graphs import AccountPath, GraphPath
from service.wire import JobOut, ReachRequest

Layers = Annotated[
    str | None,
    QueryParameter(description="comma-separated kinds: reply, quote, mention, repost, like, follow"),
]
Since = Annotated[datetime | None, QueryParameter(description="RFC 3339; interactions at or after")]
Until = Annotated[datetime | None, QueryParameter(description="RFC 3339; interactions before")]
Seed = Annotated[int | None, QueryParameter(description="random seed (default 0)")]
EngineQ = Annotated[str | None, QueryParameter(description="fast (igraph/NetworKit, default) or reference (networkx)")]
Resolution = Annotated[float | None, QueryParameter(description="Louvain resolution (default 1)")]
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="how many items to list")]


def params_from(**given: Any) -> AnalysisParams:
    """Query parameters -> AnalysisParams, with errors naming the parameter."""
    raw = {k: v for k, v in given.items() if v is not None}
    if isinstance(raw.get("layers"), str):
        raw["layers"] = [x.strip() for x in raw["layers"].split(",") if x.strip()]
    for k in ("since", "until"):
        if isinstance(raw.get(k), datetime):
            raw[k] = raw[k].isoformat()
    try:
        return msgspec.convert(raw, AnalysisParams)
    except msgspec.ValidationError as e:
        field, message = split_error(str(e))
        raise InvalidInput([FieldError(field or "query", message)]) from None


def job_out(job: Job) -> JobOut:
    links = {"self": f"/v1/analyses/{job.id}"}
    if job.status == "done":
        base = f"/v1/graphs/{job.graph}"
        q = _query(job.params)
        links |= {name: f"{base}/{name}{q}" for name in
                  ("communities", "gatekeepers", "trusted-voices", "castles", "pods", "polarization")}
    return JobOut(
        id=job.id, graph=job.graph, graph_version=job.graph_version, status=job.status,
        stage=job.stage, progress=job.progress, error=job.error, parameters=job.params.as_dict(),
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at, links=links,
    )


def _query(p: AnalysisParams) -> str:
    parts = [f"layers={','.join(p.layers)}", f"seed={p.seed}", f"engine={p.engine}", f"resolution={p.resolution}",
             f"tau={p.tau}", f"min_repeats={p.min_repeats}", f"null_samples={p.null_samples}"]
    if p.since:
        parts.append(f"since={p.since.isoformat()}")
    if p.until:
        parts.append(f"until={p.until.isoformat()}")
    return "?" + "&".join(parts).replace("+", "%2B")


def _accepted(job: Job) -> Response:
    return Response(
        content=job_out(job),
        status_code=HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/analyses/{job.id}", "Retry-After": "2"},
    )


def answer(analyses: Analyses, graph: str, params: AnalysisParams, endpoint: str, args: tuple,
           kind: type, render: Callable[[Bundle], dict]) -> Response:
    """The cached, pre-encoded answer when there is one; else compute (small graph) or
    202 with a job (large graph). ``render`` gives the fields of ``kind`` but the
    manifest."""
    result = analyses.get_or_start(graph, params)
    if isinstance(result, Job):
        return _accepted(result)
    key = (analyses.key(graph, result.graph_version, params), endpoint, args)
    body = analyses.encoded.get(key)
    if body is None:
        fields = render(result)
        body = msgspec.json.encode(msgspec.convert(fields | {"manifest": msgspec.to_builtins(result.manifest)}, kind))
        analyses.encoded[key] = body
    return Response(content=body, media_type="application/json")


def _responses(kind: type) -> dict:
    return {
        200: ResponseSpec(data_container=kind, generate_examples=False,
                          description="the result, with the manifest of its analysis"),
        202: ResponseSpec(data_container=JobOut, generate_examples=False, description="not cached and too large to compute in the request: follow the job"),
    }


def _node(bundle: Bundle, account: str) -> int:
    i = bundle.g.index.get(account)
    if i is None:
        raise AccountNotFound(bundle.graph, account)
    return i


class AnalysisController(Controller):
    path = "/v1/graphs/{graph:str}"
    tags = ["analysis"]

    @get("/communities", operation_id="communities", responses=_responses(CommunitiesAnswer), sync_to_thread=True,
         summary="Louvain communities with modularity and per-community structure")
    def communities(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                    until: Until = None, seed: Seed = None, engine: EngineQ = None,
                    resolution: Resolution = None,
                    members_limit: Annotated[int | None, QueryParameter(ge=0, description="cut each members list (default: all)")] = None,
                    ) -> Response:
        """Default layers: reply, quote, mention, repost, like. ``members`` lists every
        account of a community unless ``members_limit`` cuts it (``size`` is always the
        full count)."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)

        def render(b: Bundle) -> dict:
            out = msgspec.to_builtins(b.communities)
            out.pop("membership", None)
            if members_limit is not None:
                for c in out["communities"]:
                    c["members"] = c["members"][:members_limit]
            return out

        return answer(state.analyses, graph, p, "communities", (members_limit,), CommunitiesAnswer, render)

    @get("/accounts/{account:str}/roles", operation_id="accountRoles", responses=_responses(RolesAnswer), sync_to_thread=True,
         summary="One account's structural roles: module z, participation, brokerage, constraint, centralities")
    def roles(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
              since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
              resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)

        def render(b: Bundle) -> dict:
            _node(b, account)
            return {"account": account, "roles": msgspec.to_builtins(roles_of(b.roles, account))}

        return answer(state.analyses, graph, p, "roles", (account,), RolesAnswer, render)

    @get("/gatekeepers", operation_id="gatekeepers", responses=_responses(GatekeepersAnswer), sync_to_thread=True,
         summary="Accounts ranked by how much they carry information across community borders")
    def gatekeepers(self, state: State, graph: GraphPath, limit: Limit = 20, layers: Layers = None,
                    since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                    resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)

        def render(b: Bundle) -> dict:
            out = msgspec.to_builtins(b.gatekeepers)
            out["gatekeepers"] = out.pop("items")[:limit]
            return out

        return answer(state.analyses, graph, p, "gatekeepers", (limit,), GatekeepersAnswer, render)

    @get("/trusted-voices", operation_id="trustedVoices", responses=_responses(TrustedAnswer), sync_to_thread=True,
         summary="Accounts many distinct others converse with, across communities")
    def trusted(self, state: State, graph: GraphPath, limit: Limit = 20, layers: Layers = None,
                since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)

        def render(b: Bundle) -> dict:
            out = msgspec.to_builtins(b.trusted)
            out["voices"] = out["voices"][:limit]
            return out

        return answer(state.analyses, graph, p, "trusted-voices", (limit,), TrustedAnswer, render)

    @get("/castles", operation_id="castles", responses=_responses(CastlesAnswer), sync_to_thread=True,
         summary="Every community's castle score, its components as z-scores against a null model")
    def castles(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                until: Until = None, seed: Seed = None, engine: EngineQ = None, resolution: Resolution = None,
                null_samples: Annotated[int | None, QueryParameter(description="degree-preserving rewirings (default 20)")] = None,
                ) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, null_samples=null_samples)
        return answer(state.analyses, graph, p, "castles", (), CastlesAnswer, lambda b: msgspec.to_builtins(b.castles))

    @get("/pods", operation_id="pods", responses=_responses(PodsAnswer), sync_to_thread=True,
         summary="Coordinated amplification: accounts that amplify the same object within tau seconds, repeatedly")
    def pods(self, state: State, graph: GraphPath,
             tau: Annotated[float | None, QueryParameter(description="seconds (default 60)")] = None,
             min_repeats: Annotated[int | None, QueryParameter(description="co-actions needed to link two accounts (default 3)")] = None,
             layers: Layers = None, since: Since = None, until: Until = None, seed: Seed = None,
             engine: EngineQ = None, resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, tau=tau, min_repeats=min_repeats)
        return answer(state.analyses, graph, p, "pods", (), PodsAnswer, lambda b: msgspec.to_builtins(b.pods))

    @get("/polarization", operation_id="polarization", responses=_responses(PolarizationAnswer), sync_to_thread=True,
         summary="Graph-level polarization: modularity (raw and against a null model), assortativity, RWC, cross-community conversation")
    def polarization(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                     until: Until = None, seed: Seed = None, engine: EngineQ = None,
                     resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return answer(state.analyses, graph, p, "polarization", (), PolarizationAnswer,
                      lambda b: msgspec.to_builtins(b.polarization))

    @get("/accounts/{account:str}/diversity", operation_id="accountDiversity", responses=_responses(DiversityAnswer), sync_to_thread=True,
         summary="How diverse one account's listening (follows) and conversation are, across communities")
    def diversity(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
                  since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                  resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)

        def render(b: Bundle) -> dict:
            _node(b, account)
            return msgspec.to_builtins(account_diversity(b, account))

        return answer(state.analyses, graph, p, "diversity", (account,), DiversityAnswer, render)

    @post("/reach", operation_id="reach", responses=_responses(ReachAnswer), sync_to_thread=True, status_code=200,
          summary="Claimed vs de-duplicated vs conversational reach, and who supplies the claim")
    def reach(self, state: State, graph: GraphPath, data: JSONBody[ReachRequest], seed: Seed = None,
              engine: EngineQ = None, resolution: Resolution = None, layers: Layers = None) -> Response:
        """Castle and pod members come from the analysis for the same window and
        parameters; the answer's manifest is that analysis'."""
        if not data.accounts and not data.objects:
            raise InvalidInput([FieldError("accounts", "give accounts, objects or both")])
        p = params_from(layers=layers, since=data.since, until=data.until, seed=seed, engine=engine,
                        resolution=resolution)
        analyses: Analyses = state.analyses

        def render(b: Bundle) -> dict:
            follows = analyses.store.events(graph, [Kind.FOLLOW], p.since, p.until)
            result = reach(
                list(b.events) + [e for e in _events(follows)],
                analyses.store.followers(graph),
                accounts=data.accounts or None,
                objects=data.objects or None,
                castle_members=b.castle_members,
                pod_members=b.pod_members,
            )
            return msgspec.to_builtins(result)

        args = (tuple(data.accounts or ()), tuple(data.objects or ()))
        return answer(analyses, graph, p, "reach", args, ReachAnswer, render)


def _events(rows):
    from graph.analysis.events import Event

    return (Event(*r) for r in rows)


@post("/v1/graphs/{graph:str}/analyses", operation_id="startAnalysis", tags=["analysis"],
      status_code=HTTP_202_ACCEPTED, sync_to_thread=True,
      summary="Start (or find) a background analysis for these parameters")
def start_analysis(state: State, graph: GraphPath, data: JSONBody[AnalysisParams]) -> Response:
    """Answers 202 with the job; an identical job (same graph version and parameters)
    is returned instead of starting another, and a cached result gives a job that is
    already done."""
    return _accepted(state.analyses.submit(graph, data))


@get("/v1/analyses/{job:str}", operation_id="getAnalysis", tags=["analysis"],
     summary="Status and progress of an analysis job; links to the results when done")
async def get_analysis(state: State, job: Annotated[str, PathParameter(max_length=64)]) -> JobOut:
    return job_out(state.analyses.job(job))
