"""Account ids are untrusted text: whatever an importer let in, an export stays
well-formed, reads back as the same ids (or, for characters XML cannot carry at all, with
U+FFFD in their place, still one node per account) and opens in a spreadsheet without
running anything."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from graph.analysis.graph import LayerGraph
from graph.analysis.params import AnalysisParams
from graph.analysis.stages import Inputs
from graph.export import csv_zip, gexf, graphml
from graph.export.tables import guard
from tests.export.conftest import analyse, read_zip

#: printable but hostile: must come back exactly
PRINTABLE = ["<script>alert(1)</script>", "&amp;", 'say "hi"', "it's", "=cmd|' /C calc'!A0", "+1", "-2",
             "@SUM(A1)", "tab\there", "new\nline", "cr\rhere", "]]>", "emoji 😀", "plain"]
#: characters XML 1.0 forbids: replaced, and still two distinct nodes
UNWRITABLE = {"nul\x00here": "nul\ufffdhere", "esc\x1b[31m": "esc\ufffd[31m", "a\x00": "a\ufffd",
              "a\x01": "a\ufffd\ufffd", "lone\ud800": "lone\ufffd"}


def hostile_inputs() -> Inputs:
    """A ring of the hostile ids, replying and reposting, analysed."""
    ids = PRINTABLE + list(UNWRITABLE)
    rows = []
    for i, a in enumerate(ids):
        b = ids[(i + 1) % len(ids)]
        rows += [(a, b, "reply", 2, 1_000 * i, 1_000 * i + 500), (b, a, "reply", 1, 1_000 * i, 1_000 * i),
                 (a, b, "repost", 1, 7, 7)]
    # the printable ones carry a handle (free text too) that becomes their label
    x = Inputs(AnalysisParams(layers=("reply", "repost"), null_samples=2), "hostile",
               g=LayerGraph.from_rows(rows), events=[],
               handles=lambda asked: {a: "@" + a for a in asked if a in PRINTABLE})
    return analyse(x)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_inputs(), tmp_path_factory.mktemp("hostile")


def written_ids() -> set[str]:
    return set(PRINTABLE) | set(UNWRITABLE.values())


def written_labels() -> set[str]:
    return {"@" + a for a in PRINTABLE} | set(UNWRITABLE.values())


def test_gexf_stays_well_formed_and_ids_round_trip(hostile):
    x, folder = hostile
    data = b"".join(gexf(x, {"graph": "<g>&\x00"}))
    root = ET.fromstring(data)  # well-formed, or this raises
    assert b"<script>" not in data and b"\x00" not in data and b"\x1b" not in data
    path = folder / "hostile.gexf"
    path.write_bytes(data)
    G = nx.read_gexf(path, version="1.3")
    assert set(G.nodes) == written_ids()
    assert {d["label"] for _, d in G.nodes(data=True)} == written_labels()
    assert G.number_of_edges() == sum(len(e) for e in x.g.kinds.values())
    assert "<g>&\ufffd" in root.find("{http://gexf.net/1.3}meta/{http://gexf.net/1.3}description").text


def test_graphml_stays_well_formed_and_ids_round_trip(hostile):
    x, folder = hostile
    path = folder / "hostile.graphml"
    path.write_bytes(b"".join(graphml(x, {"graph": "<g>&\x00"})))
    G = nx.read_graphml(path)
    assert set(G.nodes) == written_ids()
    assert {d["label"] for _, d in G.nodes(data=True)} == written_labels()
    assert G.graph["graph"] == "<g>&\ufffd"


def test_csv_cells_never_start_a_formula(hostile):
    x, _ = hostile
    tables = read_zip(b"".join(csv_zip(x, {"graph": "<g>"})))
    ids = {n["Id"] for n in tables["nodes.csv"]}
    assert ids == {guard(a) for a in written_ids()}
    assert "'=cmd|' /C calc'!A0" in ids and "'-2" in ids and "'@SUM(A1)" in ids and "new\nline" in ids
    assert {n["Label"] for n in tables["nodes.csv"]} == {guard(a) for a in written_labels()}
    text_columns = {"Id", "Label", "pods", "brokerage_role", "module_role", "first_seen", "last_seen", "Source", "Target", "Kind", "Type",
                    "First", "Last"}
    for table in tables.values():
        for row in table:
            for column, cell in row.items():
                if column in text_columns:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    # edges still join the nodes they name
    assert {e["Source"] for e in tables["edges.csv"]} <= ids
