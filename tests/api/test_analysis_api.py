"""The analysis endpoints on a real server, on the built-in demo network, on both stores.

The demo network (graph/demo.py) has three conversational communities, a closed pod of
twelve accounts reposting every post of pod-star within seconds, and two bridges. The
expectations below are that ground truth, not numbers read off the code.
"""

from __future__ import annotations

import time

import pytest

from graph.demo import demo_network
from tests.conftest import DEMO_STORES, castlegate, demo_service, follow_job, start_service

POD = {f"pod-{i:02d}" for i in range(12)}


@pytest.fixture(params=DEMO_STORES, scope="module")
def demo_api(request, tmp_path_factory):
    yield from demo_service(request, tmp_path_factory, "demo")


def get(svc, path, **params):
    """The answer, as a client gets it: 200 at once, or 202 and the job to follow."""
    with svc.client() as c:
        r = c.get(path, params=params)
        if r.status_code == 202:
            job = follow(c, r.headers["location"])
            r = c.get(job["links"]["result"])
    assert r.status_code == 200, r.text
    return r.json()


def follow(c, job_url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get(job_url).json()
        assert job["status"] in ("queued", "running", "done"), job
        if job["status"] == "done":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_communities_find_the_planted_groups(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/communities")
    assert body["modularity"] > 0.4
    by_member = {m: c for c in body["items"] for m in c["members"]}
    # each planted group lands in one community, and the groups do not share one
    for group in ("north", "south", "east"):
        ids = {by_member[f"{group}-{i:02d}"]["id"] for i in range(24)}
        assert len(ids) == 1, group
    pod_ids = {by_member[m]["id"] for m in POD}
    assert len(pod_ids) == 1
    assert len({by_member["north-00"]["id"], by_member["south-00"]["id"], by_member["east-00"]["id"],
                by_member["pod-00"]["id"]}) == 4
    m = body["manifest"]
    assert m["graph"] == graph and m["seed"] == 0 and m["engine"] == "fast"
    assert m["layers"] == ["like", "mention", "quote", "reply", "repost"]
    assert set(m["libraries"]) >= {"igraph", "networkx"}
    limited = get(svc, f"/v1/graphs/{graph}/communities", members_limit=2)
    assert all(len(c["members"]) <= 2 for c in limited["items"])
    assert [c["size"] for c in limited["items"]] == [c["size"] for c in body["items"]]


def test_leiden_finds_the_planted_groups_too(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/communities", algorithm="leiden")
    assert body["algorithm"] == "leiden" and body["manifest"]["parameters"]["algorithm"] == "leiden"
    by_member = {m: c["id"] for c in body["items"] for m in c["members"]}
    for group in ("north", "south", "east", "pod"):
        assert len({by_member[m] for m in by_member if m.startswith(f"{group}-") and m != "pod-star"}) == 1, group
    assert abs(body["modularity"] - get(svc, f"/v1/graphs/{graph}/communities")["modularity"]) < 0.01


def test_same_seed_same_answer_and_engines_agree(demo_api):
    svc, graph = demo_api
    a = get(svc, f"/v1/graphs/{graph}/communities", seed=3)
    b = get(svc, f"/v1/graphs/{graph}/communities", seed=3)
    assert a == b
    ref = get(svc, f"/v1/graphs/{graph}/communities", seed=3, engine="reference")
    assert ref["manifest"]["engine"] == "reference"
    assert abs(ref["modularity"] - a["modularity"]) <= 0.01 * a["modularity"]


def test_bridges_are_the_top_gatekeepers(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/gatekeepers", limit=5)
    assert len(body["items"]) == 5
    top2 = {g["account"] for g in body["items"][:2]}
    assert top2 == {"bridge-ns", "bridge-se"}
    assert len(body["items"][0]["communities_bridged"]) >= 2


def test_roles_of_a_bridge(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/accounts/bridge-ns/roles")
    roles = body["roles"]
    assert roles["participation"] > 0.3
    assert roles["brokerage"]["liaison"] + roles["brokerage"]["gatekeeper"] + roles["brokerage"]["representative"] > 0
    with svc.client() as c:
        assert c.get(f"/v1/graphs/{graph}/accounts/nobody/roles").status_code == 404


def test_an_account_without_edges_in_the_analysis_is_404_never_500(demo_api):
    svc, graph = demo_api
    with svc.client() as c:
        r = c.post(f"/v1/graphs/{graph}/accounts", json=[{"id": "lurker", "handle": "@lurker"}])
        assert r.status_code == 200, r.text
        # exists in the graph, but has no interaction: not in the partition, so it has no
        # roles (404), and its diversity is empty (nobody it listens to or talks with)
        r = c.get(f"/v1/graphs/{graph}/accounts/lurker/roles")
        if r.status_code == 202:
            job = follow_job(c, r.headers["location"])
            assert job["status"] == "failed" and job["error_kind"] == "not_found", job
            r = c.get(f"/v1/graphs/{graph}/accounts/lurker/roles")
        assert r.status_code == 404 and "lurker" in r.json()["detail"], r.text
        d = get(svc, f"/v1/graphs/{graph}/accounts/lurker/diversity")
        assert d["community"] == -1
        assert d["listens_to"]["partners"] == 0 and d["converses_with"]["partners"] == 0
        # a window in which a busy account did nothing
        r = c.get(f"/v1/graphs/{graph}/accounts/north-00/roles",
                  params={"since": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"})
        if r.status_code == 202:
            follow_job(c, r.headers["location"])
            r = c.get(f"/v1/graphs/{graph}/accounts/north-00/roles",
                      params={"since": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"})
        assert r.status_code == 404, r.text


def test_pods_find_the_planted_pod_exactly(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/pods", tau=60, min_repeats=3)
    assert len(body["items"]) == 1
    assert set(body["items"][0]["members"]) == POD


def test_pods_pairs_count_and_definition(demo_api):
    svc, graph = demo_api
    base = f"/v1/graphs/{graph}/pods"
    default = get(svc, base, tau=60, min_repeats=3)
    assert (default["parameters"]["min_size"], default["parameters"]["count"]) == (3, "objects")
    assert [d.split(":")[0] for d in default["definition"]["toolkit_differences"]] == [
        "acts", "count", "weights", "min_size"]
    toolkit = get(svc, base, tau=60, min_repeats=3, min_size=2, count="messages")
    assert toolkit["parameters"]["count"] == "messages" and toolkit["definition"]["toolkit_differences"] == []
    assert {a for p in default["items"] for a in p["members"]} <= {a for p in toolkit["items"] for a in p["members"]}
    assert all(e["weight"] == max(e["weight_ab"], e["weight_ba"]) for p in toolkit["items"] for e in p["edges"])
    with svc.client() as c:
        # a bound is checked at the door (400), a name by AnalysisParams (422, like engine's)
        for bad, status in (({"min_size": 1}, 400), ({"count": "retweets"}, 422)):
            r = c.get(base, params=bad)
            assert r.status_code == status and r.json()["errors"][0]["field"] == next(iter(bad)), r.text


def test_the_pod_is_a_castle_and_conversation_is_not(demo_api):
    svc, graph = demo_api
    comms = get(svc, f"/v1/graphs/{graph}/communities")
    by_member = {m: c["id"] for c in comms["items"] for m in c["members"]}
    castles = {c["id"]: c for c in get(svc, f"/v1/graphs/{graph}/castles")["items"]}
    assert castles[by_member["pod-00"]]["castle"] is True
    for group in ("north", "south", "east"):
        assert castles[by_member[f"{group}-00"]]["castle"] is False


def test_trusted_voices_are_conversational(demo_api):
    svc, graph = demo_api
    voices = get(svc, f"/v1/graphs/{graph}/trusted-voices", limit=10)["items"]
    assert voices and not ({v["account"] for v in voices} & POD)
    assert voices[0]["example_exchanges"]


def answer_or_problem(c, path, **params):
    """The answer or the problem, as a client ends up with it (following a 202's job)."""
    r = c.get(path, params=params)
    if r.status_code == 202:
        follow_job(c, r.headers["location"])
        r = c.get(path, params=params)
    return r


def test_lists_page_with_items_and_next_over_http(demo_api):
    svc, graph = demo_api
    base = f"/v1/graphs/{graph}"
    whole = get(svc, f"{base}/trusted-voices", limit=1000)
    assert whole["next"] is None and whole["candidates"] == len(whole["items"]) > 40
    seen, after = [], None
    while True:
        page = get(svc, f"{base}/trusted-voices", limit=15, **({"after": after} if after else {}))
        seen += [v["account"] for v in page["items"]]
        if (after := page["next"]) is None:
            break
    assert seen == [v["account"] for v in whole["items"]]
    # one community's members, page by page, from the id the communities answer gives
    comms = get(svc, f"{base}/communities", members_limit=0)
    assert all(c["members"] == [] for c in comms["items"]) and comms["next"] is None
    pod = min(comms["items"], key=lambda c: c["size"])  # the pod and the star it amplifies
    first = get(svc, f"{base}/communities/{pod['id']}/members", limit=5)
    rest = get(svc, f"{base}/communities/{pod['id']}/members", limit=100, after=first["next"])
    members = first["items"] + rest["items"]
    assert len(first["items"]) == 5 and rest["next"] is None
    assert len(set(members)) == len(members) == first["size"] == pod["size"] and POD < set(members)
    # the pod's pairs are capped, and counted
    (p,) = get(svc, f"{base}/pods", pairs_limit=3)["items"]
    assert len(p["edges"]) == 3 and p["edges_total"] == 66
    with svc.client() as c:
        r = answer_or_problem(c, f"{base}/gatekeepers", after="nobody-at-all")
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert [e["field"] for e in r.json()["errors"]] == ["after"]
        r = answer_or_problem(c, f"{base}/communities/4242/members")
        assert r.status_code == 404, r.text
        for bad in ({"limit": 0}, {"limit": 1001}, {"members_limit": 1001}, {"after": "x" * 513}):
            r = c.get(f"{base}/communities", params=bad)
            assert r.status_code == 400 and r.json()["errors"][0]["field"] == next(iter(bad)), r.text


def test_the_map_draws_what_the_analyses_say(demo_api):
    svc, graph = demo_api
    base = f"/v1/graphs/{graph}"
    m = get(svc, f"{base}/map")
    assert m["level"] == "accounts" and not m["truncated"]
    nodes = {n["id"]: n for n in m["nodes"]}
    assert len(nodes) == m["accounts_total"] == sum(c["size"] for c in m["communities"])
    assert all(-1 <= n["x"] <= 1 and -1 <= n["y"] <= 1 and n["size"] > 0 for n in nodes.values())
    # labelled with the handles the demo imported
    assert all(n["label"] == "@" + n["id"] for n in nodes.values())
    # the pod's community is the castle, the conversational ones are not; the pod is marked
    assert all(nodes[a]["castle"] and nodes[a]["pods"] == [0] for a in POD)
    assert not any(nodes[f"{g}-00"]["castle"] for g in ("north", "south", "east"))
    assert [set(p["members"]) for p in m["pods"]] == [POD]
    top = get(svc, f"{base}/gatekeepers", limit=2)["items"]
    assert [nodes[g["account"]]["gatekeeper"] for g in top] == [g["score"] for g in top]
    colours = {c["id"]: c["color"] for c in m["communities"]}
    assert len(set(colours.values())) == len(colours)
    ids = set(nodes)
    assert all(e["source"] in ids and e["target"] in ids and e["weight"] >= 1 for e in m["edges"])
    # one picture per graph version and seed
    assert get(svc, f"{base}/map")["nodes"] == m["nodes"]
    other = {n["id"]: n for n in get(svc, f"{base}/map", seed=5)["nodes"]}
    assert {(n["x"], n["y"]) for n in other.values()} != {(n["x"], n["y"]) for n in nodes.values()}
    # the overview: one node per community, ties between them; and a drill-down
    over = get(svc, f"{base}/map", level="communities")
    assert over["level"] == "communities" and len(over["nodes"]) == len(over["communities"]) == 4
    assert {n["id"] for n in over["nodes"]} == {f"c{c['id']}" for c in over["communities"]}
    assert over["edges"] and all(e["source"] != e["target"] for e in over["edges"])
    castle = next(c for c in over["communities"] if c["castle"])
    one = get(svc, f"{base}/map", community=castle["id"])
    assert one["community"] == castle["id"] and len(one["nodes"]) == castle["size"]
    assert POD <= {n["id"] for n in one["nodes"]}
    with svc.client() as c:
        r = c.get(f"{base}/map", params={"level": "galaxy"})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "level", r.text
        r = answer_or_problem(c, f"{base}/map", community=999)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "community", r.text


def test_polarization_fields(demo_api):
    svc, graph = demo_api
    body = get(svc, f"/v1/graphs/{graph}/polarization")
    assert body["modularity"] > 0.4
    for field in ("assortativity", "rwc", "cross_community_share", "modularity_z"):
        assert field in body
    assert 0 <= body["cross_community_share"] < 0.5


def test_reach_of_a_pod_post(demo_api):
    svc, graph = demo_api
    accounts, _ = demo_network()
    followers = {a.id: a.followers for a in accounts}
    with svc.client() as c:
        r = c.post(f"/v1/graphs/{graph}/reach", json={"objects": ["pod-star-post-00"]})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = followers["pod-star"] + sum(followers[m] for m in POD)
    assert body["claimed_reach"] == expected
    assert body["conversational_reach"] == 0
    # the twelve reposters are the pod; pod-star, whose post it is, is not one of them
    assert body["pod_share"] == pytest.approx(sum(followers[m] for m in POD) / expected, rel=1e-9)


def test_diversity_of_a_member_and_of_a_bridge(demo_api):
    svc, graph = demo_api
    member = get(svc, f"/v1/graphs/{graph}/accounts/north-00/diversity")
    bridge = get(svc, f"/v1/graphs/{graph}/accounts/bridge-ns/diversity")
    assert bridge["converses_with"]["effective_communities"] > member["converses_with"]["effective_communities"]
    assert member["converses_with"]["share_own_community"] == 1.0


@pytest.mark.parametrize("params, field", [
    ({"layers": "reply,poke"}, "layers"),
    ({"engine": "quantum"}, "engine"),
    ({"seed": -1}, "seed"),
    ({"resolution": 0}, "resolution"),
    ({"algorithm": "girvan-newman"}, "algorithm"),
    ({"algorithm": "leiden", "engine": "reference"}, "algorithm"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
])
def test_bad_parameters_name_the_field(demo_api, params, field):
    svc, graph = demo_api
    with svc.client() as c:
        r = c.get(f"/v1/graphs/{graph}/communities", params=params)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


def test_a_miss_answers_202_with_the_job_and_the_job_leads_to_the_answer(tmp_path):
    # no waiting at all: every miss is a job the client follows
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_ANSWER_WAIT": "0"}
    assert castlegate("demo", env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            r = c.get("/v1/graphs/demo/castles", params={"seed": 5})
            assert r.status_code == 202
            job_url = r.headers["location"]
            assert job_url == r.json()["links"]["self"] and r.json()["target"] == "castles"
            job = follow(c, job_url)
            assert job["progress"] == 1.0 and job["attempts"] == 1 and job["error"] is None
            assert job["links"]["answer"].startswith("/v1/graphs/demo/castles?")
            done = c.get(job["links"]["answer"])
            assert done.status_code == 200
            assert done.json()["manifest"]["graph_version"] == job["graph_version"]
            assert done.content == c.get(job["links"]["result"]).content
            # the same question again is the cached answer, not a new job
            jobs = c.get("/v1/analyses", params={"graph": "demo"}).json()["items"]
            assert c.get("/v1/graphs/demo/castles", params={"seed": 5}).status_code == 200
            assert c.get("/v1/analyses", params={"graph": "demo"}).json()["items"] == jobs
            # a full analysis: one job, and the usual answers are filed with it
            full = c.post("/v1/graphs/demo/analyses", json={"seed": 5})
            assert full.status_code == 202 and full.json()["target"] == "analysis"
            job = follow(c, full.headers["location"])
            again = c.post("/v1/graphs/demo/analyses", json={"seed": 5})
            assert again.status_code == 202 and again.json()["id"] == job["id"]
            for name in ("communities", "gatekeepers", "trusted-voices", "pods", "polarization"):
                assert c.get(job["links"][name]).status_code == 200, name
            assert c.get("/v1/analyses/nope").status_code == 404
    finally:
        svc.stop()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_a_held_answer_is_304_and_a_write_from_another_process_is_seen_at_once(kind, tmp_path, request):
    """An answer carries its ETag (one graph version's answer to one question): a client
    that holds it gets 304 and no body. The API process keeps answers and graph versions
    in memory; a write made by another process (here the CLI, straight into the store)
    must still be seen by the very next request: a new version, a new answer."""
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    if kind == "neo4j":
        env |= request.getfixturevalue("neo4j_server").env
    graph = f"etag-{kind}-{int(time.time() * 1000) % 10**8}"
    assert castlegate("demo", "--graph", graph, env=env).returncode == 0
    svc = start_service(tmp_path, env)
    path = f"/v1/graphs/{graph}/gatekeepers"
    try:
        first = get(svc, path, limit=5)
        with svc.client() as c:
            r = c.get(path, params={"limit": 5})
            assert r.status_code == 200 and r.json() == first
            etag = r.headers["etag"]
            assert etag.startswith('"') and r.headers["cache-control"] == "private, no-cache"
            held = c.get(path, params={"limit": 5}, headers={"If-None-Match": f'"other", {etag}'})
            assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == etag
            assert c.get(path, params={"limit": 5}, headers={"If-None-Match": '"other"'}).content == r.content
            # another question is another answer, whatever the client holds
            assert c.get(path, params={"limit": 6}, headers={"If-None-Match": etag}).status_code in (200, 202)

            new = tmp_path / "one.ndjson"
            new.write_text('{"id": "late-1", "kind": "reply", "source": "bridge-ns", "target": "bridge-se",'
                           ' "at": "2026-02-01T00:00:00Z"}\n')
            done = castlegate("ingest", str(new), "--graph", graph, "--format", "ndjson", env=env)
            assert done.returncode == 0, done.stderr
            version = c.get(f"/v1/graphs/{graph}").json()["version"]
            after = c.get(path, params={"limit": 5}, headers={"If-None-Match": etag})
            assert after.status_code in (200, 202)  # not 304: the graph changed
            if after.status_code == 200:
                assert after.headers["etag"] != etag and after.json()["manifest"]["graph_version"] == version
            assert get(svc, path, limit=5)["manifest"]["graph_version"] == version
    finally:
        svc.stop()
