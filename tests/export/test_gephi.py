"""Gephi's own importers (gephi-toolkit 0.10.1, through the Maven check in
tests/export/gephi) read every GEXF and GraphML export with the node and edge counts and
the attribute columns networkx reads, keep parallel edges of different kinds apart, and
take the GEXF as a dynamic graph whose time interval is that of the interactions."""

from __future__ import annotations

import networkx as nx
import pytest

from graph.export import gexf, graphml
from graph.export.attributes import EDGE_COLUMNS, NODE_COLUMNS

#: columns Gephi adds itself
GEPHI_NODE = {"id", "label", "timeset"}
GEPHI_EDGE = {"id", "label", "timeset", "weight"}
NODE_NAMES = {c.name for c in NODE_COLUMNS}
EDGE_NAMES = {c.name for c in EDGE_COLUMNS}


def names(columns: list[str]) -> set[str]:
    return {c.split(":")[0] for c in columns}


def networkx_columns(G) -> tuple[set[str], set[str]]:
    own = {"label", "start", "end", "viz", "spells", "id", "weight"}
    nodes = {k for _, d in G.nodes(data=True) for k in d} - own
    edges = {k for *_, d in G.edges(data=True) for k in d} - own
    return nodes, edges


def agrees_with_networkx(seen: dict, G) -> None:
    assert not [i for i in seen["issues"] if i.startswith(("SEVERE", "CRITICAL"))], seen["issues"]
    assert seen["directed"]
    assert seen["nodes"] == G.number_of_nodes()
    assert seen["edges"] == G.number_of_edges()
    assert names(seen["node_columns"]) == NODE_NAMES | GEPHI_NODE
    assert names(seen["edge_columns"]) == EDGE_NAMES | GEPHI_EDGE
    nodes, edges = networkx_columns(G)
    # networkx only knows the columns some node has a value in
    assert nodes <= NODE_NAMES and edges == EDGE_NAMES


@pytest.fixture(scope="module")
def demo_files(demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gephi-demo")
    files = {"double.gexf": b"".join(gexf(demo)), "datetime.gexf": b"".join(gexf(demo, timeformat="datetime")),
             "demo.graphml": b"".join(graphml(demo, {"graph": "demo"}))}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


@pytest.fixture(scope="module")
def demo_in_gephi(demo_files, gephi) -> dict[str, dict]:
    return {r["file"]: r for r in gephi(list(demo_files.values()))}


def interval_ms(x) -> tuple[int, int]:
    return (min(int(e.first.min()) for e in x.g.kinds.values()), max(int(e.last.max()) for e in x.g.kinds.values()))


def test_gephi_reads_the_demo_gexf_as_a_dynamic_graph(demo, demo_files, demo_in_gephi):
    G = nx.read_gexf(demo_files["double.gexf"], version="1.3")
    lo, hi = interval_ms(demo)
    for name, scale in (("double.gexf", 1000), ("datetime.gexf", 1)):
        seen = demo_in_gephi[name]
        agrees_with_networkx(seen, G)
        assert seen["dynamic"] and seen["has_interval"] and seen["time_representation"] == "INTERVAL"
        # Unix seconds, or datetimes Gephi keeps as epoch milliseconds
        assert seen["time_bounds"] == [lo / scale, hi / scale]
        # one edge type per kind: edges of different kinds between a pair are not merged
        assert set(demo.g.kinds) <= set(seen["edge_types"])


def test_gephi_reads_the_demo_graphml_with_parallel_edges(demo, demo_files, demo_in_gephi):
    seen = demo_in_gephi["demo.graphml"]
    agrees_with_networkx(seen, nx.read_graphml(demo_files["demo.graphml"]))
    assert set(demo.g.kinds) <= set(seen["edge_types"])
    assert not seen["dynamic"]


@pytest.mark.datasets
def test_gephi_reads_polblogs(polblogs_files, gephi):
    seen = {r["file"]: r for r in gephi([polblogs_files["gexf"], polblogs_files["graphml"]])}
    gx = seen["polblogs.gexf"]
    agrees_with_networkx(gx, nx.read_gexf(polblogs_files["gexf"], version="1.3"))
    # a static network is still a dynamic file, all at 1970-01-01
    assert gx["dynamic"] and gx["has_interval"] and gx["time_bounds"] == [0.0, 0.0]
    agrees_with_networkx(seen["polblogs.graphml"], nx.read_graphml(polblogs_files["graphml"]))
    assert gx["nodes"] == 1490


def test_gephi_reads_hostile_ids(tmp_path, gephi):
    from tests.export.test_hostile import PRINTABLE, UNWRITABLE, hostile_inputs

    x = hostile_inputs()
    paths = []
    for name, data in (("hostile.gexf", gexf(x)), ("hostile.graphml", graphml(x))):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(b"".join(data))
    for seen in gephi(paths):
        assert "error" not in seen, seen
        assert seen["nodes"] == len(PRINTABLE) + len(UNWRITABLE)
        assert seen["edges"] == sum(len(e) for e in x.g.kinds.values())
