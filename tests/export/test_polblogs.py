"""polblogs (Adamic & Glance 2005), a static network of 1490 blogs, exported and read
back: the same nodes and directed pairs as networkx's own reading of polblogs.gml, and
every time at 1970-01-01 (still written: a reader must not have to guess)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from tests.export.conftest import read_zip

pytestmark = pytest.mark.datasets


@pytest.fixture(scope="module")
def reference(polblogs) -> nx.DiGraph:
    """polblogs.gml as networkx reads it, as a directed graph: this copy's header says
    ``undirected 1`` where Newman's original says ``directed 1`` (PROVENANCE.md), and
    hyperlinks have a direction."""
    _, folder = polblogs
    text = (folder / "polblogs.gml").read_text().replace("undirected 1", "directed 1", 1)
    multi = nx.parse_gml(text, label="id")
    assert isinstance(multi, nx.MultiDiGraph) and multi.number_of_edges() == 19090
    return nx.relabel_nodes(nx.DiGraph(multi), str)


def test_graphml_has_the_nodes_and_pairs_of_networkxs_own_reading(polblogs_files, reference):
    G = nx.read_graphml(polblogs_files["graphml"])
    assert G.number_of_nodes() == reference.number_of_nodes() == 1490
    assert G.number_of_edges() == reference.number_of_edges()  # one kind: one edge per pair
    assert set(G.nodes) == set(reference.nodes)
    assert {(s, t) for s, t in G.edges()} == set(reference.edges())
    # the 65 duplicated hyperlinks are counted, not dropped
    assert sum(d["count"] for _, _, d in G.edges(data=True)) == 19090
    assert {d["first"] for _, _, d in G.edges(data=True)} == {"1970-01-01T00:00:00Z"}


def test_gexf_has_the_same_counts_and_static_times(polblogs_files, reference):
    G = nx.read_gexf(polblogs_files["gexf"], version="1.3")
    assert G.number_of_nodes() == reference.number_of_nodes()
    assert G.number_of_edges() == reference.number_of_edges()
    root = ET.parse(polblogs_files["gexf"]).getroot()
    edges = root.iter("{http://gexf.net/1.3}edge")
    assert {(e.get("start"), e.get("end")) for e in edges} == {("0", "0")}
    # the 266 blogs without links are outside the partition: community -1, no role
    assert sum(1 for _, d in G.nodes(data=True) if d["community"] == -1) == 266
    assert all("module_role" not in d and "brokerage_role" not in d
               for _, d in G.nodes(data=True) if d["community"] == -1)


def test_csv_has_the_same_counts(polblogs_files, reference):
    tables = read_zip(polblogs_files["csv"].read_bytes())
    assert len(tables["nodes.csv"]) == reference.number_of_nodes()
    assert len(tables["edges.csv"]) == reference.number_of_edges()
