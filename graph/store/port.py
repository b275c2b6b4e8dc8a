"""The GraphStore port: everything castlegate asks of a store, and nothing more.

The contract tests in ``tests/contract/`` are the definition of this protocol: an adapter
that passes them is a store. Two adapters exist: ``neo4j`` (production) and ``sqlite``
(the embedded default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from graph.audits.model import Audit, AuditRun, Delivery, DeliveryAttempt
from graph.keys import ApiKey
from graph.model import AccountDetail, Account, Deleted, GraphInfo, IngestResult, Interaction, Kind

#: ``(id, kind, source, target, at_ms, object)``: one interaction, as analyses read it
EventRow = tuple[str, str, str, str, int, "str | None"]

__all__ = ["AuditStore", "EdgeTable", "EventRow", "GraphStore", "KeyStore", "SlotPlan", "Snapshot", "Store"]

#: ``plan(audit, now) -> (slot, next_run_at)``: the slot a due audit runs for now, and when
#: it is due next. The scheduler owns the calendar; the store only applies it atomically.
SlotPlan = Callable[[Audit, datetime], "tuple[datetime, datetime]"]


@dataclass
class EdgeTable:
    """Interactions as columns: ``nodes`` names the accounts, and per kind three equally
    long arrays ``(src, dst, at_ms)`` index into ``nodes``. Columns rather than rows
    because that is what crosses the wire fastest (see ``Neo4jStore.read_snapshot``) and
    what the analysis aggregates with numpy."""

    nodes: list[str]
    kinds: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Snapshot:
    """Everything one analysis reads, at one graph version (see
    ``GraphStore.read_snapshot``)."""

    graph: str
    #: ``GraphInfo.version`` of the state read
    version: str
    #: interactions of ``edge_kinds`` in the window, as columns; ``nodes`` are all accounts
    #: existing at ``version``, edgeless ones included
    table: EdgeTable
    #: single interactions of ``event_kinds`` in the window, sorted by ``(at_ms, id)``
    events: list[EventRow]
    #: claimed follower counts of the accounts that have one (only when asked for)
    followers: dict[str, int] | None


@runtime_checkable
class GraphStore(Protocol):
    #: "neo4j" or "sqlite"; reported by /ready and in analysis manifests.
    kind: str

    def server_version(self) -> str:
        """The store's own version (Neo4j server version, SQLite library version). Raises
        ``StoreUnavailable`` when the store does not answer."""

    def close(self) -> None: ...

    def change_token(self) -> int | None:
        """A number that changes whenever anything is committed to the store, by any
        process, read without a round trip; None when the store cannot tell that cheaply.
        What was read from the store stays current while the token stays the same."""

    # workspaces
    def create_graph(self, graph: str, description: str = "") -> GraphInfo:
        """Raises ``GraphExists``."""

    def list_graphs(self, *, after: str | None = None, limit: int | None = None) -> list[GraphInfo]:
        """By id; ``after``: only ids after it; ``limit``: at most this many."""

    def get_graph(self, graph: str) -> GraphInfo:
        """Raises ``GraphNotFound``."""

    def delete_graph(self, graph: str) -> None:
        """Removes the graph and everything in it. Raises ``GraphNotFound``."""

    # writes: each call is one transaction, committed before it returns
    def upsert_accounts(self, graph: str, accounts: Sequence[Account]) -> int:
        """Creates or updates accounts; fields left ``None`` keep their stored value.
        Returns how many were written."""

    def add_interactions(self, graph: str, interactions: Sequence[Interaction]) -> IngestResult:
        """Stores the batch atomically and idempotently: an id already stored with the same
        content counts as a duplicate; with different content the whole batch is refused
        with ``IngestConflict``. Accounts named but unknown are created."""

    def delete_interactions(self, graph: str, ids: Sequence[str]) -> Deleted:
        """Removes the interactions with these ids, in one transaction: the counts, first
        and last time and the version move with them (accounts stay). Ids the graph does
        not hold are listed in ``missing``. Raises ``GraphNotFound``."""
        ...

    # reads
    def account_labels(self, graph: str, attribute: str) -> dict[str, str]:
        """Account id -> its value of ``attribute`` (from ``Account.attributes``), for the
        accounts that have one. Raises ``GraphNotFound``."""
        ...

    def account_handles(self, graph: str, ids: Sequence[str]) -> dict[str, str]:
        """Account id -> its handle, for those of ``ids`` that have one (the labels of the
        map and the exports). Raises ``GraphNotFound``."""
        ...

    def find_accounts(self, graph: str, q: str = "", *, after: str | None = None,
                      limit: int = 100) -> list[Account]:
        """Accounts whose id starts with ``q``, or whose handle does (ignoring case and a
        leading ``@``), by id; ``after``: only ids after it. Raises ``GraphNotFound``."""
        ...

    def get_account(self, graph: str, account: str) -> AccountDetail:
        """Raises ``GraphNotFound`` or ``AccountNotFound``."""

    def iter_interactions(self, graph: str) -> Iterable[Interaction]:
        """Every interaction of the graph, ordered by id (for exports and tests)."""

    # analysis reads: a time window is [since, until); None leaves that side open
    def read_snapshot(
        self, graph: str, *, since: datetime | None = None, until: datetime | None = None,
        edge_kinds: Sequence[Kind] = tuple(Kind), event_kinds: Sequence[Kind] = (),
        followers: bool = False,
    ) -> Snapshot:
        """Everything one analysis reads, at one version of the graph.

        Guarantee: every part reflects exactly the state at ``snapshot.version``, the
        ``GraphInfo.version`` of that state, even while other clients write: no
        interaction, account or follower count from a later write is in it, none written
        at or before it is missing, and every source and target in ``table`` and
        ``events`` is in ``table.nodes``. Raises ``GraphNotFound``, and
        ``StoreUnavailable`` when the store does not answer or no consistent read could be
        made (the graph kept changing under it)."""



@runtime_checkable
class AuditStore(Protocol):
    """Schedules, runs, results and webhook deliveries of diversity audits.

    Everything the scheduler does that must hold across restarts and across processes goes
    through here, so it is kept in the same store as the graph it audits. Three rules make
    several schedulers safe on one store:

    * one run per (audit, slot), ever: ``claim_due`` re-checks under the audit's lock and
      the store refuses a second run for a slot;
    * a queued run or a pending delivery is worked on only by the holder of its unexpired
      lease (``claim_runs``, ``claim_deliveries``); a dead process' lease runs out and the
      work is taken over, never lost;
    * a run's result and its deliveries are written in one transaction (``finish_run``),
      and only by the lease holder.

    ``graphs`` (where accepted) restricts the scan to those graph ids, for workers
    dedicated to some graphs; ``None`` means all. Times are tz-aware; stores keep them to
    the millisecond.
    """

    def create_audit(self, audit: Audit) -> Audit:
        """Raises ``GraphNotFound``."""

    def list_audits(self, graph: str) -> list[Audit]:
        """Oldest first. Raises ``GraphNotFound``."""

    def get_audit(self, graph: str, audit: str) -> Audit:
        """Raises ``GraphNotFound`` or ``AuditNotFound``."""

    def update_audit(self, graph: str, audit: str, changes: Mapping[str, Any]) -> Audit:
        """Sets the named fields (``MUTABLE_AUDIT_FIELDS``) and returns the audit."""

    def delete_audit(self, graph: str, audit: str) -> None:
        """Removes the audit with its runs and deliveries."""

    def claim_due(self, now: datetime, plan: SlotPlan, *, graphs: Sequence[str] | None = None,
                  limit: int = 100) -> list[AuditRun]:
        """For each audit not paused whose ``next_run_at <= now``: under the audit's lock,
        re-check it is still due, queue a run for ``plan(audit, now)[0]`` (unless that slot
        already has one) and set ``next_run_at`` to ``plan(audit, now)[1]``. Returns the
        runs queued by this call."""

    def queue_run(self, graph: str, audit: str, now: datetime, run_id: str) -> AuditRun:
        """A manual run for slot ``now``. Raises ``AuditNotFound``."""

    def claim_runs(self, now: datetime, owner: str, lease_until: datetime, *,
                   graphs: Sequence[str] | None = None, limit: int = 1) -> list[AuditRun]:
        """Queued runs, and running ones whose lease expired before ``now``, oldest slot
        first: each becomes ``running`` under ``owner`` until ``lease_until``, its
        ``attempts`` counted up and ``started_at`` set to ``now``."""

    def renew_run(self, run: str, owner: str, lease_until: datetime) -> bool:
        """Extends the lease; False when ``owner`` no longer holds it."""

    def finish_run(self, run: AuditRun, owner: str, deliveries: Sequence[Delivery] = ()) -> bool:
        """Stores the run's final state (status, finished_at, graph_version, result,
        error; the lease is cleared) and creates ``deliveries``, in one transaction. False
        (and nothing written) when ``owner`` no longer holds the run."""

    def list_runs(self, graph: str, audit: str, *, limit: int = 50,
                  before: datetime | None = None, after: AuditRun | None = None) -> list[AuditRun]:
        """Newest slot first (then newest created, then id); ``before`` keeps slots
        before that time; ``after`` (a page's last run) keeps the runs that come after it
        in this order, also those sharing its slot. Raises ``AuditNotFound``."""

    def get_run(self, graph: str, audit: str, run: str) -> AuditRun:
        """Raises ``AuditNotFound`` or ``RunNotFound``."""

    def claim_deliveries(self, now: datetime, owner: str, lease_until: datetime, *,
                         graphs: Sequence[str] | None = None, limit: int = 10) -> list[Delivery]:
        """Pending deliveries with ``next_attempt_at <= now`` and no unexpired lease,
        leased to ``owner`` until ``lease_until``; oldest ``next_attempt_at`` first."""

    def record_attempt(self, delivery: str, owner: str, attempt: DeliveryAttempt, *,
                       status: str, next_attempt_at: datetime | None) -> bool:
        """Appends ``attempt``, sets ``status`` and ``next_attempt_at`` and clears the
        lease. False (nothing written) when ``owner`` no longer holds it."""

    def list_deliveries(self, graph: str, audit: str, *, run: str | None = None,
                        limit: int = 100, after: tuple[int, str] | None = None) -> list[Delivery]:
        """Newest first, each with all its attempts in order; ``after`` = (created ms, id)
        of the last delivery of the page before. Raises ``AuditNotFound``."""


@runtime_checkable
class KeyStore(Protocol):
    """API keys (``graph.keys``), kept with the graphs they open, so that every replica sees
    a new or revoked key at once. Keys are never deleted, only revoked: a revoked id stays
    taken, and the list shows who had access."""

    def create_key(self, key: ApiKey) -> ApiKey:
        """Stores a new key. Raises ``ValueError`` if the id is taken."""

    def get_key(self, key_id: str) -> ApiKey:
        """Raises ``KeyNotFound``."""

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first (then by id)."""

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey:
        """Marks the key revoked at ``at`` (a key already revoked keeps its first time)
        and returns it. Raises ``KeyNotFound``."""


@runtime_checkable
class Store(GraphStore, AuditStore, KeyStore, Protocol):
    """What the service opens: a graph store that also keeps the graphs' audits (so a
    schedule lives, and is deleted, with the graph it audits) and the API keys."""
