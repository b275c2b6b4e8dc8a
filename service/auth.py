"""Every request is a stranger's: ``Authorization: Bearer cgk_...`` names a key (``graph.keys``),
and the key decides what the request may do and to which graphs.

One guard on the whole app does it, before any handler runs:

* ``/health``, ``/ready`` and the OpenAPI document answer without a key (``/ready`` then
  names no graph and no job);
* no key, a malformed, unknown or revoked one: 401 with ``WWW-Authenticate: Bearer``;
* a scope too small for the route (GET needs ``read``; what adds, changes or deletes
  data ``write``; keys ``admin``; a handler can name its own in ``opt={"scope": ...}``):
  403;
* a ``{graph}`` in the path the key does not reach: 404, the very answer a graph that does
  not exist gets, so a key cannot find out which graphs exist;
* more requests a minute than ``CASTLEGATE_RATE_LIMIT`` with one key: 429 and
  ``Retry-After`` (``service/limits.py``);
* a body of another type than the route takes (``opt={"content_types": ...}``, default
  JSON): 415, so a web page cannot post a form or text/plain without a CORS preflight.

Keys are looked up in the store and kept for ``KEY_TTL`` seconds in a bounded table, so a
revocation made on another replica takes effect within that time (at once on this one).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from anyio import to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException, NotAuthorizedException, PermissionDeniedException, TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler

from graph.errors import GraphNotFound
from graph.keys import ApiKey, KeyNotFound, allows, authenticate, new_key, parse_token, reaches
from graph.store.port import KeyStore

log = logging.getLogger("castlegate.auth")

__all__ = ["Keys", "guard", "caller", "ensure_admin_key", "KEY_TTL", "PUBLIC_PATHS"]

#: seconds a key read from the store is trusted before it is read again
KEY_TTL = 5.0
#: keys kept in memory at most (least recently used dropped first)
KEY_CACHE_MAX = 10_000
#: answered without a key
PUBLIC_PATHS = ("/health", "/ready")
_READ_METHODS = ("GET", "HEAD", "OPTIONS")
_BODY_METHODS = ("POST", "PUT", "PATCH")


class Keys:
    """The keys this process has checked recently, in front of the key store."""

    def __init__(self, store: KeyStore, server_key: bytes) -> None:
        self.store = store
        self.server_key = server_key
        self._seen: OrderedDict[str, tuple[ApiKey | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key_id)
            if hit is not None and now - hit[1] < KEY_TTL:
                self._seen.move_to_end(key_id)
                return hit[0]
        try:
            key: ApiKey | None = self.store.get_key(key_id)
        except KeyNotFound:
            key = None
        with self._lock:
            self._seen[key_id] = (key, now)
            self._seen.move_to_end(key_id)
            while len(self._seen) > KEY_CACHE_MAX:
                self._seen.popitem(last=False)
        return key

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._seen.pop(key_id, None)

    def fresh(self, key_id: str) -> ApiKey | None:
        """The key when it was read from the store within ``KEY_TTL`` (no round trip), else
        None (not read lately, or no such key)."""
        with self._lock:
            hit = self._seen.get(key_id)
            return hit[0] if hit is not None and time.monotonic() - hit[1] < KEY_TTL else None

    def cached(self, key_id: str) -> bool:
        """True when a lookup needs no store round trip (the guard then stays on the loop)."""
        with self._lock:
            hit = self._seen.get(key_id)
            return hit is not None and time.monotonic() - hit[1] < KEY_TTL


def _unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": 'Bearer realm="castlegate"'})


async def resolve(connection: ASGIConnection) -> ApiKey | None:
    """The request's key, checked; None when it sent none. Raises 401 for a bad one."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    parsed = parse_token(token.strip()) if scheme.lower() == "bearer" else None
    if parsed is None:
        raise _unauthorized("Authorization must be 'Bearer cgk_...' (an API key)")
    keys: Keys = connection.app.state.api_keys
    if keys.cached(parsed[0]):
        key = keys.lookup(parsed[0])
    else:  # a store round trip: off the event loop
        key = await to_thread.run_sync(keys.lookup, parsed[0])
    if key is None or not authenticate(token.strip(), key, server_key=keys.server_key):
        raise _unauthorized("unknown or revoked API key")
    return key


async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    path = connection.scope["path"]
    public = path in PUBLIC_PATHS or path.startswith("/schema") or handler.opt.get("public", False)
    key = await resolve(connection)
    connection.state.key = key
    if public:
        return
    if key is None:
        raise _unauthorized("send an API key: Authorization: Bearer cgk_...")
    # every request of a key counts, refused ones too: probing other graphs costs the same
    limiter = connection.app.state.limiter
    wait = await to_thread.run_sync(limiter.hit, key.id) if limiter.blocking else limiter.hit(key.id)
    if wait is not None:
        raise TooManyRequestsException(detail=f"more than {limiter.limit} requests a minute"
                                       " with this key (CASTLEGATE_RATE_LIMIT)",
                                       headers={"Retry-After": str(int(wait))})
    scope = handler.opt.get("scope") or ("read" if connection.scope["method"] in _READ_METHODS else "write")
    if not allows(key, scope):
        raise PermissionDeniedException(detail=f"this key has no {scope!r} scope")
    graph = connection.path_params.get("graph")
    if graph is not None and not reaches(key, graph):
        raise GraphNotFound(graph)
    if connection.scope["method"] in _BODY_METHODS and _has_body(connection):
        media = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        allowed = handler.opt.get("content_types", ("application/json",))
        if media not in allowed:
            # a form or text/plain body is what a web page can send without asking first
            raise HTTPException(status_code=415, detail=f"Content-Type {media or 'none'!r}: send {' or '.join(allowed)}")


def _has_body(connection: ASGIConnection) -> bool:
    length = connection.headers.get("content-length")
    return (length is not None and length.strip() not in ("", "0")) or "transfer-encoding" in connection.headers


def caller(connection: ASGIConnection) -> ApiKey | None:
    """The key the guard checked for this request (None on a public route without one)."""
    return connection.state.get("key")


def ensure_admin_key(store: KeyStore, server_key: bytes, path: Path) -> str | None:
    """The first start of a store with no key at all: makes an admin key, writes its token
    to ``path`` (mode 0600) and returns it, so the one who started the service can use it;
    otherwise None (keys are then made with ``castlegate keys create`` or ``POST /v1/keys``)."""
    if store.list_keys():
        return None
    key, token = new_key("local admin (first start)", ["admin"], ["*"], server_key=server_key)
    store.create_key(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token
