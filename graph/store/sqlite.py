"""The embedded default store: one SQLite file in WAL mode.

Chosen so that a newcomer can run castlegate with nothing else installed. Every write is
one ``BEGIN IMMEDIATE`` transaction: SQLite then holds the single writer lock for the whole
check-then-insert, so concurrent duplicate batches (from threads or other processes)
cannot both insert.

The file (and SQLite's -wal and -shm beside it) is private to its owner, mode 0600: it
holds webhook secrets and API key digests. Connections come from a small pool, one
borrowed per call (see ``_checkout``).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from graph.errors import AccountNotFound, GraphExists, GraphNotFound, StoreUnavailable
from graph.model import (
    Account,
    AccountDetail,
    Deleted,
    GraphInfo,
    IngestResult,
    Interaction,
    Kind,
    KindCounts,
    empty_kind_counts,
    epoch_ms,
    from_epoch_ms,
)
from graph.store import batch as _batch
from graph.store.port import EdgeTable, Snapshot
from graph.store.sqlite_audits import _AUDIT_SCHEMA, SqliteAudits
from graph.store.sqlite_keys import _KEY_SCHEMA, SqliteKeys

__all__ = ["SqliteStore"]

_KINDS = [k.value for k in Kind]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS graphs (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    accounts INTEGER NOT NULL DEFAULT 0,
    {", ".join(f"n_{k} INTEGER NOT NULL DEFAULT 0" for k in _KINDS)},
    first_ms INTEGER,
    last_ms INTEGER
);
CREATE TABLE IF NOT EXISTS accounts (
    graph TEXT NOT NULL,
    id TEXT NOT NULL,
    handle TEXT,
    platform TEXT,
    followers INTEGER,
    attributes TEXT,
    PRIMARY KEY (graph, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS interactions (
    graph TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    post TEXT,
    in_reply_to TEXT,
    object TEXT,
    conversation TEXT,
    platform TEXT,
    digest TEXT NOT NULL,
    PRIMARY KEY (graph, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS interactions_source ON interactions (graph, source, kind);
CREATE INDEX IF NOT EXISTS interactions_target ON interactions (graph, target, kind);
"""

# SQLite allows 32766 host parameters since 3.32; stay well below for older builds.
_CHUNK = 900

#: connections kept open between calls (see ``SqliteStore._checkout``)
_MAX_IDLE_CONNECTIONS = 8

#: the files of one store: SQLite names its write-ahead log and shared-memory index after
#: the database file
_SIDE_FILES = ("-wal", "-shm")


def _make_private(path: Path) -> None:
    """Creates the database file with mode 0600 if it does not exist yet, before SQLite
    opens it (SQLite then gives the -wal and -shm files the database file's mode), and
    brings an existing file and its -wal and -shm down to 0600. ``fchmod`` on the opened
    file, so the process umask plays no part and is left alone."""
    for i, name in enumerate((str(path), *(str(path) + s for s in _SIDE_FILES))):
        try:
            fd = os.open(name, os.O_RDWR | (os.O_CREAT if i == 0 else 0), 0o600)
        except FileNotFoundError:
            continue  # no -wal or -shm (yet): SQLite creates them with the file's mode
        except OSError as e:
            raise StoreUnavailable(f"cannot open {name}: {e}") from e
        try:
            if os.fstat(fd).st_mode & 0o777 != 0o600:
                os.fchmod(fd, 0o600)
        except PermissionError:
            pass  # another user's file that we may write: not ours to change
        finally:
            os.close(fd)


def _require_graph(db: sqlite3.Connection, graph: str) -> None:
    if db.execute("SELECT 1 FROM graphs WHERE id = ?", (graph,)).fetchone() is None:
        raise GraphNotFound(graph)


class SqliteStore(SqliteAudits, SqliteKeys):
    kind = "sqlite"
    # the graph check, shared with the audits mixin
    _require_graph = staticmethod(_require_graph)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _make_private(self.path)
        self._idle: list[sqlite3.Connection] = []
        self._busy: set[sqlite3.Connection] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: ``db``: the connection the current call of this thread borrowed (``_db``)
        self._bound = threading.local()
        #: the connection that only watches for commits (``change_token``), with its pid
        self._watch: tuple[sqlite3.Connection, int] | None = None
        self._watch_lock = threading.Lock()
        with self._db() as db:
            db.executescript(_SCHEMA + _AUDIT_SCHEMA + _KEY_SCHEMA)

    # connections ------------------------------------------------------------------------
    # A small pool, as in ``SqliteJobStore``: a connection is checked out for one call (or
    # one transaction) and handed back after it, so the number open is the number of calls
    # running at once (at most _MAX_IDLE_CONNECTIONS stay open in between), not the number
    # of threads that ever called: threads of a web server's pool come and go, and a
    # thread-local connection stayed open (an fd and a WAL reader slot each) until close().
    # Never used by two threads at once, so check_same_thread can be off.
    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            # FULL fsyncs the WAL at every commit: an acknowledged batch survives even an
            # OS crash, which NORMAL does not promise.
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as e:  # pragma: no cover - depends on the filesystem
            raise StoreUnavailable(f"cannot open {self.path}: {e}") from e
        return db

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                # a forked child: the parent's connections must not be used, nor closed, here
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
            # not busy any more: close() ran meanwhile, it is not pooled again
            if db in self._busy:
                self._busy.discard(db)
                if len(self._idle) < _MAX_IDLE_CONNECTIONS:
                    self._idle.append(db)
                    return
        db.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The connection of the current call: borrowed from the pool for its whole
        duration and handed back at its end; a call made inside it (a read after a write,
        a mixin's helper) gets the same connection, so a transaction never spans two."""
        db = getattr(self._bound, "db", None)
        if db is not None:
            yield db
            return
        db = self._checkout()
        self._bound.db = db
        try:
            yield db
        finally:
            self._bound.db = None
            self._checkin(db)

    def _conn(self) -> sqlite3.Connection:
        """The connection the current call borrowed (the mixins' reads use it; every
        public method of theirs runs inside ``_db``, see ``_borrowing``)."""
        db = getattr(self._bound, "db", None)
        if db is None:
            raise RuntimeError("SqliteStore._conn() outside a call: use `with self._db() as db`")
        return db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute(begin)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _write(self):
        """A write transaction: it takes the write lock at once, so it never fails to
        upgrade from a read half-way."""
        return self._transaction("BEGIN IMMEDIATE")

    def server_version(self) -> str:
        try:
            with self._db() as db:
                return db.execute("SELECT sqlite_version()").fetchone()[0]
        except sqlite3.Error as e:
            raise StoreUnavailable(str(e)) from e

    def change_token(self) -> int:
        """SQLite's ``data_version`` on a connection that never writes: it moves whenever
        any other connection, of this process or another, commits to the file. Reading it
        costs microseconds (the WAL index in shared memory), no query of the data."""
        with self._watch_lock:
            if self._watch is None or self._watch[1] != os.getpid():
                self._watch = (self._open(), os.getpid())
            try:
                return self._watch[0].execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as e:
                raise StoreUnavailable(f"{self.path}: {e}") from e

    def close(self) -> None:
        """Closes the idle connections now and those in use when their call ends. The store
        stays usable: a later call opens a connection again."""
        with self._lock:
            idle, self._idle, self._busy = self._idle, [], set()
        with self._watch_lock:
            if self._watch is not None and self._watch[1] == os.getpid():
                idle.append(self._watch[0])
            self._watch = None
        for db in idle:
            db.close()

    # workspaces
    def create_graph(self, graph: str, description: str = "") -> GraphInfo:
        with self._write() as db:
            try:
                db.execute(
                    "INSERT INTO graphs (id, description, incarnation, revision, created_ms)"
                    " VALUES (?, ?, ?, 0, ?)",
                    (graph, description, _batch.new_incarnation(), int(time.time() * 1000)),
                )
            except sqlite3.IntegrityError:
                raise GraphExists(graph) from None
        return self.get_graph(graph)

    def list_graphs(self, *, after: str | None = None, limit: int | None = None) -> list[GraphInfo]:
        with self._db() as db:
            rows = db.execute(f"{_GRAPH_SELECT} WHERE ? IS NULL OR id > ? ORDER BY id LIMIT ?",
                              (after, after, -1 if limit is None else limit)).fetchall()
        return [_graph_info(r) for r in rows]

    def get_graph(self, graph: str) -> GraphInfo:
        with self._db() as db:
            row = db.execute(f"{_GRAPH_SELECT} WHERE id = ?", (graph,)).fetchone()
        if row is None:
            raise GraphNotFound(graph)
        return _graph_info(row)

    def delete_graph(self, graph: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM graphs WHERE id = ?", (graph,)).rowcount == 0:
                raise GraphNotFound(graph)
            db.execute("DELETE FROM interactions WHERE graph = ?", (graph,))
            db.execute("DELETE FROM accounts WHERE graph = ?", (graph,))
            self._delete_graph_audits(db, graph)

    # writes
    def upsert_accounts(self, graph: str, accounts: Sequence[Account]) -> int:
        latest = {a.id: a for a in accounts}  # last one wins within a batch
        with self._write() as db:
            _require_graph(db, graph)
            created = db.executemany(
                "INSERT OR IGNORE INTO accounts (graph, id) VALUES (?, ?)",
                [(graph, i) for i in latest],
            ).rowcount
            # only rows whose content really changes are counted, so that re-sending the
            # same accounts leaves the graph version alone
            changed = db.executemany(
                "UPDATE accounts SET handle = coalesce(?1, handle),"
                " platform = coalesce(?2, platform), followers = coalesce(?3, followers),"
                " attributes = coalesce(?4, attributes)"
                " WHERE graph = ?5 AND id = ?6 AND ("
                " (?1 IS NOT NULL AND handle IS NOT ?1) OR (?2 IS NOT NULL AND platform IS NOT ?2)"
                " OR (?3 IS NOT NULL AND followers IS NOT ?3)"
                " OR (?4 IS NOT NULL AND attributes IS NOT ?4))",
                [
                    (
                        a.handle,
                        a.platform,
                        a.followers,
                        _attrs(a.attributes),
                        graph,
                        a.id,
                    )
                    for a in latest.values()
                ],
            ).rowcount
            if created or changed:
                db.execute(
                    "UPDATE graphs SET accounts = accounts + ?, revision = revision + 1"
                    " WHERE id = ?",
                    (created, graph),
                )
        return len(latest)

    def add_interactions(self, graph: str, interactions: Sequence[Interaction]) -> IngestResult:
        prepared = _batch.prepare(interactions)
        with self._write() as db:
            _require_graph(db, graph)
            stored: dict[str, str] = {}
            ids = list(prepared.items)
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                stored.update(
                    db.execute(
                        "SELECT id, digest FROM interactions WHERE graph = ? AND id IN"
                        f" ({','.join('?' * len(chunk))})",
                        (graph, *chunk),
                    ).fetchall()
                )
            new = _batch.split_existing(prepared, stored)
            duplicates = prepared.duplicates_within + len(stored)
            if not new:
                return IngestResult(accepted=0, duplicates=duplicates)
            names = {it.source for it in new} | {it.target for it in new}
            created = db.executemany(
                "INSERT OR IGNORE INTO accounts (graph, id) VALUES (?, ?)",
                [(graph, n) for n in names],
            ).rowcount
            db.executemany(
                "INSERT INTO interactions (graph, id, kind, source, target, at_ms, post,"
                " in_reply_to, object, conversation, platform, digest)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        graph,
                        it.id,
                        it.kind.value,
                        it.source,
                        it.target,
                        epoch_ms(it.at),
                        it.post,
                        it.in_reply_to,
                        it.object,
                        it.conversation,
                        it.platform,
                        prepared.digests[it.id],
                    )
                    for it in new
                ],
            )
            tally = _batch.Tally.of(new)
            db.execute(
                "UPDATE graphs SET accounts = accounts + ?, revision = revision + 1,"
                + ", ".join(f"n_{k} = n_{k} + ?" for k in _KINDS)
                + ", first_ms = min(coalesce(first_ms, ?), ?)"
                ", last_ms = max(coalesce(last_ms, ?), ?) WHERE id = ?",
                (
                    created,
                    *(tally.per_kind[k] for k in _KINDS),
                    tally.first_ms,
                    tally.first_ms,
                    tally.last_ms,
                    tally.last_ms,
                    graph,
                ),
            )
        return IngestResult(accepted=len(new), duplicates=duplicates)

    def delete_interactions(self, graph: str, ids: Sequence[str]) -> Deleted:
        ids = list(dict.fromkeys(ids))
        with self._write() as db:
            _require_graph(db, graph)
            gone: list[tuple[str, str, int]] = []
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                gone += db.execute(f"SELECT id, kind, at_ms FROM interactions WHERE graph = ? AND id IN ({marks})",
                                   (graph, *chunk)).fetchall()
                db.execute(f"DELETE FROM interactions WHERE graph = ? AND id IN ({marks})", (graph, *chunk))
            if gone:
                per_kind = Counter(k for _, k, _ in gone)
                db.execute("UPDATE graphs SET revision = revision + 1, "
                           + ", ".join(f"n_{k} = n_{k} - ?" for k in _KINDS) + " WHERE id = ?",
                           (*(per_kind.get(k, 0) for k in _KINDS), graph))
                first, last = db.execute("SELECT first_ms, last_ms FROM graphs WHERE id = ?", (graph,)).fetchone()
                if min(at for *_, at in gone) <= first or max(at for *_, at in gone) >= last:
                    # an end of the time range went: read it again (a scan, only then)
                    db.execute("UPDATE graphs SET (first_ms, last_ms) = (SELECT min(at_ms), max(at_ms)"
                               " FROM interactions WHERE graph = ?) WHERE id = ?", (graph, graph))
        found = {i for i, *_ in gone}
        return Deleted(deleted=len(gone), missing=[i for i in ids if i not in found])

    # reads
    def account_labels(self, graph: str, attribute: str) -> dict[str, str]:
        with self._db() as db:
            _require_graph(db, graph)
            rows = db.execute("SELECT id, attributes FROM accounts WHERE graph = ? AND attributes IS NOT NULL",
                              (graph,)).fetchall()
        return _batch.labels(rows, attribute)

    def account_handles(self, graph: str, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._db() as db:
            _require_graph(db, graph)
            for i in range(0, len(ids), _CHUNK):
                part = list(ids[i:i + _CHUNK])
                out.update(db.execute(
                    "SELECT id, handle FROM accounts WHERE graph = ? AND handle IS NOT NULL"
                    f" AND id IN ({','.join('?' * len(part))})", (graph, *part)).fetchall())
        return out

    def find_accounts(self, graph: str, q: str = "", *, after: str | None = None,
                      limit: int = 100) -> list[Account]:
        handle = q.lower().removeprefix("@")
        # the id prefix as a range on the primary key; handles are scanned (lower + LIKE
        # with the wildcards escaped, since a handle may hold % and _)
        like = handle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._db() as db:
            _require_graph(db, graph)
            rows = db.execute(
                "SELECT id, handle, platform, followers, attributes FROM accounts WHERE graph = ?"
                " AND id > ? AND ((id >= ? AND substr(id, 1, ?) = ?)"
                "   OR (? <> '' AND ltrim(lower(handle), '@') LIKE ? ESCAPE '\\'))"
                " ORDER BY id LIMIT ?",
                (graph, after if after is not None else "", q, len(q), q, handle, like, limit),
            ).fetchall()
        return [_account(r) for r in rows]

    def get_account(self, graph: str, account: str) -> AccountDetail:
        with self._db() as db:
            _require_graph(db, graph)
            row = db.execute(
                "SELECT id, handle, platform, followers, attributes FROM accounts"
                " WHERE graph = ? AND id = ?",
                (graph, account),
            ).fetchone()
            if row is None:
                raise AccountNotFound(graph, account)
            out, inc = empty_kind_counts(), empty_kind_counts()
            for counts, column in ((out, "source"), (inc, "target")):
                for kind, n in db.execute(
                    f"SELECT kind, count(*) FROM interactions WHERE graph = ? AND {column} = ?"
                    " GROUP BY kind",
                    (graph, account),
                ):
                    counts[kind] = n
        return AccountDetail(account=_account(row), outgoing=KindCounts(**out), incoming=KindCounts(**inc))

    def iter_interactions(self, graph: str) -> Iterator[Interaction]:
        # a connection of its own, held while the caller iterates (and handed back when
        # the generator ends or is dropped), never the one of the caller's other calls
        db = self._checkout()
        try:
            _require_graph(db, graph)
            cur = db.execute(
                "SELECT id, kind, source, target, at_ms, post, in_reply_to, object,"
                " conversation, platform FROM interactions WHERE graph = ? ORDER BY id",
                (graph,),
            )
            try:
                for r in cur:
                    yield Interaction(
                        id=r[0],
                        kind=Kind(r[1]),
                        source=r[2],
                        target=r[3],
                        at=from_epoch_ms(r[4]),
                        post=r[5],
                        in_reply_to=r[6],
                        object=r[7],
                        conversation=r[8],
                        platform=r[9],
                    )
            finally:
                cur.close()
        finally:
            self._checkin(db)

    # analysis reads
    def _read(self):
        """A deferred read transaction. In WAL mode its first read fixes the snapshot:
        every statement in it sees the database as of that read, whatever commits meanwhile,
        and it blocks no writer."""
        return self._transaction("BEGIN")

    def read_snapshot(
        self, graph: str, *, since=None, until=None, edge_kinds: Sequence[Kind] = tuple(Kind),
        event_kinds: Sequence[Kind] = (), followers: bool = False,
    ) -> Snapshot:
        edge = _kind_values(edge_kinds)
        event_set = set(_kind_values(event_kinds))
        with self._read() as db:
            # the version first: it is the read that fixes the snapshot
            row = db.execute(
                "SELECT incarnation, revision FROM graphs WHERE id = ?", (graph,)
            ).fetchone()
            if row is None:
                raise GraphNotFound(graph)
            accounts = db.execute(
                "SELECT id, followers FROM accounts WHERE graph = ?", (graph,)
            ).fetchall()
            # Making Python rows is most of the time here, scanning is not (there is no
            # index on kind, yet a scan per kind is cheap next to it): so every interaction is
            # read once, with only the columns it is needed for; a kind that is both an edge
            # and an event kind gets its columns from the event rows.
            plain: dict[str, list[tuple]] = {}
            for k in edge:
                if k not in event_set:
                    where, args = self._window(graph, [k], since, until)
                    plain[k] = db.execute(
                        f"SELECT source, target, at_ms FROM interactions WHERE {where}", args
                    ).fetchall()
            events: list[tuple] = []
            if event_set:
                where, args = self._window(graph, sorted(event_set), since, until)
                events = db.execute(
                    "SELECT id, kind, source, target, at_ms, object FROM interactions"
                    f" WHERE {where} ORDER BY at_ms, id",
                    args,
                ).fetchall()
        # the transaction is over: the rest is arithmetic on what it read
        names = [a for a, _ in accounts]
        index = {a: i for i, a in enumerate(names)}
        per_kind: dict[str, list[tuple]] = {k: [] for k in edge if k in event_set}
        if per_kind:
            for r in events:
                rows = per_kind.get(r[1])
                if rows is not None:
                    rows.append(r)
        columns = {k: _columns(rows, index, first=0) for k, rows in plain.items()}
        columns |= {k: _columns(rows, index, first=2) for k, rows in per_kind.items()}
        return Snapshot(
            graph=graph,
            version=_batch.version_string(row[0], row[1]),
            table=EdgeTable(nodes=names, kinds={k: columns[k] for k in edge}),
            events=events,
            followers={a: n for a, n in accounts if n is not None} if followers else None,
        )

    def _window(self, graph: str, kinds: Sequence[Kind], since, until) -> tuple[str, list]:
        where = f"graph = ? AND kind IN ({','.join('?' * len(kinds))})"
        args: list = [graph, *(Kind(k).value for k in kinds)]
        if since is not None:
            where += " AND at_ms >= ?"
            args.append(epoch_ms(since))
        if until is not None:
            where += " AND at_ms < ?"
            args.append(epoch_ms(until))
        return where, args


def _borrowing(method):
    """``method`` run inside ``_db``: the mixins' reads call ``self._conn()``, which is the
    connection borrowed for the call."""

    @functools.wraps(method)
    def call(self: SqliteStore, *args, **kwargs):
        with self._db():
            return method(self, *args, **kwargs)

    return call


for _mixin in (SqliteAudits, SqliteKeys):
    for _name, _method in vars(_mixin).items():
        if not _name.startswith("_") and inspect.isfunction(_method) and _name not in vars(SqliteStore):
            setattr(SqliteStore, _name, _borrowing(_method))
del _mixin, _name, _method


def _kind_values(kinds: Sequence[Kind]) -> list[str]:
    return list(dict.fromkeys(Kind(k).value for k in kinds))


def _columns(
    rows: list[tuple], index: dict[str, int], *, first: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(src, dst, at_ms)`` arrays of rows that hold source, target and at_ms from column
    ``first`` on; accounts become their positions in the snapshot's nodes."""
    n, position = len(rows), index.__getitem__
    return (
        np.fromiter(map(position, map(itemgetter(first), rows)), dtype=np.int32, count=n),
        np.fromiter(map(position, map(itemgetter(first + 1), rows)), dtype=np.int32, count=n),
        np.fromiter(map(itemgetter(first + 2), rows), dtype=np.int64, count=n),
    )


_GRAPH_SELECT = (
    "SELECT id, description, incarnation, revision, created_ms, accounts, "
    + ", ".join(f"n_{k}" for k in _KINDS)
    + ", first_ms, last_ms FROM graphs"
)


def _graph_info(r: tuple) -> GraphInfo:
    n = len(_KINDS)
    return GraphInfo(
        id=r[0],
        description=r[1],
        version=_batch.version_string(r[2], r[3]),
        created_at=from_epoch_ms(r[4]),
        accounts=r[5],
        interactions=KindCounts(**dict(zip(_KINDS, r[6 : 6 + n]))),
        first_at=from_epoch_ms(r[6 + n]),
        last_at=from_epoch_ms(r[7 + n]),
    )


def _attrs(attributes: dict[str, str] | None) -> str | None:
    return None if attributes is None else json.dumps(attributes, sort_keys=True)


def _account(r: tuple) -> Account:
    return Account(
        id=r[0],
        handle=r[1],
        platform=r[2],
        followers=r[3],
        attributes=None if r[4] is None else json.loads(r[4]),
    )
