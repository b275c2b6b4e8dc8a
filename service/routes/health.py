"""Liveness and readiness."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from service import __version__
from service.deps import Store
from service.scheduler import status as scheduler_status
from service.wire import Health, Ready, StoreStatus


@get("/health", operation_id="health", tags=["health"], summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok", version=__version__)


@get(
    "/ready",
    operation_id="ready",
    tags=["health"],
    summary="Readiness: the store answers (503 problem JSON when it does not)",
    sync_to_thread=True,
)
def ready(store: Store, state: State) -> Ready:
    # server_version raises StoreUnavailable, which errors.py turns into a 503
    version = store.server_version()
    return Ready(
        status="ready",
        store=StoreStatus(kind=store.kind, version=version),
        graphs=[g.id for g in store.list_graphs()],
        scheduler=scheduler_status(state.get("scheduler")),
    )
