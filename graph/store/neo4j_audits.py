"""The ``AuditStore`` half of ``Neo4jStore``: audits, runs and webhook deliveries.

Model
-----
``(:Audit {key: uid + ":" + id, graph_uid, id, ...})``, ``(:AuditRun {key, id, slot_key,
graph_uid, audit, ...})`` and ``(:Delivery {key, id, graph_uid, audit, run, ...})``, linked
by properties rather than relationships. The graph id handed back comes from joining the
``Graph`` by uid, so the nodes of a deleted graph (purged in batches once its ``Graph``
node is gone) vanish at once, and a graph re-created under the same id never sees them.
Times are epoch ms; ``params`` and ``attempts`` are msgspec JSON text (properties hold no
maps). Run and delivery ids are unique per graph (``key``), like audits and accounts:
manual runs are named by the caller, and the same name in two graphs is no conflict.
``renew_run`` and ``record_attempt`` get a bare id; the owner condition narrows it down.

Concurrency
-----------
Neo4j isolates read-committed: whatever a statement has read may be changed by another
transaction before this one writes. So every decision is taken under a lock: the
transaction first writes a marker (``lock_ms``) to the node it decides about, which holds
that node's exclusive lock until commit, and only then reads the condition and writes.
``claim_due`` and ``queue_run`` lock the audit (so a slot is checked and filled by one
transaction at a time), the lease operations lock the run or delivery they change. A
transaction whose re-check fails raises ``_Lost``, which rolls it back, marker included:
a refused write leaves nothing behind. The uniqueness of ``slot_key`` (set on scheduled
runs only: a manual run is its own, whenever it is asked for) is the net under the audit
lock: one scheduled run per (audit, slot), ever.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

import msgspec
import neo4j
from neo4j.exceptions import ConstraintError

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

__all__ = ["AUDIT_LABELS", "AUDIT_SCHEMA", "Neo4jAudits"]

AUDIT_LABELS = ("Audit", "AuditRun", "Delivery")

AUDIT_SCHEMA = [
    # every audit read joins its graph by uid
    "CREATE INDEX graph_uid IF NOT EXISTS FOR (g:Graph) ON (g.uid)",
    "CREATE CONSTRAINT audit_key IF NOT EXISTS FOR (a:Audit) REQUIRE a.key IS UNIQUE",
    "CREATE INDEX audit_next IF NOT EXISTS FOR (a:Audit) ON (a.next_ms)",
    "CREATE CONSTRAINT audit_run_key IF NOT EXISTS FOR (r:AuditRun) REQUIRE r.key IS UNIQUE",
    "CREATE CONSTRAINT audit_run_slot IF NOT EXISTS FOR (r:AuditRun) REQUIRE r.slot_key IS UNIQUE",
    "CREATE INDEX audit_run_id IF NOT EXISTS FOR (r:AuditRun) ON (r.id)",
    "CREATE INDEX audit_run_status IF NOT EXISTS FOR (r:AuditRun) ON (r.status)",
    "CREATE CONSTRAINT delivery_key IF NOT EXISTS FOR (d:Delivery) REQUIRE d.key IS UNIQUE",
    "CREATE INDEX delivery_id IF NOT EXISTS FOR (d:Delivery) ON (d.id)",
    "CREATE INDEX delivery_status IF NOT EXISTS FOR (d:Delivery) ON (d.status)",
    "CREATE INDEX delivery_next IF NOT EXISTS FOR (d:Delivery) ON (d.next_ms)",
    *(f"CREATE INDEX {lb.lower()}_graph IF NOT EXISTS FOR (n:{lb}) ON (n.graph_uid)"
      for lb in AUDIT_LABELS),
]

# Candidates read beyond ``limit``, so that a worker losing the first ones to another
# worker moves on to the next instead of coming back empty while work is waiting.
_SLACK = 8

# what makes a run or a delivery claimable; ``n`` is the node
_RUN_CLAIMABLE = "(n.status = $queued OR (n.status = $running AND n.lease_ms < $now))"
_DELIVERY_CLAIMABLE = (
    "n.status = $pending AND n.next_ms <= $now AND (n.lease_ms IS NULL OR n.lease_ms < $now)"
)


class _Lost(Exception):
    """A re-check under the lock failed: raised inside the transaction to roll it back."""


class Neo4jAudits:
    """Mixin for ``Neo4jStore``: uses its ``_write``/``_read`` managed transactions."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    def _held(self, fn, *args):
        """``_write``, but None when ``fn`` lost its race (and wrote nothing)."""
        try:
            return self._write(fn, *args)
        except _Lost:
            return None

    def _claim(self, keys: list[str], tx, limit: int) -> list:
        got = []
        for key in keys:
            if len(got) == limit:
                break
            try:
                item = self._held(tx, key)
            except ConstraintError:
                item = None  # another scheduler's run for the slot got in first
            if item is not None:
                got.append(item)
        return got

    # audits
    def create_audit(self, audit: Audit) -> Audit:
        def tx(t: neo4j.ManagedTransaction):
            # the graph's lock orders this with delete_graph: an audit committed after the
            # graph was purged would be left behind
            uid = _store._lock_graph(t, audit.graph)["uid"]
            return t.run("CREATE (a:Audit) SET a = $p RETURN a", p=_props(audit, uid)).single()["a"]

        return _struct(Audit, self._write(tx), audit.graph)

    def list_audits(self, graph: str) -> list[Audit]:
        def tx(t: neo4j.ManagedTransaction):
            uid = _store._graph_node(t, graph)["uid"]
            return [r["a"] for r in t.run(
                "MATCH (a:Audit {graph_uid: $uid}) RETURN a ORDER BY a.created_ms, a.id", uid=uid)]

        return [_struct(Audit, a, graph) for a in self._read(tx)]

    def get_audit(self, graph: str, audit: str) -> Audit:
        return _struct(Audit, self._read(_audit_node, graph, audit), graph)

    def update_audit(self, graph: str, audit: str, changes: Mapping[str, Any]) -> Audit:
        if bad := set(changes) - MUTABLE_AUDIT_FIELDS:
            raise ValueError(f"audit fields that cannot be changed: {', '.join(sorted(bad))}")
        props = dict(_prop(Audit, f, v) for f, v in changes.items())

        def tx(t: neo4j.ManagedTransaction):
            uid = _store._graph_node(t, graph)["uid"]
            # one statement: the match and the write cannot interleave with another
            # transaction's; += with null removes the property, which reads back as None
            rec = t.run("MATCH (a:Audit {key: $key}) SET a += $p RETURN a",
                        key=f"{uid}:{audit}", p=props).single()
            if rec is None:
                raise AuditNotFound(audit)
            return rec["a"]

        return _struct(Audit, self._write(tx), graph)

    def delete_audit(self, graph: str, audit: str) -> None:
        def tx(t: neo4j.ManagedTransaction) -> None:
            uid = _store._graph_node(t, graph)["uid"]
            key = f"{uid}:{audit}"
            _lock(t, "Audit", "key", key)  # no run is queued for it meanwhile
            if t.run("MATCH (a:Audit {key: $key}) RETURN 1", key=key).single() is None:
                raise AuditNotFound(audit)
            # runs before deliveries: finish_run creates deliveries under its run's lock,
            # so once the runs are gone no delivery can still appear
            for label in ("AuditRun", "Delivery"):
                t.run(f"MATCH (n:{label} {{graph_uid: $uid, audit: $id}}) DELETE n",
                      uid=uid, id=audit).consume()
            t.run("MATCH (a:Audit {key: $key}) DELETE a", key=key).consume()

        self._write(tx)

    # runs
    def claim_due(self, now: datetime, plan: SlotPlan, *, graphs: Sequence[str] | None = None,
                  limit: int = 100) -> list[AuditRun]:
        keys = self._read(_scan, "Audit", "n.next_ms <= $now AND NOT n.paused",
                          "n.next_ms, n.key", graphs, limit, {"now": epoch_ms(now)})

        def tx(t: neo4j.ManagedTransaction, key: str) -> AuditRun | None:
            _lock(t, "Audit", "key", key)
            rec = t.run("MATCH (n:Audit {key: $key}) MATCH (g:Graph {uid: n.graph_uid})"
                        " RETURN n, g.id AS graph", key=key).single()
            if rec is None:
                raise _Lost
            a = _struct(Audit, rec["n"], rec["graph"])
            if a.paused or a.next_run_at is None or a.next_run_at > now:
                raise _Lost  # another scheduler was first, or an edit paused it
            slot, next_at = plan(a, now)
            t.run("MATCH (a:Audit {key: $key}) SET a.next_ms = $next",
                  key=key, next=epoch_ms(next_at)).consume()
            uid = rec["n"]["graph_uid"]
            if t.run("MATCH (r:AuditRun {slot_key: $sk}) RETURN 1",
                     sk=_slot_key(uid, a.id, slot)).single() is not None:
                return None  # the slot has had its run: only the schedule moves on
            return _create_run(t, uid, AuditRun(
                id=uuid.uuid4().hex, graph=a.graph, audit=a.id, slot=slot, trigger="schedule",
                created_at=now))

        return self._claim(keys, tx, limit)

    def queue_run(self, graph: str, audit: str, now: datetime, run_id: str) -> AuditRun:
        def tx(t: neo4j.ManagedTransaction) -> AuditRun:
            uid = _store._graph_node(t, graph)["uid"]
            key = f"{uid}:{audit}"
            _lock(t, "Audit", "key", key)  # no run is queued for an audit being deleted
            if t.run("MATCH (a:Audit {key: $key}) RETURN 1", key=key).single() is None:
                raise AuditNotFound(audit)
            return _create_run(t, uid, AuditRun(
                id=run_id, graph=graph, audit=audit, slot=now, trigger="manual", created_at=now))

        return self._write(tx)

    def claim_runs(self, now: datetime, owner: str, lease_until: datetime, *,
                   graphs: Sequence[str] | None = None, limit: int = 1) -> list[AuditRun]:
        p = {"now": epoch_ms(now), "queued": RunStatus.QUEUED, "running": RunStatus.RUNNING}
        keys = self._read(_scan, "AuditRun", _RUN_CLAIMABLE, "n.slot_ms, n.created_ms, n.key",
                          graphs, limit + _SLACK, p)

        def tx(t: neo4j.ManagedTransaction, key: str) -> AuditRun:
            _lock(t, "AuditRun", "key", key)
            rec = t.run(
                f"MATCH (n:AuditRun {{key: $key}}) WHERE {_RUN_CLAIMABLE}"
                " MATCH (g:Graph {uid: n.graph_uid})"
                " SET n.status = $running, n.owner = $owner, n.lease_ms = $lease,"
                " n.started_ms = $now, n.attempts = n.attempts + 1 RETURN n, g.id AS graph",
                key=key, owner=owner, lease=epoch_ms(lease_until), **p,
            ).single()
            if rec is None:
                raise _Lost
            return _struct(AuditRun, rec["n"], rec["graph"])

        return self._claim(keys, tx, limit)

    def renew_run(self, run: str, owner: str, lease_until: datetime) -> bool:
        def tx(t: neo4j.ManagedTransaction) -> bool:
            _lock(t, "AuditRun", "id", run)
            if not t.run("MATCH (n:AuditRun {id: $id}) WHERE n.owner = $owner"
                         " SET n.lease_ms = $lease RETURN count(n) AS n",
                         id=run, owner=owner, lease=epoch_ms(lease_until)).single()["n"]:
                raise _Lost
            return True

        return bool(self._held(tx))

    def finish_run(self, run: AuditRun, owner: str, deliveries: Sequence[Delivery] = ()) -> bool:
        final = dict(_prop(AuditRun, f, getattr(run, f))
                     for f in ("status", "finished_at", "graph_version", "result", "error"))

        def tx(t: neo4j.ManagedTransaction) -> bool:
            g = t.run("MATCH (g:Graph {id: $id}) RETURN g.uid AS uid", id=run.graph).single()
            if g is None:
                raise _Lost
            key = f"{g['uid']}:{run.id}"
            _lock(t, "AuditRun", "key", key)
            if not t.run("MATCH (n:AuditRun {key: $key}) WHERE n.owner = $owner"
                         " SET n += $final, n.owner = null, n.lease_ms = null RETURN count(n) AS n",
                         key=key, owner=owner, final=final).single()["n"]:
                raise _Lost
            if deliveries:
                t.run("UNWIND $rows AS p CREATE (d:Delivery) SET d = p",
                      rows=[_props(d, g["uid"]) for d in deliveries]).consume()
            return True

        return bool(self._held(tx))

    def list_runs(self, graph: str, audit: str, *, limit: int = 50,
                  before: datetime | None = None, after: AuditRun | None = None) -> list[AuditRun]:
        cursor = None if after is None else {"s": epoch_ms(after.slot), "c": epoch_ms(after.created_at),
                                              "i": after.id}

        def tx(t: neo4j.ManagedTransaction):
            uid = _audit_node(t, graph, audit)["graph_uid"]
            return [r["n"] for r in t.run(
                "MATCH (n:AuditRun {graph_uid: $uid, audit: $audit})"
                " WHERE ($before IS NULL OR n.slot_ms < $before)"
                # the page's cursor: strictly after that run in newest-first order
                " AND ($at IS NULL OR n.slot_ms < $at.s OR (n.slot_ms = $at.s AND"
                " (n.created_ms < $at.c OR (n.created_ms = $at.c AND n.id < $at.i))))"
                " RETURN n ORDER BY n.slot_ms DESC, n.created_ms DESC, n.id DESC LIMIT $limit",
                uid=uid, audit=audit, before=None if before is None else epoch_ms(before),
                at=cursor, limit=limit,
            )]

        return [_struct(AuditRun, n, graph) for n in self._read(tx)]

    def get_run(self, graph: str, audit: str, run: str) -> AuditRun:
        def tx(t: neo4j.ManagedTransaction):
            uid = _audit_node(t, graph, audit)["graph_uid"]
            rec = t.run("MATCH (n:AuditRun {key: $key}) WHERE n.audit = $audit RETURN n",
                        key=f"{uid}:{run}", audit=audit).single()
            if rec is None:
                raise RunNotFound(run)
            return rec["n"]

        return _struct(AuditRun, self._read(tx), graph)

    # deliveries
    def claim_deliveries(self, now: datetime, owner: str, lease_until: datetime, *,
                         graphs: Sequence[str] | None = None, limit: int = 10) -> list[Delivery]:
        p = {"now": epoch_ms(now), "pending": DeliveryStatus.PENDING}
        keys = self._read(_scan, "Delivery", _DELIVERY_CLAIMABLE, "n.next_ms, n.created_ms, n.key",
                          graphs, limit + _SLACK, p)

        def tx(t: neo4j.ManagedTransaction, key: str) -> Delivery:
            _lock(t, "Delivery", "key", key)
            rec = t.run(
                f"MATCH (n:Delivery {{key: $key}}) WHERE {_DELIVERY_CLAIMABLE}"
                " MATCH (g:Graph {uid: n.graph_uid})"
                " SET n.owner = $owner, n.lease_ms = $lease RETURN n, g.id AS graph",
                key=key, owner=owner, lease=epoch_ms(lease_until), **p,
            ).single()
            if rec is None:
                raise _Lost
            return _struct(Delivery, rec["n"], rec["graph"])

        return self._claim(keys, tx, limit)

    def record_attempt(self, delivery: str, owner: str, attempt: DeliveryAttempt, *,
                       status: str, next_attempt_at: datetime | None) -> bool:
        def tx(t: neo4j.ManagedTransaction) -> bool:
            _lock(t, "Delivery", "id", delivery)
            rec = t.run("MATCH (n:Delivery {id: $id}) WHERE n.owner = $owner"
                        " RETURN n.key AS key, n.attempts AS attempts",
                        id=delivery, owner=owner).single()
            if rec is None:
                raise _Lost
            attempts = msgspec.json.decode(rec["attempts"], type=list[DeliveryAttempt])
            t.run("MATCH (n:Delivery {key: $key}) SET n.attempts = $attempts, n.status = $status,"
                  " n.next_ms = $next, n.owner = null, n.lease_ms = null",
                  key=rec["key"], attempts=_prop(Delivery, "attempts", [*attempts, attempt])[1],
                  status=status,
                  next=_prop(Delivery, "next_attempt_at", next_attempt_at)[1]).consume()
            return True

        return bool(self._held(tx))

    def list_deliveries(self, graph: str, audit: str, *, run: str | None = None,
                        limit: int = 100, after: tuple[int, str] | None = None) -> list[Delivery]:
        ms, ident = after if after is not None else (None, None)

        def tx(t: neo4j.ManagedTransaction):
            uid = _audit_node(t, graph, audit)["graph_uid"]
            return [r["n"] for r in t.run(
                "MATCH (n:Delivery {graph_uid: $uid, audit: $audit})"
                " WHERE ($run IS NULL OR n.run = $run)"
                " AND ($ms IS NULL OR n.created_ms < $ms OR (n.created_ms = $ms AND n.id < $ident))"
                " RETURN n ORDER BY n.created_ms DESC, n.id DESC LIMIT $limit",
                uid=uid, audit=audit, run=run, limit=limit, ms=ms, ident=ident,
            )]

        return [_struct(Delivery, n, graph) for n in self._read(tx)]


def _lock(t: neo4j.ManagedTransaction, label: str, prop: str, value: str) -> None:
    # Writing a property holds the node's exclusive lock until commit, so what this
    # transaction reads afterwards stays current. A node deleted while we waited for its
    # lock is simply not found by the next read.
    t.run(f"MATCH (n:{label} {{{prop}: $v}}) SET n.lock_ms = timestamp()", v=value).consume()


def _scan(t: neo4j.ManagedTransaction, label: str, where: str, order: str,
          graphs: Sequence[str] | None, limit: int, params: dict) -> list[str]:
    """Keys of the candidate nodes of a claim: read without locks, re-checked under them."""
    if graphs is None:
        match = f"MATCH (n:{label}) WHERE {where} MATCH (g:Graph {{uid: n.graph_uid}})"
    else:
        match = (f"MATCH (g:Graph) WHERE g.id IN $graphs"
                 f" MATCH (n:{label} {{graph_uid: g.uid}}) WHERE {where}")
    return [r["key"] for r in t.run(
        f"{match} RETURN n.key AS key ORDER BY {order} LIMIT $limit",
        graphs=list(graphs or ()), limit=limit, **params,
    )]


def _audit_node(t: neo4j.ManagedTransaction, graph: str, audit: str):
    uid = _store._graph_node(t, graph)["uid"]
    rec = t.run("MATCH (a:Audit {key: $key}) RETURN a", key=f"{uid}:{audit}").single()
    if rec is None:
        raise AuditNotFound(audit)
    return rec["a"]


def _slot_key(uid: str, audit: str, slot: datetime) -> str:
    return f"{uid}:{audit}:{epoch_ms(slot)}"


def _create_run(t: neo4j.ManagedTransaction, uid: str, run: AuditRun) -> AuditRun:
    # only scheduled runs hold their slot: manual ones may share a moment with anything
    slot_key = _slot_key(uid, run.audit, run.slot) if run.trigger == "schedule" else None
    node = t.run("CREATE (r:AuditRun) SET r = $p RETURN r",
                 p=_props(run, uid, slot_key=slot_key)).single()["r"]
    return _struct(AuditRun, node, run.graph)


# struct field -> node property, for the times kept as epoch ms
_MS = {
    "start": "start_ms", "created_at": "created_ms", "updated_at": "updated_ms",
    "next_run_at": "next_ms", "next_attempt_at": "next_ms", "slot": "slot_ms",
    "started_at": "started_ms", "finished_at": "finished_ms", "lease_until": "lease_ms",
}
# per struct, the fields kept as JSON text and the types they decode to
_JSON: dict[type, dict[str, Any]] = {
    Audit: {"params": AnalysisParams}, AuditRun: {}, Delivery: {"attempts": list[DeliveryAttempt]},
}


def _prop(cls: type, field: str, value: Any) -> tuple[str, Any]:
    if field in _MS:
        return _MS[field], None if value is None else epoch_ms(value)
    if field in _JSON[cls]:
        return field, msgspec.json.encode(value).decode()
    return field, value


def _props(s: Audit | AuditRun | Delivery, uid: str, **extra: Any) -> dict[str, Any]:
    props = dict(_prop(type(s), f, getattr(s, f)) for f in s.__struct_fields__ if f != "graph")
    return props | {"key": f"{uid}:{s.id}", "graph_uid": uid, **extra}


def _struct(cls, node, graph: str):
    kw: dict[str, Any] = {}
    for f in cls.__struct_fields__:
        v = node.get(_MS.get(f, f))
        if v is None:
            continue  # Neo4j keeps no nulls: a missing property is the field's default
        if f in _MS:
            v = from_epoch_ms(v)
        elif f in _JSON[cls]:
            v = msgspec.json.decode(v, type=_JSON[cls][f])
        kw[f] = v
    return cls(**kw | {"graph": graph})


# Last, because that module imports this one: its helpers are looked up at call time.
from graph.store import neo4j as _store  # noqa: E402
