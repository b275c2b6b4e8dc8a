"""The map page (/ui) in a real browser: Debian's chromium, headless, driven by Playwright,
against a real castlegate serving the demo network.

What the demo holds (graph/demo.py): three conversational communities (north, south,
east), a castle made of the pod ``pod-00``..``pod-11`` and the ``pod-star`` they amplify,
and two bridges. The page must draw exactly that castle and that pod, and its account card
must say what the API says. Every request the page makes must go to the server on
127.0.0.1: anything else is aborted and fails the test.

Chromium is launched by path (``executable_path``; no browser download). Where it is
missing the tests skip with the reason, unless ``CASTLEGATE_REQUIRE_BROWSER=1`` (``make
test``, CI), where that is a failure; the same for a map page that was never built.
Screenshots go to ``CASTLEGATE_ARTIFACTS`` (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from service.routes.ui import UI_DIR, UI_POLICY
from tests.conftest import castlegate, start_service

POD = {f"pod-{i:02d}" for i in range(12)}
CASTLE = POD | {"pod-star"}
REQUIRE = os.environ.get("CASTLEGATE_REQUIRE_BROWSER") == "1"
LOOPBACK = {"127.0.0.1"}


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"CASTLEGATE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CASTLEGATE_ARTIFACTS") or tmp_path_factory.mktemp("ui-artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        _unavailable("Debian's chromium is not installed (make chromium)")
    if not (UI_DIR / "index.html").is_file():
        _unavailable(f"the map page is not built in {UI_DIR} (make install)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """castlegate serving the demo network, with an audit of bridge-ns that has run once."""
    tmp = tmp_path_factory.mktemp("ui")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    r = castlegate("demo", env=env)
    assert r.returncode == 0, r.stderr
    svc = start_service(tmp, env)
    with svc.client() as c:
        audit = c.post("/v1/graphs/demo/audits", json={"account": "bridge-ns", "every": "P1D", "paused": True})
        assert audit.status_code == 201, audit.text
        run = c.post(f"/v1/graphs/demo/audits/{audit.json()['id']}/run")
        assert run.status_code == 202, run.text
    yield svc
    svc.stop()


def api(svc, path, **params):
    """An answer as a client gets it: 200, or 202 and the job to follow."""
    with svc.client() as c:
        r = c.get(path, params=params)
        deadline = time.monotonic() + 60
        while r.status_code == 202:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.1)
            job = c.get(r.headers["location"]).json()
            assert job["status"] in ("queued", "running", "done"), job
            if job["status"] == "done":
                r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


class Page:
    """One browser tab on the service, recording where each of its requests went."""

    def __init__(self, browser, svc, artefacts: Path):
        self.svc, self.artefacts = svc, artefacts
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.aborted: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.route("**/*", self._only_loopback)

    def _only_loopback(self, route):
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.aborted.append(route.request.url)
            route.abort()

    def open(self, query: str = "", key: str | None = None) -> None:
        key = self.svc.token if key is None else key
        self.page.goto(f"{self.svc.url}/ui{query}#key={key}")

    def state(self) -> dict:
        return self.page.evaluate("window.castlegate.state()")

    def wait(self, predicate, what: str, timeout: float = 30) -> dict:
        """Polls the page's state from here (the page's policy forbids the eval that
        Playwright's wait_for_function needs)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.state()
            if predicate(s):
                return s
            assert s["error"] is None, s["error"]
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {s}"
            time.sleep(0.05)

    def wait_map(self, **want) -> dict:
        return self.wait(lambda s: not s["loading"] and s["nodes"] and all(s[k] == v for k, v in want.items()),
                         f"the map {want}")

    def click_node(self, node: str) -> None:
        pos = self.page.evaluate("id => window.castlegate.viewportPosition(id)", node)
        assert pos is not None, f"{node} is not drawn"
        self.page.mouse.click(pos["x"], pos["y"])

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artefacts / name))

    def close(self) -> None:
        self.context.close()
        # no request left loopback, and none had to be stopped
        assert self.aborted == [], self.aborted
        assert self.requests and all(urlsplit(u).hostname in LOOPBACK for u in self.requests), self.requests
        assert self.errors == [], self.errors


@pytest.fixture
def tab(browser, demo, artefacts):
    t = Page(browser, demo, artefacts)
    yield t
    t.close()


def test_the_demo_map_marks_its_castle_and_its_pod(tab, demo):
    tab.open()
    s = tab.wait_map(level="accounts")
    assert s["graph"] == "demo" and s["community"] is None
    assert len(s["nodes"]) == 87 and "bridge-ns" in s["nodes"]
    # the castle is the pod's community, and only it; its 12 pod members are highlighted
    assert set(s["castleNodes"]) == CASTLE
    assert not [n for n in s["castleNodes"] if n.startswith(("north", "south", "east", "bridge"))]
    assert set(s["podNodes"]) == POD
    # the same as the API says
    castles = {c["id"] for c in api(demo, "/v1/graphs/demo/castles")["items"] if c["castle"]}
    members = {m for c in api(demo, "/v1/graphs/demo/communities", members_limit=1000)["items"]
               if c["id"] in castles for m in c["members"]}
    assert members == CASTLE
    assert {"bridge-ns", "bridge-se"} <= set(s["labelled"])
    # labelled with their handles, as imported
    assert s["labels"]["bridge-ns"] == "@bridge-ns"
    assert s["violations"] == []  # nothing the content policy had to block
    # drawn: sigma's WebGL canvases, and the castle's outline on its own layer
    page = tab.page
    assert page.locator("#map canvas.sigma-nodes").count() == 1
    outlined = page.evaluate("""() => {
        const c = document.querySelector('#map canvas.sigma-castles');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n; }""")
    assert outlined > 1000
    legend = page.locator("#legend").inner_text()
    assert "castle" in legend and "pod member" in legend and "87 accounts" in legend
    # the key left the URL for sessionStorage
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("sessionStorage.getItem('castlegate.key')") == demo.token
    tab.shot("map.png")


def test_clicking_the_bridge_opens_its_card_with_the_api_numbers(tab, demo):
    tab.open()
    tab.wait_map(level="accounts")
    tab.click_node("bridge-ns")
    s = tab.wait(lambda s: s["card"] and s["card"].get("account") == "bridge-ns" and "brokerageRole" in s["card"],
                 "the card of bridge-ns")
    gatekeepers = {g["account"]: g for g in api(demo, "/v1/graphs/demo/gatekeepers", limit=1000)["items"]}
    trusted = {t["account"]: t for t in api(demo, "/v1/graphs/demo/trusted-voices", limit=1000)["items"]}
    roles = api(demo, "/v1/graphs/demo/accounts/bridge-ns/roles")["roles"]
    card = tab.page.locator("#card")
    want = f"{gatekeepers['bridge-ns']['score']:.3f}"
    assert card.locator("[data-field=gatekeeper-score]").inner_text() == want == s["card"]["gatekeeper"]
    rank = sorted(gatekeepers.values(), key=lambda g: -g["score"]).index(gatekeepers["bridge-ns"]) + 1
    assert card.locator("[data-field=gatekeeper-rank]").inner_text() == f"{rank} of {len(gatekeepers)}"
    assert card.locator("[data-field=trusted-score]").inner_text() == f"{trusted['bridge-ns']['score']:.3f}"
    assert card.locator("[data-field=brokerage-role]").inner_text() == roles["brokerage_role"] == s["card"]["brokerageRole"]
    assert roles["brokerage_role"] in ("gatekeeper", "representative", "liaison")
    assert card.locator("[data-field=module-role]").inner_text() == roles["module_role"]
    effective = api(demo, "/v1/graphs/demo/accounts/bridge-ns/diversity")["converses_with"]["effective_communities"]
    text = card.locator("[data-field=diversity-converses-effective_communities]").inner_text()
    assert float(text) == pytest.approx(effective, abs=5e-4)
    # the audit's trend, drawn as a chart once its run is done
    if not s["card"]["trendPoints"]:
        time.sleep(1)
        tab.click_node("bridge-ns")
        s = tab.wait(lambda s: s["card"] and s["card"].get("trendPoints"), "the audit trend")
    assert s["card"]["audit"] is not None
    assert card.locator("#trend-chart canvas").count() >= 1
    tab.shot("card.png")
    card.locator("#trend-chart").scroll_into_view_if_needed()
    tab.shot("card-trend.png")


def test_search_finds_the_bridges_and_opens_a_card(tab):
    tab.open()
    tab.wait_map(level="accounts")
    tab.page.fill("#search", "bridge")
    results = tab.page.locator("#search-results button[data-account]")
    results.first.wait_for()
    assert [results.nth(i).get_attribute("data-account") for i in range(results.count())] == ["bridge-ns", "bridge-se"]
    tab.shot("search.png")
    results.nth(1).click()
    s = tab.wait(lambda s: s["card"] and s["card"].get("account") == "bridge-se" and "brokerageRole" in s["card"],
                 "the card of bridge-se")
    assert s["card"]["gatekeeper"] is not None
    assert tab.page.locator("#card h2").inner_text() == "@bridge-se"


def test_the_community_overview_drills_down_and_back(tab, demo):
    tab.open("?level=communities")
    s = tab.wait_map(level="communities")
    communities = api(demo, "/v1/graphs/demo/communities", members_limit=1000)["items"]
    assert sorted(s["nodes"]) == sorted(f"c{c['id']}" for c in communities)
    castle = next(c["id"] for c in communities if "pod-star" in c["members"])
    assert s["castleNodes"] == [f"c{castle}"] and s["podNodes"] == []
    tab.shot("overview.png")
    north = next(c for c in communities if "north-00" in c["members"])
    tab.click_node(f"c{north['id']}")
    s = tab.wait_map(level="accounts", community=north["id"])
    assert set(s["nodes"]) == set(north["members"])
    assert s["castleNodes"] == [] and s["podNodes"] == []
    tab.shot("drill-down.png")
    tab.page.click("#back")
    tab.wait_map(level="communities", community=None)


def test_search_on_the_overview_opens_the_accounts_community(tab, demo):
    tab.open("?level=communities")
    tab.wait_map(level="communities")
    community = api(demo, "/v1/graphs/demo/accounts/bridge-se/roles")["roles"]["community"]
    tab.page.fill("#search", "@bridge-se")
    result = tab.page.locator("#search-results button[data-account=bridge-se]")
    result.wait_for()
    result.click()
    # its community drawn account by account, the account pointed at, its card open
    s = tab.wait(lambda s: not s["loading"] and s["level"] == "accounts" and "bridge-se" in s["highlighted"],
                 "bridge-se highlighted in its community")
    assert s["community"] == community and "bridge-se" in s["nodes"]
    tab.wait(lambda s: s["card"] and s["card"].get("account") == "bridge-se" and "brokerageRole" in s["card"],
             "the card of bridge-se")
    assert tab.page.locator("#card h2").inner_text() == "@bridge-se"
    tab.shot("search-overview.png")


def test_layer_and_window_filters_reload_the_map(tab):
    tab.open()
    tab.wait_map(level="accounts")
    for layer in ("repost", "like"):
        tab.page.uncheck(f"#layer-{layer}")
    tab.page.fill("#since", "2026-01-05T00:00:00")
    tab.page.fill("#until", "2027-01-01T00:00:00")
    before = len(tab.requests)
    tab.page.click("#apply")
    tab.wait(lambda s: not s["loading"] and any("/map?" in u for u in tab.requests[before:]), "the map again")
    (asked,) = [u for u in tab.requests[before:] if "/map?" in u]
    query = parse_qs(urlsplit(asked).query)
    assert query["layers"] == ["reply,quote,mention"]
    assert query["since"] == ["2026-01-05T00:00:00Z"] and query["until"] == ["2027-01-01T00:00:00Z"]
    s = tab.wait_map(level="accounts")
    # conversation only: the castle (a pod reposting its star) is not a castle any more
    assert s["castleNodes"] == [] and len(s["nodes"]) > 0
    tab.shot("filtered.png")

def test_a_bad_key_says_so(tab):
    tab.open(key="cgk_0123456789abcdef_" + "A" * 43)
    login = tab.page.locator("#login")
    login.wait_for(state="visible")
    error = tab.page.locator("#login-error")
    deadline = time.monotonic() + 10
    while "refused" not in error.inner_text():
        assert time.monotonic() < deadline, error.inner_text()
        time.sleep(0.05)
    assert "401" in error.inner_text()
    assert tab.page.locator("#app").is_hidden()
    assert tab.page.evaluate("sessionStorage.getItem('castlegate.key')") is None
    tab.shot("bad-key.png")


def test_the_shell_is_public_with_its_own_policy(demo):
    with demo.anonymous() as c:
        page = c.get("/ui")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == UI_POLICY
        assert "'unsafe-inline'" not in UI_POLICY and "'unsafe-eval'" not in UI_POLICY and "http" not in UI_POLICY
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        assert c.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
        # the shell holds no data: the API behind it still wants the key
        assert c.get("/v1/graphs/demo/map").status_code == 401
        assert "default-src 'none'; frame-ancestors" in c.get("/v1/graphs").headers["content-security-policy"]


def test_an_unbuilt_page_answers_503_saying_how_to_build_it(tmp_path):
    from litestar import Litestar
    from litestar.testing import TestClient

    from service.routes.ui import ui_routes

    folder = tmp_path / "ui_dist"  # not even the folder exists
    with TestClient(Litestar(route_handlers=ui_routes(folder))) as c:
        r = c.get("/ui")
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/plain")
        assert "npm ci" in r.text and "make install" in r.text
        # built afterwards: served without a restart
        folder.mkdir()
        (folder / "index.html").write_text("<!doctype html><title>map</title>")
        (folder / "app.js").write_text("")
        assert c.get("/ui").status_code == 200

