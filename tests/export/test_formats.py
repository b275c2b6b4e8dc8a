"""Each export of the analysed demo network, read back by the readers analysts use
(networkx for GEXF and GraphML, the csv module for the zip), says what the stages found:
one node per account, one edge per (source, target, kind), and for the accounts checked
here the community, castle flag, pods, role and gatekeeper score of the stage results."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from graph.analysis.stages import Inputs
from graph.export import FORMATS, csv_zip, gexf, graphml
from graph.export.gexf import SIZE_MIN
from graph.export.tables import guard
from tests.export.conftest import read_zip

META = {"graph": "demo", "version": "v.7", "parameters": {"seed": 1, "layers": ["reply", "quote"]}}
GEXF = "{http://gexf.net/1.3}"


def rows(x) -> int:
    return sum(len(e) for e in x.g.kinds.values())


def expected(x, account: str) -> dict:
    """What the stages say of ``account``, straight from the results."""
    r = x.results
    i = x.g.index[account]
    c = r["communities"].membership[i]
    castles = {k.id for k in r["castles"].communities if k.castle}
    roles = r["roles"]
    j = roles.nodes.index(i) if i in roles.nodes else None
    gk = {k.account: k.score for k in r["gatekeepers"].items}
    return {
        "community": c,
        "castle": c in castles,
        "pods": ";".join(str(p.id) for p in r["pods"].pods if account in p.members) or None,
        "module_role": roles.module_role[j] if j is not None else None,
        "brokerage_role": roles.brokerage_role[j] if j is not None else None,
        "gatekeeper": gk.get(account),
        "participation": roles.participation[j] if j is not None else None,
    }


def checked_accounts(x) -> list[str]:
    top = x.results["gatekeepers"].items[0].account
    return ["north-00", "south-05", "east-11", "pod-00", "pod-07", "pod-star", "bridge-ns", top]


def test_the_demo_has_what_the_checks_rely_on(demo):
    # a castle: the closed pod circle; a pod of its twelve members; a listed top gatekeeper
    castle_members = {a for c in demo.results["communities"].communities
                      for k in demo.results["castles"].communities if k.castle and k.id == c.id for a in c.members}
    assert {f"pod-{i:02d}" for i in range(12)} <= castle_members
    assert "north-00" not in castle_members
    assert [sorted(p.members) for p in demo.results["pods"].pods] == [[f"pod-{i:02d}" for i in range(12)]]
    top = demo.results["gatekeepers"].items[0]
    assert top.module_role is not None and top.brokerage_role in ("gatekeeper", "representative", "liaison")


def test_gexf_reads_back_in_networkx(demo, tmp_path):
    path = tmp_path / "demo.gexf"
    path.write_bytes(b"".join(gexf(demo, META)))
    G = nx.read_gexf(path, version="1.3")
    assert G.is_directed() and G.is_multigraph()
    assert G.graph["mode"] == "dynamic"
    assert G.number_of_nodes() == demo.g.n
    assert G.number_of_edges() == rows(demo)
    for account in checked_accounts(demo):
        want, got = expected(demo, account), G.nodes[account]
        assert got["label"] == "@" + account  # the handle, as imported
        assert got["community"] == want["community"]
        assert got["castle"] is want["castle"]
        assert got.get("pods") == want["pods"]
        assert got.get("module_role") == want["module_role"]
        assert got.get("brokerage_role") == want["brokerage_role"]
        assert got.get("gatekeeper") == (pytest.approx(want["gatekeeper"]) if want["gatekeeper"] is not None else None)
        assert got["participation"] == pytest.approx(want["participation"])
    # the edge's kind and counts, and its spell in Unix seconds
    kind = sorted(demo.g.kinds)[0]
    e = demo.g.kinds[kind]
    s, t = demo.g.nodes[e.src[0]], demo.g.nodes[e.dst[0]]
    data = [d for d in G.get_edge_data(s, t).values() if d["kind"] == kind]
    assert len(data) == 1
    assert data[0]["weight"] == data[0]["count"] == e.count[0]
    assert data[0]["start"] == e.first[0] / 1000 and data[0]["end"] == e.last[0] / 1000


def test_gexf_is_dynamic_with_a_spell_on_every_edge_and_a_colour_per_community(demo):
    root = ET.fromstring(b"".join(gexf(demo, META)))
    assert root.get("version") == "1.3"
    graph = root.find(f"{GEXF}graph")
    assert graph.get("mode") == "dynamic" and graph.get("timeformat") == "double"
    assert "graph: demo" in root.find(f"{GEXF}meta/{GEXF}description").text
    edges = graph.findall(f"{GEXF}edges/{GEXF}edge")
    assert len(edges) == rows(demo) == int(graph.find(f"{GEXF}edges").get("count"))
    assert all(float(e.get("start")) <= float(e.get("end")) for e in edges)
    assert {e.get("kind") for e in edges} == set(demo.g.kinds)
    viz = "{http://gexf.net/1.3/viz}"
    colour: dict[int, tuple] = {}
    sizes = {}
    for n in graph.findall(f"{GEXF}nodes/{GEXF}node"):
        c = int(n.find(f"{GEXF}attvalues/{GEXF}attvalue[@for='community']").get("value"))
        rgb = tuple(n.find(f"{viz}color").get(k) for k in "rgb")
        assert colour.setdefault(c, rgb) == rgb  # one colour per community
        sizes[n.get("id")] = float(n.find(f"{viz}size").get("value"))
    assert len(set(colour.values())) == len(colour)
    listed = {k.account for k in demo.results["gatekeepers"].items}
    assert sizes[demo.results["gatekeepers"].items[0].account] == max(sizes.values())
    assert {sizes[a] for a in sizes if a not in listed} == {SIZE_MIN}


def test_gexf_datetime_spells_are_iso_8601_utc(demo):
    root = ET.fromstring(b"".join(gexf(demo, timeformat="datetime")))
    graph = root.find(f"{GEXF}graph")
    assert graph.get("timeformat") == "datetime"
    e = graph.find(f"{GEXF}edges/{GEXF}edge")
    assert e.get("start").startswith("2026-01-") and e.get("start").endswith("Z")
    with pytest.raises(ValueError):
        gexf(demo, timeformat="date")


def test_graphml_reads_back_in_networkx_with_parallel_edges_per_kind(demo, tmp_path):
    path = tmp_path / "demo.graphml"
    path.write_bytes(b"".join(graphml(demo, META)))
    G = nx.read_graphml(path)
    assert isinstance(G, nx.MultiDiGraph)
    assert G.number_of_nodes() == demo.g.n
    assert G.number_of_edges() == rows(demo)
    assert G.graph["graph"] == "demo" and '"seed":1' in G.graph["parameters"]
    for account in checked_accounts(demo):
        want, got = expected(demo, account), G.nodes[account]
        assert got["label"] == "@" + account
        assert got["community"] == want["community"] and isinstance(got["community"], int)
        assert got["castle"] is want["castle"]
        assert got.get("pods") == want["pods"]
        assert got.get("module_role") == want["module_role"]
        assert got.get("brokerage_role") == want["brokerage_role"]
        if want["gatekeeper"] is not None:
            assert got["gatekeeper"] == pytest.approx(want["gatekeeper"])
        else:
            assert "gatekeeper" not in got
    # some pair interacted in several kinds: one edge each
    multi = [(s, t) for s, t in set(G.edges()) if G.number_of_edges(s, t) > 1]
    assert multi
    kinds = [d["kind"] for d in G.get_edge_data(*multi[0]).values()]
    assert len(kinds) == len(set(kinds)) > 1
    assert all(d["weight"] == d["count"] for _, _, d in G.edges(data=True))


def test_csv_zip_follows_gephis_spreadsheet_convention(demo):
    tables = read_zip(b"".join(csv_zip(demo, META)))
    nodes, edges = tables["nodes.csv"], tables["edges.csv"]
    assert list(nodes[0])[:2] == ["Id", "Label"]
    assert list(edges[0]) == ["Source", "Target", "Type", "Kind", "Weight", "First", "Last"]
    assert len(nodes) == demo.g.n and len(edges) == rows(demo)
    assert {e["Type"] for e in edges} == {"Directed"}
    by_id = {n["Id"]: n for n in nodes}
    for account in checked_accounts(demo):
        want, got = expected(demo, account), by_id[account]
        assert got["Label"] == guard("@" + account)  # a leading @ is a formula to a spreadsheet
        assert int(got["community"]) == want["community"]
        assert got["castle"] == ("true" if want["castle"] else "false")
        assert got["pods"] == (want["pods"] or "")
        assert got["module_role"] == (want["module_role"] or "")
        assert got["brokerage_role"] == (want["brokerage_role"] or "")
        assert got["gatekeeper"] == ("" if want["gatekeeper"] is None else repr(want["gatekeeper"]))
    assert all(e["First"] <= e["Last"] and e["First"].endswith("Z") for e in edges)
    assert sum(int(e["Weight"]) for e in edges) == sum(int(e.count.sum()) for e in demo.g.kinds.values())


def test_every_format_streams_and_is_registered(demo):
    for name, f in FORMATS.items():
        parts = list(f.write(demo, META))
        assert parts and all(isinstance(p, bytes) for p in parts), name
    # a big-enough file comes in several chunks, not one string
    assert len(list(graphml(demo))) > 1
    # an analysis without a stage is refused before a byte is written
    incomplete = Inputs(demo.params, "demo", g=demo.g,
                        results={k: v for k, v in demo.results.items() if k != "castles"})
    for f in FORMATS.values():
        with pytest.raises(ValueError, match="castles"):
            f.write(incomplete, None)
