"""``castlegate worker --once``: the audits due now, for cron-driven set-ups, beside an
API-only process (no worker of its own)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from graph.audits.clock import FileClock
from graph.audits.signing import verify
from tests.conftest import castlegate, start_service


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_worker_once_runs_what_the_api_scheduled(kind, tmp_path, graph_id, receivers, request):
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2026, 3, 2, 8, 59, tzinfo=timezone.utc))
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_CLOCK": f"file:{clock.path}",
           "CASTLEGATE_SCHEDULER_GRAPHS": graph_id, "CASTLEGATE_WEBHOOK_ALLOW_PRIVATE": "on"}
    if kind == "neo4j":
        env |= request.getfixturevalue("neo4j_server").env
    assert castlegate("demo", "--graph", graph_id, env=env).returncode == 0
    hook = receivers()
    api = start_service(tmp_path, env | {"CASTLEGATE_EMBEDDED_WORKER": "off"})
    try:
        with api.client() as c:
            assert c.get("/ready").json()["queue"]["workers"] == []
            r = c.post(f"/v1/graphs/{graph_id}/audits", json={
                "account": "bridge-ns", "cron": "0 9 * * MON", "webhook": {"url": hook.url, "secret": "s" * 20}})
            assert r.status_code == 201, r.text
            path = r.headers["location"]
            others = [c.post(f"/v1/graphs/{graph_id}/audits", json={"account": acc, "cron": "0 9 * * *"}).headers["location"]
                      for acc in ("north-05", "south-05", "east-05")]

            early = castlegate("worker", "--once", env=env)
            assert early.returncode == 0, early.stderr
            assert c.get(f"{path}/runs").json()["items"] == []  # 08:59: not yet

            clock.set(datetime(2026, 3, 2, 9, 0, 1, tzinfo=timezone.utc))
            done = castlegate("worker", "--once", env=env)
            assert done.returncode == 0, done.stderr
            [run] = c.get(f"{path}/runs").json()["items"]
            assert (run["slot"], run["status"]) == ("2026-03-02T09:00:00Z", "done")
            # the bridge talks to two communities besides its own
            assert run["result"]["converses_with"]["communities_reached"] >= 2
            [d] = c.get(f"{path}/deliveries").json()["items"]
            assert d["status"] == "delivered"
            # --once ran everything that was due, not just the first
            for p in others:
                assert [x["status"] for x in c.get(f"{p}/runs").json()["items"]] == ["done"]
        [req] = hook.requests
        assert verify("s" * 20, req.body, req.headers["x-castlegate-signature"], now=clock.now().timestamp())
        assert json.loads(req.body)["run"]["id"] == run["id"]
    finally:
        api.stop()
