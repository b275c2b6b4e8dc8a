"""The graph-file importers (edge lists, GML, GraphML, GEXF, Gephi's CSV tables, Conover's
flat files): files written by networkx, the tool analysts export with, read back through
``read_records`` and compared with the graph networkx holds; hostile files refused with the
field named; and every data set in ``../shared/datasets`` imported with ``castlegate
ingest FILE --format F``, no converter, its counts checked against an independent reader."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import networkx as nx
import pytest

from graph.errors import InvalidInput
from graph.ingest.formats import read_records
from graph.ingest.formats.static_graph import MAX_COUNT, STATIC_AT
from graph.model import Account, Interaction
from graph.store.sqlite import SqliteStore
from tests.conftest import castlegate


def split(path: Path, fmt: str) -> tuple[dict[str, Account], list[Interaction]]:
    items = list(read_records(path, fmt))
    accounts = {i.id: i for i in items if isinstance(i, Account)}
    return accounts, [i for i in items if isinstance(i, Interaction)]


def errors_of(path: Path, fmt: str):
    with pytest.raises(InvalidInput) as caught:
        list(read_records(path, fmt))
    return caught.value.errors


def sample_graph() -> nx.DiGraph:
    """A small directed graph as an analyst would save it: labels, a party attribute,
    whole-number weights (counts of acts), a fractional one (a strength) and a kind."""
    g = nx.DiGraph()
    for n, label, party in [("a", "Ada", "left"), ("b", "Bob & Co", "right"), ("c", "Cy", "left"), ("d", "Di", "right")]:
        g.add_node(n, label=label, party=party)
    g.add_edge("a", "b", weight=3)
    g.add_edge("b", "c", weight=1)
    g.add_edge("c", "a", weight=0.25)
    g.add_edge("d", "a", weight=2, kind="reply")
    return g


def expected_acts(g: nx.DiGraph) -> Counter:
    """(source, target, kind) -> interactions, by the documented rule: a positive whole
    weight is a count of acts, anything else one act; the kind defaults to mention."""
    out: Counter = Counter()
    for u, v, d in g.edges(data=True):
        w = d.get("weight", 1)
        out[(u, v, d.get("kind", "mention"))] += int(w) if w >= 1 and w == int(w) else 1
    return out


def acts(interactions: list[Interaction]) -> Counter:
    return Counter((i.source, i.target, i.kind.value) for i in interactions)


#: each format's writer and networkx's own reader of it, which says what the file holds
NX = {
    "gml": (nx.write_gml, lambda p: nx.read_gml(p, label="id")),  # ids as written; labels are handles
    "graphml": (nx.write_graphml, nx.read_graphml),
    "gexf": (nx.write_gexf, nx.read_gexf),
}


@pytest.mark.parametrize("fmt", sorted(NX))
def test_networkx_files_read_back_as_networkx_reads_them(tmp_path, fmt):
    write, read = NX[fmt]
    path = tmp_path / f"g.{fmt}"
    write(sample_graph(), path)
    want = read(path)
    accounts, interactions = split(path, fmt)
    assert set(accounts) == {str(n) for n in want.nodes}
    for n, d in want.nodes(data=True):
        assert accounts[str(n)].handle == d["label"]
        assert accounts[str(n)].attributes["party"] == d["party"]
    assert acts(interactions) == expected_acts(nx.relabel_nodes(want, str))
    assert sum(acts(interactions).values()) == 3 + 1 + 1 + 2
    assert {i.at for i in interactions} == {STATIC_AT}
    assert len({i.id for i in interactions}) == len(interactions)
    # reading the same file again gives the same ids: a re-import is all duplicates
    assert [i.id for i in split(path, fmt)[1]] == [i.id for i in interactions]


def test_edge_lists_with_and_without_time(tmp_path):
    g = sample_graph()
    plain = tmp_path / "g.edgelist"
    nx.write_edgelist(g, plain, data=["weight"])
    _, interactions = split(plain, "edgelist")
    want = Counter({(u, v, "mention"): n for (u, v, _), n in expected_acts(g).items()})
    assert acts(interactions) == want

    timed = tmp_path / "msgs.txt"  # CollegeMsg's shape: SRC DST UNIXTS
    timed.write_text("% sender receiver time\n1 2 1082040961\n2 1 1082155839\n\n1 3 1082414391 2\n")
    _, interactions = split(timed, "edgelist-timed")
    assert [(i.source, i.target, i.at) for i in interactions] == [
        ("1", "2", datetime.fromtimestamp(1082040961, timezone.utc)),
        ("2", "1", datetime.fromtimestamp(1082155839, timezone.utc)),
        ("1", "3", datetime.fromtimestamp(1082414391, timezone.utc)),
        ("1", "3", datetime.fromtimestamp(1082414391, timezone.utc)),
    ]


def test_gephi_tables_with_quoted_cells(tmp_path):
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    with nodes.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Id", "Label", "value", "source"])
        w.writerow(["1", "a.com", "0", "Blogarama,BlogCatalog"])
        w.writerow(["2", "b, the blog", "1", "line one\nline two"])  # a quoted cell across lines
    with edges.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Source", "Target", "Type", "Weight"])
        w.writerow(["1", "2", "Directed", "2"])
        w.writerow(["2", "1", "Directed", "0.5"])
    accounts, none = split(nodes, "gephi-csv")
    assert none == []
    assert accounts["2"].handle == "b, the blog"
    # control characters in free text become spaces (static_graph.text)
    assert accounts["2"].attributes == {"value": "1", "source": "line one line two"}
    assert accounts["1"].attributes["source"] == "Blogarama,BlogCatalog"
    _, interactions = split(edges, "gephi-csv")
    assert acts(interactions) == Counter({("1", "2", "mention"): 2, ("2", "1", "mention"): 1})


def test_hostile_graph_files_are_refused_with_the_field(tmp_path):
    laughs = tmp_path / "laughs.graphml"
    laughs.write_text('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">\n'
                      '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
                      '<graphml><graph><node id="&lol2;"/></graph></graphml>\n')
    (err,) = errors_of(laughs, "graphml")
    assert err.field == "file" and "DOCTYPE" in err.message and err.index == 1

    external = tmp_path / "external.gexf"
    external.write_text('<?xml version="1.0"?>\n<!DOCTYPE gexf [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                        '<gexf><graph><nodes><node id="&x;"/></nodes></graph></gexf>\n')
    assert errors_of(external, "gexf")[0].field == "file"

    deep = tmp_path / "deep.gml"
    deep.write_text("graph [ node [ id 1 " + "x [ " * 100 + "]" * 100 + " ] ]\n")
    assert errors_of(deep, "gml")[0].field == "line"

    huge = tmp_path / "huge.edgelist"
    huge.write_text(f"a b {MAX_COUNT * 10}\n")
    (err,) = errors_of(huge, "edgelist")
    assert (err.field, err.index) == ("weight", 0) and str(MAX_COUNT) in err.message

    broken = tmp_path / "broken.graphml"
    broken.write_text("<graphml><graph>\n<node id='a'>\n</graph></graphml>\n")
    assert errors_of(broken, "graphml")[0].message.startswith("malformed XML")


# ------------------------------------------------------- the shared data sets, by the CLI


def stored(info) -> dict[str, int]:
    return {k: v for k, v in msgspec.structs.asdict(info.interactions).items() if v}


def ingest(tmp_path: Path, graph: str, *files: tuple[Path, str]) -> SqliteStore:
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path)}
    for path, fmt in files:
        r = castlegate("ingest", str(path), "--format", fmt, "--graph", graph, "--quiet", env=env)
        assert r.returncode == 0, r.stderr
    return SqliteStore(tmp_path / "castlegate.sqlite")


def test_polblogs_gml(tmp_path, datasets):
    path = datasets / "polblogs" / "polblogs.gml"
    want = nx.read_gml(path, label="id")  # a multigraph: parallel links kept
    store = ingest(tmp_path, "pb", (path, "gml"))
    info = store.get_graph("pb")
    assert info.accounts == want.number_of_nodes() == 1490
    assert stored(info) == {"mention": want.number_of_edges()}
    # no time in the file: every link at the documented static instant
    assert info.first_at == info.last_at == STATIC_AT
    leaning = Counter(d["value"] for _, d in want.nodes(data=True))
    acc = [store.get_account("pb", str(n)).account for n in list(want.nodes)[:50]]
    assert all(a.attributes["value"] == str(want.nodes[int(a.id)]["value"]) for a in acc)
    assert all(a.handle == want.nodes[int(a.id)]["label"] for a in acc)
    assert sorted(leaning) == [0, 1]


def test_polblogs_gephi_tables(tmp_path, datasets):
    folder = datasets / "polblogs"
    with (folder / "polblogs_edges.csv").open(newline="") as f:
        edge_rows = sum(1 for _ in csv.DictReader(f))
    with (folder / "polblogs_nodes.csv").open(newline="") as f:
        node_rows = list(csv.DictReader(f))
    store = ingest(tmp_path, "pbc", (folder / "polblogs_nodes.csv", "gephi-csv"),
                   (folder / "polblogs_edges.csv", "gephi-csv"))
    info = store.get_graph("pbc")
    assert info.accounts == len(node_rows)
    assert stored(info) == {"mention": edge_rows}
    first = store.get_account("pbc", node_rows[0]["id"]).account
    assert first.handle == node_rows[0]["label"]


def test_reddit_gml_gz(tmp_path, datasets):
    path = datasets / "reddit-small-reply-network" / "reddit_small_corpus_network_digraph.gml.gz"
    want = nx.read_gml(path, label="id")
    weights = sum(int(d.get("weight", 1)) for _, _, d in want.edges(data=True))
    store = ingest(tmp_path, "rd", (path, "gml"))
    info = store.get_graph("rd")
    assert info.accounts == want.number_of_nodes()
    assert stored(info) == {"mention": weights}
    some = next(iter(want.nodes))
    assert store.get_account("rd", str(some)).account.handle == want.nodes[some]["label"]
    out = sum(int(d.get("weight", 1)) for _, _, d in want.out_edges(some, data=True))
    outgoing = store.get_account("rd", str(some)).outgoing
    assert {k: v for k, v in msgspec.structs.asdict(outgoing).items() if v} == ({"mention": out} if out else {})


def test_collegemsg_timed_edge_list(tmp_path, datasets):
    path = datasets / "collegemsg" / "CollegeMsg.txt"
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    store = ingest(tmp_path, "cm", (path, "edgelist-timed"))
    info = store.get_graph("cm")
    assert stored(info) == {"mention": len(rows)}
    assert info.accounts == len({r[0] for r in rows} | {r[1] for r in rows})
    ts = [int(r[2]) for r in rows]
    assert info.first_at == datetime.fromtimestamp(min(ts), timezone.utc)
    assert info.last_at == datetime.fromtimestamp(max(ts), timezone.utc)


def test_conover_retweet_network(tmp_path, datasets):
    folder = datasets / "conover-icwsm-polarization"
    nodes = [line.split("\t") for line in (folder / "retweet.nodes").read_text().splitlines() if line]
    edges = [line.split("\t") for line in (folder / "retweet.edgelist").read_text().splitlines() if line]
    store = ingest(tmp_path, "cv", (folder / "retweet.nodes", "conover"), (folder / "retweet.edgelist", "conover"))
    info = store.get_graph("cv")
    assert stored(info) == {"repost": len(edges)}
    assert info.accounts == len({n[0] for n in nodes} | {e[0] for e in edges} | {e[1] for e in edges})
    # A -> B in the file means B retweeted A: B's reposts are A's incoming ones
    a = edges[0][0]
    assert store.get_account("cv", a).incoming.repost == sum(1 for e in edges if e[0] == a)
    assert store.get_account("cv", a).outgoing.repost == sum(1 for e in edges if e[1] == a)
    left = next(n[0] for n in nodes if n[1].strip() == "left")
    assert store.get_account("cv", left).account.attributes == {"cluster": "left"}


def test_higgs_weighted_network_edge_list(tmp_path, datasets):
    path = datasets / "higgs-twitter" / "higgs-reply_network.edgelist.gz"
    with gzip.open(path, "rt") as f:
        rows = [line.split() for line in f if line.strip()]
    store = ingest(tmp_path, "hr", (path, "edgelist"))
    info = store.get_graph("hr")
    assert stored(info) == {"mention": sum(int(r[2]) for r in rows)}
    assert info.accounts == len({r[0] for r in rows} | {r[1] for r in rows})


@pytest.mark.parametrize("fmt, static", [("graphml", True), ("ndjson", False)])
def test_the_manifest_says_when_time_means_nothing(tmp_path, fmt, static):
    import msgspec

    from graph.analysis.params import AnalysisParams
    from graph.jobs.sqlite import SqliteJobStore
    from graph.usecases.analyse import produce
    from graph.usecases.ingest import import_records

    path = tmp_path / "g.txt"
    if static:
        nx.write_graphml(sample_graph(), path)
    else:
        path.write_text("".join(
            f'{{"id": "e{i}", "kind": "reply", "source": "{a}", "target": "{b}", "at": "2026-03-01T12:{i:02d}:00Z"}}\n'
            for i, (a, b) in enumerate([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] * 3)))
    store, cache = SqliteStore(tmp_path / "s.sqlite"), SqliteJobStore(tmp_path / "jobs.sqlite")
    try:
        store.create_graph("g")
        import_records(store, "g", read_records(path, fmt))
        params = AnalysisParams(layers=("mention", "reply"))
        for target in ("communities", "pods"):  # one reads the graph, the other the events
            out = produce(store, cache, "g", params, target)
            assert msgspec.json.decode(cache.get_result(out.result_key))["manifest"]["static_time"] is static
    finally:
        store.close()
        cache.close()
