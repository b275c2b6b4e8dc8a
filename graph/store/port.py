"""The GraphStore port: everything castlegate asks of a store, and nothing more.

The contract tests in ``tests/contract/`` are the definition of this protocol: an adapter
that passes them is a store. Two adapters exist: ``neo4j`` (production) and ``sqlite``
(the embedded default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from graph.model import AccountDetail, Account, GraphInfo, IngestResult, Interaction, Kind

#: ``(id, kind, source, target, at_ms, object)``: one interaction, as analyses read it
EventRow = tuple[str, str, str, str, int, "str | None"]

__all__ = ["EdgeTable", "EventRow", "GraphStore"]


@dataclass
class EdgeTable:
    """Interactions as columns: ``nodes`` names the accounts, and per kind three equally
    long arrays ``(src, dst, at_ms)`` index into ``nodes``. Columns rather than rows
    because that is what crosses the wire fastest (see ``Neo4jStore.edge_table``) and what
    the analysis aggregates with numpy."""

    nodes: list[str]
    kinds: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


@runtime_checkable
class GraphStore(Protocol):
    #: "neo4j" or "sqlite"; reported by /ready and in analysis manifests.
    kind: str

    def server_version(self) -> str:
        """The store's own version (Neo4j server version, SQLite library version). Raises
        ``StoreUnavailable`` when the store does not answer."""

    def close(self) -> None: ...

    # workspaces
    def create_graph(self, graph: str, description: str = "") -> GraphInfo:
        """Raises ``GraphExists``."""

    def list_graphs(self) -> list[GraphInfo]: ...

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

    # reads
    def get_account(self, graph: str, account: str) -> AccountDetail:
        """Raises ``GraphNotFound`` or ``AccountNotFound``."""

    def iter_interactions(self, graph: str) -> Iterable[Interaction]:
        """Every interaction of the graph, ordered by id (for exports and tests)."""

    # analysis reads: a time window is [since, until); None leaves that side open
    def edge_table(
        self, graph: str, kinds: Sequence[Kind], since: datetime | None = None,
        until: datetime | None = None,
    ) -> EdgeTable:
        """Interactions of ``kinds`` in the window, as columns."""

    def events(
        self, graph: str, kinds: Sequence[Kind], since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[EventRow]:
        """Single interactions of ``kinds`` in the window, for analyses that need each
        one (coordination timing, reach, example exchanges)."""

    def followers(self, graph: str) -> dict[str, int]:
        """Claimed follower counts of the accounts that have one."""
