"""Group commit: concurrent ingest requests into one graph share one transaction.

A store serialises writes into one graph (Neo4j on the graph node's lock), and each write
pays a fixed price (round trips, the commit's flush) however small it is. So while one
group of requests commits, the requests arriving for the same graph wait in that graph's
queue, and the next group takes all of them at once: one transaction, one commit, as a
database does with its log. Nobody waits on purpose: with one client a group is one
request, and groups grow only while a commit is already under way.

What each request still gets, as if it had been written alone:

- its own answer, given only after the transaction holding it committed;
- its own errors: a request conflicting with what is stored, or with an earlier request
  of its group, is refused alone and the others are written (the store decides this
  before writing, see ``Neo4jStore.add_interaction_batches``). Any other failure of the
  group's transaction is tried again one request at a time, so a request that breaks a
  transaction breaks only its own; only errors that would hit every request alike (the
  store unreachable, the graph gone) are given to all at once, and then nothing of the
  group was acknowledged;
- bounded waiting: at most ``Limits.max_waiting_requests`` requests and
  ``Limits.max_waiting_items`` interactions wait, in all graphs together; beyond that
  ``submit`` raises ``Busy`` at once. A request not yet taken into a group can be withdrawn
  (``Future.cancel``), so a caller bounds its wait; once taken, its wait is the
  transaction's, bounded by the store's own timeouts.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

from graph.errors import GraphNotFound, IngestConflict, StoreUnavailable
from graph.model import IngestResult, Interaction

__all__ = ["Busy", "GroupCommitter", "Limits"]

log = logging.getLogger("castlegate.ingest")

#: ``write(graph, batches)``: one transaction holding every batch, an ``IngestResult`` or
#: ``IngestConflict`` per batch (``Neo4jStore.add_interaction_batches``)
WriteBatches = Callable[[str, Sequence[Sequence[Interaction]]], "list[IngestResult | IngestConflict]"]

#: failures that would hit each request of a group alike: trying them one by one would
#: only multiply the wait (an unreachable store takes seconds to say so)
_SHARED_ERRORS = (StoreUnavailable, GraphNotFound)


@dataclass(frozen=True)
class Limits:
    #: requests waiting (not yet in a transaction), in all graphs together
    max_waiting_requests: int = 1024
    #: interactions those requests hold
    max_waiting_items: int = 200_000
    #: interactions one group's transaction takes at most (a larger request goes alone)
    max_group_items: int = 20_000
    #: groups of one graph under way at once: while one holds the graph's lock, the next
    #: does what needs no lock (reading what is stored, preparing its rows)
    writers_per_graph: int = 2
    #: writers in all graphs together (a thread and a store connection each)
    writers: int = 8


class Busy(Exception):
    """Too much is waiting already: the caller should come back later (503)."""


@dataclass
class _Pending:
    items: Sequence[Interaction]
    future: Future


class GroupCommitter:
    def __init__(self, write: WriteBatches, limits: Limits = Limits()) -> None:
        self._write = write
        self.limits = limits
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Pending]] = {}
        self._writing: dict[str, int] = {}  # writers per graph
        self._waiting_requests = 0
        self._waiting_items = 0
        self._pool = ThreadPoolExecutor(limits.writers, thread_name_prefix="group-commit")
        #: groups committed and requests in them, for benchmarks and logs
        self.groups = 0
        self.requests = 0

    def submit(self, graph: str, items: Sequence[Interaction]) -> "Future[IngestResult]":
        """Queues one request's batch for ``graph``; the future gives its ``IngestResult``
        (or raises its error) once its transaction committed. Raises ``Busy`` when the
        waiting requests or interactions are at their limit."""
        pending = _Pending(items, Future())
        with self._lock:
            too_many = self._waiting_requests >= self.limits.max_waiting_requests
            too_much = self._waiting_items and self._waiting_items + len(items) > self.limits.max_waiting_items
            if too_many or too_much:
                raise Busy(f"{self._waiting_requests} requests with {self._waiting_items} interactions are waiting")
            self._queues.setdefault(graph, deque()).append(pending)
            self._waiting_requests += 1
            self._waiting_items += len(items)
            start = self._writing.get(graph, 0) < self.limits.writers_per_graph
            if start:
                self._writing[graph] = self._writing.get(graph, 0) + 1
        if start:
            self._pool.submit(self._drain, graph)
        return pending.future

    def close(self) -> None:
        """Waits for the groups under way and the requests queued."""
        self._pool.shutdown(wait=True)

    def _drain(self, graph: str) -> None:
        """One graph's writer: takes everything waiting (up to ``max_group_items``) as one
        group, commits it, and goes on until the queue is empty."""
        while True:
            group = self._take(graph)
            if group is None:
                return
            if group:
                self._commit(graph, group)

    def _take(self, graph: str) -> list[_Pending] | None:
        """The next group (withdrawn requests dropped: maybe none), or None when the graph's
        queue is empty and this writer ends."""
        with self._lock:
            queue = self._queues[graph]
            if not queue:
                self._writing[graph] -= 1
                if not self._writing[graph]:
                    del self._writing[graph], self._queues[graph]
                return None
            group: list[_Pending] = []
            size = 0
            while queue and (not group or size + len(queue[0].items) <= self.limits.max_group_items):
                p = queue.popleft()
                self._waiting_requests -= 1
                self._waiting_items -= len(p.items)
                # False: the caller withdrew it (its wait ran out, the client left)
                if p.future.set_running_or_notify_cancel():
                    group.append(p)
                    size += len(p.items)
            return group

    def _commit(self, graph: str, group: list[_Pending]) -> None:
        try:
            outcomes = self._write(graph, [p.items for p in group])
        except _SHARED_ERRORS as e:
            for p in group:
                p.future.set_exception(e)
            return
        except BaseException as e:  # noqa: BLE001 - every request gets an answer, whatever happened
            if len(group) == 1:
                group[0].future.set_exception(e)
                return
            log.warning("group commit failed; writing its requests one by one",
                        extra={"graph": graph, "requests": len(group), "error": f"{type(e).__name__}: {e}"})
            for p in group:
                self._commit(graph, [p])
            return
        self.groups += 1
        self.requests += len(group)
        for p, outcome in zip(group, outcomes):
            if isinstance(outcome, BaseException):
                p.future.set_exception(outcome)
            else:
                p.future.set_result(outcome)
