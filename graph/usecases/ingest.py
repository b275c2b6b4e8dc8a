"""Streaming records into a store in batches: the code behind ``castlegate ingest`` and the
import route.

Each batch is one store transaction. An interrupted import has committed whole batches only,
so running it again adds exactly what is missing: the rest counts as duplicates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from graph.errors import IngestConflict
from graph.model import Account, Interaction
from graph.store.port import GraphStore

__all__ = ["ImportReport", "import_records", "DEFAULT_BATCH"]

#: Interactions per transaction. Large enough that per-transaction costs (commit, fsync,
#: round trips) are spread thin, small enough to stay far from Neo4j's transaction memory
#: limits and to lose little work to an interruption.
DEFAULT_BATCH = 10_000


@dataclass
class ImportReport:
    accounts: int = 0
    accepted: int = 0
    duplicates: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Interactions (new or duplicate) handled per second."""
        return (self.accepted + self.duplicates) / self.seconds if self.seconds else 0.0


def import_records(
    store: GraphStore,
    graph: str,
    records: Iterable[Account | Interaction],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Writes ``records`` into ``graph`` in batches of ``batch_size`` interactions.

    Each batch's interactions are written before its accounts, so a batch refused for a
    conflict changes nothing. Raises ``IngestConflict`` with
    indexes counted from the start of the whole import, after the batches before it were
    committed.
    """
    report = ImportReport()
    start = time.perf_counter()
    accounts: list[Account] = []
    interactions: list[Interaction] = []
    offset = 0  # position of the first interaction of the current batch in the import

    def flush() -> None:
        nonlocal offset
        # interactions first: a refused batch (conflict) then leaves the accounts of that
        # batch untouched too
        if interactions:
            try:
                r = store.add_interactions(graph, interactions)
            except IngestConflict as e:
                raise IngestConflict(ids=e.ids, indexes=[offset + i for i in e.indexes]) from None
            report.accepted += r.accepted
            report.duplicates += r.duplicates
            offset += len(interactions)
            interactions.clear()
        if accounts:
            report.accounts += store.upsert_accounts(graph, accounts)
            accounts.clear()
        report.batches += 1
        report.seconds = time.perf_counter() - start
        if on_batch is not None:
            on_batch(report)

    for rec in records:
        if isinstance(rec, Interaction):
            interactions.append(rec)
            if len(interactions) >= batch_size:
                flush()
        else:
            accounts.append(rec)
            if len(accounts) >= batch_size:
                flush()
    if accounts or interactions:
        flush()
    report.seconds = time.perf_counter() - start
    return report
