"""Answers this API process holds, served before the framework parses the request.

A dashboard asks the same questions again and again: the same route, the same graph, the
same query string. The first time, the route's handler parses the question (parameters,
their defaults, their checks) and ``service.routes.analysis.respond`` tells this
middleware what it was (``asked``). From then on that request shape (route, path
parameters, raw query string) maps to the parsed question, and a request of that shape
whose answer this process holds for the graph's current version is answered here: the
same key checks as the guard (``service.auth``), the graph version without a store round
trip (``Analyses.versions``), the answer's bytes as they were filed, its ETag and 304.
Anything else (a key not checked recently, a scope or a graph it does not reach, a rate
limit kept in Redis or reached, a version not known, an answer not held) goes the usual
way, which gives the usual answers (401, 404, 429, 202, ...). The Host check, the security
headers and CORS wrap this middleware, so they apply to held answers too.

Bounded: ``MAX_SHAPES`` request shapes, the least recently used dropped first.
"""

from __future__ import annotations

import contextvars
import threading
from collections import OrderedDict
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from graph.keys import allows, authenticate, parse_token, reaches
from graph.usecases.analyse import answer_key
from service.analyses import etag_of

__all__ = ["held_answers", "asked", "matches", "ANSWER_CACHING", "MAX_SHAPES"]

MAX_SHAPES = 10_000
#: answers hold clients' data (private) and change with the graph: a client keeps one and
#: asks again with its ETag (no-cache), never trusting it unasked
ANSWER_CACHING = "private, no-cache"
#: the longest If-None-Match an answer route takes (its OpenAPI ``maxLength``); a longer one
#: is left to the framework, which refuses it with 400 as the contract says
IF_NONE_MATCH_MAX = 4096
_CACHING = ANSWER_CACHING.encode()
#: set by the middleware around a request it could not answer; ``asked`` fills it
_QUESTION: contextvars.ContextVar[list | None] = contextvars.ContextVar("castlegate_question", default=None)


def asked(graph: str, target: str, params: Any, args: dict) -> None:
    """Called by the handler once it has parsed and checked the question of this request."""
    holder = _QUESTION.get()
    if holder is not None:
        holder.append((graph, target, params, args))


class _Question:
    """What a request shape asks, with the answer key of the graph version last seen."""

    __slots__ = ("graph", "target", "params", "args", "version", "akey", "etag")

    def __init__(self, graph: str, target: str, params: Any, args: dict) -> None:
        self.graph, self.target, self.params, self.args = graph, target, params, args
        self.version = self.akey = self.etag = None


class _Shapes:
    def __init__(self) -> None:
        self._items: OrderedDict[tuple, _Question] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, shape: tuple) -> _Question | None:
        with self._lock:
            q = self._items.get(shape)
            if q is not None:
                self._items.move_to_end(shape)
            return q

    def put(self, shape: tuple, question: _Question) -> None:
        with self._lock:
            self._items[shape] = question
            self._items.move_to_end(shape)
            while len(self._items) > MAX_SHAPES:
                self._items.popitem(last=False)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k.lower() == name:
            return v
    return None


def held_answers(answer_routes: set[str]):
    """ASGI middleware factory; ``answer_routes``: the handler names whose answers it may
    serve (GET routes that call ``respond``)."""
    shapes = _Shapes()

    def middleware(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler") if scope["type"] == "http" else None
            if handler is None or scope["method"] != "GET" or handler.handler_name not in answer_routes:
                await app(scope, receive, send)
                return
            shape = (handler.handler_name, tuple(sorted(scope.get("path_params", {}).items())),
                     scope.get("query_string", b""))
            question = shapes.get(shape)
            if question is not None and await _serve(scope, send, question):
                return
            holder: list = []
            token = _QUESTION.set(holder)
            try:
                await app(scope, receive, send)
            finally:
                _QUESTION.reset(token)
            if holder:
                shapes.put(shape, _Question(*holder[0]))

        return call

    return middleware


async def _serve(scope: Scope, send: Send, question: _Question) -> bool:
    """Answers the request when everything it needs is at hand; False leaves it to the app."""
    graph, target, params, args = question.graph, question.target, question.params, question.args
    state = scope["litestar_app"].state
    header = _header(scope, b"authorization")
    if header is None:
        return False
    scheme, _, token = header.decode("latin-1").partition(" ")
    parsed = parse_token(token.strip()) if scheme.lower() == "bearer" else None
    keys = state.api_keys
    key = keys.fresh(parsed[0]) if parsed is not None else None
    if key is None or not authenticate(token.strip(), key, server_key=keys.server_key):
        return False
    if not allows(key, "read") or not reaches(key, graph):
        return False
    limiter = state.limiter
    if limiter.blocking or limiter.hit(key.id) is not None:
        return False
    analyses = state.analyses
    version = analyses.versions.known(graph)
    if version is None:
        return False
    if question.version != version:  # the key, and its ETag, once per graph version
        question.akey = answer_key(graph, version, target, params, args)
        question.etag = etag_of(question.akey)
        question.version = version
    body = analyses.hot.get(question.akey)
    if body is None:
        return False
    etag = question.etag
    headers = [(b"etag", etag.encode()), (b"cache-control", _CACHING)]
    inm = _header(scope, b"if-none-match")
    if inm is not None and len(inm) > IF_NONE_MATCH_MAX:
        return False
    if inm is not None and matches(inm.decode("latin-1"), etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return True
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
    return True


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison, any of a comma-separated list, or ``*``."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags
