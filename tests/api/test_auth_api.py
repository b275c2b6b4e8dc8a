"""API keys on a real server: no key, a bad one or a revoked one is 401 everywhere but
/health and /ready; a key that does not reach a graph gets 404 for it on every route, the
very answer a graph that does not exist gets; scopes are enforced; keys are made, listed
and revoked through the API and the CLI; the first start of an empty store makes an admin
key."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import httpx
import pytest

from tests.conftest import castlegate, start_service

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A service with two graphs (a, b: the demo network each), and in b an audit with a
    run and a finished analysis job: everything a key for a must not see."""
    tmp = tmp_path_factory.mktemp("auth")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    for g in ("a", "b"):
        assert castlegate("demo", "--graph", g, env=env).returncode == 0
    svc = start_service(tmp, env)
    with svc.client() as c:
        audit = c.post("/v1/graphs/b/audits", json={"account": "north-00", "every": "P1D", "paused": True}).json()
        run = c.post(f"/v1/graphs/b/audits/{audit['id']}/run").json()
        job = c.post("/v1/graphs/b/analyses", json={"seed": 3}).json()
        deadline = time.monotonic() + 120
        while c.get(f"/v1/analyses/{job['id']}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    yield svc, {"audit": audit["id"], "run": run["id"], "job": job["id"]}
    svc.stop()


def make_key(svc, scopes, graphs) -> str:
    with svc.client() as c:
        r = c.post("/v1/keys", json={"name": "t", "scopes": scopes, "graphs": graphs})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def operations(svc):
    """Every (method, path template) of the served OpenAPI document."""
    with svc.anonymous() as c:
        doc = c.get("/schema/openapi.json").json()
    return [(m, p) for p, item in doc["paths"].items() for m in METHODS if m in item]


def fill(path: str, ids: dict, graph: str) -> str:
    values = {"graph": graph, "account": "north-00", "audit": ids["audit"], "run": ids["run"], "job": ids["job"],
              "key": "0000000000000000", "community": "0",
              "interaction": "i-0"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_no_key_is_401_on_every_route_but_health_and_ready(api):
    svc, ids = api
    open_ = {"/health", "/ready"}
    checked = 0
    with svc.anonymous() as c:
        for method, path in operations(svc):
            r = c.request(method.upper(), fill(path, ids, "a"), json={})
            if path in open_:
                assert r.status_code == 200, (method, path)
                continue
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.headers["content-type"].startswith("application/problem+json")
            checked += 1
        assert checked > 30
        for bad in ("Bearer nope", "Basic dXNlcjpwYXNz", "Bearer cgk_0123456789abcdef_" + "A" * 43):
            r = c.get("/v1/graphs", headers={"Authorization": bad})
            assert r.status_code == 401, bad
        ready = c.get("/ready").json()
        assert ready["graphs"] == [] and ready["queue"]["workers"] == []  # no names for strangers
        assert ready["queue"]["workers_alive"] >= 1


def test_a_key_for_graph_a_gets_404_on_every_route_of_graph_b(api):
    svc, ids = api
    key = make_key(svc, ["read", "write"], ["a"])
    seen = 0
    with svc.anonymous(headers={"Authorization": f"Bearer {key}"}) as c:
        for method, path in operations(svc):
            if "{graph}" in path or "{job}" in path:
                r = c.request(method.upper(), fill(path, ids, "b"), json={})
                assert r.status_code == 404, (method, path, r.status_code, r.text)
                # exactly what a graph that does not exist gets
                if "{graph}" in path:
                    ghost = c.request(method.upper(), fill(path, ids, "no-such-graph"), json={})
                    assert ghost.status_code == 404 and ghost.json()["title"] == r.json()["title"], path
                seen += 1
        assert seen > 25
        assert [g["id"] for g in c.get("/v1/graphs").json()["items"]] == ["a"]
        assert c.get("/v1/graphs/a").status_code == 200
        listed = c.get("/v1/analyses").json()["items"]
        assert all(j["graph"] == "a" for j in listed)
        assert c.get("/v1/analyses", params={"graph": "b"}).json()["items"] == []
        assert c.get("/v1/analyses", params={"after": ids["job"]}).status_code == 404
        # and it may not create a graph outside its grants (whether or not it exists)
        for g in ("b", "brand-new"):
            assert c.post("/v1/graphs", json={"id": g}).status_code == 403


def test_scopes(api):
    svc, _ = api
    reader = make_key(svc, ["read"], ["a"])
    with svc.anonymous(headers={"Authorization": f"Bearer {reader}"}) as c:
        assert c.get("/v1/graphs/a/communities").status_code in (200, 202)
        assert c.post("/v1/graphs/a/reach", json={"objects": ["pod-star-post-00"]}).status_code in (200, 202)
        r = c.post("/v1/graphs/a/interactions", json=[])
        assert r.status_code == 403 and "write" in r.json()["detail"]
        assert c.delete("/v1/graphs/a").status_code == 403
        assert c.get("/v1/keys").status_code == 403
    prefixed = make_key(svc, ["write"], ["acme-*"])
    with svc.anonymous(headers={"Authorization": f"Bearer {prefixed}"}) as c:
        assert c.post("/v1/graphs", json={"id": "acme-blog"}).status_code == 201
        assert c.get("/v1/graphs/acme-blog").status_code == 200  # write implies read
        assert c.post("/v1/graphs", json={"id": "acmeblog"}).status_code == 403
        assert c.get("/v1/keys").status_code == 403


def test_keys_through_the_api_shown_once_stored_hashed_and_revoked(api, tmp_path):
    svc, _ = api
    with svc.client() as c:
        r = c.post("/v1/keys", json={"name": "agency", "scopes": ["read"], "graphs": ["a"]})
        made = r.json()
        assert r.status_code == 201 and made["token"].startswith("cgk_" + made["id"] + "_")
        listed = {k["id"]: k for k in c.get("/v1/keys").json()}
        assert "token" not in json.dumps(listed) and "digest" not in json.dumps(listed)
        assert listed[made["id"]]["scopes"] == ["read"]
        for bad in ({"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": ["read"], "graphs": ["a b"]},
                    {"name": "x", "scopes": []}, {"scopes": ["read"]}):
            assert c.post("/v1/keys", json=bad).status_code in (400, 422), bad
    token = made["token"]
    with svc.anonymous(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/v1/graphs/a").status_code == 200
    # the store keeps a keyed hash, never the token
    raw = (svc.log.parent / "data" / "castlegate.sqlite").read_bytes()
    assert token.encode() not in raw and token.split("_", 2)[2].encode() not in raw
    with svc.client() as c:
        r = c.delete(f"/v1/keys/{made['id']}")
        assert r.status_code == 200 and r.json()["revoked_at"]
    with svc.anonymous(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/v1/graphs/a").status_code == 401


def test_a_key_revoked_on_one_replica_is_refused_by_another_within_seconds(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_EMBEDDED_WORKER": "off"}
    assert castlegate("demo", env=env).returncode == 0
    a, b = start_service(tmp_path, env), start_service(tmp_path, env)
    try:
        token = make_key(a, ["read"], ["demo"])
        key_id = token.split("_")[1]
        with b.anonymous(headers={"Authorization": f"Bearer {token}"}) as cb:
            assert cb.get("/v1/graphs/demo").status_code == 200
            with a.client() as ca:
                assert ca.delete(f"/v1/keys/{key_id}").status_code == 200
            deadline = time.monotonic() + 7
            while cb.get("/v1/graphs/demo").status_code != 401:
                assert time.monotonic() < deadline, "still accepted"
                time.sleep(0.2)
    finally:
        a.stop()
        b.stop()


def test_cli_keys_create_list_revoke(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    assert castlegate("demo", env=env).returncode == 0
    r = castlegate("keys", "create", "--name", "ops", "--scopes", "read,write", "--graphs", "demo", env=env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    svc = start_service(tmp_path, env)
    try:
        with svc.anonymous(headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/v1/graphs/demo").status_code == 200
        listed = [json.loads(line) for line in castlegate("keys", "list", env=env).stdout.splitlines()]
        ops = next(k for k in listed if k["name"] == "ops")
        assert ops["scopes"] == ["read", "write"] and ops["graphs"] == ["demo"] and ops["revoked_at"] is None
        assert castlegate("keys", "revoke", ops["id"], env=env).returncode == 0
        deadline = time.monotonic() + 7
        with svc.anonymous(headers={"Authorization": f"Bearer {token}"}) as c:
            while c.get("/v1/graphs/demo").status_code != 401:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert castlegate("keys", "create", "--name", "x", "--scopes", "root", env=env).returncode == 2
    finally:
        svc.stop()


def test_the_first_start_of_an_empty_store_makes_an_admin_key(tmp_path):
    """What `make run` does on a fresh clone: the key is printed once and kept, private,
    in the data folder; nothing is served without it."""
    import subprocess
    import sys

    from tests.conftest import ROOT, child_environment, free_port

    data = tmp_path / "data"
    assert castlegate("demo", env={"CASTLEGATE_DATA_DIR": str(data)}).returncode == 0
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=child_environment({"CASTLEGATE_DATA_DIR": str(data)}),
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        path = data / "admin.key"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        token = path.read_text().strip()
        assert token in log.read_text()  # printed once, for whoever ran `make run`
        assert httpx.get(f"{url}/v1/graphs", timeout=5).status_code == 401
        r = httpx.get(f"{url}/v1/graphs", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200 and [g["id"] for g in r.json()["items"]] == ["demo"]
    finally:
        proc.terminate()
        proc.wait(20)
    # exactly one key was made
    r = castlegate("keys", "list", env={"CASTLEGATE_DATA_DIR": str(data)})
    assert len(r.stdout.splitlines()) == 1
