"""Liveness and readiness."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from litestar import Request, get
from litestar.datastructures import State

from service import __version__
from service.auth import caller
from service.deps import Store
from service.wire import Health, QueueStatus, Ready, StoreStatus, WorkerOut


@get("/health", operation_id="health", tags=["health"], security=[{}], summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok", version=__version__)


@get(
    "/ready",
    operation_id="ready",
    tags=["health"],
    security=[{}],
    summary="Readiness: the store and the job store answer (503 problem JSON when they do not); the workers",
    sync_to_thread=True,
)
def ready(request: Request, store: Store, state: State) -> Ready:
    """Answers without a key (load balancers ask it); graph names and the workers' jobs
    only to an admin key."""
    # server_version raises StoreUnavailable, which errors.py turns into a 503
    version = store.server_version()
    jobs = state.analyses.jobs
    entries, used = jobs.result_usage()
    workers = jobs.workers(datetime.now(timezone.utc))
    key = caller(request)
    admin = key is not None and "admin" in key.scopes
    return Ready(
        status="ready",
        store=StoreStatus(kind=store.kind, version=version),
        graphs=[g.id for g in store.list_graphs()] if admin else [],
        queue=QueueStatus(kind=jobs.kind, pending=state.queue.pending(), workers_alive=len(workers),
                          workers=[WorkerOut(**msgspec.structs.asdict(w)) for w in workers] if admin else [],
                          results=entries, result_bytes=used),
    )
