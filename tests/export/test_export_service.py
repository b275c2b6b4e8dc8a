"""Exports as a user gets them: ``GET /v1/graphs/{g}/export`` on a real server (both
stores) and ``castlegate export`` on polblogs imported with ``castlegate ingest``; every
file read back by networkx (and the csv module) and by Gephi's own toolkit, with the same
node and edge counts as the graph the store holds."""

from __future__ import annotations


import networkx as nx
import pytest

from tests.conftest import DEMO_STORES, castlegate, demo_service, follow_job
from tests.export.conftest import read_zip


@pytest.fixture(params=DEMO_STORES, scope="module")
def demo_api(request, tmp_path_factory):
    yield from demo_service(request, tmp_path_factory, "exp")


def fetch(c, path: str, **params):
    r = c.get(path, params=params)
    if r.status_code == 202:
        job = follow_job(c, r.headers["location"])
        assert job["status"] == "done", job
        assert job["links"]["answer"].startswith(path)
        r = c.get(path, params=params)
    return r


def test_the_demo_exports_over_http_open_in_networkx_and_gephi(demo_api, tmp_path, gephi):
    svc, graph = demo_api
    with svc.client() as c:
        files = {}
        for fmt, media, ext in (("gexf", "application/gexf+xml", "gexf"), ("graphml", "application/graphml+xml",
                                                                          "graphml"), ("csv", "application/zip", "zip")):
            r = fetch(c, f"/v1/graphs/{graph}/export", format=fmt)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith(media)
            assert f'filename="{graph}.{ext}"' in r.headers["content-disposition"]
            again = c.get(f"/v1/graphs/{graph}/export", params={"format": fmt},
                          headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
            files[fmt] = tmp_path / f"demo.{ext}"
            files[fmt].write_bytes(r.content)
        info = c.get(f"/v1/graphs/{graph}").json()
        r = c.get(f"/v1/graphs/{graph}/export", params={"format": "pajek"})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "format", r.text
    G = nx.read_graphml(files["graphml"])
    D = nx.read_gexf(files["gexf"], version="1.3")
    tables = read_zip(files["csv"].read_bytes())
    # the demo: every account interacts, the pod sits in one community marked a castle
    assert G.number_of_nodes() == D.number_of_nodes() == len(tables["nodes.csv"]) == info["accounts"] == 87
    assert G.number_of_edges() == D.number_of_edges() == len(tables["edges.csv"])
    # every layer's edges, follows too, each with its count
    assert sum(int(e["Weight"]) for e in tables["edges.csv"]) == sum(info["interactions"].values())
    assert {e["Kind"] for e in tables["edges.csv"]} == {k for k, n in info["interactions"].items() if n}
    pod = [n for n in G if n.startswith("pod-") and n != "pod-star"]
    assert len(pod) == 12 and all(G.nodes[n]["castle"] for n in pod)
    assert not any(G.nodes[n]["castle"] for n in G if n.startswith("north-"))
    assert {G.nodes[n]["pods"] for n in pod} == {"0"}
    in_gephi = gephi([files["gexf"], files["graphml"]])
    for got, nxg in zip(in_gephi, (D, G), strict=True):
        assert (got["nodes"], got["edges"]) == (nxg.number_of_nodes(), nxg.number_of_edges())
    assert in_gephi[0]["dynamic"]


def test_polblogs_imported_and_exported_by_the_cli(tmp_path, datasets, gephi):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    r = castlegate("ingest", str(datasets / "polblogs" / "polblogs.gml"), "--format", "gml", "--graph", "pb",
                   "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    from graph.store.sqlite import SqliteStore
    store = SqliteStore(tmp_path / "data" / "castlegate.sqlite")
    try:
        pairs = {(i.source, i.target) for i in store.iter_interactions("pb")}
        accounts = store.get_graph("pb").accounts
    finally:
        store.close()
    out = {}
    for fmt in ("gexf", "graphml"):
        out[fmt] = tmp_path / f"pb.{fmt}"
        r = castlegate("export", "--graph", "pb", "--format", fmt, "-o", str(out[fmt]), "--quiet", env=env)
        assert r.returncode == 0, r.stderr
    G = nx.read_graphml(out["graphml"])
    D = nx.read_gexf(out["gexf"], version="1.3")
    # every blog, isolated ones too, and every linked pair once (one layer: mention)
    assert G.number_of_nodes() == D.number_of_nodes() == accounts == 1490
    assert G.number_of_edges() == D.number_of_edges() == len(pairs)
    assert set(G.edges()) == pairs
    in_gephi = gephi([out["gexf"], out["graphml"]])
    assert [(got["nodes"], got["edges"]) for got in in_gephi] == [(1490, len(pairs))] * 2
    bad = castlegate("export", "--graph", "missing", "-o", str(tmp_path / "x.gexf"), env=env)
    assert bad.returncode == 1 and "missing" in bad.stderr and not (tmp_path / "x.gexf").exists()
