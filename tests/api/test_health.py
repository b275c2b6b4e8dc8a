"""/health and /ready on a real castlegate process, on both stores."""

from __future__ import annotations

import pytest

from tests.conftest import free_port, start_service


def test_health_and_ready_on_sqlite(service):
    with service.client() as c:
        h = c.get("/health")
        assert h.status_code == 200 and h.json()["status"] == "ok"
        r = c.get("/ready")
        assert r.status_code == 200
        body = r.json()
        assert body["store"]["kind"] == "sqlite"
        assert body["store"]["version"].count(".") == 2  # e.g. 3.40.1


@pytest.mark.neo4j
def test_ready_reports_neo4j_with_only_the_uri(neo4j_server, tmp_path):
    # only NEO4J_URI (plus, for the launcher, where its local config lives): the password
    # comes from the same local credentials file the launcher wrote
    svc = start_service(tmp_path, neo4j_server.env)
    try:
        with svc.client() as c:
            body = c.get("/ready").json()
        assert body["store"]["kind"] == "neo4j"
        assert body["store"]["version"].startswith("5.26")
    finally:
        svc.stop()


def test_ready_is_503_problem_json_when_neo4j_is_down(tmp_path):
    dead = f"bolt://127.0.0.1:{free_port()}"
    svc = start_service(
        tmp_path, {"NEO4J_URI": dead, "NEO4J_PASSWORD": "whatever"}, wait_ready=False
    )
    try:
        with svc.client() as c:
            assert c.get("/health").status_code == 200  # alive, just not ready
            r = c.get("/ready")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == 503 and body["title"] == "Store unavailable"
        assert "Traceback" not in r.text and "neo4j." not in r.text
    finally:
        svc.stop()


def test_unknown_route_and_method_are_problem_json(service):
    with service.client() as c:
        r = c.get("/v1/nothing-here")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["instance"] == "/v1/nothing-here"
        assert c.delete("/ready").status_code == 405


def test_logs_are_structured(service):
    import json

    with service.client() as c:
        c.get("/health")
    service.stop()
    lines = [json.loads(l) for l in service.log.read_text().splitlines() if l.startswith("{")]
    req = [l for l in lines if l.get("msg") == "request" and l.get("path") == "/health"]
    assert req and req[0]["status"] == 200 and req[0]["duration_ms"] >= 0
