"""What both adapters do to a batch before and after asking their database: de-duplicate
within the batch, fingerprint, and sum up what the batch adds to the graph's counters."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from graph.errors import IngestConflict
from graph.model import Interaction, Kind, epoch_ms


@dataclass
class PreparedBatch:
    """The distinct interactions of a batch, keyed by id, with their digests and their
    positions in the request (so a conflict can be reported by index)."""

    items: dict[str, Interaction]
    digests: dict[str, str]
    positions: dict[str, int]
    duplicates_within: int


def prepare(interactions: Sequence[Interaction]) -> PreparedBatch:
    items: dict[str, Interaction] = {}
    digests: dict[str, str] = {}
    positions: dict[str, int] = {}
    duplicates = 0
    conflict_ids: list[str] = []
    conflict_idx: list[int] = []
    for i, item in enumerate(interactions):
        d = item.digest()
        seen = digests.get(item.id)
        if seen is None:
            items[item.id] = item
            digests[item.id] = d
            positions[item.id] = i
        elif seen == d:
            duplicates += 1
        else:
            conflict_ids.append(item.id)
            conflict_idx.append(i)
    if conflict_ids:
        raise IngestConflict(ids=conflict_ids, indexes=conflict_idx)
    return PreparedBatch(items, digests, positions, duplicates)


def split_existing(batch: PreparedBatch, stored: Mapping[str, str]) -> list[Interaction]:
    """Given the digests already stored for some of the batch's ids, return the items that
    are new; raise ``IngestConflict`` if any stored digest differs."""
    conflicts = [i for i, d in stored.items() if d != batch.digests[i]]
    if conflicts:
        conflicts.sort(key=batch.positions.__getitem__)
        raise IngestConflict(ids=conflicts, indexes=[batch.positions[i] for i in conflicts])
    return [it for i, it in batch.items.items() if i not in stored]


@dataclass
class Tally:
    """What a set of new interactions adds to a graph's counters."""

    per_kind: dict[str, int] = field(default_factory=dict)
    first_ms: int | None = None
    last_ms: int | None = None

    @classmethod
    def of(cls, new: Sequence[Interaction]) -> "Tally":
        t = cls(per_kind={k.value: 0 for k in Kind})
        for it in new:
            t.per_kind[it.kind.value] += 1
            ms = epoch_ms(it.at)
            if t.first_ms is None or ms < t.first_ms:
                t.first_ms = ms
            if t.last_ms is None or ms > t.last_ms:
                t.last_ms = ms
        return t


def new_incarnation() -> str:
    """A random tag fixed when a graph is created. It makes the versions of a deleted and
    re-created graph differ, so no cached analysis outlives its data, and it prefixes the
    Neo4j adapter's keys, so leftovers of a deleted graph never clash with a new one."""
    return secrets.token_hex(8)


def version_string(incarnation: str, revision: int) -> str:
    return f"{incarnation}.{revision}"
