"""What both adapters do to a batch before and after asking their database: de-duplicate
within the batch, fingerprint, and sum up what the batch adds to the graph's counters; and
what both do to what they read back (account labels)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

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


@dataclass
class SettledGroup:
    """Several requests' batches decided against what is stored: what one transaction
    writes for all of them, and each request's own answer."""

    #: the interactions to create, each once, in request order
    new: list[Interaction]
    #: the digests of ``new``, by id
    digests: dict[str, str]
    #: per request, in order: its ``IngestResult``-to-be as ``(accepted, duplicates)``, or
    #: the ``IngestConflict`` that refuses it (and nothing of it is in ``new``)
    outcomes: list[tuple[int, int] | IngestConflict]


def prepare_each(batches: Sequence[Sequence[Interaction]]) -> list[PreparedBatch | IngestConflict]:
    """``prepare`` per request; a request conflicting within itself gets its error in its
    place instead of refusing the others."""
    out: list[PreparedBatch | IngestConflict] = []
    for b in batches:
        try:
            out.append(prepare(b))
        except IngestConflict as e:
            out.append(e)
    return out


def settle(prepared: Sequence[PreparedBatch | IngestConflict], stored: Mapping[str, str]) -> SettledGroup:
    """Decides a group as if its requests had committed one after the other in order: a
    request is refused (alone) if an id is stored, or written by an earlier request of the
    group, with different content; an id stored or written earlier with the same content is
    a duplicate. ``stored`` holds the digests already stored for any of the group's ids."""
    written: dict[str, str] = {}
    new: list[Interaction] = []
    outcomes: list[tuple[int, int] | IngestConflict] = []
    for b in prepared:
        if isinstance(b, IngestConflict):
            outcomes.append(b)
            continue
        conflicts = [i for i in b.items if stored.get(i, written.get(i, b.digests[i])) != b.digests[i]]
        if conflicts:
            conflicts.sort(key=b.positions.__getitem__)
            outcomes.append(IngestConflict(ids=conflicts, indexes=[b.positions[i] for i in conflicts]))
            continue
        fresh = [it for i, it in b.items.items() if i not in stored and i not in written]
        for it in fresh:
            written[it.id] = b.digests[it.id]
        new.extend(fresh)
        outcomes.append((len(fresh), b.duplicates_within + len(b.items) - len(fresh)))
    return SettledGroup(new, written, outcomes)


def labels(rows: Iterable[tuple[str, str]], attribute: str) -> dict[str, str]:
    """(account id, attributes as JSON text) rows -> account id -> its ``attribute``.
    Attributes are JSON text in both stores: parsed here rather than with a JSON path
    built from the caller's attribute name."""
    out = {}
    for account, text in rows:
        value = json.loads(text).get(attribute)
        if value is not None:
            out[account] = str(value)
    return out
