"""The Litestar application: ``create_app(settings) -> Litestar``."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Contact, License
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from graph.audits.clock import clock_from_setting
from graph.store.port import Store
from service import __version__
from service.bootstrap import open_services
from service.errors import EXCEPTION_HANDLERS
from service.openapi import document_problems
from service.routes import analysis, audits, graphs, health, interactions
from service.settings import Settings

log = logging.getLogger("castlegate.http")

ROUTES = [health.health, health.ready, graphs.GraphController, interactions.add_interactions, interactions.import_file,
          analysis.AnalysisController, analysis.start_analysis, analysis.list_analyses, analysis.get_analysis,
          analysis.get_analysis_result, analysis.cancel_analysis, audits.AuditController]


def create_app(settings: Settings | None = None, store: Store | None = None) -> Litestar:
    """Builds the app. A ``store`` handed in is used as is (and not closed by the app);
    otherwise one is opened from ``settings`` at start-up and closed at shutdown. The app
    only serves: analyses and audit runs happen in worker processes (``service/worker.py``)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = open_services(settings, store)
        app.state.store, app.state.queue, app.state.analyses = services.store, services.queue, services.analyses
        log.info(
            "castlegate started",
            extra={"store": services.store.kind, "queue": settings.queue_kind, "version": __version__},
        )
        try:
            yield
        finally:
            services.close()

    app = Litestar(
        route_handlers=ROUTES,
        dependencies={"store": Provide(_store, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        middleware=[_access_log],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=None,
        state=State({"settings": settings, "clock": clock_from_setting(settings.clock)}),
        debug=False,
    )
    # the document is generated once and cached: describing the errors here makes the
    # served /schema and `castlegate openapi` say the same
    document_problems(app.openapi_schema)
    return app


def _store(state: State) -> Store:
    return state.store


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="castlegate",
        version=__version__,
        description=(
            "Conversation-network analysis: who really talks with whom, who carries "
            "information across communities, which circles only count their own currency."
        ),
        contact=Contact(name="castlegate"),
        license=License(name="MIT", identifier="MIT"),
        path="/schema",
        use_handler_docstrings=True,
    )


def _access_log(app: ASGIApp) -> ASGIApp:
    """One structured line per request, with status and duration."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                },
            )

    return middleware
