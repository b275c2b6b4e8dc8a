"""Ingest through the real HTTP API, on both stores."""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import start_service


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)], scope="module")
def api(request, tmp_path_factory):
    """A castlegate server on each store in turn."""
    env = {"CASTLEGATE_MAX_BODY_BYTES": str(2 * 1024 * 1024)}
    if request.param == "neo4j":
        env |= request.getfixturevalue("neo4j_server").env
    svc = start_service(tmp_path_factory.mktemp(f"api-{request.param}"), env)
    yield svc
    svc.stop()


def item(n: int, kind: str = "reply", s: str = "alice", t: str = "bob", **kw) -> dict:
    return {"id": f"i{n}", "kind": kind, "source": s, "target": t,
            "at": f"2026-03-01T12:{n % 60:02d}:00Z", **kw}


@pytest.fixture
def graph(api, graph_id):
    with api.client() as c:
        assert c.post("/v1/graphs", json={"id": graph_id, "description": "test"}).status_code == 201
    return graph_id


def test_graph_crud(api, graph_id):
    with api.client() as c:
        r = c.post("/v1/graphs", json={"id": graph_id, "description": "client A"})
        assert r.status_code == 201
        body = r.json()
        assert body["id"] == graph_id and body["accounts"] == 0
        assert body["interactions"] == {k: 0 for k in ("reply", "quote", "mention", "repost", "like", "follow")}
        assert c.post("/v1/graphs", json={"id": graph_id}).status_code == 409
        assert graph_id in [g["id"] for g in c.get("/v1/graphs").json()["items"]]
        assert c.get(f"/v1/graphs/{graph_id}").json()["description"] == "client A"
        assert c.delete(f"/v1/graphs/{graph_id}").status_code == 204
        r = c.get(f"/v1/graphs/{graph_id}")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("bad, field", [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "x" * 129}, "id"),
    ({"id": "ok", "colour": "red"}, "colour"),
    ({"id": 5}, "id"),
])
def test_bad_graph_bodies_name_the_field(api, bad, field):
    with api.client() as c:
        r = c.post("/v1/graphs", json=bad)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


def test_ingest_counts_and_idempotency(api, graph):
    batch = [item(1), item(2, "reply", "bob", "alice"), item(3, "repost", "carol", "alice", object="p1")]
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/interactions", json=batch)
        assert r.status_code == 200 and r.json() == {"accepted": 3, "duplicates": 0}
        v1 = c.get(f"/v1/graphs/{graph}").json()["version"]
        r = c.post(f"/v1/graphs/{graph}/interactions", json=batch)
        assert r.json() == {"accepted": 0, "duplicates": 3}
        info = c.get(f"/v1/graphs/{graph}").json()
        assert info["version"] == v1
        assert info["accounts"] == 3
        assert info["interactions"]["reply"] == 2 and info["interactions"]["repost"] == 1
        assert info["first_at"] == "2026-03-01T12:01:00Z" and info["last_at"] == "2026-03-01T12:03:00Z"
        acct = c.get(f"/v1/graphs/{graph}/accounts/alice").json()
        assert acct["outgoing"]["reply"] == 1 and acct["incoming"]["reply"] == 1
        assert acct["incoming"]["repost"] == 1


def test_ndjson_body(api, graph):
    lines = "\n".join(json.dumps(item(n)) for n in range(10)) + "\n"
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/interactions", content=lines,
                   headers={"content-type": "application/x-ndjson"})
        assert r.json() == {"accepted": 10, "duplicates": 0}
        bad = lines + '{"id": "x", "kind": "reply"\n'
        r = c.post(f"/v1/graphs/{graph}/interactions", content=bad,
                   headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"index": 10, "field": "line", "message": r.json()["errors"][0]["message"]}
        ]


def test_bad_batch_names_every_bad_item_and_writes_nothing(api, graph):
    batch = [
        item(1),
        item(2, kind="poke"),
        {**item(3), "at": "yesterday"},
        {**item(4), "at": "2026-03-01T12:00:00"},  # no timezone
        {k: v for k, v in item(5).items() if k != "target"},
        item(6, s="a\u0000b"),
        item(7, s="x" * 513),
        {**item(8), "targte": "bob"},
        item(9, s="') MATCH (n) DETACH DELETE n //"),  # just data, and valid
        "not an object",
    ]
    with api.client() as c:
        before = c.get(f"/v1/graphs/{graph}").json()
        r = c.post(f"/v1/graphs/{graph}/interactions", json=batch)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        got = [(e["index"], e["field"]) for e in r.json()["errors"]]
        assert got == [(1, "kind"), (2, "at"), (3, "at"), (4, "target"), (5, "source"),
                       (6, "source"), (7, "targte"), (9, "item")]
        assert c.get(f"/v1/graphs/{graph}").json() == before
        assert c.get("/health").status_code == 200


def test_malformed_json_and_non_array(api, graph):
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/interactions", content=b"[{", headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        r = c.post(f"/v1/graphs/{graph}/interactions", json={"id": "1"})
        assert r.status_code == 422 and "array" in r.json()["errors"][0]["message"]


def test_conflicting_resend_is_409_and_writes_nothing(api, graph):
    with api.client() as c:
        c.post(f"/v1/graphs/{graph}/interactions", json=[item(1)])
        before = c.get(f"/v1/graphs/{graph}").json()
        r = c.post(f"/v1/graphs/{graph}/interactions", json=[item(2), item(1, t="mallory")])
        assert r.status_code == 409
        assert r.json()["errors"] == [
            {"index": 1, "field": "id", "value": "i1", "message": "stored with different content"}
        ]
        assert c.get(f"/v1/graphs/{graph}").json() == before


def test_unknown_graph_is_404(api):
    with api.client() as c:
        r = c.post("/v1/graphs/no-such-graph/interactions", json=[item(1)])
    assert r.status_code == 404 and "no-such-graph" in r.json()["detail"]


def test_body_over_the_limit_is_413(api, graph):
    big = [item(n, post="p" * 400) for n in range(6000)]  # ~2.9 MB > the 2 MiB set above
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/interactions", json=big)
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get(f"/v1/graphs/{graph}").json()["interactions"]["reply"] == 0


def test_concurrent_clients_sending_the_same_batch(api, graph):
    batch = [item(n, s=f"u{n % 9}", t=f"u{(n * 7) % 9}") for n in range(500)]
    results = []

    def send():
        with api.client() as c:
            results.append(c.post(f"/v1/graphs/{graph}/interactions", json=batch).json())

    threads = [threading.Thread(target=send) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(r["accepted"] for r in results) == 500
    assert sum(r["duplicates"] for r in results) == 1500
    with api.client() as c:
        assert c.get(f"/v1/graphs/{graph}").json()["interactions"]["reply"] == 500


def test_accounts_upsert(api, graph):
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/accounts",
                   json=[{"id": "alice", "handle": "@alice", "followers": 1200, "attributes": {"lang": "en"}}])
        assert r.status_code == 200 and r.json() == {"written": 1}
        r = c.post(f"/v1/graphs/{graph}/accounts", json=[{"id": "bob", "followers": -5}])
        assert r.status_code == 422 and r.json()["errors"][0] == {
            "index": 0, "field": "followers", "message": "Expected `int` >= 0"}
        got = c.get(f"/v1/graphs/{graph}/accounts/alice").json()["account"]
        assert got == {"id": "alice", "handle": "@alice", "followers": 1200, "attributes": {"lang": "en"}}
        assert c.get(f"/v1/graphs/{graph}/accounts/bob").status_code == 404


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def test_import_a_platform_export(api, graph):
    body = (FIXTURES / "x_v2_page.json").read_bytes()
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": "x-v2"}, content=body,
                   headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["accepted"] > 0 and first["duplicates"] == 0 and first["accounts"] > 0
        info = c.get(f"/v1/graphs/{graph}").json()
        assert sum(info["interactions"].values()) == first["accepted"]
        again = c.post(f"/v1/graphs/{graph}/imports", params={"format": "x-v2"}, content=body,
                       headers={"content-type": "application/json"}).json()
        assert (again["accepted"], again["duplicates"]) == (0, first["accepted"])


@pytest.mark.parametrize("fmt, media", [("graphml", "application/graphml+xml"), ("gexf", "application/xml"),
                                         ("gml", "text/plain")])
def test_import_a_graph_file_written_by_networkx(api, graph, fmt, media, tmp_path):
    import networkx as nx

    g = nx.DiGraph()
    g.add_node("ada", label="Ada", party="left")
    g.add_node("bob", label="Bob", party="right")
    g.add_edge("ada", "bob", weight=3)
    g.add_edge("bob", "ada", weight=1)
    path = tmp_path / f"g.{fmt}"
    {"graphml": nx.write_graphml, "gexf": nx.write_gexf, "gml": nx.write_gml}[fmt](g, path)
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": fmt}, content=path.read_bytes(),
                   headers={"content-type": media})
        assert r.json() == {"accepted": 4, "duplicates": 0, "accounts": 2}, r.text
        info = c.get(f"/v1/graphs/{graph}").json()
        assert info["interactions"]["mention"] == 4 and info["accounts"] == 2
        # a graph file is not JSON: the wrong media type is refused before anything is read
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": fmt}, content=path.read_bytes(),
                   headers={"content-type": "application/json"})
        assert r.status_code == 415, r.text


def test_import_gzip_upload(api, graph):
    import gzip

    body = gzip.compress((FIXTURES / "higgs_excerpt.txt").read_bytes())
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": "snap-higgs"}, content=body,
                   headers={"content-type": "application/gzip"})
        assert r.json() == {"accepted": 20, "duplicates": 0, "accounts": 0}


def test_import_stops_at_a_bad_record_and_a_small_file_is_refused_whole(api, graph):
    # a bad record stops the import: the batches before it stay (tests/api/test_hostile_input.py),
    # and a file shorter than one batch (10,000 interactions) has none
    ndjson = {"content-type": "application/x-ndjson"}
    with api.client() as c:
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": "ndjson"},
                   content=(FIXTURES / "native_broken.ndjson").read_bytes(), headers=ndjson)
        assert r.status_code == 422
        assert all("index" in e and "line" in e and "field" in e for e in r.json()["errors"])
        assert (r.json()["accepted"], r.json()["batches"]) == (0, 0)
        assert sum(c.get(f"/v1/graphs/{graph}").json()["interactions"].values()) == 0
        r = c.post(f"/v1/graphs/{graph}/imports", params={"format": "friendster"}, content=b"{}", headers=ndjson)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "format"
        r = c.post(f"/v1/graphs/{graph}/imports", content=b"{}", headers=ndjson)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "format"
        r = c.post("/v1/graphs/no-such-graph/imports", params={"format": "ndjson"}, content=b"{}", headers=ndjson)
        assert r.status_code == 404


def test_four_clients_streaming_into_one_graph_each_committed_once(api, graph):
    """Concurrent requests into one graph share transactions on Neo4j (group commit): each
    is still answered for itself, a conflicting one among them gets its own 409 and nothing
    of it is written, the others commit, and a retry is a duplicate."""
    with api.client() as c:
        assert c.post(f"/v1/graphs/{graph}/interactions", json=[item(0, s="x", t="y")]).status_code == 200
    answers: dict[tuple[int, int], tuple[int, dict]] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        with api.client() as c:
            for r in range(15):
                batch = [{**item(n, s=f"u{k}", t=f"u{(k + n) % 4}"), "id": f"c{k}-r{r}-{n}"} for n in range(10)]
                if (k, r) == (1, 7):
                    batch.append(item(0, s="y", t="x"))  # i0 is stored as x -> y
                resp = c.post(f"/v1/graphs/{graph}/interactions", json=batch)
                with lock:
                    answers[k, r] = (resp.status_code, resp.json())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status, body = answers.pop((1, 7))
    assert status == 409
    assert body["errors"] == [{"index": 10, "field": "id", "value": "i0", "message": "stored with different content"}]
    assert all(a == (200, {"accepted": 10, "duplicates": 0}) for a in answers.values()), answers
    with api.client() as c:
        info = c.get(f"/v1/graphs/{graph}").json()
        assert info["interactions"]["reply"] == 1 + 59 * 10
        assert c.get(f"/v1/graphs/{graph}/accounts/y").json()["incoming"]["reply"] == 1  # x -> y only
        # a client that did not hear its answer sends again: duplicates, nothing new
        again = [{**item(n, s="u2", t=f"u{(2 + n) % 4}"), "id": f"c2-r4-{n}"} for n in range(10)]
        assert c.post(f"/v1/graphs/{graph}/interactions", json=again).json() == {"accepted": 0, "duplicates": 10}
        assert c.get(f"/v1/graphs/{graph}").json()["version"] == info["version"]
