"""Answers an API process holds are served before the framework parses the request
(``service/held.py``): every rule of the guard must still hold on that path, and what it
serves must be exactly what the handler serves."""

from __future__ import annotations

import time

from tests.conftest import castlegate, start_service

PATH = "/v1/graphs/b/gatekeepers"
Q = {"limit": 5, "layers": "reply,quote"}


def _answer(c):
    deadline = time.monotonic() + 120
    while (r := c.get(PATH, params=Q)).status_code != 200:
        assert r.status_code == 202 and time.monotonic() < deadline, r.text
        time.sleep(0.2)
    return r


def _key(c, scopes, graphs) -> tuple[str, str]:
    r = c.post("/v1/keys", json={"name": "t", "scopes": scopes, "graphs": graphs})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["id"]


def test_a_held_answer_keeps_every_rule_of_the_guard(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_RATE_LIMIT": "40",
           "CASTLEGATE_CORS_ORIGINS": "https://dash.example"}
    for g in ("a", "b"):
        assert castlegate("demo", "--graph", g, env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as admin:
            first = _answer(admin)
            # the same shape again: held, byte for byte, with the same ETag
            again = admin.get(PATH, params=Q)
            assert again.status_code == 200 and again.content == first.content
            assert again.headers["etag"] == first.headers["etag"]
            assert again.headers["content-type"] == "application/json"
            assert again.headers["x-content-type-options"] == "nosniff"  # the outer middleware's
            reader_b, reader_b_id = _key(admin, ["read"], ["b"])
            reader_a, _ = _key(admin, ["read"], ["a"])
            flood, _ = _key(admin, ["read"], ["b"])

        def ask(token: str | None, headers: dict | None = None):
            h = ({"Authorization": f"Bearer {token}"} if token else {}) | (headers or {})
            with svc.anonymous() as c:
                return c.get(PATH, params=Q, headers=h)

        # another key that reaches b: the same bytes, and 304 with the ETag
        r = ask(reader_b)
        assert r.status_code == 200 and r.content == first.content
        assert ask(reader_b, {"If-None-Match": first.headers["etag"]}).status_code == 304
        # an If-None-Match past the contract's maxLength: 400 naming it, held answer or not
        # (as the handler's path answers it), never the answer
        long = ask(reader_b, {"If-None-Match": "(" * 5000})
        assert long.status_code == 400
        assert [(e["field"], e["source"]) for e in long.json()["errors"]] == [("if_none_match", "header")]
        # a dashboard page of the allowed origin: the CORS header on every answer, held or not
        for _ in range(2):
            r = ask(reader_b, {"Origin": "https://dash.example"})
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://dash.example"
        # a key for a only: b does not exist for it, exactly as a graph that does not
        strange = ask(reader_a)
        with svc.client() as admin:
            nothing = admin.get("/v1/graphs/nope/gatekeepers", params=Q)
        assert strange.status_code == nothing.status_code == 404
        assert strange.json()["detail"].replace("'b'", "X") == nothing.json()["detail"].replace("'nope'", "X")
        assert ask(reader_a, {"If-None-Match": first.headers["etag"]}).status_code == 404
        # no key, a malformed one, a made-up one: 401
        assert ask(None).status_code == 401
        assert ask("cgk_nonsense").status_code == 401
        assert ask(reader_b[:-4] + "AAAA").status_code == 401
        # a key over its rate: 429 with Retry-After on the held path too (the count is per
        # clock minute: start the flood well inside one so it is not reset mid-way)
        if (left := 60 - time.time() % 60) < 20:
            time.sleep(left + 0.5)
        codes = [ask(flood).status_code for _ in range(45)]
        assert codes[:40] == [200] * 40 and set(codes[40:]) == {429}
        # revoked: 401 at once (this replica)
        with svc.client() as admin:
            assert admin.delete(f"/v1/keys/{reader_b_id}").status_code == 200
        assert ask(reader_b).status_code == 401
        # the graph deleted: gone at once, the held answer with it
        with svc.client() as admin:
            assert admin.delete("/v1/graphs/b").status_code == 204
            assert admin.get(PATH, params=Q).status_code == 404
    finally:
        svc.stop()
