"""Streaming records into a store in batches: the code behind ``castlegate ingest`` and the
import route (``POST /v1/graphs/{graph}/imports``).

Records are written as they are read, a batch at a time, so an import of any size needs
memory for one batch. What is atomic, precisely: a batch's interactions are one store
transaction (all of them or none), and the accounts read since the previous batch are a
second transaction right after it. A bad record, a conflicting id, a limit, a stop (the
client of the import route went away) or a crash ends the import between transactions:
the batches written before stay, the records of the batch in progress are not written. Ids
are derived from the file, so running the same import again adds exactly what is missing
(the rest counts as duplicates, and accounts are upserts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from graph.errors import IngestConflict
from graph.model import Account, Interaction
from graph.store.port import GraphStore

__all__ = ["ImportReport", "ImportStopped", "import_records", "DEFAULT_BATCH"]

#: Interactions per transaction. Large enough that per-transaction costs (commit, fsync,
#: round trips) are spread thin, small enough to stay far from Neo4j's transaction memory
#: limits and to lose little work to an interruption.
DEFAULT_BATCH = 10_000


class ImportStopped(Exception):
    """The caller asked the import to stop (``should_stop``); the batches written before
    stay."""


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
    should_stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Writes ``records`` into ``graph`` in batches of ``batch_size`` interactions, as they
    are read (``records`` may be a stream of any length).

    Each batch's interactions are written before its accounts, so a batch refused for a
    conflict changes nothing. Raises ``IngestConflict`` with
    indexes counted from the start of the whole import, after the batches before it were
    committed. ``should_stop`` is asked before each batch is written: when it says yes,
    ``ImportStopped`` is raised and nothing more is written. Whatever ``records`` raises
    (a bad record, a limit) passes through the same way: the batch being gathered is
    dropped, those before it stay.
    """
    report = ImportReport()
    start = time.perf_counter()
    accounts: list[Account] = []
    interactions: list[Interaction] = []
    offset = 0  # position of the first interaction of the current batch in the import

    def flush() -> None:
        nonlocal offset
        if should_stop is not None and should_stop():
            raise ImportStopped(f"stopped after {report.batches} batch(es)")
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
