"""Answers that say why, on a real server: every analysis endpoint's empty, null and
partial cases carry a note naming the numbers behind them and the parameter to change,
and a full answer (the demo network) carries none.

Small graphs make each case happen:

- ``talk``: four accounts replying one way to each other (one community), of which only
  x0 and x1 answer each other: one reciprocated pair, so nobody has the two partners a
  trusted voice needs; no reposts, so no pods; x3 only receives replies: it brokers
  nothing, follows nobody and converses with nobody; x0 and x1 carry a label, x2 and x3
  do not.
- ``reposts``: four accounts reposting three posts of p, ten minutes apart: no
  conversation at all, and no two reposts within a minute.
- ``static``: reposts dated 1970-01-01Z, as a static network file's interactions are.
"""

from __future__ import annotations

import pytest

from tests.api.test_analysis_api import follow, get
from tests.conftest import castlegate, start_service

CROSSING = ("gatekeeper", "representative", "liaison")


def _reply(n: int, s: str, t: str) -> dict:
    return {"id": f"r{n}", "kind": "reply", "source": s, "target": t, "at": f"2026-03-01T12:{n:02d}:00Z"}


#: x0 -> x1, x2, x3; x1 -> x2, x3; x2 -> x3; and x1 -> x0: only x0 - x1 is reciprocated
TALK = [_reply(n, s, t) for n, (s, t) in enumerate(
    [("x0", "x1"), ("x0", "x2"), ("x0", "x3"), ("x1", "x2"), ("x1", "x3"), ("x2", "x3"), ("x1", "x0")])]

#: a0..a3 repost posts o0..o2 of p, ten minutes apart (a day between the posts)
REPOSTS = [{"id": f"rp{j}{i}", "kind": "repost", "source": f"a{i}", "target": "p", "object": f"o{j}",
            "at": f"2026-03-0{j + 1}T12:{i * 10:02d}:00Z"} for j in range(3) for i in range(4)]

#: the same, every one at the static date
STATIC = [{**r, "id": f"s{r['id']}", "at": "1970-01-01T00:00:00Z"} for r in REPOSTS]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("answer-notes")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    r = castlegate("demo", "--graph", "demo", env=env)
    assert r.returncode == 0, r.stderr
    svc = start_service(tmp, env)
    with svc.client() as c:
        for graph, items in (("talk", TALK), ("reposts", REPOSTS), ("static", STATIC)):
            assert c.post("/v1/graphs", json={"id": graph}).status_code == 201
            r = c.post(f"/v1/graphs/{graph}/interactions", json=items)
            assert r.status_code == 200, r.text
        r = c.post("/v1/graphs/talk/accounts", json=[{"id": "x0", "attributes": {"side": "l"}},
                                                      {"id": "x1", "attributes": {"side": "r"}}])
        assert r.status_code == 200, r.text
    yield svc
    svc.stop()


def post(svc, path, body, **params):
    """A POSTed answer (compare, reach, a full analysis), following its job if it has one."""
    with svc.client() as c:
        r = c.post(path, json=body, params=params)
        if r.status_code == 202:
            job = follow(c, r.headers["location"])
            r = c.get(job["links"]["result"])
    assert r.status_code == 200, r.text
    return r.json()


def one(notes: list[str], *parts: str) -> str:
    """The note that holds every one of ``parts``."""
    hits = [n for n in notes if all(p in n for p in parts)]
    assert len(hits) == 1, (parts, notes)
    return hits[0]


# ---------------------------------------------------------------- a full answer says nothing


def test_the_demo_answers_have_no_notes(api):
    for path, params in [("communities", {}), ("gatekeepers", {}), ("trusted-voices", {}), ("castles", {}),
                         ("pods", {}), ("polarization", {}), ("map", {}), ("communities/stability", {"runs": 2}),
                         ("accounts/bridge-ns/roles", {}), ("accounts/bridge-ns/diversity", {})]:
        body = get(api, f"/v1/graphs/demo/{path}", **params)
        assert body["notes"] == [], path
    full = post(api, "/v1/graphs/demo/analyses", {})
    assert full["notes"] == [] and "gatekeepers" in full["stages"]
    # the demo's accounts all carry "community": nobody unlabelled
    compare = post(api, "/v1/graphs/demo/communities/compare", {"attribute": "community"})
    assert compare["unlabelled"] == 0 and compare["notes"] == []


def test_the_bridge_reads_as_a_broker_not_as_peripheral(api):
    items = get(api, "/v1/graphs/demo/gatekeepers", limit=1000)["items"]
    bridge = next(i for i in items if i["account"] == "bridge-ns")
    # what the issue saw: the module role of a top broker is "peripheral" in its own community
    assert bridge["module_role"] == "peripheral"
    assert bridge["brokerage_role"] in CROSSING
    assert list(bridge).index("brokerage_role") < list(bridge).index("module_role")
    roles = get(api, "/v1/graphs/demo/accounts/bridge-ns/roles")["roles"]
    counts = roles["brokerage"]
    # the role of most of its brokered pairs
    assert roles["brokerage_role"] == bridge["brokerage_role"]
    assert counts[roles["brokerage_role"]] == max(counts.values()) > 0
    assert roles["module_role"] == bridge["module_role"]
    node = next(n for n in get(api, "/v1/graphs/demo/map")["nodes"] if n["id"] == "bridge-ns")
    assert (node["brokerage_role"], node["module_role"]) == (bridge["brokerage_role"], bridge["module_role"])


# ---------------------------------------------------------------- one community, little conversation


def test_trusted_voices_say_nobody_has_enough_partners(api):
    body = get(api, "/v1/graphs/talk/trusted-voices")
    assert body["items"] == [] and body["candidates"] == 0 and body["min_partners"] == 2
    one(body["notes"], "nobody has 2 reciprocated conversation partners", "1 pair conversed both ways",
        "the most partners any account has is 1")


def test_gatekeepers_and_polarization_say_there_is_one_community(api):
    communities = get(api, "/v1/graphs/talk/communities")
    assert communities["total"] == 1 and communities["notes"] == []
    gk = get(api, "/v1/graphs/talk/gatekeepers")
    assert gk["items"] == [] and gk["candidates"] == 0
    one(gk["notes"], "one community holds every analysed account", "raise resolution (now 1)")
    pol = get(api, "/v1/graphs/talk/polarization")
    assert pol["rwc"] is None and pol["assortativity"] is None and pol["sides"] == []
    one(pol["notes"], "one community", "rwc needs two sides")
    # replies inside the one community: the share crossing communities is 0, not missing
    assert pol["cross_community_share"] == 0.0
    assert not [n for n in pol["notes"] if "cross_community_share" in n]


def test_castles_say_which_checks_failed(api):
    body = get(api, "/v1/graphs/talk/castles")
    assert body["total"] == 1 and body["castles"] == 0
    closed = sum(c["checks"]["closed"] for c in body["items"])
    # replies only: nothing to weigh amplification against, so currency is not measured,
    # and the note says so instead of calling it false
    assert [c["checks"]["own_currency"] for c in body["items"]] == [None]
    one(body["notes"], "none of the 1 communities scored is a castle", f"{closed} are closed",
        "the verdict rests on what could be measured")
    one(body["notes"], "own_currency could not be measured", "no amplification layer", "'closure only'")
    assert not any("currency z-scores" in n for n in body["notes"])


def test_pods_say_there_is_nothing_to_coordinate_on(api):
    body = get(api, "/v1/graphs/talk/pods")
    assert body["items"] == [] and body["events_considered"] == 0
    one(body["notes"], "no repost events naming an object")


def test_an_account_without_ties_says_so(api):
    d = get(api, "/v1/graphs/talk/accounts/x3/diversity")
    assert d["listens_to"]["partners"] == 0 and d["listens_to"]["entropy"] is None
    assert d["converses_with"]["partners"] == 0 and d["converses_with"]["effective_communities"] is None
    one(d["notes"], "x3 follows nobody", "listens_to")
    one(d["notes"], "x3 has no reciprocated reply or quote partner", "converses_with")
    roles = get(api, "/v1/graphs/talk/accounts/x3/roles")
    assert roles["roles"]["brokerage_role"] is None and sum(roles["roles"]["brokerage"].values()) == 0
    one(roles["notes"], "x3 brokers no pair", f"community {roles['roles']['community']}")


def test_compare_says_who_has_no_label(api):
    body = post(api, "/v1/graphs/talk/communities/compare", {"attribute": "side"})
    assert (body["labelled"], body["unlabelled"]) == (2, 2)
    one(body["notes"], "2 of the 4 accounts in the partition have no 'side'", "over the 2 labelled ones")
    none = post(api, "/v1/graphs/talk/communities/compare", {"attribute": "party"})
    assert none["purity"] is None and none["nmi"] is None
    one(none["notes"], "none of the 4 accounts in the partition carries the attribute 'party'")


def test_reach_says_what_evidence_is_missing(api):
    body = post(api, "/v1/graphs/talk/reach", {"accounts": ["x0"]})
    assert body["circle_size"] == 1 and body["followers_known_for"] == 0 and body["claimed_reach"] == 0
    assert body["inflation_claimed_over_deduplicated"] is None
    one(body["notes"], "no follow interactions name any of the circle's 1 accounts")
    one(body["notes"], "no claimed follower count for any of the circle's 1 accounts")
    # x1 replied to x0: conversation reached outside the circle, so no note on it
    assert body["conversational_reach"] == 1
    assert not [n for n in body["notes"] if "conversational_reach" in n]


def test_a_window_without_data_says_so(api):
    since = "2030-01-01T00:00:00Z"
    layers = "like, mention, quote, reply, repost"
    for path in ("communities", "castles", "map", "communities/stability"):
        body = get(api, f"/v1/graphs/talk/{path}", since=since)
        one(body["notes"], f"no interactions of the analysed layers ({layers}) since 2030-01-01T00:00:00+00:00",
            "wider since/until window")
    assert get(api, "/v1/graphs/talk/map", since=since)["nodes"] == []
    assert get(api, "/v1/graphs/talk/communities/stability", since=since)["mean_stability"] is None
    pol = get(api, "/v1/graphs/talk/polarization", since=since)
    assert pol["modularity"] is None
    one(pol["notes"], "every measure is null")


def test_the_full_analysis_gathers_the_notes(api):
    body = post(api, "/v1/graphs/talk/analyses", {})
    one(body["notes"], "nobody has 2 reciprocated conversation partners")
    one(body["notes"], "no repost events naming an object")
    one(body["notes"], "one community holds every analysed account", "nobody brokers")


# ---------------------------------------------------------------- amplification only


def test_without_conversation_trusted_voices_say_why(api):
    body = get(api, "/v1/graphs/reposts/trusted-voices")
    assert body["items"] == []
    one(body["notes"], "no reply or quote interactions between accounts", "trusted voices need conversation")
    pol = get(api, "/v1/graphs/reposts/polarization")
    assert pol["cross_community_share"] is None
    one(pol["notes"], "no reply or quote interactions", "cross_community_share")


def test_pods_name_the_parameter_to_loosen(api):
    body = get(api, "/v1/graphs/reposts/pods")
    assert (body["events_considered"], body["accounts_considered"], body["objects_considered"]) == (12, 4, 3)
    assert body["co_actions"] == 0
    one(body["notes"], "12 repost events by 4 accounts on 3 objects", "within tau=60 s", "raise tau")
    # within an hour every pair co-acts on each of the three posts: 6 pairs x 3 posts
    body = get(api, "/v1/graphs/reposts/pods", tau=3600, min_repeats=4)
    assert body["co_actions"] == 18 and body["linked_pairs"] == 0
    one(body["notes"], "18 co-actions within tau=3600 s", "min_repeats=4", "lower min_repeats")
    found = get(api, "/v1/graphs/reposts/pods", tau=3600, min_repeats=3)
    assert found["total"] == 1 and found["notes"] == []


def test_layers_without_interactions_say_so(api):
    body = get(api, "/v1/graphs/reposts/communities", layers="reply")
    assert body["total"] == 0 and body["items"] == []
    note = one(body["notes"], "no interactions of the analysed layers (reply)")
    assert "window" not in note
    gk = get(api, "/v1/graphs/reposts/gatekeepers", layers="reply")
    one(gk["notes"], "no interactions of the analysed layers (reply)")
    m = get(api, "/v1/graphs/reposts/map", layers="reply")
    assert m["nodes"] == [] and m["accounts_total"] == 0
    one(m["notes"], "nothing to draw")


# ---------------------------------------------------------------- a static import


def test_a_static_graph_says_time_means_nothing(api):
    pods = get(api, "/v1/graphs/static/pods")
    assert pods["manifest"]["static_time"] is True
    one(pods["notes"], "carry no time", "pods, which are about timing, mean nothing on it")
    windowed = get(api, "/v1/graphs/static/communities", until="2000-01-01T00:00:00Z")
    assert windowed["total"] >= 1
    one(windowed["notes"], "carry no time", "since/until keep all of them or none")
    # no window, no note: the communities of a static graph are what it is for
    assert get(api, "/v1/graphs/static/communities")["notes"] == []
