"""Analysis endpoints: communities, roles, gatekeepers, trusted voices, castles, pods,
polarization, reach, diversity; and the analysis jobs.

A handler parses its parameters and asks ``service.analyses.Analyses`` for the answer:
the pre-encoded bytes when the result cache has them (or a worker computes them within
the short wait), else 202 with the job. Nothing here computes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from graph.analysis.answers import (
    DEFAULT_ANSWERS, FULL, CastlesAnswer, CommunitiesAnswer, DiversityAnswer, GatekeepersAnswer,
    PodsAnswer, PolarizationAnswer, ReachAnswer, RolesAnswer, TrustedAnswer,
)
from graph.analysis.params import AnalysisParams
from graph.errors import FieldError, InvalidInput
from graph.ingest.validate import split_error
from graph.jobs.model import Job, JobStatus
from service.analyses import Analyses
from service.routes.graphs import AccountPath, GraphPath
from service.wire import JobOut, JobsPage, ReachRequest

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
JobPath = Annotated[str, PathParameter(max_length=64, description="job id")]

#: the GET route of each answer, for links (reach is a POST: its answer is the job's result)
_ROUTES = {
    "communities": "communities", "gatekeepers": "gatekeepers", "trusted-voices": "trusted-voices",
    "castles": "castles", "pods": "pods", "polarization": "polarization",
    "roles": "accounts/{account}/roles", "diversity": "accounts/{account}/diversity",
}


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


def answer_url(graph: str, target: str, params: dict, args: dict) -> str | None:
    """The GET URL that asks exactly this question again (None for reach, a POST)."""
    route = _ROUTES.get(target)
    if route is None:
        return None
    path = f"/v1/graphs/{quote(graph, safe='')}/" + route.format(account=quote(str(args.get("account")), safe=""))
    query = [(k, ",".join(v) if isinstance(v, list) else v) for k, v in params.items() if v is not None]
    query += [(k, v) for k, v in args.items() if k != "account" and v is not None]
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
        parameters=job.params, arguments=job.args, attempts=job.attempts, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at, links=links,
    )


def _accepted(job: Job) -> Response:
    return Response(
        content=job_out(job),
        status_code=HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/analyses/{job.id}", "Retry-After": "2"},
    )


def respond(analyses: Analyses, graph: str, params: AnalysisParams, target: str,
            args: dict | None = None) -> Response:
    out = analyses.answer(graph, params, target, args)
    if isinstance(out, Job):
        return _accepted(out)
    return Response(content=out.body, media_type="application/json")


def _responses(kind: type) -> dict:
    return {
        200: ResponseSpec(data_container=kind, generate_examples=False,
                          description="the result, with the manifest of its analysis"),
        202: ResponseSpec(data_container=JobOut, generate_examples=False,
                          description="not cached, and not computed within the wait: follow the job"),
    }


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
        return respond(state.analyses, graph, p, "communities", {"members_limit": members_limit})

    @get("/accounts/{account:str}/roles", operation_id="accountRoles", responses=_responses(RolesAnswer),
         sync_to_thread=True,
         summary="One account's structural roles: module z, participation, brokerage, constraint, centralities")
    def roles(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
              since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
              resolution: Resolution = None) -> Response:
        """404 when the account has no interaction in the analysed layers and window."""
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return respond(state.analyses, graph, p, "roles", {"account": account})

    @get("/gatekeepers", operation_id="gatekeepers", responses=_responses(GatekeepersAnswer), sync_to_thread=True,
         summary="Accounts ranked by how much they carry information across community borders")
    def gatekeepers(self, state: State, graph: GraphPath, limit: Limit = 20, layers: Layers = None,
                    since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                    resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return respond(state.analyses, graph, p, "gatekeepers", {"limit": limit})

    @get("/trusted-voices", operation_id="trustedVoices", responses=_responses(TrustedAnswer), sync_to_thread=True,
         summary="Accounts many distinct others converse with, across communities")
    def trusted(self, state: State, graph: GraphPath, limit: Limit = 20, layers: Layers = None,
                since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return respond(state.analyses, graph, p, "trusted-voices", {"limit": limit})

    @get("/castles", operation_id="castles", responses=_responses(CastlesAnswer), sync_to_thread=True,
         summary="Every community's castle score, its components as z-scores against a null model")
    def castles(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                until: Until = None, seed: Seed = None, engine: EngineQ = None, resolution: Resolution = None,
                null_samples: Annotated[int | None, QueryParameter(
                    description="degree-preserving rewirings (default 20; at most CASTLEGATE_MAX_NULL_SAMPLES)")] = None,
                ) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, null_samples=null_samples)
        return respond(state.analyses, graph, p, "castles")

    @get("/pods", operation_id="pods", responses=_responses(PodsAnswer), sync_to_thread=True,
         summary="Coordinated amplification: accounts that amplify the same object within tau seconds, repeatedly")
    def pods(self, state: State, graph: GraphPath,
             tau: Annotated[float | None, QueryParameter(description="seconds (default 60)")] = None,
             min_repeats: Annotated[int | None, QueryParameter(description="co-actions needed to link two accounts (default 3)")] = None,
             layers: Layers = None, since: Since = None, until: Until = None, seed: Seed = None,
             engine: EngineQ = None, resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine,
                        resolution=resolution, tau=tau, min_repeats=min_repeats)
        return respond(state.analyses, graph, p, "pods")

    @get("/polarization", operation_id="polarization", responses=_responses(PolarizationAnswer), sync_to_thread=True,
         summary="Graph-level polarization: modularity (raw and against a null model), assortativity, RWC, cross-community conversation")
    def polarization(self, state: State, graph: GraphPath, layers: Layers = None, since: Since = None,
                     until: Until = None, seed: Seed = None, engine: EngineQ = None,
                     resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return respond(state.analyses, graph, p, "polarization")

    @get("/accounts/{account:str}/diversity", operation_id="accountDiversity", responses=_responses(DiversityAnswer),
         sync_to_thread=True,
         summary="How diverse one account's listening (follows) and conversation are, across communities")
    def diversity(self, state: State, graph: GraphPath, account: AccountPath, layers: Layers = None,
                  since: Since = None, until: Until = None, seed: Seed = None, engine: EngineQ = None,
                  resolution: Resolution = None) -> Response:
        p = params_from(layers=layers, since=since, until=until, seed=seed, engine=engine, resolution=resolution)
        return respond(state.analyses, graph, p, "diversity", {"account": account})

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
        # sorted and de-duplicated: the same question in another order is one cache entry
        args = {"accounts": sorted(set(data.accounts)), "objects": sorted(set(data.objects))}
        return respond(state.analyses, graph, p, "reach", args)


@post("/v1/graphs/{graph:str}/analyses", operation_id="startAnalysis", tags=["analysis"],
      status_code=HTTP_202_ACCEPTED, sync_to_thread=True,
      summary="Start (or find) a background analysis of every graph-wide stage")
def start_analysis(state: State, graph: GraphPath, data: JSONBody[AnalysisParams]) -> Response:
    """Answers 202 with the job; an identical job (same graph version and parameters)
    is returned instead of starting another, and a cached result gives a job that is
    already done. When done, its links lead to the usual answers, already computed."""
    return _accepted(state.analyses.start(graph, data, FULL))


@get("/v1/analyses", operation_id="listAnalyses", tags=["analysis"], sync_to_thread=True,
     summary="Analysis jobs, newest first")
def list_analyses(
    state: State,
    graph: Annotated[str | None, QueryParameter(max_length=128, description="only this graph's jobs")] = None,
    status: Annotated[str | None, QueryParameter(
        description="queued, running, done, failed or cancelled", pattern="^(queued|running|done|failed|cancelled)$")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    after: Annotated[str | None, QueryParameter(max_length=64, description="continue after this job (a page's last)")] = None,
) -> JobsPage:
    jobs = state.analyses.jobs.list(graph=graph, status=status, limit=limit + 1, after=after)
    page, more = jobs[:limit], len(jobs) > limit
    nxt = None
    if more:
        q = {k: v for k, v in (("graph", graph), ("status", status), ("limit", limit), ("after", page[-1].id)) if v}
        nxt = f"/v1/analyses?{urlencode(q)}"
    return JobsPage(jobs=[job_out(j) for j in page], next=nxt)


@get("/v1/analyses/{job:str}", operation_id="getAnalysis", tags=["analysis"], sync_to_thread=True,
     summary="Status and progress of an analysis job; links to the results when done")
def get_analysis(state: State, job: JobPath) -> JobOut:
    return job_out(state.analyses.jobs.get(job))


@get("/v1/analyses/{job:str}/result", operation_id="getAnalysisResult", tags=["analysis"], sync_to_thread=True,
     summary="The answer a finished job computed (409 while it is not done)")
def get_analysis_result(state: State, job: JobPath) -> Response:
    """The same bytes the answer's own endpoint gives (for reach, the only way to read a
    result computed in the background). 404 when it was evicted from the result cache
    since: ask again."""
    j = state.analyses.jobs.get(job)
    if j.status != JobStatus.DONE:
        raise HTTPException(status_code=409, detail=f"job {j.id} is {j.status}, not done")
    return Response(content=state.analyses.result(j), media_type="application/json")


@delete("/v1/analyses/{job:str}", operation_id="cancelAnalysis", tags=["analysis"], status_code=200,
        sync_to_thread=True, summary="Cancel a queued or running job; its worker stops within seconds")
def cancel_analysis(state: State, job: JobPath) -> JobOut:
    """The job becomes ``cancelled`` at once; a running analysis is stopped (its process
    killed) within a couple of seconds. A finished job is answered unchanged."""
    return job_out(state.analyses.cancel(job))
