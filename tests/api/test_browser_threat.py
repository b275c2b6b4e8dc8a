"""What a web page, or a stranger's script, cannot make castlegate do: post a form or
text/plain, reach it through a rebound DNS name, read its answers cross-origin, flood it
with one key; and what every answer says about itself."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import castlegate, start_service


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data"), "CASTLEGATE_RATE_LIMIT": "40",
           "CASTLEGATE_CORS_ORIGINS": "https://dashboard.example"}
    assert castlegate("demo", env=env).returncode == 0
    s = start_service(tmp, env)
    yield s
    s.stop()


def test_bodies_of_other_types_are_refused_before_anything_is_written(svc):
    with svc.client() as c:
        before = c.get("/v1/graphs").json()["items"]
        for ctype, body in (("text/plain", '{"id": "via-text"}'),
                            ("application/x-www-form-urlencoded", "id=via-form"),
                            ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--")):
            r = c.post("/v1/graphs", content=body, headers={"Content-Type": ctype})
            assert r.status_code == 415, (ctype, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get("/v1/graphs").json()["items"] == before
        assert c.post("/v1/graphs", json={"id": "via-json"}).status_code == 201


def test_a_foreign_host_is_refused(svc):
    for host in ("rebind.attacker.example", "evil.localhost.example:8000", "127.0.0.2"):
        r = httpx.get(f"{svc.url}/health", headers={"Host": host})
        assert r.status_code == 400, host
        assert r.json()["title"] == "Bad request" and "Host" in r.json()["detail"]
    for host in ("127.0.0.1", "localhost:1234", "[::1]:8000"):
        assert httpx.get(f"{svc.url}/health", headers={"Host": host}).status_code == 200, host


def test_every_answer_carries_the_security_headers_and_no_banner(svc):
    with svc.client() as c:
        for path in ("/health", "/v1/graphs", "/v1/graphs/nope", "/schema/openapi.json"):
            r = c.get(path)
            h = r.headers
            assert h["x-content-type-options"] == "nosniff", path
            assert h["cache-control"] == "no-store", path
            assert h["x-frame-options"] == "DENY", path
            assert "default-src 'none'" in h["content-security-policy"], path
            assert "server" not in h, path
        # the document is JSON only: no HTML viewer pulls scripts from anywhere
        r = c.get("/schema")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.oai.openapi+json")


def test_cors_only_for_the_named_origin(svc):
    with svc.client() as c:
        ok = c.options("/v1/graphs", headers={"Origin": "https://dashboard.example",
                                               "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "authorization"})
        assert ok.headers.get("access-control-allow-origin") == "https://dashboard.example"
        evil = c.get("/v1/graphs", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers


def test_a_key_over_its_rate_gets_429_and_others_do_not(svc):
    with svc.client() as c:
        r = c.post("/v1/keys", json={"name": "busy", "scopes": ["read"], "graphs": ["demo"]})
        busy = r.json()["token"]
        r = c.post("/v1/keys", json={"name": "calm", "scopes": ["read"], "graphs": ["demo"]})
        calm = r.json()["token"]
    with svc.anonymous(headers={"Authorization": f"Bearer {busy}"}) as c:
        # 40 a minute: the 41st of a minute is refused (a minute that turns mid-way starts
        # a new count, so allow for two)
        codes = []
        while 429 not in codes and len(codes) < 90:
            codes.append(c.get("/v1/graphs/demo").status_code)
        assert codes[-1] == 429 and 40 <= codes.count(200) <= 80 and set(codes) == {200, 429}
        r = c.get("/v1/graphs/demo")
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["content-type"].startswith("application/problem+json")
    with svc.anonymous(headers={"Authorization": f"Bearer {calm}"}) as c:
        assert c.get("/v1/graphs/demo").status_code == 200


def test_an_id_with_a_trailing_newline_is_refused_and_nothing_is_written(svc):
    """``$`` in a Python pattern matches before a final newline: such an id used to pass,
    be stored, and then break the Location header of the answer."""
    with svc.client() as c:
        r = c.post("/v1/graphs", json={"id": "sneaky\n"})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "id", r.text
        assert "sneaky\n" not in [g["id"] for g in c.get("/v1/graphs").json()["items"]]
        bad = {"id": "i1\n", "kind": "reply", "source": "a", "target": "b", "at": "2026-01-01T00:00:00Z"}
        r = c.post("/v1/graphs/demo/interactions", json=[bad])
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "id", r.text
