"""The production store: Neo4j 5.26 LTS (Community or Enterprise).

Model
-----
``(:Graph {id, uid, ...counters})`` is a workspace. ``uid`` is random per creation.
``(:Account {key: uid + ":" + id, graph_uid, id, handle, platform, followers, attributes})``.
One relationship type per interaction kind (``REPLY``, ``QUOTE``, ``MENTION``, ``REPOST``,
``LIKE``, ``FOLLOW``) so that an analysis reads one layer without touching the others; each
carries ``key``, ``id``, ``at`` (epoch ms) and the thread/object fields. Audits, their
runs and webhook deliveries are nodes too (``neo4j_audits``, mixed into ``Neo4jStore``).

Every write transaction starts by writing to its ``Graph`` node, which takes that node's
write lock: batches into one graph are serialised, so the check for already-stored ids
and the insert cannot interleave with another client's identical batch. The uniqueness
constraints on ``key`` are the safety net underneath.

All values travel as query parameters. The only text spliced into Cypher is a relationship
type taken from the fixed ``Kind`` enum and, for audits, labels and property names fixed in
the code, never from input.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import neo4j
import numpy as np
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ConstraintError, ServiceUnavailable

from graph.errors import AccountNotFound, GraphExists, GraphNotFound, StoreUnavailable
from graph.model import (
    Account,
    AccountDetail,
    GraphInfo,
    IngestResult,
    Interaction,
    Kind,
    empty_kind_counts,
    epoch_ms,
    from_epoch_ms,
)
from graph.store import batch as _batch
from graph.store.neo4j_audits import AUDIT_LABELS, AUDIT_SCHEMA, Neo4jAudits
from graph.store.port import EdgeTable

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
]

# How many times a batch is re-tried when the uniqueness constraint fires: only a second
# process creating the same graph id at the same moment can get past the graph lock.
_CONSTRAINT_RETRIES = 3


class Neo4jStore(Neo4jAudits):
    kind = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        connect_timeout: float = 10.0,
    ) -> None:
        self.uri = uri
        self.database = database
        self._driver = GraphDatabase.driver(
            uri,
            auth=(user, password),
            connection_timeout=connect_timeout,
            # a request must fail fast with 503 rather than hang when Neo4j is gone
            connection_acquisition_timeout=connect_timeout,
            max_transaction_retry_time=15.0,
            # "property does not exist yet" and similar planner notices on a fresh database
            # are noise in a service's logs
            notifications_min_severity="OFF",
        )
        self._schema_ready = False

    def _session(self, **kw: Any) -> neo4j.Session:
        return self._driver.session(database=self.database, **kw)

    def ensure_schema(self) -> None:
        """Creates constraints and indexes (idempotent). Called at service start-up and,
        lazily, before the first write."""
        if self._schema_ready:
            return
        try:
            with self._session() as s:
                for stmt in _SCHEMA:
                    s.run(stmt).consume()
                s.run("CALL db.awaitIndexes(300)").consume()
        except (ServiceUnavailable, AuthError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e
        self._schema_ready = True

    def server_version(self) -> str:
        try:
            with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
                rec = s.run(
                    "CALL dbms.components() YIELD name, versions, edition"
                    " RETURN versions[0] AS v, edition"
                ).single()
        except (ServiceUnavailable, AuthError, OSError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e
        return f"{rec['v']} {rec['edition']}"

    def close(self) -> None:
        self._driver.close()

    # helpers
    def _write(self, fn, *args):
        self.ensure_schema()
        try:
            with self._session() as s:
                for attempt in range(_CONSTRAINT_RETRIES):
                    try:
                        return s.execute_write(fn, *args)
                    except ConstraintError:
                        if attempt == _CONSTRAINT_RETRIES - 1:
                            raise
        except (ServiceUnavailable, AuthError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e

    def _read(self, fn, *args):
        try:
            with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
                return s.execute_read(fn, *args)
        except (ServiceUnavailable, AuthError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e

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

    def list_graphs(self) -> list[GraphInfo]:
        def tx(t: neo4j.ManagedTransaction) -> list:
            return [r["g"] for r in t.run("MATCH (g:Graph) RETURN g ORDER BY g.id")]

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
        with self._session() as s:
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
                    rows.append({"key": f"{uid}:{a.id}", "id": a.id, **want})
            if not rows:
                return
            t.run(
                "UNWIND $rows AS r MERGE (a:Account {key: r.key})"
                " ON CREATE SET a.graph_uid = $uid, a.id = r.id"
                " SET a.handle = coalesce(r.handle, a.handle),"
                " a.platform = coalesce(r.platform, a.platform),"
                " a.followers = coalesce(r.followers, a.followers),"
                " a.attributes = coalesce(r.attributes, a.attributes)",
                rows=rows,
                uid=uid,
            ).consume()
            created = sum(1 for r in rows if r["id"] not in stored)
            t.run(
                "MATCH (g:Graph {id: $id})"
                " SET g.accounts = g.accounts + $created, g.revision = g.revision + 1",
                id=graph,
                created=created,
            ).consume()

        self._write(tx)
        return len(latest)

    def add_interactions(self, graph: str, interactions: Sequence[Interaction]) -> IngestResult:
        prepared = _batch.prepare(interactions)

        def tx(t: neo4j.ManagedTransaction) -> IngestResult:
            uid = _lock_graph(t, graph)["uid"]
            keys = [f"{uid}:{i}" for i in prepared.items]
            stored = {
                r["id"]: r["digest"]
                for r in t.run(_EXISTING, keys=keys)
            }
            new = _batch.split_existing(prepared, stored)
            duplicates = prepared.duplicates_within + len(stored)
            if not new:
                return IngestResult(accepted=0, duplicates=duplicates)
            names = sorted({it.source for it in new} | {it.target for it in new})
            created = (
                t.run(
                    "UNWIND $names AS n MERGE (a:Account {key: $uid + ':' + n})"
                    " ON CREATE SET a.graph_uid = $uid, a.id = n",
                    names=names,
                    uid=uid,
                )
                .consume()
                .counters.nodes_created
            )
            by_kind: dict[Kind, list[dict]] = {}
            for it in new:
                # flat rows and literal property maps: measurably cheaper for Cypher than a
                # nested map assigned with SET e = r.p
                by_kind.setdefault(it.kind, []).append(
                    {
                        "s": f"{uid}:{it.source}",
                        "t": f"{uid}:{it.target}",
                        "key": f"{uid}:{it.id}",
                        "id": it.id,
                        "at": epoch_ms(it.at),
                        "post": it.post,
                        "in_reply_to": it.in_reply_to,
                        "object": it.object,
                        "conversation": it.conversation,
                        "platform": it.platform,
                        "digest": prepared.digests[it.id],
                    }
                )
            for kind, rows in by_kind.items():
                t.run(
                    "UNWIND $rows AS r MATCH (s:Account {key: r.s}) MATCH (t:Account {key: r.t})"
                    f" CREATE (s)-[e:{REL_TYPES[kind]} {{key: r.key, id: r.id, at: r.at,"
                    " post: r.post, in_reply_to: r.in_reply_to, object: r.object,"
                    " conversation: r.conversation, platform: r.platform, digest: r.digest}]->(t)",
                    rows=rows,
                ).consume()
            tally = _batch.Tally.of(new)
            t.run(
                "MATCH (g:Graph {id: $id}) SET g.accounts = g.accounts + $created,"
                " g.revision = g.revision + 1, "
                + ", ".join(f"g.n_{k} = g.n_{k} + $n.{k}" for k in _KINDS)
                + ", g.first_ms = CASE WHEN g.first_ms IS NULL OR $first < g.first_ms"
                " THEN $first ELSE g.first_ms END"
                ", g.last_ms = CASE WHEN g.last_ms IS NULL OR $last > g.last_ms"
                " THEN $last ELSE g.last_ms END",
                id=graph,
                created=created,
                n=tally.per_kind,
                first=tally.first_ms,
                last=tally.last_ms,
            ).consume()
            return IngestResult(accepted=len(new), duplicates=duplicates)

        return self._write(tx)

    # reads
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
            return AccountDetail(account=_account(rec["a"]), outgoing=out, incoming=inc)

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
    def edge_table(self, graph: str, kinds: Sequence[Kind], since=None, until=None) -> EdgeTable:
        """Measured on higgs (563k interactions, 2 cores): Cypher's own per-pair aggregation
        tops out near 250k interactions/s and a record per row near 70k/s, while whole
        columns of integers (internal node ids, times) come at several hundred thousand a
        second. So: one query for the node id -> account map, one per kind for the
        columns, run two at a time, and aggregation left to numpy.

        ``id()`` is deprecated in Cypher 5 in favour of ``elementId()``, but it is still
        supported in 5.26 LTS and an integer is what makes the columns cheap.
        """
        window = "($since IS NULL OR r.at >= $since) AND ($until IS NULL OR r.at < $until)"
        params = {
            "since": None if since is None else epoch_ms(since),
            "until": None if until is None else epoch_ms(until),
        }
        uid = self._read(_graph_node, graph)["uid"]

        def nodes() -> tuple[np.ndarray, list[str]]:
            with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
                rec = s.run(
                    "MATCH (a:Account {graph_uid: $uid}) RETURN collect(id(a)) AS i, collect(a.id) AS n",
                    uid=uid,
                ).single()
            return np.asarray(rec["i"], dtype=np.int64), rec["n"]

        def columns(kind: Kind):
            with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
                rec = s.run(
                    f"MATCH (s:Account {{graph_uid: $uid}})-[r:{REL_TYPES[kind]}]->(t) WHERE {window}"
                    " RETURN collect(id(s)) AS s, collect(id(t)) AS t, collect(r.at) AS at",
                    uid=uid,
                    **params,
                ).single()
            return (
                np.asarray(rec["s"], dtype=np.int64),
                np.asarray(rec["t"], dtype=np.int64),
                np.asarray(rec["at"], dtype=np.int64),
            )

        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                node_job = pool.submit(nodes)
                jobs = {Kind(k).value: pool.submit(columns, Kind(k)) for k in kinds}
                internal, names = node_job.result()
                raw = {k: j.result() for k, j in jobs.items()}
        except (ServiceUnavailable, AuthError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e
        # internal node id -> position in names, via a sorted lookup
        order = np.argsort(internal)
        sorted_ids = internal[order]

        def position(ids: np.ndarray) -> np.ndarray:
            return order[np.searchsorted(sorted_ids, ids)].astype(np.int32)

        return EdgeTable(
            nodes=list(names),
            kinds={k: (position(s), position(t), at) for k, (s, t, at) in raw.items()},
        )

    def events(self, graph: str, kinds: Sequence[Kind], since=None, until=None) -> Iterator[tuple]:
        # whole columns per kind, for the same reason as edge_table: a record per row is
        # the slow part of reading from Neo4j
        rows: list[tuple] = []
        for kind, rec in self._columns(
            graph,
            kinds,
            "MATCH (s:Account {graph_uid: $uid})-[r:%s]->(t) WHERE %s"
            " RETURN collect(r.id) AS i, collect(s.id) AS s, collect(t.id) AS t,"
            # collect() drops nulls, so the optional object travels wrapped in a list
            " collect(r.at) AS at, collect([r.object]) AS o",
            since,
            until,
        ):
            objects = [o[0] for o in rec["o"]]
            rows.extend(zip(rec["i"], [kind] * len(objects), rec["s"], rec["t"], rec["at"], objects))
        rows.sort(key=lambda r: (r[4], r[0]))
        yield from rows

    def followers(self, graph: str) -> dict[str, int]:
        def tx(t: neo4j.ManagedTransaction) -> dict[str, int]:
            uid = _graph_node(t, graph)["uid"]
            return {
                r[0]: r[1]
                for r in t.run(
                    "MATCH (a:Account {graph_uid: $uid}) WHERE a.followers IS NOT NULL"
                    " RETURN a.id, a.followers",
                    uid=uid,
                )
            }

        return self._read(tx)

    def _columns(self, graph, kinds, template, since, until) -> Iterator[tuple[str, Any]]:
        """Runs ``template`` (a relationship type and a window condition to fill in) once per
        kind and yields ``(kind, record)``."""
        where = "($since IS NULL OR r.at >= $since) AND ($until IS NULL OR r.at < $until)"
        params = {
            "since": None if since is None else epoch_ms(since),
            "until": None if until is None else epoch_ms(until),
        }
        try:
            with self._session(default_access_mode=neo4j.READ_ACCESS) as s:
                uid = s.execute_read(_graph_node, graph)["uid"]
                for kind in kinds:
                    kind = Kind(kind)
                    rec = s.run(template % (REL_TYPES[kind], where), uid=uid, **params).single()
                    yield kind.value, rec
        except (ServiceUnavailable, AuthError) as e:
            raise StoreUnavailable(f"Neo4j at {self.uri}: {e}") from e


_EXISTING = " UNION ALL ".join(
    f"UNWIND $keys AS k MATCH ()-[r:{rt} {{key: k}}]->() RETURN r.id AS id, r.digest AS digest"
    for rt in REL_TYPES.values()
)
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


def _graph_info(g) -> GraphInfo:
    return GraphInfo(
        id=g["id"],
        description=g["description"],
        version=_batch.version_string(g["uid"], g["revision"]),
        created_at=from_epoch_ms(g["created_ms"]),
        accounts=g["accounts"],
        interactions={k: g[f"n_{k}"] for k in _KINDS},
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
