"""The ``KeyStore`` part of the embedded sqlite store: API keys, one row each.

A mixin, so keys live in the store's one (private, 0600) file; the host class provides
``_db`` (the call's connection) and ``_write`` (the ``BEGIN IMMEDIATE`` transaction). Keys
belong to no graph: deleting a graph leaves them alone. Times are integer microseconds
since the epoch, exactly what ``ApiKey`` holds, so a list is in exact creation order and a
key reads back equal to what was stored.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import msgspec

from graph.keys import ApiKey, KeyNotFound

__all__ = ["SqliteKeys", "_KEY_SCHEMA"]

_KEY_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    graphs TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_us, id);
"""

_COLUMNS = "id, name, scopes, graphs, digest, created_us, revoked_us"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_STRINGS = msgspec.json.Decoder(list[str])


def _us(at: datetime | None) -> int | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError("API key times must carry a timezone")
    return (at - _EPOCH) // _US  # integer arithmetic: a float timestamp can be 1 us off


def _time(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + us * _US


def _row(key: ApiKey) -> tuple:
    return (key.id, key.name, msgspec.json.encode(key.scopes).decode(),
            msgspec.json.encode(key.graphs).decode(), key.digest, _us(key.created_at),
            _us(key.revoked_at))


def _key(r: tuple) -> ApiKey:
    return ApiKey(id=r[0], name=r[1], scopes=_STRINGS.decode(r[2]), graphs=_STRINGS.decode(r[3]),
                  digest=r[4], created_at=_time(r[5]), revoked_at=_time(r[6]))


def _get(db: sqlite3.Connection, key_id: str) -> ApiKey:
    r = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    if r is None:
        raise KeyNotFound(key_id)
    return _key(r)


class SqliteKeys:
    def create_key(self, key: ApiKey) -> ApiKey:
        row = _row(key)
        with self._write() as db:
            try:
                db.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise ValueError(f"API key id {key.id!r} is taken") from None
            return _get(db, key.id)

    def get_key(self, key_id: str) -> ApiKey:
        with self._db() as db:
            return _get(db, key_id)

    def list_keys(self) -> list[ApiKey]:
        with self._db() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_us, id").fetchall()
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey:
        at_us = _us(at)
        with self._write() as db:
            # a key revoked already keeps its first time
            if db.execute("UPDATE api_keys SET revoked_us = coalesce(revoked_us, ?) WHERE id = ?",
                          (at_us, key_id)).rowcount == 0:
                raise KeyNotFound(key_id)
            return _get(db, key_id)
