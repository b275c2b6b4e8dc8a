"""``castlegate serve --server granian`` (``CASTLEGATE_SERVER=granian``): the same app on
granian, as a real process: it answers, the settings ``serve`` was given reach granian's
worker process (which builds the app itself), its logs are castlegate's JSON lines, and
SIGTERM stops it, embedded worker included, with exit status 0."""

from __future__ import annotations

import json
import signal

from tests.conftest import castlegate, start_service


def test_the_app_on_granian_answers_keeps_its_settings_and_stops_cleanly(tmp_path):
    made = castlegate("demo", env={"CASTLEGATE_DATA_DIR": str(tmp_path / "data")})
    assert made.returncode == 0, made.stderr
    # a body limit only serve's environment carries: granian's worker must apply it too
    svc = start_service(tmp_path, {"CASTLEGATE_SERVER": "granian", "CASTLEGATE_MAX_BODY_BYTES": "4096"})
    try:
        with svc.client() as c:
            assert [g["id"] for g in c.get("/v1/graphs").json()["items"]] == ["demo"]
            small = [{"id": "g1", "kind": "reply", "source": "a", "target": "b", "at": "2026-01-05T00:00:00Z"}]
            assert c.post("/v1/graphs/demo/interactions", json=small).status_code == 200
            big = small * 100
            refused = c.post("/v1/graphs/demo/interactions", json=big)
            assert refused.status_code == 413, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
        with svc.anonymous() as c:
            assert c.get("/v1/graphs").status_code == 401
    finally:
        svc.proc.send_signal(signal.SIGTERM)
        status = svc.proc.wait(30)
    assert status == 0
    lines = [line for line in svc.log.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    loggers = {r["logger"] for r in records}
    assert "_granian" in loggers and "castlegate.http" in loggers
    assert any(r["msg"] == "castlegate started" for r in records)
    # the embedded worker stopped with it
    assert any(r["logger"] == "castlegate.worker" and r["msg"] == "worker stopped" for r in records)


def test_an_unknown_server_is_refused(tmp_path):
    r = castlegate("serve", env={"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_SERVER": "gunicorn"})
    assert r.returncode != 0 and "CASTLEGATE_SERVER must be 'uvicorn' or 'granian'" in r.stderr
