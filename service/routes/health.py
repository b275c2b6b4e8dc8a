"""Liveness and readiness."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from litestar import get
from litestar.datastructures import State

from service import __version__
from service.deps import Store
from service.wire import Health, QueueStatus, Ready, StoreStatus, WorkerOut


@get("/health", operation_id="health", tags=["health"], summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok", version=__version__)


@get(
    "/ready",
    operation_id="ready",
    tags=["health"],
    summary="Readiness: the store and the job store answer (503 problem JSON when they do not); the workers",
    sync_to_thread=True,
)
def ready(store: Store, state: State) -> Ready:
    # server_version raises StoreUnavailable, which errors.py turns into a 503
    version = store.server_version()
    jobs = state.analyses.jobs
    entries, used = jobs.result_usage()
    workers = [WorkerOut(**msgspec.structs.asdict(w)) for w in jobs.workers(datetime.now(timezone.utc))]
    return Ready(
        status="ready",
        store=StoreStatus(kind=store.kind, version=version),
        graphs=[g.id for g in store.list_graphs()],
        queue=QueueStatus(kind=jobs.kind, pending=state.queue.pending(), workers=workers, results=entries,
                          result_bytes=used),
    )
