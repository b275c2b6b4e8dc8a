"""Scheduled audits through the API of real ``castlegate serve`` processes, on both
stores, with real webhook receivers on 127.0.0.1.

The services read time from a clock file (``CASTLEGATE_CLOCK=file:...``) that the test
moves: a schedule's hour comes when the test says so, not after a sleep. The waits below
are for the service to notice (its worker's scheduler ticks every 0.1 s in real time)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from graph.audits.clock import FileClock
from graph.audits.signing import verify
from tests.conftest import castlegate, start_service

T0 = datetime(2026, 1, 5, 5, 58, tzinfo=timezone.utc)  # a Monday, two minutes before six


class Api:
    def __init__(self, tmp_path, env, graph):
        self.tmp, self.env, self.graph = tmp_path, env, graph
        self.clock = FileClock(tmp_path / "clock")
        self.clock.set(T0)
        self.services = []
        #: Neo4j's user and password (None on sqlite)
        self.auth = None

    def start(self):
        svc = start_service(self.tmp, self.env)
        self.services.append(svc)
        return svc

    def stop(self):
        for s in self.services:
            s.stop()


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def api(request, tmp_path, graph_id):
    env = {
        "CASTLEGATE_DATA_DIR": str(tmp_path / "data"),
        "CASTLEGATE_CLOCK": f"file:{tmp_path / 'clock'}",
        "CASTLEGATE_SCHEDULER_POLL": "0.1",
        # the Neo4j server is shared by the whole test run: schedule only this test's graph
        "CASTLEGATE_SCHEDULER_GRAPHS": graph_id,
        "CASTLEGATE_WEBHOOK_BACKOFF": "10",
        "CASTLEGATE_WEBHOOK_ALLOW_PRIVATE": "on",  # the receivers listen on 127.0.0.1
    }
    if request.param == "neo4j":
        env |= request.getfixturevalue("neo4j_server").env
    r = castlegate("demo", "--graph", graph_id, env=env)
    assert r.returncode == 0, r.stderr
    a = Api(tmp_path, env, graph_id)
    if request.param == "neo4j":
        server = request.getfixturevalue("neo4j_server")
        a.auth = (server.user, server.password)
    yield a
    a.stop()


def eventually(probe, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.05)
    return value


def ticked(svc, at: datetime) -> None:
    """Waits until the service's worker reported a scheduler tick at clock time ``at`` or
    later (the roll-call in /ready)."""
    def probe():
        workers = svc.client().get("/ready").json()["queue"]["workers"]
        return any(w["last_tick"] is not None and datetime.fromisoformat(w["last_tick"]) >= at for w in workers)
    eventually(probe, what=f"a scheduler tick at {at}")


def runs(svc, path, **params) -> list[dict]:
    r = svc.client().get(f"{path}/runs", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def done_runs(svc, path, n: int) -> list[dict]:
    return eventually(lambda: (rs := runs(svc, path)) and len([x for x in rs if x["status"] in ("done", "failed")]) >= n and rs,
                      what=f"{n} finished runs")


def attempts(svc, path, n: int) -> dict:
    def probe():
        ds = svc.client().get(f"{path}/deliveries").json()["items"]
        return ds and len(ds[0]["attempts"]) >= n and ds[0]
    return eventually(probe, what=f"{n} recorded attempts")


def test_a_schedule_runs_on_time_survives_a_restart_and_shows_a_trend(api, receivers):
    hook = receivers()
    svc = api.start()
    g = api.graph
    with svc.client() as c:
        r = c.post(f"/v1/graphs/{g}/audits", json={"account": "north-00", "cron": "0 6 * * *",
                                                   "webhook": {"url": hook.url}})
        assert r.status_code == 201, r.text
        audit = r.json()
        secret = audit["webhook"]["secret"]  # generated: shown this once
        assert secret.startswith("whsec_") and len(secret) > 40
        path = r.headers["location"]
        assert path == f"/v1/graphs/{g}/audits/{audit['id']}"
        assert audit["next_run_at"] == "2026-01-05T06:00:00Z"
        assert audit["schedule"] and audit["last_run"] is None
        again = c.get(path).json()
        assert again["webhook"] == {"url": hook.url}  # never the secret again
        assert "secret" not in json.dumps(c.get(f"/v1/graphs/{g}/audits").json())

    ticked(svc, T0)
    assert runs(svc, path) == []  # two minutes early
    api.clock.set(T0 + timedelta(minutes=2, seconds=5))
    [run] = done_runs(svc, path, 1)
    assert (run["slot"], run["status"], run["trigger"]) == ("2026-01-05T06:00:00Z", "done", "schedule")
    result = run["result"]
    assert result["account"] == "north-00" and result["listens_to"]["partners"] > 0
    assert result["manifest"]["graph"] == g and result["manifest"]["graph_version"] == run["graph_version"]

    [req] = hook.wait_for(1)
    assert verify(secret, req.body, req.headers["x-castlegate-signature"], now=api.clock.now().timestamp())
    body = json.loads(req.body)
    assert body["run"]["id"] == run["id"] and body["result"] == result
    one = eventually(lambda: (x := svc.client().get(f"{path}/runs/{run['id']}").json())["deliveries"]
                     and x["deliveries"][0]["status"] == "delivered" and x)
    assert [a["status_code"] for a in one["deliveries"][0]["attempts"]] == [204]

    # restart: the new process sees the same moment and runs nothing twice
    svc.stop()
    svc = api.start()
    ticked(svc, api.clock.now())
    assert [x["id"] for x in runs(svc, path)] == [run["id"]]
    assert svc.client().get(path).json()["next_run_at"] == "2026-01-06T06:00:00Z"

    # north-00 starts following other communities; the next morning's run sees it
    follows = [{"id": f"widen-{t}", "kind": "follow", "source": "north-00", "target": t,
                "at": "2026-01-05T12:00:00Z"} for t in ("south-03", "south-04", "east-05", "east-06")]
    assert svc.client().post(f"/v1/graphs/{g}/interactions", json=follows).json()["accepted"] == 4
    api.clock.set(datetime(2026, 1, 6, 6, 0, 3, tzinfo=timezone.utc))
    latest, first = done_runs(svc, path, 2)
    assert latest["slot"] == "2026-01-06T06:00:00Z" and first["id"] == run["id"]
    hook.wait_for(2)

    trend = svc.client().get(f"{path}/runs/trend").json()
    assert [p["run"] for p in trend["points"]] == [first["id"], latest["id"]]
    was, now = first["result"]["listens_to"], latest["result"]["listens_to"]
    change = trend["change_since_previous"]["listens_to"]
    assert change["effective_communities"] == pytest.approx(now["effective_communities"] - was["effective_communities"])
    assert change["effective_communities"] > 0.3
    assert change["share_own_community"] == pytest.approx(now["share_own_community"] - was["share_own_community"])
    assert trend["change_since_first"] == trend["change_since_previous"]  # two runs: same reference
    assert trend["latest"]["active_reciprocated_ties"] == latest["result"]["active_reciprocated_ties"]
    assert svc.client().get(path).json()["last_run"]["id"] == latest["id"]


def test_a_receiver_failing_twice_gets_three_recorded_attempts(api, receivers):
    hook = receivers([500, 500, 200])
    svc = api.start()
    g = api.graph
    with svc.client() as c:
        r = c.post(f"/v1/graphs/{g}/audits", json={
            "account": "pod-03", "every": "P1W", "start": "2026-02-01T00:00:00Z",
            "webhook": {"url": hook.url, "secret": "my-own-secret-123456"}})
        assert r.status_code == 201, r.text
        assert r.json()["webhook"] == {"url": hook.url}  # the client's own secret is not echoed
        path = r.headers["location"]
        now = c.post(f"{path}/run")
        assert now.status_code == 202, now.text
        assert now.json()["trigger"] == "manual" and now.json()["status"] == "queued"
        run_path = now.headers["location"]
    run = eventually(lambda: (x := svc.client().get(run_path).json())["status"] == "done" and x)
    # pod-03 listens to pod-star: its whole listening is inside the castle
    assert run["result"]["listens_to"]["share_in_castles"] == 1.0

    d = attempts(svc, path, 1)
    assert d["status"] == "pending" and d["next_attempt_at"] == "2026-01-05T05:58:10Z"
    api.clock.advance(timedelta(seconds=10))
    attempts(svc, path, 2)
    api.clock.advance(timedelta(seconds=20))
    d = eventually(lambda: (x := attempts(svc, path, 3))["status"] == "delivered" and x)
    assert [(a["number"], a["status_code"], a["delivered"]) for a in d["attempts"]] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert [a["at"] for a in d["attempts"]] == ["2026-01-05T05:58:00Z", "2026-01-05T05:58:10Z", "2026-01-05T05:58:30Z"]
    reqs = hook.wait_for(3)
    assert all(verify("my-own-secret-123456", q.body, q.headers["x-castlegate-signature"], now=api.clock.now().timestamp())
               for q in reqs)


def test_two_service_processes_run_each_slot_once(api):
    first, second = api.start(), api.start()
    g = api.graph
    paths = []
    with first.client() as c:
        for acc in ("north-01", "south-01", "east-01"):
            r = c.post(f"/v1/graphs/{g}/audits", json={"account": acc, "cron": "0 6 * * 1-5"})
            assert r.status_code == 201, r.text
            paths.append(r.headers["location"])
    at = T0 + timedelta(minutes=2, seconds=1)
    api.clock.set(at)
    for p in paths:
        done_runs(first, p, 1)
    ticked(first, at)
    ticked(second, at)
    for p in paths:
        [run] = runs(second, p)
        assert (run["slot"], run["status"], run["attempts"]) == ("2026-01-05T06:00:00Z", "done", 1)


@pytest.mark.parametrize("body, field", [
    ({"account": "north-00", "cron": "0 6 * *"}, "cron"),
    ({"account": "north-00", "cron": "0 25 * * *"}, "cron"),
    ({"account": "north-00", "every": "P1D", "cron": "0 6 * * *"}, "every"),
    ({"account": "north-00"}, "every"),
    ({"account": "north-00", "every": "PT10S"}, "every"),
    ({"account": "north-00", "every": "daily"}, "every"),
    ({"account": "north-00", "every": "P1D", "timezone": "Mars/Olympus"}, "timezone"),
    ({"account": "no-such-account", "every": "P1D"}, "account"),
    ({"account": "north-00", "every": "P1D", "layers": ["reply", "poke"]}, "layers"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "ftp://example.org/x"}}, "webhook.url"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://127.0.0.1:1/x", "secret": "short"}}, "webhook.secret"),
    ({"account": "north-00", "every": "P1D", "colour": "red"}, "colour"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://a..b/hook"}}, "webhook.url"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://[::1/x"}}, "webhook.url"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://h:80a/"}}, "webhook.url"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://me:pw@example.org/"}}, "webhook.url"),
    # the default refuses deliveries into the service's own network (SSRF)
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://127.0.0.1:9/x"}}, "webhook.url"),
    ({"account": "north-00", "every": "P1D", "webhook": {"url": "http://169.254.169.254/latest"}}, "webhook.url"),
    # ... in every spelling libc and curl accept, and by name
    *[({"account": "north-00", "every": "P1D", "webhook": {"url": url}}, "webhook.url") for url in (
        "http://100.64.0.1/", "http://0x7f000001/", "http://2130706433/", "http://127.1/", "http://localhost/",
        "http://[::ffff:127.0.0.1]/", "http://no-such-host.invalid/hook")],
    ({"account": "north-00", "every": "P1D", "timezone": "Asia/Tokyo", "start": "9999-12-31T23:00:00Z"}, "start"),
    ({"account": "north-00", "every": "P1D", "timezone": "America/New_York", "start": "0001-01-01T00:00:00Z"}, "start"),
])
def test_bad_schedules_are_refused_naming_the_field(service, body, field):
    with service.client() as c:
        assert c.post("/v1/graphs", json={"id": "g"}).status_code == 201
        assert c.post("/v1/graphs/g/interactions", json=[{"id": "1", "kind": "reply", "source": "north-00",
                                                           "target": "x", "at": "2026-01-01T00:00:00Z"}]).status_code == 200
        r = c.post("/v1/graphs/g/audits", json=body)
        assert r.status_code in (400, 422), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
        assert c.get("/v1/graphs/g/audits").json() == {"items": [], "next": None}  # nothing written
        assert c.post("/v1/graphs/nope/audits", json={"account": "a", "every": "P1D"}).status_code == 404


def test_every_bad_field_is_named_at_once(service):
    with service.client() as c:
        assert c.post("/v1/graphs", json={"id": "g"}).status_code == 201
        r = c.post("/v1/graphs/g/audits", json={"account": "ghost", "cron": "61 * * * *", "timezone": "Nowhere/City",
                                                "engine": "quantum"})
        assert r.status_code == 422, r.text
        assert sorted(e["field"] for e in r.json()["errors"]) == ["account", "cron", "engine", "timezone"]


def test_history_pages_and_bad_paging(api):
    svc = api.start()
    with svc.client() as c:
        path = c.post(f"/v1/graphs/{api.graph}/audits", json={"account": "south-02", "every": "P1D",
                                                                "paused": True}).headers["location"]
        ids = [c.post(f"{path}/run").json()["id"] for _ in range(5)]  # one frozen moment: one slot
        eventually(lambda: all(r["status"] == "done" for r in runs(svc, path, limit=10)) and len(runs(svc, path)) == 5)
        seen, after = [], None
        while True:
            page = c.get(f"{path}/runs", params={"limit": 2, **({"after": after} if after else {})}).json()
            seen += [r["id"] for r in page["items"]]
            if (after := page["next"]) is None:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 5
        assert seen == [r["id"] for r in runs(svc, path, limit=10)]
        r = c.get(f"{path}/runs", params={"before": "2026-01-01T00:00:00"})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "before"
        r = c.get(f"{path}/runs", params={"after": "no-such-run"})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "after"


def test_an_edit_does_not_skip_a_due_slot(tmp_path):
    """With no scheduler running (workers with CASTLEGATE_SCHEDULER=off), a due audit waits;
    editing it (even a no-op resume) must not move its due slot away."""
    clock = FileClock(tmp_path / "clock")
    clock.set(T0)
    env = {"CASTLEGATE_CLOCK": f"file:{clock.path}", "CASTLEGATE_SCHEDULER": "off",
           "CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    assert castlegate("demo", env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            a = c.post("/v1/graphs/demo/audits", json={"account": "east-02", "every": "P1D"}).json()
            assert a["next_run_at"] == "2026-01-05T05:58:00Z"  # at once
            clock.advance(timedelta(minutes=1))
            for edit in ({"paused": False}, {"seed": 4}, {"every": "P1D"}):
                assert c.patch(a["links"]["self"], json=edit).json()["next_run_at"] == "2026-01-05T05:58:00Z", edit
            moved = c.patch(a["links"]["self"], json={"every": "PT12H"}).json()
            assert moved["next_run_at"] == "2026-01-05T17:58:00Z"  # a new calendar: from the next slot
    finally:
        svc.stop()


def test_pause_resume_reschedule_and_delete(tmp_path):
    clock = FileClock(tmp_path / "clock")
    clock.set(T0)
    env = {"CASTLEGATE_CLOCK": f"file:{clock.path}", "CASTLEGATE_SCHEDULER_POLL": "0.1",
           "CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_WEBHOOK_ALLOW_PRIVATE": "on"}
    assert castlegate("demo", env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            a = c.post("/v1/graphs/demo/audits", json={"account": "east-02", "every": "PT6H",
                                                         "start": "2026-01-05T06:00:00Z"}).json()
            path = a["links"]["self"]
            assert a["next_run_at"] == "2026-01-05T06:00:00Z"
            assert c.patch(path, json={"paused": False, "seed": 3}).json()["next_run_at"] == "2026-01-05T06:00:00Z"
            p = c.patch(path, json={"paused": True}).json()
            assert (p["paused"], p["next_run_at"]) == (True, None)
            clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=timezone.utc))
            ticked(svc, clock.now())
            assert runs(svc, path) == []  # paused: 06:00 and 12:00 pass without a run
            p = c.patch(path, json={"paused": False}).json()
            assert (p["paused"], p["next_run_at"]) == (False, "2026-01-05T18:00:00Z")  # from the next slot
            p = c.patch(path, json={"cron": "30 7 * * *", "timezone": "Europe/Berlin"}).json()
            assert (p["every"], p["cron"], p["next_run_at"]) == (None, "30 7 * * *", "2026-01-06T06:30:00Z")
            p = c.patch(path, json={"webhook": {"url": "http://127.0.0.1:9/h"}}).json()
            assert p["webhook"]["url"] == "http://127.0.0.1:9/h" and p["webhook"]["secret"].startswith("whsec_")
            p = c.patch(path, json={"webhook": {"url": "http://127.0.0.1:9/other"}}).json()
            assert p["webhook"] == {"url": "http://127.0.0.1:9/other"}  # secret kept, not shown
            assert c.patch(path, json={"webhook": None}).json()["webhook"] is None
            assert c.patch(path, json={"every": "PT1S"}).status_code == 422
            assert c.patch(path, json={"account": "nobody"}).status_code == 422
            assert c.get(path).json()["cron"] == "30 7 * * *"  # refused edits changed nothing
            assert c.delete(path).status_code == 204
            assert c.get(path).status_code == 404
            assert c.get(f"{path}/runs").status_code == 404
            assert c.post(f"{path}/run").status_code == 404
    finally:
        svc.stop()


def test_inward_webhooks_are_refused_on_patch_too(service):
    with service.client() as c:
        assert c.post("/v1/graphs", json={"id": "g"}).status_code == 201
        assert c.post("/v1/graphs/g/interactions", json=[{"id": "1", "kind": "reply", "source": "north-00",
                                                           "target": "x", "at": "2026-01-01T00:00:00Z"}]).status_code == 200
        a = c.post("/v1/graphs/g/audits", json={"account": "north-00", "every": "P1D"}).json()
        for url in ("http://100.64.0.1/", "http://0x7f000001/", "http://2130706433/", "http://127.1/",
                    "http://localhost/", "http://[::ffff:127.0.0.1]/"):
            r = c.patch(a["links"]["self"], json={"webhook": {"url": url}})
            assert r.status_code == 422, r.text
            assert [e["field"] for e in r.json()["errors"]] == ["webhook.url"]
        assert c.get(a["links"]["self"]).json()["webhook"] is None


def _raw_secret(api, audit_id: str) -> str:
    """The webhook secret as the store holds it: the sqlite row, or the Neo4j node."""
    if "NEO4J_URI" not in api.env:
        import sqlite3

        with sqlite3.connect(api.tmp / "data" / "castlegate.sqlite") as db:
            return db.execute("SELECT webhook_secret FROM audits WHERE id = ?", (audit_id,)).fetchone()[0]
    import neo4j

    with neo4j.GraphDatabase.driver(api.env["NEO4J_URI"], auth=api.auth) as driver:
        records, _, _ = driver.execute_query("MATCH (a:Audit {id: $id}) RETURN a.webhook_secret AS s", id=audit_id)
        return records[0]["s"]


def test_webhook_secrets_are_encrypted_at_rest_and_deliveries_verify(api, receivers):
    """Both schemes verify a delivery: castlegate's own header, and Standard Webhooks with
    the reference package (at the real time: the package checks it)."""
    import standardwebhooks

    from graph.audits.signing import verify_standard

    now = datetime.now(timezone.utc).replace(microsecond=0)
    api.clock.set(now)
    generated_hook, chosen_hook = receivers(), receivers()
    svc = api.start()
    g = api.graph
    with svc.client() as c:
        r = c.post(f"/v1/graphs/{g}/audits", json={"account": "north-00", "every": "P1D", "paused": True,
                                                   "webhook": {"url": generated_hook.url}})
        assert r.status_code == 201, r.text
        generated, first = r.json()["webhook"]["secret"], r.json()
        r = c.post(f"/v1/graphs/{g}/audits", json={"account": "south-00", "every": "P1D", "paused": True,
                                                   "webhook": {"url": chosen_hook.url, "secret": "my-own-secret-123456"}})
        assert r.status_code == 201, r.text
        second = r.json()
        for a, secret in ((first, generated), (second, "my-own-secret-123456")):
            raw = _raw_secret(api, a["id"])
            assert raw.startswith("fernet:") and secret not in raw
            assert c.post(f"{a['links']['self']}/run").status_code == 202
    [got] = generated_hook.wait_for(1)
    assert standardwebhooks.Webhook(generated).verify(got.body, got.headers)["audit"]["id"] == first["id"]
    assert verify(generated, got.body, got.headers["x-castlegate-signature"], now=now.timestamp())
    [chosen] = chosen_hook.wait_for(1)
    assert standardwebhooks.Webhook(b"my-own-secret-123456").verify(chosen.body, chosen.headers)
    assert verify_standard("my-own-secret-123456", chosen.body, chosen.headers, now=now.timestamp())
    assert verify("my-own-secret-123456", chosen.body, chosen.headers["x-castlegate-signature"], now=now.timestamp())


def test_a_plaintext_secret_from_before_still_delivers_and_is_encrypted_when_next_written(api, receivers):
    from service.bootstrap import open_store
    from service.settings import Settings
    from tests.conftest import child_environment

    hook = receivers()
    svc = api.start()
    g = api.graph
    with svc.client() as c:
        a = c.post(f"/v1/graphs/{g}/audits", json={"account": "north-00", "every": "P1D", "paused": True,
                                                   "webhook": {"url": hook.url}}).json()
    store = open_store(Settings.from_env(child_environment(api.env)))
    try:  # as a store written before secrets were encrypted holds it
        store.update_audit(g, a["id"], {"webhook_secret": "plain-old-secret-0123"})
    finally:
        store.close()
    assert _raw_secret(api, a["id"]) == "plain-old-secret-0123"
    with svc.client() as c:
        assert c.post(f"{a['links']['self']}/run").status_code == 202
        [req] = hook.wait_for(1)
        assert verify("plain-old-secret-0123", req.body, req.headers["x-castlegate-signature"],
                      now=api.clock.now().timestamp())
        # the webhook written again (moved, secret kept): encrypted now, the same secret
        moved = hook.url.replace("/hook", "/moved")
        assert c.patch(a["links"]["self"], json={"webhook": {"url": moved}}).json()["webhook"] == {"url": moved}
        raw = _raw_secret(api, a["id"])
        assert raw.startswith("fernet:") and "plain-old-secret-0123" not in raw
        assert c.post(f"{a['links']['self']}/run").status_code == 202
        reqs = hook.wait_for(2)
    assert reqs[1].path == "/moved"
    assert verify("plain-old-secret-0123", reqs[1].body, reqs[1].headers["x-castlegate-signature"],
                  now=api.clock.now().timestamp())


def test_delivery_failures_are_shown_as_categories_only(api):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    svc = api.start()
    with svc.client() as c:
        a = c.post(f"/v1/graphs/{api.graph}/audits", json={
            "account": "north-00", "every": "P1D", "paused": True,
            "webhook": {"url": f"http://127.0.0.1:{port}/hook"}}).json()
        assert c.post(f"{a['links']['self']}/run").status_code == 202
        d = attempts(svc, a["links"]["self"], 1)
    [attempt] = d["attempts"]
    # a category, not "ConnectError: [Errno 111] Connect call failed ('127.0.0.1', ...)"
    assert (attempt["error"], attempt["status_code"], attempt["delivered"]) == ("refused", None, False)
