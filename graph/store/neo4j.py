"""The production store: Neo4j 5.26 LTS (Community or Enterprise).

Model
-----
``(:Graph {id, uid, ...counters})`` is a workspace. ``uid`` is random per creation.
``(:Account {key: uid + ":" + id, graph_uid, id, handle, platform, followers, attributes,
rev, frev})``. One relationship type per interaction kind (``REPLY``, ``QUOTE``, ``MENTION``,
``REPOST``, ``LIKE``, ``FOLLOW``) so that an analysis reads one layer without touching the
others; each carries ``key``, ``id``, ``at`` (epoch ms), ``rev`` and the thread/object
fields. Audits, their runs and webhook deliveries are nodes too (``neo4j_audits``, mixed
into ``Neo4jStore``).

Every write transaction starts by writing to its ``Graph`` node, which takes that node's
write lock: batches into one graph are serialised, so the check for already-stored ids
and the insert cannot interleave with another client's identical batch. The uniqueness
constraints on ``key`` are the safety net underneath.

Neo4j transactions are read-committed, not snapshots, so versions are kept by hand: a write
stamps what it creates with ``rev``, the graph revision it commits (accounts and
interactions), and an account whose follower count it changes with ``frev``. An analysis
reads the graph's revision first and then only what is stamped at or below it
(``read_snapshot``); data written before stamping has no ``rev`` and counts as revision 0.

All values travel as query parameters. The only text spliced into Cypher is a relationship
type taken from the fixed ``Kind`` enum and, for audits, labels and property names fixed in
the code, never from input.

Faults
------
Every call into the driver goes through ``_reach`` (``_write``, ``_read`` and the few
sessions opened directly), which turns each driver error that means "Neo4j cannot be
reached, or cannot serve right now" into ``StoreUnavailable`` (the API's 503 with
``Retry-After``): a refused or dropped connection (``ServiceUnavailable`` and its kinds,
``IncompleteCommit`` included: the client was not told "done", and a re-sent batch counts
as duplicates), ``SessionExpired``, no connection from the pool in time
(``ConnectionPoolError``), ``TransientError`` (``DatabaseUnavailable``, a database
starting or stopping, and what is still transient after the driver's own retries), a
transaction the server terminated while shutting down, socket ``OSError``s, and
``AuthError`` (the credentials are the deployment's, not the client's). Everything else
(constraint violations, Cypher errors, our own domain errors) passes through unchanged.

How long a call can take when Neo4j is gone (the driver settings in ``__init__``): one
attempt takes at most ``connect_timeout`` (5 s: getting a connection, pool wait, TCP, Bolt
handshake and login, is bounded by the acquisition timeout of the same length); a managed
transaction is retried until ``retry_time`` (5 s) has passed since its first failure, with
delays of 1, 2, 4 s (+-20 %), so the last retry starts at most 8.4 s after it. A call
therefore fails within 8.4 s when connections are refused (Neo4j stopped: measured 6-8 s),
within 11.2 s when none can be made at all (a dead host, a server that accepts and never
answers: 5 + 1.2 + 5), and never later than 5 + 8.4 + 5 = 18.4 s (first and last attempt
each waiting the full 5 s). A transaction already running when Neo4j begins a clean
shutdown may first be waited for by the server (up to its
``db.shutdown_transaction_end_timeout``, 10 s by default). A request makes one failing call
(the API key lookup, or its own read or write) and then answers 503. A connection that
breaks while a query runs fails at once (the socket closes); a server frozen in the middle
of a query is left to the server's own keep-alive hint. When Neo4j is back, the next call
opens new connections: the driver drops the pool's idle connections to an address at its
first failure there, so nothing stale is reused, and no restart of castlegate is needed.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from operator import itemgetter
from typing import Any, Iterator, Sequence

import neo4j
import numpy as np
from neo4j import GraphDatabase
from neo4j.exceptions import (
    AuthError,
    ConnectionPoolError,
    ConstraintError,
    Neo4jError,
    ResultFailedError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph.errors import AccountNotFound, GraphExists, GraphNotFound, IngestConflict, StoreUnavailable
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
from graph.store.neo4j_audits import AUDIT_LABELS, AUDIT_SCHEMA, Neo4jAudits
from graph.store.neo4j_keys import KEY_SCHEMA, Neo4jKeys
from graph.store.port import EdgeTable, EventRow, Snapshot

__all__ = ["Neo4jStore", "REL_TYPES"]

REL_TYPES: dict[Kind, str] = {k: k.value.upper() for k in Kind}
_KINDS = [k.value for k in Kind]

_SCHEMA = [
    "CREATE CONSTRAINT graph_id IF NOT EXISTS FOR (g:Graph) REQUIRE g.id IS UNIQUE",
    "CREATE CONSTRAINT account_key IF NOT EXISTS FOR (a:Account) REQUIRE a.key IS UNIQUE",
    "CREATE INDEX account_graph IF NOT EXISTS FOR (a:Account) ON (a.graph_uid)",
    *(
        f"CREATE CONSTRAINT {t.lower()}_key IF NOT EXISTS FOR ()-[r:{t}]-() REQUIRE r.key IS UNIQUE"
        for t in REL_TYPES.values()
    ),
    *AUDIT_SCHEMA,
    *KEY_SCHEMA,
]

# How many times a batch is re-tried when the uniqueness constraint fires: only a second
# process creating the same graph id at the same moment can get past the graph lock.
_CONSTRAINT_RETRIES = 3

# How many times read_snapshot starts over when what it read turns out to have changed under
# it (a follower count updated, the graph deleted): each needs a write in the middle of a
# short read, so a second attempt almost always succeeds.
_SNAPSHOT_ATTEMPTS = 5

# account keys looked up per round trip when handles are read for labels
_HANDLES_CHUNK = 10_000

#: driver errors that mean "Neo4j cannot be reached or cannot serve now", not "this request
#: is wrong": each becomes ``StoreUnavailable`` (503 with Retry-After). See "Faults" above.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ServiceUnavailable,  # refused, reset, timed out; IncompleteCommit; no routing/writer
    SessionExpired,  # the connection of a session went away
    ConnectionPoolError,  # ConnectionAcquisitionTimeoutError: no connection in time
    TransientError,  # DatabaseUnavailable and the like, still failing after the retries
    AuthError,  # the deployment's credentials (or their expiry), never the client's
    OSError,  # a socket error the driver did not wrap
)
#: server codes that are not TransientError (Neo4j 5 made the first two client errors) but
#: mean the same to a client when a server stops: the transaction, or its wait for a lock,
#: was ended under us, or none could be started; nothing was committed, retry later
UNAVAILABLE_CODES = frozenset({
    "Neo.ClientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.LockClientStopped",
    "Neo.DatabaseError.Transaction.TransactionStartFailed",
})


def is_unavailable(e: BaseException) -> bool:
    """Whether a driver error means Neo4j is not reachable or not serving right now."""
    if isinstance(e, UNAVAILABLE_ERRORS):
        return True
    return isinstance(e, Neo4jError) and e.code in UNAVAILABLE_CODES


class Neo4jStore(Neo4jAudits, Neo4jKeys):
    kind = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        connect_timeout: float = 5.0,
        retry_time: float = 5.0,
    ) -> None:
        self.uri = uri
        self.database = database
        # A request must fail fast with 503 rather than hang when Neo4j is gone: with these
        # defaults a call fails within 8.4 s when connections are refused, 11.2 s when none
        # can be made, 18.4 s at worst (see "Faults" above).
        self._driver = GraphDatabase.driver(
            uri,
            auth=(user, password),
            connection_timeout=connect_timeout,
            # the whole acquisition (pool wait, TCP, Bolt handshake, login)
            connection_acquisition_timeout=connect_timeout,
            # how long a managed transaction is retried after its first failure (the
            # driver's default of 30 s, with its doubling delays, can reach ~60 s)
            max_transaction_retry_time=retry_time,
            # "property does not exist yet" and similar planner notices on a fresh database
            # are noise in a service's logs
            notifications_min_severity="OFF",
        )
        self._schema_ready = False
        #: graph id -> uid of the incarnation last written, so the stored-digest look-up
        #: gets whole keys as parameters (checked against the graph node in the same query)
        self._uids: dict[str, str] = {}

    def _session(self, **kw: Any) -> neo4j.Session:
        return self._driver.session(database=self.database, **kw)

    @contextmanager
    def _reach(self) -> Iterator[None]:
        """Every driver call runs in this: an error that means Neo4j is unreachable or not
        serving becomes ``StoreUnavailable``; anything else passes through."""
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as e:
            if not is_unavailable(e):
                raise
            raise StoreUnavailable(f"Neo4j at {self.uri}: {type(e).__name__}: {e}") from e

    def ensure_schema(self) -> None:
        """Creates constraints and indexes (idempotent). Called at service start-up and,
        lazily, before the first write."""
        if self._schema_ready:
            return
        with self._reach(), self._session() as s:
            for stmt in _SCHEMA:
                s.run(stmt).consume()
            s.run("CALL db.awaitIndexes(300)").consume()
        self._schema_ready = True

    def change_token(self) -> None:
        """Neo4j has no change counter a client can read without a round trip."""
        return None

    def server_version(self) -> str:
        with self._reach(), self._session(default_access_mode=neo4j.READ_ACCESS) as s:
            rec = s.run(
                "CALL dbms.components() YIELD name, versions, edition"
                " RETURN versions[0] AS v, edition"
            ).single()
        return f"{rec['v']} {rec['edition']}"

    def close(self) -> None:
        self._driver.close()

    # helpers
    def _write(self, fn, *args):
        self.ensure_schema()
        with self._reach(), self._session() as s:
            for attempt in range(_CONSTRAINT_RETRIES):
                try:
                    return s.execute_write(fn, *args)
                except (ConstraintError, ResultFailedError) as e:
                    broken = _constraint_error(e)
                    if broken is None:
                        raise
                    if attempt == _CONSTRAINT_RETRIES - 1:
                        raise broken from None

    def _read(self, fn, *args):
        with self._reach(), self._session(default_access_mode=neo4j.READ_ACCESS) as s:
            return s.execute_read(fn, *args)

    # workspaces
    def create_graph(self, graph: str, description: str = "") -> GraphInfo:
        def tx(t: neo4j.ManagedTransaction) -> dict:
            if t.run("MATCH (g:Graph {id: $id}) RETURN 1", id=graph).single() is not None:
                raise GraphExists(graph)
            return t.run(
                "CREATE (g:Graph {id: $id, description: $d, uid: $uid, revision: 0,"
                " created_ms: $now, accounts: 0, "
                + ", ".join(f"n_{k}: 0" for k in _KINDS)
                + "}) RETURN g",
                id=graph,
                d=description,
                uid=_batch.new_incarnation(),
                now=int(time.time() * 1000),
            ).single()["g"]

        try:
            return _graph_info(self._write(tx))
        except ConstraintError:
            raise GraphExists(graph) from None

    def list_graphs(self, *, after: str | None = None, limit: int | None = None) -> list[GraphInfo]:
        def tx(t: neo4j.ManagedTransaction) -> list:
            return [r["g"] for r in t.run(
                "MATCH (g:Graph) WHERE $after IS NULL OR g.id > $after RETURN g ORDER BY g.id"
                + ("" if limit is None else " LIMIT $limit"), after=after, limit=limit)]

        return [_graph_info(g) for g in self._read(tx)]

    def get_graph(self, graph: str) -> GraphInfo:
        return _graph_info(self._read(_graph_node, graph))

    def delete_graph(self, graph: str) -> None:
        def tx(t: neo4j.ManagedTransaction) -> str:
            uid = _graph_node(t, graph)["uid"]
            t.run("MATCH (g:Graph {id: $id}) DELETE g", id=graph).consume()
            return uid

        uid = self._write(tx)
        # The graph is gone for clients once the node is; its accounts, interactions and
        # audits are purged in batches so a large graph does not need one huge transaction.
        # Their keys carry the old uid, so a graph re-created meanwhile never sees them.
        with self._reach(), self._session() as s:
            for label in ("Account", *AUDIT_LABELS):
                s.run(
                    f"MATCH (n:{label} {{graph_uid: $uid}})"
                    " CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS",
                    uid=uid,
                ).consume()

    # writes
    def upsert_accounts(self, graph: str, accounts: Sequence[Account]) -> int:
        latest = {a.id: a for a in accounts}

        def tx(t: neo4j.ManagedTransaction) -> None:
            g = _lock_graph(t, graph)
            uid = g["uid"]
            stored = {
                r["id"]: r
                for r in t.run(
                    "UNWIND $keys AS k MATCH (a:Account {key: k})"
                    " RETURN a.id AS id, a.handle AS handle, a.platform AS platform,"
                    " a.followers AS followers, a.attributes AS attributes",
                    keys=[f"{uid}:{i}" for i in latest],
                )
            }
            rows = []
            for a in latest.values():
                want = {
                    "handle": a.handle,
                    "platform": a.platform,
                    "followers": a.followers,
                    "attributes": _attrs(a.attributes),
                }
                have = stored.get(a.id)
                if have is None or any(v is not None and have[k] != v for k, v in want.items()):
                    refollowed = a.followers is not None and (
                        have is None or have["followers"] != a.followers
                    )
                    rows.append({"key": f"{uid}:{a.id}", "id": a.id, "frev": refollowed, **want})
            if not rows:
                return
            rev = _next_revision(t, graph)
            t.run(
                "UNWIND $rows AS r MERGE (a:Account {key: r.key})"
                " ON CREATE SET a.graph_uid = $uid, a.id = r.id, a.rev = $rev"
                " SET a.handle = coalesce(r.handle, a.handle),"
                " a.platform = coalesce(r.platform, a.platform),"
                " a.followers = coalesce(r.followers, a.followers),"
                " a.attributes = coalesce(r.attributes, a.attributes),"
                " a.frev = CASE WHEN r.frev THEN $rev ELSE a.frev END",
                rows=rows,
                uid=uid,
                rev=rev,
            ).consume()
            created = sum(1 for r in rows if r["id"] not in stored)
            t.run(
                "MATCH (g:Graph {id: $id})"
                " SET g.accounts = g.accounts + $created, g.revision = $rev",
                id=graph,
                created=created,
                rev=rev,
            ).consume()

        self._write(tx)
        return len(latest)

    def add_interactions(self, graph: str, interactions: Sequence[Interaction]) -> IngestResult:
        (outcome,) = self.add_interaction_batches(graph, [interactions])
        if isinstance(outcome, IngestConflict):
            raise outcome
        return outcome

    def add_interaction_batches(
        self, graph: str, batches: Sequence[Sequence[Interaction]]
    ) -> list[IngestResult | IngestConflict]:
        """Several requests' batches in one transaction, for ``graph.usecases.group_commit``:
        per batch, in order, its ``IngestResult``, or the ``IngestConflict`` refusing it
        alone, decided as if the batches had been written one after the other.

        Two queries and the commit, whatever the batches hold. The first reads the digests
        stored for the group's ids under every kind (an id stored as another kind is a
        conflict too), without the graph's lock. The second, only when something is new,
        takes the lock and creates the missing accounts, every new interaction and the
        graph's counters. Another process writing one of the same ids between the two makes
        the relationship key's uniqueness constraint fire, and ``_write`` runs the whole
        transaction again, which then finds it stored. Relationships find their end nodes by
        position in the list the account ``MERGE`` collected, not by an index look-up per
        end. A request refused for a conflict is decided before anything is written, so the
        others are written in the same transaction without a rollback.

        Measured on higgs, 10,000-event batches, one writer, 2 shared cores (ms per batch):
        before, 11 queries: lock 5, existing 214, accounts 165, relationships 544, commit
        ~500, total 1,490; now: stored 214, write 340, commit 400, total ~1,000. A 10-event
        batch: 70 ms before, 14 ms now (the round trips were most of it).
        """
        prepared = _batch.prepare_each(batches)
        ids = list(dict.fromkeys(i for b in prepared if not isinstance(b, IngestConflict) for i in b.items))

        def tx(t: neo4j.ManagedTransaction) -> list:
            for _ in range(_CONSTRAINT_RETRIES):
                uid = self._uids.get(graph)
                if uid is None:
                    uid = _graph_node(t, graph)["uid"]
                keys = [f"{uid}:{i}" for i in ids]
                head = t.run(_STORED, id=graph, keys=keys).single()
                if head is None:
                    self._uids.pop(graph, None)
                    raise GraphNotFound(graph)
                if head["uid"] != uid:  # deleted and created again since the uid was kept
                    self._uids[graph] = head["uid"]
                    continue
                group = _batch.settle(prepared, dict(head["stored"]))
                if not group.new or _write_new(t, graph, uid, group):
                    self._remember_uid(graph, uid)
                    return group.outcomes
                self._uids.pop(graph, None)  # re-created between the two queries: read it again
            raise StoreUnavailable(f"graph {graph!r} was re-created under {_CONSTRAINT_RETRIES} writes in a row")

        return [
            o if isinstance(o, IngestConflict) else IngestResult(accepted=o[0], duplicates=o[1])
            for o in self._write(tx)
        ]

    def _remember_uid(self, graph: str, uid: str) -> None:
        if len(self._uids) >= _UIDS_KEPT:
            self._uids.clear()
        self._uids[graph] = uid

    def delete_interactions(self, graph: str, ids: Sequence[str]) -> Deleted:
        ids = list(dict.fromkeys(ids))

        def tx(t: neo4j.ManagedTransaction) -> list:
            g = _lock_graph(t, graph)
            uid = g["uid"]
            gone = t.run(_DELETE, keys=[f"{uid}:{i}" for i in ids]).single()["gone"]
            if not gone:
                return gone
            t.run("MATCH (g:Graph {id: $id}) SET g.revision = g.revision + 1, "
                  + ", ".join(f"g.n_{k} = g.n_{k} - $n.{k}" for k in _KINDS), id=graph,
                  n={k: sum(1 for _, kind, _ in gone if kind == k) for k in _KINDS}).consume()
            if min(at for *_, at in gone) <= g["first_ms"] or max(at for *_, at in gone) >= g["last_ms"]:
                # an end of the time range went: read it again (a scan, only then)
                t.run(_TIME_RANGE, id=graph, uid=uid).consume()
            return gone

        gone = self._write(tx)
        found = {i for i, *_ in gone}
        return Deleted(deleted=len(gone), missing=[i for i in ids if i not in found])

    # reads
    def account_labels(self, graph: str, attribute: str) -> dict[str, str]:
        def tx(t: neo4j.ManagedTransaction) -> list:
            uid = _graph_node(t, graph)["uid"]
            return [(r["id"], r["attributes"]) for r in t.run(
                "MATCH (a:Account {graph_uid: $uid}) WHERE a.attributes IS NOT NULL"
                " RETURN a.id AS id, a.attributes AS attributes", uid=uid)]

        return _batch.labels(self._read(tx), attribute)

    def account_handles(self, graph: str, ids: Sequence[str]) -> dict[str, str]:
        def tx(t: neo4j.ManagedTransaction) -> dict[str, str]:
            uid = _graph_node(t, graph)["uid"]
            out: dict[str, str] = {}
            # by key (the unique index), a bounded list per round trip
            for i in range(0, len(ids), _HANDLES_CHUNK):
                out.update((r["id"], r["handle"]) for r in t.run(
                    "UNWIND $keys AS k MATCH (a:Account {key: k}) WHERE a.handle IS NOT NULL"
                    " RETURN a.id AS id, a.handle AS handle",
                    keys=[f"{uid}:{a}" for a in ids[i:i + _HANDLES_CHUNK]]))
            return out

        return self._read(tx)

    def find_accounts(self, graph: str, q: str = "", *, after: str | None = None,
                      limit: int = 100) -> list[Account]:
        def tx(t: neo4j.ManagedTransaction) -> list:
            return [r["a"] for r in t.run(_FIND_ACCOUNTS, id=graph, q=q, after=after, limit=limit,
                                          handle=q.lower().removeprefix("@"))]

        rows = self._read(tx)
        if not rows and not self._read(lambda t: t.run("MATCH (g:Graph {id: $id}) RETURN 1", id=graph).single()):
            raise GraphNotFound(graph)
        return [_account(a) for a in rows]

    def get_account(self, graph: str, account: str) -> AccountDetail:
        def tx(t: neo4j.ManagedTransaction) -> AccountDetail:
            uid = _graph_node(t, graph)["uid"]
            rec = t.run(
                "MATCH (a:Account {key: $key}) RETURN a, "
                + ", ".join(
                    f"COUNT {{ (a)-[:{rt}]->() }} AS out_{k.value},"
                    f" COUNT {{ (a)<-[:{rt}]-() }} AS in_{k.value}"
                    for k, rt in REL_TYPES.items()
                ),
                key=f"{uid}:{account}",
            ).single()
            if rec is None:
                raise AccountNotFound(graph, account)
            out, inc = empty_kind_counts(), empty_kind_counts()
            for k in _KINDS:
                out[k] = rec[f"out_{k}"]
                inc[k] = rec[f"in_{k}"]
            return AccountDetail(account=_account(rec["a"]), outgoing=KindCounts(**out), incoming=KindCounts(**inc))

        return self._read(tx)

    def iter_interactions(self, graph: str) -> Iterator[Interaction]:
        def tx(t: neo4j.ManagedTransaction) -> list[Interaction]:
            uid = _graph_node(t, graph)["uid"]
            result = t.run(
                "MATCH (s:Account {graph_uid: $uid})-[r]->(t)"
                " RETURN type(r) AS type, r AS r, s.id AS source, t.id AS target"
                " ORDER BY r.id",
                uid=uid,
            )
            return [_interaction(rec) for rec in result]

        yield from self._read(tx)

    # analysis reads
    def read_snapshot(
        self, graph: str, *, since=None, until=None, edge_kinds: Sequence[Kind] = tuple(Kind),
        event_kinds: Sequence[Kind] = (), followers: bool = False,
    ) -> Snapshot:
        """Measured on higgs (563k interactions, 2 cores): Cypher's own per-pair aggregation
        tops out near 250k interactions/s and a record per row near 70k/s, while whole
        columns of integers (internal node ids, times) come at several hundred thousand a
        second. So: one query for the node id -> account map (and the follower counts), one
        per kind for the columns (with ids and objects for event kinds: the events come from
        the same read), the latter run two at a time, and aggregation left to numpy.

        Each of those is its own read transaction, so they agree only through the revision
        read first: they keep what is stamped at or below it. What stamps cannot undo is
        detected, and the read starts over: a follower count changed in place after the
        revision (which is why the accounts are read in the revision's own transaction: a
        second try costs that small read only), the graph deleted meanwhile.

        ``id()`` is deprecated in Cypher 5 in favour of ``elementId()``, but it is still
        supported in 5.26 LTS and an integer is what makes the columns cheap.
        """
        edge = list(dict.fromkeys(Kind(k) for k in edge_kinds))
        event = list(dict.fromkeys(Kind(k) for k in event_kinds))
        with self._reach():
            for _ in range(_SNAPSHOT_ATTEMPTS):
                try:
                    return self._read_snapshot_once(graph, since, until, edge, event, followers)
                except _ChangedWhileRead:
                    continue
        raise StoreUnavailable(
            f"graph {graph!r} changed under {_SNAPSHOT_ATTEMPTS} reads in a row; try again"
        )

    def _read_snapshot_once(
        self, graph: str, since, until, edge: list[Kind], event: list[Kind], followers: bool
    ) -> Snapshot:
        with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
            g, nodes = s.execute_read(_version_and_accounts, graph, followers)
            bookmarks = s.last_bookmarks()
        if followers and nodes["frev"] > g["revision"]:
            raise _ChangedWhileRead  # a count read is newer than the revision
        params = {
            "uid": g["uid"],
            "rev": g["revision"],
            "since": None if since is None else epoch_ms(since),
            "until": None if until is None else epoch_ms(until),
        }

        def read(query: str):
            # Sessions started from the version read's bookmarks: on a cluster, a follower
            # serving this read first catches up with that read.
            with self._session(default_access_mode=neo4j.READ_ACCESS, bookmarks=bookmarks) as s:
                rec = s.execute_read(lambda t: t.run(query, params).single())
                return rec, s.last_bookmarks()

        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = {
                k: pool.submit(read, _columns_query(k, events=k in event))
                for k in dict.fromkeys(edge + event)
            }
            raw = {k: j.result()[0] for k, j in jobs.items()}
            seen = reduce(lambda a, b: a + b, (j.result()[1] for j in jobs.values()), bookmarks)
        self._check_unchanged(graph, g["uid"], seen)

        names: list[str] = nodes["n"]
        position = _positions(np.asarray(nodes["i"], dtype=np.int64))
        table: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        events: list[EventRow] = []
        for kind, rec in raw.items():
            src, dst = position(rec["s"]), position(rec["t"])
            if kind in edge:
                table[kind.value] = (src, dst, np.asarray(rec["at"], dtype=np.int64))
            if kind in event:
                events.extend(_event_rows(kind, rec, names, src, dst))
        events.sort(key=itemgetter(4, 0))
        return Snapshot(
            graph=graph,
            version=_batch.version_string(g["uid"], g["revision"]),
            table=EdgeTable(nodes=names, kinds={k.value: table[k.value] for k in edge}),
            events=events,
            followers=dict(nodes["f"]) if followers else None,
        )

    def _check_unchanged(self, graph: str, uid: str, bookmarks: neo4j.Bookmarks) -> None:
        """A deleted graph's data is purged after its node is gone, so if the node is still
        there after the columns were read, none of them missed purged data."""
        with self._session(default_access_mode=neo4j.READ_ACCESS, bookmarks=bookmarks) as s:
            rec = s.execute_read(
                lambda t: t.run("MATCH (g:Graph {id: $id}) RETURN g.uid AS uid", id=graph).single()
            )
        if rec is None:
            raise GraphNotFound(graph)
        if rec["uid"] != uid:  # deleted and created again meanwhile
            raise _ChangedWhileRead



class _ChangedWhileRead(Exception):
    """What a snapshot read found had changed after its version: read again."""


# Analysis reads keep what is stamped at or below the revision read first ($rev).
_ACCOUNTS_AT = "MATCH (a:Account {graph_uid: $uid}) WHERE coalesce(a.rev, 0) <= $rev"
_NODES = _ACCOUNTS_AT + " RETURN collect(id(a)) AS i, collect(a.id) AS n"
# frev tells whether a count read is newer than $rev; counts cannot be filtered like
# accounts, because an update overwrites the count the snapshot should see
_NODES_AND_FOLLOWERS = (
    _NODES
    + ", collect(CASE WHEN a.followers IS NOT NULL THEN [a.id, a.followers] END) AS f,"
    " coalesce(max(a.frev), 0) AS frev"
)


def _version_and_accounts(t: neo4j.ManagedTransaction, graph: str, followers: bool):
    """The graph node (its uid and revision) and the accounts at that revision: ids, names
    and, when asked, follower counts with the newest ``frev`` among them."""
    g = _graph_node(t, graph)
    nodes = t.run(
        _NODES_AND_FOLLOWERS if followers else _NODES, uid=g["uid"], rev=g["revision"]
    ).single()
    return g, nodes


def _columns_query(kind: Kind, *, events: bool) -> str:
    """One kind's interactions at $rev in the window, as columns; with ids and objects for
    the events."""
    query = (
        f"MATCH (s:Account {{graph_uid: $uid}})-[r:{REL_TYPES[kind]}]->(t)"
        " WHERE coalesce(r.rev, 0) <= $rev"
        " AND ($since IS NULL OR r.at >= $since) AND ($until IS NULL OR r.at < $until)"
        " RETURN collect(id(s)) AS s, collect(id(t)) AS t, collect(r.at) AS at"
    )
    if events:
        # collect() drops nulls, so the optional object travels wrapped in a list
        query += ", collect(r.id) AS i, collect([r.object]) AS o"
    return query


def _positions(internal: np.ndarray):
    """``position(ids)``: the places of internal node ids in ``internal``, via a sorted
    lookup."""
    order = np.argsort(internal)
    sorted_ids = internal[order]

    def position(ids: list[int]) -> np.ndarray:
        wanted = np.asarray(ids, dtype=np.int64)
        if not len(wanted):
            return np.zeros(0, dtype=np.int32)
        # An interaction of an account the node read did not return would otherwise land on
        # a neighbour silently. The stamps make that impossible, unless data was written
        # without them meanwhile (an older castlegate still running): then read again.
        if not len(sorted_ids):
            raise _ChangedWhileRead
        at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
        if not np.array_equal(sorted_ids[at], wanted):
            raise _ChangedWhileRead
        return order[at].astype(np.int32)

    return position


def _event_rows(kind: Kind, rec, names: list[str], src: np.ndarray, dst: np.ndarray):
    """One kind's events (``EventRow``s) from its columns; accounts by their positions."""
    return zip(
        rec["i"],
        [kind.value] * len(src),
        [names[i] for i in src.tolist()],
        [names[i] for i in dst.tolist()],
        rec["at"],
        [o[0] for o in rec["o"]],
    )


# The graph's uid and the digests stored for $keys under every kind, read without the
# graph's lock (a query that writes would take a lock on every index entry it looks up:
# measured 392 against 214 ms for 10,000 ids). The keys come whole from the parameters:
# built in the query from g.uid, the look-up let the planner pick, on a fresh database once
# a kind had some 80,000 relationships, a plan that scanned the key index per id (one
# 10,000-id batch ran for 400 s; bench.ingest fell to 2,601 events/s). The last branch
# makes the subquery answer at least one row.
_STORED = (
    "MATCH (g:Graph {id: $id}) CALL () { "
    + " UNION ALL ".join(
        f"UNWIND $keys AS k MATCH ()-[r:{rt} {{key: k}}]->() RETURN r.id AS sid, r.digest AS digest"
        for rt in REL_TYPES.values()
    )
    + " UNION ALL RETURN null AS sid, null AS digest }"
    " RETURN g.uid AS uid, collect(CASE WHEN sid IS NOT NULL THEN [sid, digest] END) AS stored"
)

# Each kind's relationships by key (an index per type: a match without the type would
# scan them all), deleted, with what the counters need.
_DELETE = (
    "CALL () { "
    + " UNION ALL ".join(
        f"UNWIND $keys AS k MATCH ()-[r:{rt} {{key: k}}]->() WITH r, r.id AS id, r.at AS at DELETE r"
        f" RETURN id, '{k.value}' AS kind, at"
        for k, rt in REL_TYPES.items()
    )
    + " } RETURN collect([id, kind, at]) AS gone"
)
_TIME_RANGE = (
    "MATCH (g:Graph {id: $id}) CALL () { MATCH (:Account {graph_uid: $uid})-[r:"
    + "|".join(REL_TYPES.values())
    + "]->() RETURN min(r.at) AS first, max(r.at) AS last } SET g.first_ms = first, g.last_ms = last"
)

# The id prefix is a range of the account key's index (the key is "<graph uid>:<id>", so
# key order is id order within a graph); handles are matched among the graph's accounts.
_FIND_ACCOUNTS = (
    "MATCH (g:Graph {id: $id}) WITH g.uid + ':' AS p"
    " CALL (p) {"
    "  MATCH (a:Account) WHERE a.key STARTS WITH p + $q AND a.key > p + coalesce($after, '')"
    "  RETURN a ORDER BY a.key LIMIT $limit"
    "  UNION"
    "  MATCH (a:Account {graph_uid: substring(p, 0, size(p) - 1)})"
    "  WHERE $handle <> '' AND a.handle IS NOT NULL AND a.id > coalesce($after, '')"
    "   AND (toLower(a.handle) STARTS WITH $handle OR toLower(a.handle) STARTS WITH '@' + $handle)"
    "  RETURN a ORDER BY a.id LIMIT $limit"
    " }"
    " RETURN a ORDER BY a.id LIMIT $limit"
)

#: graphs whose uid a store keeps (all forgotten at once beyond this: a cache, not state)
_UIDS_KEPT = 10_000

# First the graph's lock (writing a property takes the node's exclusive lock until commit:
# concurrent writes into one graph are serialised from here) and the revision this
# transaction commits; then the accounts (``collect`` keeps the order of $names, so
# ``nodes[i]`` is the account named ``$names[i]``), each kind's relationships between nodes
# taken from that list, and the counters. An account is new exactly when it carries this
# transaction's revision, which no earlier write can have used. No row, nothing written:
# the graph is gone, or is another incarnation than the one $uid was read from.
_WRITE_NEW = (
    "MATCH (g:Graph {id: $id}) WHERE g.uid = $uid SET g.locked_ms = timestamp()"
    " WITH g, g.revision + 1 AS rev"
    " CALL (rev) { UNWIND $names AS n MERGE (a:Account {key: $uid + ':' + n})"
    " ON CREATE SET a.graph_uid = $uid, a.id = n, a.rev = rev RETURN collect(a) AS nodes } "
    + " ".join(
        f"CALL (nodes, rev) {{ UNWIND $rows.{k.value} AS r WITH nodes[r.s] AS s, nodes[r.t] AS t, r"
        f" CREATE (s)-[:{rt} {{key: $uid + ':' + r.id, id: r.id, at: r.at, post: r.post,"
        " in_reply_to: r.in_reply_to, object: r.object, conversation: r.conversation,"
        " platform: r.platform, digest: r.digest, rev: rev}]->(t) }"
        for k, rt in REL_TYPES.items()
    )
    + " SET g.accounts = g.accounts + size([a IN nodes WHERE a.rev = rev]), g.revision = rev, "
    + ", ".join(f"g.n_{k} = g.n_{k} + $n.{k}" for k in _KINDS)
    + ", g.first_ms = CASE WHEN g.first_ms IS NULL OR $first < g.first_ms THEN $first ELSE g.first_ms END"
    ", g.last_ms = CASE WHEN g.last_ms IS NULL OR $last > g.last_ms THEN $last ELSE g.last_ms END"
    " RETURN rev"
)

_OPTIONAL_FIELDS = ("post", "in_reply_to", "object", "conversation", "platform")


def _write_new(t: neo4j.ManagedTransaction, graph: str, uid: str, group: _batch.SettledGroup) -> bool:
    """The second query of ``add_interaction_batches``: ``group.new``, if the graph is still
    the incarnation ``uid``."""
    names = sorted({it.source for it in group.new} | {it.target for it in group.new})
    at = {n: i for i, n in enumerate(names)}
    rows: dict[str, list[dict]] = {k: [] for k in _KINDS}
    for it in group.new:
        # absent optional fields are left out: a missing key reads as null in Cypher, and
        # the parameters are smaller
        row = {"s": at[it.source], "t": at[it.target], "id": it.id, "at": epoch_ms(it.at),
               "digest": group.digests[it.id]}
        for f in _OPTIONAL_FIELDS:
            v = getattr(it, f)
            if v is not None:
                row[f] = v
        rows[it.kind.value].append(row)
    tally = _batch.Tally.of(group.new)
    return t.run(_WRITE_NEW, names=names, uid=uid, rows=rows, id=graph, n=tally.per_kind,
                 first=tally.first_ms, last=tally.last_ms).single() is not None


_KIND_OF_TYPE = {rt: k for k, rt in REL_TYPES.items()}


def _graph_node(t: neo4j.ManagedTransaction, graph: str):
    rec = t.run("MATCH (g:Graph {id: $id}) RETURN g", id=graph).single()
    if rec is None:
        raise GraphNotFound(graph)
    return rec["g"]


def _lock_graph(t: neo4j.ManagedTransaction, graph: str):
    # Writing a property takes the node's exclusive lock until commit: this is what
    # serialises concurrent batches into the same graph.
    rec = t.run(
        "MATCH (g:Graph {id: $id}) SET g.locked_ms = timestamp() RETURN g", id=graph
    ).single()
    if rec is None:
        raise GraphNotFound(graph)
    return rec["g"]


def _next_revision(t: neo4j.ManagedTransaction, graph: str) -> int:
    """The revision this write transaction commits, to stamp what it creates. Read after
    ``_lock_graph``: no other write can commit the same number meanwhile."""
    return t.run(
        "MATCH (g:Graph {id: $id}) RETURN g.revision + 1 AS rev", id=graph
    ).single()["rev"]


def _graph_info(g) -> GraphInfo:
    return GraphInfo(
        id=g["id"],
        description=g["description"],
        version=_batch.version_string(g["uid"], g["revision"]),
        created_at=from_epoch_ms(g["created_ms"]),
        accounts=g["accounts"],
        interactions=KindCounts(**{k: g[f"n_{k}"] for k in _KINDS}),
        first_at=from_epoch_ms(g.get("first_ms")),
        last_at=from_epoch_ms(g.get("last_ms")),
    )


def _attrs(attributes: dict[str, str] | None) -> str | None:
    # Neo4j properties cannot hold maps; a JSON string keeps the free-form map intact.
    return None if attributes is None else json.dumps(attributes, sort_keys=True)


def _account(a) -> Account:
    attrs = a.get("attributes")
    return Account(
        id=a["id"],
        handle=a.get("handle"),
        platform=a.get("platform"),
        followers=a.get("followers"),
        attributes=None if attrs is None else json.loads(attrs),
    )


def _interaction(rec) -> Interaction:
    r = rec["r"]
    return Interaction(
        id=r["id"],
        kind=_KIND_OF_TYPE[rec["type"]],
        source=rec["source"],
        target=rec["target"],
        at=from_epoch_ms(r["at"]),
        post=r.get("post"),
        in_reply_to=r.get("in_reply_to"),
        object=r.get("object"),
        conversation=r.get("conversation"),
        platform=r.get("platform"),
    )


def _constraint_error(e: BaseException) -> ConstraintError | None:
    """The constraint violation behind ``e``, if that is what failed the transaction. The
    driver may report it as ``ResultFailedError`` when the rollback after it finds the
    result already failed (seen after a connection was replaced mid-transaction)."""
    while e is not None:
        if isinstance(e, ConstraintError):
            return e
        e = e.__cause__ or e.__context__
    return None
