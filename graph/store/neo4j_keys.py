"""The ``KeyStore`` part of ``Neo4jStore``: API keys as ``(:ApiKey {id, name, scopes,
graphs, digest, created_us, revoked_us})`` nodes.

Keys belong to no graph: the nodes carry no ``graph_uid``, so ``delete_graph`` (which
purges by ``graph_uid``) never touches them. ``scopes`` and ``graphs`` are Neo4j lists of
strings; times are integer microseconds since the epoch, exactly what ``ApiKey`` holds, so
a key reads back equal to what was stored and a list is in exact creation order. The
uniqueness constraint on ``id`` keeps a revoked id taken. All values are query parameters.
The host class provides ``_write`` and ``_read``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import neo4j
from neo4j.exceptions import ConstraintError

from graph.keys import ApiKey, KeyNotFound

__all__ = ["KEY_SCHEMA", "Neo4jKeys"]

KEY_SCHEMA = ["CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.id IS UNIQUE"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

_RETURN = ("RETURN k.id AS id, k.name AS name, k.scopes AS scopes, k.graphs AS graphs,"
           " k.digest AS digest, k.created_us AS created_us, k.revoked_us AS revoked_us")


class _Taken(Exception):
    """Raised inside a transaction to roll it back: the id is taken."""


def _us(at: datetime | None) -> int | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError("API key times must carry a timezone")
    return (at - _EPOCH) // _US  # integer arithmetic: a float timestamp can be 1 us off


def _time(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + us * _US


def _key(r: Any) -> ApiKey:
    return ApiKey(id=r["id"], name=r["name"], scopes=list(r["scopes"]), graphs=list(r["graphs"]),
                  digest=r["digest"], created_at=_time(r["created_us"]),
                  revoked_at=_time(r["revoked_us"]))


class Neo4jKeys:
    def create_key(self, key: ApiKey) -> ApiKey:
        props = {"id": key.id, "name": key.name, "scopes": list(key.scopes),
                 "graphs": list(key.graphs), "digest": key.digest,
                 "created_us": _us(key.created_at), "revoked_us": _us(key.revoked_at)}

        def tx(t: neo4j.ManagedTransaction):
            if t.run("MATCH (k:ApiKey {id: $id}) RETURN 1", id=key.id).single() is not None:
                raise _Taken
            # two creates of one id at once: the constraint fails the second, ``_write``
            # runs it again and the check above answers
            return t.run(f"CREATE (k:ApiKey) SET k = $p {_RETURN}", p=props).single()

        try:
            return _key(self._write(tx))
        except (_Taken, ConstraintError):
            raise ValueError(f"API key id {key.id!r} is taken") from None

    def get_key(self, key_id: str) -> ApiKey:
        def tx(t: neo4j.ManagedTransaction):
            return t.run(f"MATCH (k:ApiKey {{id: $id}}) {_RETURN}", id=key_id).single()

        rec = self._read(tx)
        if rec is None:
            raise KeyNotFound(key_id)
        return _key(rec)

    def list_keys(self) -> list[ApiKey]:
        def tx(t: neo4j.ManagedTransaction):
            return list(t.run(f"MATCH (k:ApiKey) {_RETURN} ORDER BY created_us, id"))

        return [_key(r) for r in self._read(tx)]

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey:
        at_us = _us(at)

        def tx(t: neo4j.ManagedTransaction):
            # SET locks the node: concurrent revocations are ordered, the first time stays
            return t.run(
                f"MATCH (k:ApiKey {{id: $id}}) SET k.revoked_us = coalesce(k.revoked_us, $at) {_RETURN}",
                id=key_id, at=at_us,
            ).single()

        rec = self._write(tx)
        if rec is None:
            raise KeyNotFound(key_id)
        return _key(rec)
