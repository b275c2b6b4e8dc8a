"""The Litestar application: ``create_app(settings) -> Litestar``."""

from __future__ import annotations

import gc
import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Contact, License, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from graph.audits.clock import clock_from_setting
from graph.store.port import Store
from service import __version__
from service.auth import Keys, guard
from service.bootstrap import open_services
from service.errors import EXCEPTION_HANDLERS
from service.held import held_answers
from service.limits import limiter_for
from service.openapi import document_problems
from service.protect import guard_hosts
from service.secrets import derive, server_key
from service.routes import analysis, audits, graphs, health, interactions, keys, ui
from service.settings import Settings

log = logging.getLogger("castlegate.http")

ROUTES = [health.health, health.ready, graphs.GraphController, interactions.add_interactions, interactions.import_file,
          interactions.delete_interactions, interactions.delete_interaction,
          analysis.AnalysisController, analysis.start_analysis, analysis.list_analyses, analysis.get_analysis,
          analysis.get_analysis_result, analysis.cancel_analysis, audits.AuditController, keys.KeyController]


def create_app_from_env() -> Litestar:
    """The app of a server worker process that builds it itself (``castlegate serve
    --server granian``): settings from the environment, logging as ``serve`` sets it."""
    from service import logs

    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)


def create_app(settings: Settings | None = None, store: Store | None = None) -> Litestar:
    """Builds the app. A ``store`` handed in is used as is (and not closed by the app);
    otherwise one is opened from ``settings`` at start-up and closed at shutdown. The app
    only serves: analyses and audit runs happen in worker processes (``service/worker.py``)."""
    settings = settings or Settings.from_env()
    allow: dict[int, bytes] = {}

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = open_services(settings, store)
        app.state.store, app.state.queue, app.state.analyses = services.store, services.queue, services.analyses
        app.state.api_keys = Keys(services.store, derive(server_key(settings), "api-keys"))
        app.state.limiter = limiter_for(settings)
        # what start-up made lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it (tens of ms at a time, in the p99 of reads)
        gc.collect()
        gc.freeze()
        log.info(
            "castlegate started",
            extra={"store": services.store.kind, "queue": settings.queue_kind, "version": __version__},
        )
        try:
            yield
        finally:
            app.state.limiter.close()
            services.close()

    app = Litestar(
        # the map page (/ui): static files, outside the API's document
        route_handlers=[*ROUTES, *ui.ui_routes()],
        guards=[guard],
        dependencies={"store": Provide(_store, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        middleware=[guard_hosts(settings.host_names), _access_log, _allow_every_method(allow),
                    held_answers(analysis.ANSWER_ROUTES)],
        cors_config=_cors(settings),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=None,
        state=State({"settings": settings, "clock": clock_from_setting(settings.clock)}),
        debug=False,
    )
    # the document is generated once and cached: describing the errors here makes the
    # served /schema and `castlegate openapi` say the same
    document_problems(app.openapi_schema)
    allow.update(_methods_of_paths(app))
    return app


def _methods_of_paths(app: Litestar) -> dict[int, bytes]:
    """Each path's OPTIONS handler -> the ``Allow`` value naming every method of its path."""
    out = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods = ", ".join(sorted(route.methods)).encode()
            out.update({id(h): methods for h in route.route_handlers if "OPTIONS" in h.http_methods})
    return out


def _allow_every_method(allow: dict[int, bytes]):
    """OPTIONS answers with every method of the path. Litestar 2.25 writes a path's
    ``Allow`` from the handlers registered before its OPTIONS handler was made, so a method
    that another router adds to the same path later (``GET /v1/graphs/{graph}`` beside
    ``DELETE``) was missing from it."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            methods = allow.get(id(scope.get("route_handler"))) if scope["type"] == "http" else None
            if methods is None or scope["method"] != "OPTIONS":
                await app(scope, receive, send)
                return

            async def with_allow(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", methods)]}
                await send(message)

            await app(scope, receive, with_allow)

        return call

    return middleware


def _cors(settings: Settings) -> CORSConfig | None:
    """Off unless origins are named: a page of another origin then gets no answer it can
    read, and cannot send a key it does not have anyway."""
    origins = [o.strip() for o in (settings.cors_origins or "").split(",") if o.strip()]
    if not origins:
        return None
    return CORSConfig(allow_origins=origins, allow_methods=["GET", "POST", "PATCH", "DELETE"],
                      allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600)


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
        # the document as JSON only: no HTML viewer, so no third-party script ever runs from
        # castlegate's origin (open it in any OpenAPI viewer)
        render_plugins=[JsonRenderPlugin()],
        use_handler_docstrings=True,
        # every route but /health, /ready and this document wants a key
        security=[{"apiKey": []}],
        components=Components(security_schemes={"apiKey": SecurityScheme(
            type="http", scheme="bearer", bearer_format="cgk_<id>_<secret>",
            description="an API key: castlegate keys create, or POST /v1/keys with an admin key")}),
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
