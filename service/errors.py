"""Every error leaves the service as RFC 9457 problem JSON, mapped here and nowhere else.

Domain errors map to their status (not found 404, exists/conflict 409, invalid 422 or 400,
store down 503); anything unexpected is logged with its stack and answered 500 with no
internals.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from graph.ingest.validate import MAX_JSON_DEPTH, NestedTooDeep, split_error
from graph.jobs.model import ErrorKind
from service.analyses import AnalysisFailed, TooManyJobs
from graph.errors import (
    GraphExists,
    IngestConflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)

log = logging.getLogger("castlegate.errors")

PROBLEM = "application/problem+json"
_TYPE_BASE = "https://castlegate.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str | None = None,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": _TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = dict(headers or {})
    if status == 503:
        headers.setdefault("Retry-After", "5")
    return Response(content=body, status_code=status, media_type=PROBLEM, headers=headers or None)


def _not_found(request: Request, exc: NotFound) -> Response:
    return problem(404, "Not found", str(exc), request=request, kind="not-found")


def _exists(request: Request, exc: GraphExists) -> Response:
    return problem(409, "Already exists", str(exc), request=request, kind="exists")


def _conflict(request: Request, exc: IngestConflict) -> Response:
    return problem(
        409,
        "Conflicting re-send",
        f"{exc}; nothing was written",
        request=request,
        kind="ingest-conflict",
        errors=[
            {"index": i, "field": "id", "value": ident, "message": "stored with different content"}
            for i, ident in zip(exc.indexes, exc.ids)
        ],
    )


def _invalid(request: Request, exc: InvalidInput) -> Response:
    return problem(
        422,
        "Invalid input",
        f"{len(exc.errors)} problem(s) in the request; nothing was written",
        request=request,
        kind="invalid-input",
        errors=[
            {k: v for k, v in (("index", e.index), ("field", e.field), ("message", e.message)) if v is not None}
            for e in exc.errors
        ],
    )


def _unavailable(request: Request, exc: StoreUnavailable) -> Response:
    log.warning("store unavailable", extra={"error": str(exc), "path": request.url.path})
    return problem(503, "Store unavailable",
                   "a store did not answer (the graph store, the job store or the task queue); retry later",
                   request=request)


def _validation(request: Request, exc: ValidationException) -> Response:
    # Litestar's own decoding errors (query parameters, malformed bodies): name the field.
    errors = []
    for e in exc.extra or []:
        if isinstance(e, dict):
            key, message = e.get("key"), e.get("message") or ""
            if key in (None, "data"):  # the body as a whole: the field is in the message
                key = split_error(message)[0] or key
            errors.append({k: v for k, v in (("field", key), ("source", e.get("source")), ("message", message)) if v})
    if not errors:  # e.g. "Missing required query parameter 'format' for path ..."
        named = re.search(r"(query|path|header|cookie) parameter '([^']+)'", exc.detail or "")
        if named:
            errors.append({"field": named.group(2), "source": named.group(1), "message": exc.detail})
    return problem(400, "Bad request", exc.detail, request=request, kind="bad-request", errors=errors)


#: a failed job's ``error_kind`` -> the answer's status and title
_FAILED = {
    ErrorKind.NOT_FOUND: (404, "Not found", "not-found"),
    ErrorKind.INVALID: (422, "Invalid input", "invalid-input"),
    ErrorKind.CANCELLED: (409, "Analysis cancelled", "analysis-cancelled"),
    ErrorKind.TIME_LIMIT: (503, "Analysis stopped", "analysis-time-limit"),
    ErrorKind.WORKER_LOST: (503, "Analysis lost", "analysis-worker-lost"),
    # a store outage while the job read the graph: 503 like any other, not a 500
    ErrorKind.UNAVAILABLE: (503, "Store unavailable", "store-unavailable"),
}


def _too_many_jobs(request: Request, exc: TooManyJobs) -> Response:
    return problem(429, "Too many requests", str(exc), request=request, kind="too-many-jobs",
                   headers={"Retry-After": "10"})


def _analysis_failed(request: Request, exc: AnalysisFailed) -> Response:
    job = exc.job
    status, title, kind = _FAILED.get(job.error_kind or "", (500, "Analysis failed", "analysis-failed"))
    extra = {}
    if job.error_kind == ErrorKind.INVALID and job.error:
        # the worker wrote the invalid fields as "field: message; ..." (service/worker.py)
        named = [part.partition(": ") for part in job.error.split("; ")]
        extra["errors"] = [{"field": f, "message": m} for f, sep, m in named if sep]
    return problem(status, title, job.error, request=request, kind=kind, job=f"/v1/analyses/{job.id}", **extra)


def _http(request: Request, exc: HTTPException) -> Response:
    if exc.status_code >= 500:
        log.error("http error", extra={"status": exc.status_code, "path": request.url.path})
    title = _TITLES.get(exc.status_code, "Error")
    # the headers the exception names go out with it: WWW-Authenticate on 401, Allow on
    # 405, Retry-After on 429
    return problem(exc.status_code, title, exc.detail if exc.status_code < 500 else None, request=request,
                   headers=dict(exc.headers or {}))


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 429: "Too many requests"}


def _too_deep(request: Request, exc: RecursionError) -> Response:
    # msgspec raises RecursionError on JSON nested past the interpreter's recursion limit,
    # in Litestar's own decoding of JSON bodies as in ours (graph.ingest.validate refuses
    # anything deeper than MAX_JSON_DEPTH first, with NestedTooDeep): the body is bad, 400.
    # Any other RecursionError is ours, and stays a 500.
    if not (isinstance(exc, NestedTooDeep) or "deserializ" in str(exc)):
        return _internal(request, exc)
    message = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    return problem(400, "Bad request", f"the body is {message}", request=request, kind="bad-request",
                   errors=[{"field": "body", "source": "body", "message": message}])


def _internal(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "the request failed on our side; it has been logged",
        request=request,
        kind="internal",
    )


EXCEPTION_HANDLERS = {
    AnalysisFailed: _analysis_failed,
    TooManyJobs: _too_many_jobs,
    NotFound: _not_found,
    GraphExists: _exists,
    IngestConflict: _conflict,
    InvalidInput: _invalid,
    StoreUnavailable: _unavailable,
    ValidationException: _validation,
    HTTPException: _http,
    RecursionError: _too_deep,
    Exception: _internal,
}
