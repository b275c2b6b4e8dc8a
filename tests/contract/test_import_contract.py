"""The batch importer over each store: an interrupted import, re-run, adds only what is missing."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from graph.errors import IngestConflict
from graph.ingest.formats import read_records
from graph.usecases.ingest import import_records
from graph.model import Interaction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


class Interrupted(Exception):
    pass


def interrupted_after(records, n: int):
    for i, r in enumerate(records):
        if i == n:
            raise Interrupted
        yield r


def test_interrupted_import_resumes_without_doubling(store, graph_id):
    store.create_graph(graph_id)
    path = FIXTURES / "higgs_excerpt.txt"
    total = sum(1 for r in read_records(path, "snap-higgs") if isinstance(r, Interaction))
    with pytest.raises(Interrupted):
        import_records(store, graph_id, interrupted_after(read_records(path, "snap-higgs"), 13), batch_size=4)
    # three whole batches of four were committed before the interruption
    assert store.get_graph(graph_id).interactions.total() == 12
    report = import_records(store, graph_id, read_records(path, "snap-higgs"), batch_size=4)
    assert (report.accepted, report.duplicates) == (total - 12, 12)
    info = store.get_graph(graph_id)
    assert info.interactions.total() == total == 20
    assert msgspec.structs.asdict(info.interactions) == {"reply": 4, "quote": 0, "mention": 9, "repost": 7, "like": 0, "follow": 0}


def test_accounts_from_a_platform_export_keep_their_follower_counts(store, graph_id):
    store.create_graph(graph_id)
    report = import_records(store, graph_id, read_records(FIXTURES / "native.ndjson", "ndjson"))
    assert report.accounts == 2
    assert store.get_account(graph_id, "ana").account.followers == 1200
    assert store.get_account(graph_id, "ben").account.attributes == {"community": "north"}


def test_conflict_is_reported_with_its_position_in_the_file(store, graph_id):
    store.create_graph(graph_id)
    records = [r for r in read_records(FIXTURES / "higgs_excerpt.txt", "snap-higgs") if isinstance(r, Interaction)]
    import_records(store, graph_id, records[:5], batch_size=5)
    changed = records[:10]
    changed[7] = Interaction(**{**{f: getattr(changed[7], f) for f in changed[7].__struct_fields__}, "id": records[2].id})
    with pytest.raises(IngestConflict) as e:
        import_records(store, graph_id, changed, batch_size=5)
    assert e.value.indexes == [7]
    assert store.get_graph(graph_id).interactions.total() == 5
