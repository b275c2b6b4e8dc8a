"""API keys: who may do what to which graphs.

A key is shown once, as a token ``cgk_<id>_<secret>``, and kept only as an HMAC-SHA256 of
its secret under the server's secret key (``CASTLEGATE_SECRET_KEY``): a stolen store does
not yield usable keys, and checking a key costs microseconds, so no cache stands between a
revocation and the next request for long.

Scopes: ``read`` (GET), ``write`` (adding data, deleting it, audits, jobs), ``admin``
(keys, and every graph). Grants name the graphs a key reaches: exact ids, prefixes ending
in ``*`` (``acme-*``), or ``*`` for all. A key that does not reach a graph is told the
graph does not exist, exactly as for a graph that does not.

Example
-------
>>> key, token = new_key("ci", ["read"], ["acme-*"], server_key=b"k" * 32)
>>> authenticate(token, key, server_key=b"k" * 32)
True
>>> reaches(key, "acme-blog"), reaches(key, "other")
(True, False)
>>> allows(key, "read"), allows(key, "write")
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone
from typing import Iterable

import msgspec

from graph.errors import NotFound

__all__ = ["ApiKey", "KeyNotFound", "SCOPES", "new_key", "parse_token", "digest", "authenticate", "allows",
           "reaches", "TOKEN_PREFIX"]

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "cgk_"
_TOKEN = re.compile(r"cgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class KeyNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__("API key", key)


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    #: public part of the token; names the key in lists and logs
    id: str
    name: str
    scopes: list[str]
    #: graph ids, prefixes ending in "*", or "*"
    graphs: list[str]
    #: HMAC-SHA256 of the secret under the server key, hex; never leaves the service
    digest: str
    created_at: datetime
    revoked_at: datetime | None = None


def digest(secret: str, server_key: bytes) -> str:
    return hmac.new(server_key, secret.encode(), hashlib.sha256).hexdigest()


def new_key(name: str, scopes: Iterable[str], graphs: Iterable[str], *, server_key: bytes,
            now: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key and its token (the only time the token exists in full)."""
    scopes = sorted(set(scopes), key=SCOPES.index)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    key = ApiKey(id=key_id, name=name, scopes=scopes, graphs=sorted(set(graphs)),
                 digest=digest(secret, server_key), created_at=now or datetime.now(timezone.utc))
    return key, f"{TOKEN_PREFIX}{key_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed token, else None."""
    m = _TOKEN.fullmatch(token)
    return (m.group(1), m.group(2)) if m else None


def authenticate(token: str, key: ApiKey, *, server_key: bytes) -> bool:
    """True when ``token`` is ``key``'s and the key is not revoked (constant-time)."""
    parsed = parse_token(token)
    if parsed is None or parsed[0] != key.id or key.revoked_at is not None:
        return False
    return hmac.compare_digest(digest(parsed[1], server_key), key.digest)


def allows(key: ApiKey, scope: str) -> bool:
    """Admin implies write implies read."""
    return SCOPES.index(scope) <= max(SCOPES.index(s) for s in key.scopes)


def reaches(key: ApiKey, graph: str) -> bool:
    if "admin" in key.scopes:
        return True
    return any(g == "*" or g == graph or (g.endswith("*") and graph.startswith(g[:-1])) for g in key.graphs)
