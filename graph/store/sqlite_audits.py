"""The ``AuditStore`` half of the embedded sqlite store: schedules, runs and deliveries.

Several castlegate processes may share one store file, so every claim is one
``BEGIN IMMEDIATE`` transaction: SQLite's single writer lock is held from the re-check
("still due?", "still queued or lease expired?") to the write, so two schedulers cannot
both see an audit due and both queue its slot. The unique index on
``(graph, audit, slot_ms)`` of scheduled runs is the safety net beneath that: even an audit whose ``next_run_at`` an edit put
back on a slot already run gets no second run for it.

A mixin rather than a second store so that audits live in the same file, and go in the
same transaction, as the graph they audit. The host class provides ``_conn``, ``_write``
(the ``BEGIN IMMEDIATE`` transaction) and ``_require_graph``.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime
from typing import Any, Mapping, NoReturn, Sequence

import msgspec

from graph.analysis.params import AnalysisParams
from graph.audits.model import (
    MUTABLE_AUDIT_FIELDS,
    Audit,
    AuditRun,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    RunStatus,
)
from graph.errors import AuditNotFound, RunNotFound
from graph.model import epoch_ms, from_epoch_ms
from graph.store.port import SlotPlan

__all__ = ["SqliteAudits"]

_AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audits (
    graph TEXT NOT NULL,
    id TEXT NOT NULL,
    account TEXT NOT NULL,
    every TEXT,
    cron TEXT,
    timezone TEXT NOT NULL,
    start_ms INTEGER,
    params TEXT NOT NULL,
    webhook_url TEXT,
    webhook_secret TEXT,
    paused INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    next_ms INTEGER,
    PRIMARY KEY (graph, id)
);
CREATE INDEX IF NOT EXISTS audits_due ON audits (paused, next_ms);
CREATE TABLE IF NOT EXISTS audit_runs (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    audit TEXT NOT NULL,
    slot_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    graph_version TEXT,
    result TEXT,
    error TEXT,
    owner TEXT,
    lease_ms INTEGER
);
-- one scheduled run per slot, ever (manual runs are not slots: two may share a moment)
CREATE UNIQUE INDEX IF NOT EXISTS audit_runs_slot ON audit_runs (graph, audit, slot_ms)
    WHERE trigger = 'schedule';
CREATE INDEX IF NOT EXISTS audit_runs_history ON audit_runs (graph, audit, slot_ms);
CREATE INDEX IF NOT EXISTS audit_runs_claim ON audit_runs (status, lease_ms);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    audit TEXT NOT NULL,
    run TEXT NOT NULL,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts TEXT NOT NULL,
    next_ms INTEGER,
    created_ms INTEGER NOT NULL,
    owner TEXT,
    lease_ms INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_claim ON deliveries (status, next_ms);
CREATE INDEX IF NOT EXISTS deliveries_audit ON deliveries (graph, audit, created_ms);
"""

_AUDIT_COLS = ("graph, id, account, every, cron, timezone, start_ms, params, webhook_url,"
               " webhook_secret, paused, created_ms, updated_ms, next_ms")
_RUN_COLS = ("id, graph, audit, slot_ms, trigger, status, attempts, created_ms, started_ms,"
             " finished_ms, graph_version, result, error, owner, lease_ms")
_DELIVERY_COLS = ("id, graph, audit, run, url, event, body, status, attempts, next_ms,"
                  " created_ms, owner, lease_ms")


def _ms(at: datetime | None) -> int | None:
    return None if at is None else epoch_ms(at)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _same(value: Any) -> Any:
    return value


#: ``update_audit`` field -> (column, how the value is stored); the only names ever
#: formatted into SQL
_AUDIT_SETTERS = {
    "account": ("account", _same),
    "every": ("every", _same),
    "cron": ("cron", _same),
    "timezone": ("timezone", _same),
    "start": ("start_ms", _ms),
    "params": ("params", _json),
    "webhook_url": ("webhook_url", _same),
    "webhook_secret": ("webhook_secret", _same),
    "paused": ("paused", int),
    "updated_at": ("updated_ms", _ms),
    "next_run_at": ("next_ms", _ms),
}
assert _AUDIT_SETTERS.keys() == MUTABLE_AUDIT_FIELDS

_ATTEMPTS = msgspec.json.Decoder(list[DeliveryAttempt])


def _marks(cols: str) -> str:
    return ", ".join("?" * (cols.count(",") + 1))


def _in(graphs: Sequence[str] | None) -> tuple[str, list]:
    if graphs is None:
        return "", []
    return f" AND graph IN ({', '.join('?' * len(graphs))})", list(graphs)


class SqliteAudits:
    # audits
    def create_audit(self, audit: Audit) -> Audit:
        with self._write() as db:
            self._require_graph(db, audit.graph)
            db.execute(f"INSERT INTO audits ({_AUDIT_COLS}) VALUES ({_marks(_AUDIT_COLS)})",
                       _audit_row(audit))
            # read back, so the caller holds what is stored (times cut to the millisecond)
            return self._audit(db, audit.graph, audit.id)

    def list_audits(self, graph: str) -> list[Audit]:
        db = self._conn()
        self._require_graph(db, graph)
        rows = db.execute(f"SELECT {_AUDIT_COLS} FROM audits WHERE graph = ?"
                          " ORDER BY created_ms, id", (graph,))
        return [_audit(r) for r in rows]

    def get_audit(self, graph: str, audit: str) -> Audit:
        return self._audit(self._conn(), graph, audit)

    def update_audit(self, graph: str, audit: str, changes: Mapping[str, Any]) -> Audit:
        unknown = set(changes) - MUTABLE_AUDIT_FIELDS
        if unknown:
            raise ValueError(f"audit fields that cannot be changed: {', '.join(sorted(unknown))}")
        sets = [_AUDIT_SETTERS[f] for f in changes]
        with self._write() as db:
            if sets:
                n = db.execute(
                    f"UPDATE audits SET {', '.join(f'{col} = ?' for col, _ in sets)}"
                    " WHERE graph = ? AND id = ?",
                    (*(conv(v) for (_, conv), v in zip(sets, changes.values())), graph, audit),
                ).rowcount
                if n == 0:
                    self._missing_audit(db, graph, audit)
            return self._audit(db, graph, audit)

    def delete_audit(self, graph: str, audit: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM audits WHERE graph = ? AND id = ?",
                          (graph, audit)).rowcount == 0:
                self._missing_audit(db, graph, audit)
            db.execute("DELETE FROM audit_runs WHERE graph = ? AND audit = ?", (graph, audit))
            db.execute("DELETE FROM deliveries WHERE graph = ? AND audit = ?", (graph, audit))

    # runs
    def claim_due(self, now: datetime, plan: SlotPlan, *, graphs: Sequence[str] | None = None,
                  limit: int = 100) -> list[AuditRun]:
        if graphs is not None and not graphs:
            return []
        now_ms = epoch_ms(now)
        where, args = _in(graphs)
        queued = []
        with self._write() as db:
            due = db.execute(
                f"SELECT {_AUDIT_COLS} FROM audits WHERE paused = 0 AND next_ms <= ?{where}"
                " ORDER BY next_ms, graph, id LIMIT ?",
                (now_ms, *args, limit),
            ).fetchall()
            for a in map(_audit, due):
                slot, following = plan(a, now)
                row = (secrets.token_hex(8), a.graph, a.id, epoch_ms(slot), "schedule",
                       RunStatus.QUEUED, 0, now_ms, None, None, None, None, None, None, None)
                # ignored when the slot already has a run: the schedule still moves on
                if db.execute(f"INSERT OR IGNORE INTO audit_runs ({_RUN_COLS})"
                              f" VALUES ({_marks(_RUN_COLS)})", row).rowcount:
                    queued.append(_run(row))
                db.execute("UPDATE audits SET next_ms = ? WHERE graph = ? AND id = ?",
                           (epoch_ms(following), a.graph, a.id))
        return queued

    def queue_run(self, graph: str, audit: str, now: datetime, run_id: str) -> AuditRun:
        now_ms = epoch_ms(now)
        row = (run_id, graph, audit, now_ms, "manual", RunStatus.QUEUED, 0, now_ms,
               None, None, None, None, None, None, None)
        with self._write() as db:
            self._audit(db, graph, audit)
            db.execute(f"INSERT INTO audit_runs ({_RUN_COLS}) VALUES ({_marks(_RUN_COLS)})", row)
        return _run(row)

    def claim_runs(self, now: datetime, owner: str, lease_until: datetime, *,
                   graphs: Sequence[str] | None = None, limit: int = 1) -> list[AuditRun]:
        if graphs is not None and not graphs:
            return []
        now_ms, lease_ms = epoch_ms(now), epoch_ms(lease_until)
        where, args = _in(graphs)
        with self._write() as db:
            rows = db.execute(
                f"SELECT {_RUN_COLS} FROM audit_runs"
                " WHERE (status = ? OR (status = ? AND lease_ms < ?))"
                f"{where} ORDER BY slot_ms, created_ms, id LIMIT ?",
                (RunStatus.QUEUED, RunStatus.RUNNING, now_ms, *args, limit),
            ).fetchall()
            claimed = [
                msgspec.structs.replace(r, status=RunStatus.RUNNING, owner=owner,
                                        lease_until=from_epoch_ms(lease_ms),
                                        attempts=r.attempts + 1, started_at=from_epoch_ms(now_ms))
                for r in map(_run, rows)
            ]
            db.executemany(
                "UPDATE audit_runs SET status = ?, owner = ?, lease_ms = ?,"
                " attempts = attempts + 1, started_ms = ? WHERE id = ?",
                [(RunStatus.RUNNING, owner, lease_ms, now_ms, r.id) for r in claimed],
            )
        return claimed

    def renew_run(self, run: str, owner: str, lease_until: datetime) -> bool:
        with self._write() as db:
            return db.execute(
                "UPDATE audit_runs SET lease_ms = ? WHERE id = ? AND owner = ? AND status = ?",
                (epoch_ms(lease_until), run, owner, RunStatus.RUNNING),
            ).rowcount > 0

    def finish_run(self, run: AuditRun, owner: str, deliveries: Sequence[Delivery] = ()) -> bool:
        with self._write() as db:
            if db.execute(
                "UPDATE audit_runs SET status = ?, finished_ms = ?, graph_version = ?,"
                " result = ?, error = ?, owner = NULL, lease_ms = NULL"
                " WHERE id = ? AND owner = ? AND status = ?",
                (run.status, _ms(run.finished_at), run.graph_version, run.result, run.error,
                 run.id, owner, RunStatus.RUNNING),
            ).rowcount == 0:
                return False
            db.executemany(
                f"INSERT INTO deliveries ({_DELIVERY_COLS}) VALUES ({_marks(_DELIVERY_COLS)})",
                [_delivery_row(d) for d in deliveries],
            )
        return True

    def list_runs(self, graph: str, audit: str, *, limit: int = 50,
                  before: datetime | None = None, after: AuditRun | None = None) -> list[AuditRun]:
        db = self._conn()
        self._audit(db, graph, audit)
        where, args = ("", []) if before is None else (" AND slot_ms < ?", [epoch_ms(before)])
        if after is not None:
            # the page's cursor: strictly after that run in newest-first order
            where += " AND (slot_ms, created_ms, id) < (?, ?, ?)"
            args += [epoch_ms(after.slot), epoch_ms(after.created_at), after.id]
        rows = db.execute(
            f"SELECT {_RUN_COLS} FROM audit_runs WHERE graph = ? AND audit = ?{where}"
            " ORDER BY slot_ms DESC, created_ms DESC, id DESC LIMIT ?",
            (graph, audit, *args, limit),
        )
        return [_run(r) for r in rows]

    def get_run(self, graph: str, audit: str, run: str) -> AuditRun:
        db = self._conn()
        row = db.execute(f"SELECT {_RUN_COLS} FROM audit_runs WHERE graph = ? AND audit = ?"
                         " AND id = ?", (graph, audit, run)).fetchone()
        if row is None:
            self._audit(db, graph, audit)
            raise RunNotFound(run)
        return _run(row)

    # deliveries
    def claim_deliveries(self, now: datetime, owner: str, lease_until: datetime, *,
                         graphs: Sequence[str] | None = None, limit: int = 10) -> list[Delivery]:
        if graphs is not None and not graphs:
            return []
        now_ms, lease_ms = epoch_ms(now), epoch_ms(lease_until)
        where, args = _in(graphs)
        with self._write() as db:
            rows = db.execute(
                f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE status = ? AND next_ms <= ?"
                f" AND (lease_ms IS NULL OR lease_ms < ?){where} ORDER BY next_ms, id LIMIT ?",
                (DeliveryStatus.PENDING, now_ms, now_ms, *args, limit),
            ).fetchall()
            claimed = [msgspec.structs.replace(d, owner=owner, lease_until=from_epoch_ms(lease_ms))
                       for d in map(_delivery, rows)]
            db.executemany("UPDATE deliveries SET owner = ?, lease_ms = ? WHERE id = ?",
                           [(owner, lease_ms, d.id) for d in claimed])
        return claimed

    def record_attempt(self, delivery: str, owner: str, attempt: DeliveryAttempt, *,
                       status: str, next_attempt_at: datetime | None) -> bool:
        # to the millisecond, like every other time the store keeps
        attempt = msgspec.structs.replace(attempt, at=from_epoch_ms(epoch_ms(attempt.at)))
        with self._write() as db:
            row = db.execute("SELECT attempts FROM deliveries WHERE id = ? AND owner = ?",
                             (delivery, owner)).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE deliveries SET attempts = ?, status = ?, next_ms = ?, owner = NULL,"
                " lease_ms = NULL WHERE id = ?",
                (_json([*_ATTEMPTS.decode(row[0]), attempt]), status, _ms(next_attempt_at),
                 delivery),
            )
        return True

    def list_deliveries(self, graph: str, audit: str, *, run: str | None = None,
                        limit: int = 100, after: tuple[int, str] | None = None) -> list[Delivery]:
        db = self._conn()
        self._audit(db, graph, audit)
        where, args = ("", []) if run is None else (" AND run = ?", [run])
        if after is not None:
            where += " AND (created_ms, id) < (?, ?)"
            args += list(after)
        rows = db.execute(
            f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE graph = ? AND audit = ?{where}"
            " ORDER BY created_ms DESC, id DESC LIMIT ?",
            (graph, audit, *args, limit),
        )
        return [_delivery(r) for r in rows]

    # helpers
    def _audit(self, db: sqlite3.Connection, graph: str, audit: str) -> Audit:
        row = db.execute(f"SELECT {_AUDIT_COLS} FROM audits WHERE graph = ? AND id = ?",
                         (graph, audit)).fetchone()
        if row is None:
            self._missing_audit(db, graph, audit)
        return _audit(row)

    def _missing_audit(self, db: sqlite3.Connection, graph: str, audit: str) -> NoReturn:
        # a missing graph is the better answer: its audits are gone with it
        self._require_graph(db, graph)
        raise AuditNotFound(audit)

    @staticmethod
    def _delete_graph_audits(db: sqlite3.Connection, graph: str) -> None:
        for table in ("deliveries", "audit_runs", "audits"):
            db.execute(f"DELETE FROM {table} WHERE graph = ?", (graph,))


def _audit_row(a: Audit) -> tuple:
    return (a.graph, a.id, a.account, a.every, a.cron, a.timezone, _ms(a.start), _json(a.params),
            a.webhook_url, a.webhook_secret, int(a.paused), epoch_ms(a.created_at),
            epoch_ms(a.updated_at), _ms(a.next_run_at))


def _audit(r: tuple) -> Audit:
    return Audit(graph=r[0], id=r[1], account=r[2], every=r[3], cron=r[4], timezone=r[5],
                 start=from_epoch_ms(r[6]), params=msgspec.json.decode(r[7], type=AnalysisParams),
                 webhook_url=r[8], webhook_secret=r[9], paused=bool(r[10]),
                 created_at=from_epoch_ms(r[11]), updated_at=from_epoch_ms(r[12]),
                 next_run_at=from_epoch_ms(r[13]))


def _run(r: tuple) -> AuditRun:
    return AuditRun(id=r[0], graph=r[1], audit=r[2], slot=from_epoch_ms(r[3]), trigger=r[4],
                    status=r[5], attempts=r[6], created_at=from_epoch_ms(r[7]),
                    started_at=from_epoch_ms(r[8]), finished_at=from_epoch_ms(r[9]),
                    graph_version=r[10], result=r[11], error=r[12], owner=r[13],
                    lease_until=from_epoch_ms(r[14]))


def _delivery_row(d: Delivery) -> tuple:
    return (d.id, d.graph, d.audit, d.run, d.url, d.event, d.body, d.status, _json(d.attempts),
            _ms(d.next_attempt_at), epoch_ms(d.created_at), d.owner, _ms(d.lease_until))


def _delivery(r: tuple) -> Delivery:
    return Delivery(id=r[0], graph=r[1], audit=r[2], run=r[3], url=r[4], event=r[5], body=r[6],
                    status=r[7], attempts=_ATTEMPTS.decode(r[8]),
                    next_attempt_at=from_epoch_ms(r[9]),
                    created_at=from_epoch_ms(r[10]), owner=r[11], lease_until=from_epoch_ms(r[12]))
