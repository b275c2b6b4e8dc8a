"""Every list the API gives has one shape, ``{"items", "next"}``, on a real server, on both
stores: graphs, audits, deliveries, an account search; a key that reaches some graphs pages
through just those; a bad cursor is a 4xx naming ``after``."""

from __future__ import annotations

import time

import pytest

from tests.conftest import DEMO_STORES, demo_service


@pytest.fixture(params=DEMO_STORES, scope="module")
def demo_api(request, tmp_path_factory):
    yield from demo_service(request, tmp_path_factory, "lists")


def pages(c, path: str, limit: int, **params) -> tuple[list, int]:
    """Every item of a list, following ``next``; and the number of pages."""
    items, after, n = [], None, 0
    while True:
        r = c.get(path, params={"limit": limit, **params, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"items", "next"} and len(body["items"]) <= limit
        items += body["items"]
        n += 1
        if (after := body["next"]) is None:
            return items, n


def test_graphs_page_by_id_and_a_key_sees_only_its_own(demo_api):
    svc, graph = demo_api
    with svc.client() as c:
        mine = [f"{graph}-p{i}" for i in range(5)]
        for g in mine:
            assert c.post("/v1/graphs", json={"id": g}).status_code == 201
        everything, n = pages(c, "/v1/graphs", 2)
        ids = [g["id"] for g in everything]
        assert ids == sorted(ids) and set(mine) | {graph} <= set(ids) and n == -(-len(ids) // 2)
        token = c.post("/v1/keys", json={"name": "two", "scopes": ["read"],
                                         "graphs": [mine[1], mine[3]]}).json()["token"]
    with svc.client(headers={"Authorization": f"Bearer {token}"}) as c:
        seen, _ = pages(c, "/v1/graphs", 1)
        assert [g["id"] for g in seen] == [mine[1], mine[3]]


def test_account_search_by_id_and_handle_prefix(demo_api):
    svc, graph = demo_api
    with svc.client() as c:
        found, n = pages(c, f"/v1/graphs/{graph}/accounts", 4, q="north-0")
        assert [a["id"] for a in found] == [f"north-{i:02d}" for i in range(10)] and n == 3
        assert found[0]["handle"] == "@north-00"
        by_handle = c.get(f"/v1/graphs/{graph}/accounts", params={"q": "@POD-S"}).json()
        assert [a["id"] for a in by_handle["items"]] == ["pod-star"] and by_handle["next"] is None
        every, _ = pages(c, f"/v1/graphs/{graph}/accounts", 1000)
        assert len(every) == c.get(f"/v1/graphs/{graph}").json()["accounts"]
        assert c.get(f"/v1/graphs/{graph}/accounts", params={"q": "nobody"}).json() == {"items": [], "next": None}
        r = c.get(f"/v1/graphs/{graph}-missing/accounts", params={"q": "a"})
        assert r.status_code == 404
        r = c.get(f"/v1/graphs/{graph}/accounts", params={"q": "x" * 513})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "q"


def test_audits_and_deliveries_page(demo_api):
    svc, graph = demo_api
    with svc.client() as c:
        made = [c.post(f"/v1/graphs/{graph}/audits", json={"account": f"north-{i:02d}", "every": "P1D",
                                                             "paused": True}).json()["id"] for i in range(3)]
        audits, n = pages(c, f"/v1/graphs/{graph}/audits", 2)
        assert [a["id"] for a in audits][-3:] == made and n == -(-len(audits) // 2)
        r = c.get(f"/v1/graphs/{graph}/audits", params={"after": "no-such-audit"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after"
        base = f"/v1/graphs/{graph}/audits/{made[0]}/deliveries"
        assert c.get(base).json() == {"items": [], "next": None}
        for bad in ("x", "12", ".abc", "-1.abc"):
            r = c.get(base, params={"after": bad})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after", bad


def analysed(c, path: str, **params) -> dict:
    r = c.get(path, params=params)
    if r.status_code == 202:
        deadline = time.monotonic() + 120
        while c.get(r.headers["location"]).json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_deleting_interactions_changes_the_graph_and_its_answers(demo_api):
    from graph.demo import demo_network

    svc, graph = demo_api
    _, interactions = demo_network(seed=7)  # what `castlegate demo` loaded
    pod_reposts = [i.id for i in interactions if i.kind == "repost" and i.source.startswith("pod-")]
    reply = next(i.id for i in interactions if i.kind == "reply")
    with svc.client() as c:
        before = c.get(f"/v1/graphs/{graph}").json()
        assert len(analysed(c, f"/v1/graphs/{graph}/pods")["items"]) == 1
        r = c.post(f"/v1/graphs/{graph}/interactions/deletions", json={"ids": pod_reposts + ["never-sent"]})
        assert r.status_code == 200, r.text
        assert r.json() == {"deleted": len(pod_reposts), "missing": ["never-sent"]}
        after = c.get(f"/v1/graphs/{graph}").json()
        assert after["interactions"]["repost"] == before["interactions"]["repost"] - len(pod_reposts)
        assert after["version"] != before["version"] and after["accounts"] == before["accounts"]
        # the next answer is of the graph without them: the pod is gone
        pods = analysed(c, f"/v1/graphs/{graph}/pods")
        assert pods["items"] == [] and pods["manifest"]["graph_version"] == after["version"]
        assert c.delete(f"/v1/graphs/{graph}/interactions/{reply}").status_code == 204
        r = c.delete(f"/v1/graphs/{graph}/interactions/{reply}")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert c.get(f"/v1/graphs/{graph}").json()["interactions"]["reply"] == before["interactions"]["reply"] - 1
        # bad bodies: nothing deleted, the field named
        for body in ({"ids": []}, {"ids": ["x"] * 10_001}, {"ids": [""]}, {"ids": ["a"], "also": 1}, {}):
            r = c.post(f"/v1/graphs/{graph}/interactions/deletions", json=body)
            assert r.status_code in (400, 422), (body, r.text)
            assert r.json()["errors"][0]["field"] in ("ids", "ids[0]", "also", "body"), r.text
        assert c.get(f"/v1/graphs/{graph}").json()["version"] != before["version"]
        token = c.post("/v1/keys", json={"name": "reader", "scopes": ["read"], "graphs": [graph]}).json()["token"]
    with svc.client(headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.post(f"/v1/graphs/{graph}/interactions/deletions", json={"ids": [reply]})
        assert r.status_code == 403, r.text
