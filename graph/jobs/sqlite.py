"""The embedded ``JobStore``: one SQLite file (WAL) beside the graph store.

Several processes (``castlegate serve`` and its workers) may share the file, so every
check-then-write is one ``BEGIN IMMEDIATE`` transaction: SQLite's single writer lock is
held from the check ("still queued?", "still the lease holder?", "a live job for this
key?") to the write, which makes each such method a compare-and-set across processes.

Tables:

* ``jobs``: the ``Job`` struct encoded with msgpack (``data``) beside the columns that
  queries filter and sort on (graph, key, status, created_us, lease_until, owner,
  finished_us, result_key). Times are integer microseconds since the epoch, exactly what
  the struct holds, so ``list`` orders by the same value a client sees.
* ``results``: the cached answers (key, graph, data, size, used_at) and ``result_total``,
  one row holding the entry count and the byte total, updated in the same transaction as
  every insert, replacement and eviction, so the bound is kept exactly without a scan.
* ``workers``: the roll-call, one row per worker with the time its beat runs out.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import msgspec

from graph.errors import StoreUnavailable
from graph.jobs.model import ACTIVE, FINISHED, ErrorKind, Job, JobStatus
from graph.jobs.port import DEFAULT_MAX_RESULT_BYTES, JobNotFound, WorkerInfo

__all__ = ["SqliteJobStore"]

#: a read refreshes a result's recency at most this often (seconds): a cache hit is then
#: a write at most once a minute per key, not on every read
RECENCY_GRANULARITY = 60.0

#: connections kept open between calls (see ``_checkout``)
_MAX_IDLE_CONNECTIONS = 8

#: a dead worker's row is deleted once its beat ran out this long ago (seconds)
_WORKER_FORGET_AFTER = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    lease_until REAL,
    owner TEXT,
    finished_us INTEGER,
    result_key TEXT,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_us, id);
CREATE INDEX IF NOT EXISTS jobs_graph ON jobs (graph, created_us, id);
CREATE INDEX IF NOT EXISTS jobs_graph_status ON jobs (graph, status, created_us, id);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_us, id);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_us, id)
    WHERE finished_us IS NOT NULL;
-- the safety net beneath submit's check: never two queued or running jobs of one key
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_key ON jobs (key)
    WHERE status IN ('queued', 'running');

CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    size INTEGER NOT NULL,
    used_at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_lru ON results (used_at, key, size);
CREATE INDEX IF NOT EXISTS results_graph ON results (graph);
CREATE TABLE IF NOT EXISTS result_total (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO result_total (id, entries, bytes) VALUES (1, 0, 0);

CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    expires_us INTEGER NOT NULL,
    data BLOB NOT NULL
);
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

_encode = msgspec.msgpack.Encoder().encode
_decode_job = msgspec.msgpack.Decoder(Job).decode
_decode_worker = msgspec.msgpack.Decoder(WorkerInfo).decode

_FINISHED_SQL = ", ".join(f"'{s}'" for s in FINISHED)


def _us(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return (at - _EPOCH) // _US


def _row(job: Job) -> tuple:
    return (job.graph, job.key, job.status, _us(job.created_at), job.lease_until, job.owner,
            None if job.finished_at is None else _us(job.finished_at), job.result_key,
            _encode(job), job.id)


class SqliteJobStore:
    kind = "sqlite"

    def __init__(self, path: str | Path, *, max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_result_bytes = max_result_bytes
        #: epoch seconds for result recency (the only clock the store reads itself)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # created 0600 before SQLite opens it: jobs carry parameters and results carry
        # answers; SQLite gives the -wal and -shm files the database file's mode
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as e:
            raise StoreUnavailable(f"cannot open {self.path}: {e}") from e
        self._idle: list[sqlite3.Connection] = []
        self._busy: set[sqlite3.Connection] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        with self._db() as db:
            db.executescript(_SCHEMA)

    # connections ------------------------------------------------------------------------
    # A small pool instead of one connection per thread: a connection is checked out for
    # one call and handed back after it, so the number open is the number of calls running
    # at once (at most _MAX_IDLE_CONNECTIONS stay open in between), not the number of
    # threads that ever called. Threads of a web server's or worker's pool come and go; a
    # thread-local connection would stay open (an fd and a WAL reader slot each) until
    # close(). Never shared by two threads at once, so check_same_thread can be off.
    # (SQLite itself may keep a closed connection's fd while other connections of the
    # process hold locks on the file, and reuses it for the next open: bounded as well.)
    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            # FULL, as the graph store: a submitted job or a finished one survives an OS
            # crash once the call returned
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as e:  # pragma: no cover - depends on the filesystem
            raise StoreUnavailable(f"cannot open {self.path}: {e}") from e
        return db

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreUnavailable(f"job store {self.path} is closed")
            if self._pid != os.getpid():
                # a forked child (a process-pool worker): the parent's connections must not
                # be used, nor closed, here; they are left to the parent
                self._idle, self._busy, self._pid = [], set(), os.getpid()
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._open()
        with self._lock:
            self._busy.add(db)
        return db

    def _checkin(self, db: sqlite3.Connection) -> None:
        if db.in_transaction:  # a failed COMMIT: never hand a half-done transaction on
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        with self._lock:
            self._busy.discard(db)
            if not self._closed and len(self._idle) < _MAX_IDLE_CONNECTIONS:
                self._idle.append(db)
                return
        db.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = self._checkout()
        try:
            yield db
        finally:
            self._checkin(db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        # connections in use are closed when their call hands them back
        for db in idle:
            db.close()

    # jobs -------------------------------------------------------------------------------
    def submit(self, job: Job) -> tuple[Job, bool]:
        if job.status != JobStatus.QUEUED:
            raise ValueError(f"a submitted job is queued, not {job.status!r}")
        row = _row(job)
        with self._write() as db:
            live = db.execute(
                "SELECT data FROM jobs AS j WHERE key = ? AND (status IN ('queued', 'running')"
                " OR (status = 'done' AND EXISTS (SELECT 1 FROM results AS r"
                " WHERE r.key = j.result_key))) ORDER BY created_us DESC LIMIT 1",
                (job.key,),
            ).fetchone()
            if live is not None:
                return _decode_job(live[0]), False
            try:
                db.execute(
                    "INSERT INTO jobs (graph, key, status, created_us, lease_until, owner,"
                    " finished_us, result_key, data, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise ValueError(f"job {job.id!r} exists already") from None
        return job, True

    def set_queue_id(self, job_id: str, queue_id: str) -> None:
        with self._write() as db:
            job = self._get(db, job_id)
            self._put(db, msgspec.structs.replace(job, queue_id=queue_id))

    def get(self, job_id: str) -> Job:
        with self._db() as db:
            return self._get(db, job_id)

    def list(self, *, graph: str | None = None, status: str | None = None, limit: int = 50,
             after: str | None = None) -> list[Job]:
        if limit <= 0:
            return []
        where, args = [], []
        if graph is not None:
            where.append("graph = ?")
            args.append(graph)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        with self._db() as db:
            if after is not None:
                cursor = db.execute("SELECT created_us, id FROM jobs WHERE id = ?",
                                    (after,)).fetchone()
                if cursor is None:
                    raise JobNotFound(after)
                where.append("(created_us, id) < (?, ?)")
                args += cursor
            rows = db.execute(
                f"SELECT data FROM jobs {'WHERE ' + ' AND '.join(where) if where else ''}"
                " ORDER BY created_us DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_decode_job(r[0]) for r in rows]

    def claim(self, job_id: str, owner: str, lease_until: float, now: datetime) -> Job | None:
        _us(now)
        with self._write() as db:
            job = self._find(db, job_id)
            if job is None or job.status != JobStatus.QUEUED:
                return None
            job = msgspec.structs.replace(job, status=JobStatus.RUNNING, owner=owner,
                                          lease_until=float(lease_until),
                                          attempts=job.attempts + 1, started_at=now)
            self._put(db, job)
        return job

    def heartbeat(self, job_id: str, owner: str, lease_until: float, *, stage: str | None = None,
                  progress: float | None = None) -> str:
        with self._write() as db:
            job = self._find(db, job_id)
            if job is None:
                return "gone"
            if job.status == JobStatus.RUNNING and job.owner == owner:
                changes: dict = {"lease_until": float(lease_until)}
                if stage is not None:
                    changes["stage"] = stage
                if progress is not None:
                    changes["progress"] = float(progress)
                self._put(db, msgspec.structs.replace(job, **changes))
            return job.status

    def finish(self, job_id: str, owner: str, status: str, *, now: datetime, error: str | None = None,
               error_kind: str | None = None, result_key: str | None = None,
               graph_version: str | None = None) -> bool:
        if status not in FINISHED:
            raise ValueError(f"a job finishes done, failed or cancelled, not {status!r}")
        _us(now)
        with self._write() as db:
            job = self._find(db, job_id)
            if job is None or job.status != JobStatus.RUNNING or job.owner != owner:
                return False
            changes: dict = {"status": status, "lease_until": None, "finished_at": now}
            if status == JobStatus.DONE:
                changes["progress"] = 1.0
            for name, value in (("error", error), ("error_kind", error_kind),
                                ("result_key", result_key), ("graph_version", graph_version)):
                if value is not None:
                    changes[name] = value
            self._put(db, msgspec.structs.replace(job, **changes))
        return True

    def cancel(self, job_id: str, reason: str, now: datetime) -> Job:
        _us(now)
        with self._write() as db:
            job = self._get(db, job_id)
            if job.status in ACTIVE:
                job = self._cancel(db, job, reason, now)
        return job

    def cancel_graph(self, graph: str, reason: str, now: datetime) -> list[Job]:
        _us(now)
        with self._write() as db:
            rows = db.execute(
                "SELECT data FROM jobs WHERE graph = ? AND status IN ('queued', 'running')"
                " ORDER BY created_us, id", (graph,)
            ).fetchall()
            return [self._cancel(db, _decode_job(r[0]), reason, now) for r in rows]

    def expired(self, now: float) -> list[Job]:
        with self._db() as db:
            rows = db.execute(
                "SELECT data FROM jobs WHERE status = 'running' AND lease_until < ?"
                " ORDER BY lease_until, id", (float(now),)
            ).fetchall()
        return [_decode_job(r[0]) for r in rows]

    def requeue(self, job_id: str, owner: str, *, max_attempts: int, now: datetime) -> Job | None:
        _us(now)
        now_s = now.timestamp()
        with self._write() as db:
            job = self._find(db, job_id)
            if (job is None or job.status != JobStatus.RUNNING or job.owner != owner
                    or job.lease_until is None or job.lease_until >= now_s):
                return None
            if job.attempts >= max_attempts:
                job = msgspec.structs.replace(
                    job, status=JobStatus.FAILED, error_kind=ErrorKind.WORKER_LOST,
                    error=f"the worker running it was lost {job.attempts} times",
                    lease_until=None, finished_at=now)
            else:
                job = msgspec.structs.replace(job, status=JobStatus.QUEUED, owner=None,
                                              lease_until=None)
            self._put(db, job)
        return job

    def active_count(self, graph: str) -> int:
        with self._db() as db:
            return db.execute(
                "SELECT count(*) FROM jobs WHERE graph = ? AND status IN ('queued', 'running')",
                (graph,),
            ).fetchone()[0]

    def prune(self, now: datetime, *, keep_seconds: float, keep_max: int) -> int:
        cutoff = _us(now) - round(keep_seconds * 1e6)
        with self._write() as db:
            n = db.execute(
                f"DELETE FROM jobs WHERE finished_us < ? AND status IN ({_FINISHED_SQL})",
                (cutoff,),
            ).rowcount
            n += db.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_us IS NOT NULL"
                f" AND status IN ({_FINISHED_SQL}) ORDER BY finished_us DESC, id DESC"
                " LIMIT -1 OFFSET ?)",
                (max(0, keep_max),),
            ).rowcount
        return n

    # results ----------------------------------------------------------------------------
    def put_result(self, key: str, graph: str, data: bytes) -> bool:
        size = len(data)
        if size * 2 > self.max_result_bytes:
            return False
        now = self.clock()
        with self._write() as db:
            old = db.execute("SELECT size FROM results WHERE key = ?", (key,)).fetchone()
            db.execute(
                "INSERT INTO results (key, graph, size, used_at, data) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET graph = excluded.graph, size = excluded.size,"
                " used_at = excluded.used_at, data = excluded.data",
                (key, graph, size, now, data),
            )
            db.execute("UPDATE result_total SET entries = entries + ?, bytes = bytes + ?",
                       (0 if old else 1, size - (old[0] if old else 0)))
            total = db.execute("SELECT bytes FROM result_total").fetchone()[0]
            while total > self.max_result_bytes:
                victims = db.execute(
                    "SELECT key, size FROM results WHERE key != ? ORDER BY used_at, key LIMIT 64",
                    (key,),
                ).fetchall()
                if not victims:  # pragma: no cover - the new entry is at most half the bound
                    break
                gone, freed = [], 0
                for victim, vsize in victims:
                    if total - freed <= self.max_result_bytes:
                        break
                    gone.append((victim,))
                    freed += vsize
                db.executemany("DELETE FROM results WHERE key = ?", gone)
                db.execute("UPDATE result_total SET entries = entries - ?, bytes = bytes - ?",
                           (len(gone), freed))
                total -= freed
        return True

    def get_result(self, key: str) -> bytes | None:
        with self._db() as db:
            row = db.execute("SELECT data, used_at FROM results WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            now = self.clock()
            if now - row[1] >= RECENCY_GRANULARITY:
                # one autocommit statement; a concurrent eviction makes it a no-op
                db.execute("UPDATE results SET used_at = ? WHERE key = ? AND used_at < ?",
                           (now, key, now))
        return row[0]

    def has_result(self, key: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM results WHERE key = ?", (key,)).fetchone() is not None

    def drop_graph(self, graph: str) -> int:
        with self._write() as db:
            n, freed = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM results"
                                  " WHERE graph = ?", (graph,)).fetchone()
            db.execute("DELETE FROM results WHERE graph = ?", (graph,))
            db.execute("UPDATE result_total SET entries = entries - ?, bytes = bytes - ?",
                       (n, freed))
        return n

    def result_usage(self) -> tuple[int, int]:
        with self._db() as db:
            entries, size = db.execute("SELECT entries, bytes FROM result_total").fetchone()
        return entries, size

    # workers ----------------------------------------------------------------------------
    def beat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        seen = _us(worker.last_seen)
        with self._write() as db:
            db.execute(
                "INSERT INTO workers (id, expires_us, data) VALUES (?, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET expires_us = excluded.expires_us, data = excluded.data",
                (worker.id, seen + round(ttl * 1e6), _encode(worker)),
            )
            # the roll-call stays bounded: rows of workers long dead go
            db.execute("DELETE FROM workers WHERE expires_us < ?",
                       (seen - round(_WORKER_FORGET_AFTER * 1e6),))

    def drop_worker(self, worker_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def workers(self, now: datetime) -> list[WorkerInfo]:
        with self._db() as db:
            rows = db.execute("SELECT data FROM workers WHERE expires_us >= ?",
                              (_us(now),)).fetchall()
        return sorted((_decode_worker(r[0]) for r in rows), key=lambda w: (w.started_at, w.id))

    # helpers ----------------------------------------------------------------------------
    @staticmethod
    def _find(db: sqlite3.Connection, job_id: str) -> Job | None:
        row = db.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _decode_job(row[0])

    def _get(self, db: sqlite3.Connection, job_id: str) -> Job:
        job = self._find(db, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    @staticmethod
    def _put(db: sqlite3.Connection, job: Job) -> None:
        db.execute(
            "UPDATE jobs SET graph = ?, key = ?, status = ?, created_us = ?, lease_until = ?,"
            " owner = ?, finished_us = ?, result_key = ?, data = ? WHERE id = ?",
            _row(job),
        )

    def _cancel(self, db: sqlite3.Connection, job: Job, reason: str, now: datetime) -> Job:
        job = msgspec.structs.replace(job, status=JobStatus.CANCELLED, error=reason,
                                      error_kind=ErrorKind.CANCELLED, finished_at=now)
        self._put(db, job)
        return job
