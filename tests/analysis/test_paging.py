"""Answers that page: every list of an analysis answer is ``items`` + ``next``, pages
followed by their ``next`` cursor list each item exactly once and in the order of the whole
list, and a cursor the list does not hold is refused naming ``after``. Rendered by the
analyse use case from the demo graph's stages, the way a worker renders them."""

from __future__ import annotations

import msgspec
import pytest

from graph.analysis.params import AnalysisParams
from graph.demo import demo_network
from graph.errors import InvalidInput, NotFound
from graph.jobs.sqlite import SqliteJobStore
from graph.store.sqlite import SqliteStore
from graph.usecases.analyse import produce

PARAMS = AnalysisParams(seed=3)


@pytest.fixture(scope="module")
def ask(tmp_path_factory):
    d = tmp_path_factory.mktemp("paging")
    store, cache = SqliteStore(d / "s.sqlite"), SqliteJobStore(d / "jobs.sqlite")
    accounts, interactions = demo_network(seed=7)
    store.create_graph("d")
    store.upsert_accounts("d", accounts)
    store.add_interactions("d", interactions)

    def answer(target: str, **args) -> dict:
        out = produce(store, cache, "d", PARAMS, target, args)
        return msgspec.json.decode(cache.get_result(out.result_key))

    yield answer
    cache.close()
    store.close()


def _follow(ask, target: str, size: int, **args) -> tuple[list, int]:
    """Every item, page by page; and how many pages it took."""
    items, after, pages = [], None, 0
    while True:
        body = ask(target, limit=size, after=after, **args)
        assert len(body["items"]) <= size
        items += body["items"]
        pages += 1
        after = body["next"]
        if after is None:
            return items, pages


@pytest.mark.parametrize("target, whole", [
    ("gatekeepers", 1000), ("trusted-voices", 1000), ("castles", 1000), ("communities", 1000), ("pods", 1000),
])
def test_pages_followed_by_next_list_the_whole_list_once(ask, target, whole):
    everything = ask(target, limit=whole)
    assert everything["next"] is None and everything["items"]
    paged, pages = _follow(ask, target, 2)
    assert paged == everything["items"]
    assert pages == max(1, -(-len(paged) // 2))


def test_the_demo_lists_are_long_enough_to_page(ask):
    # the demo holds 14 gatekeepers, 74 trusted voices and 4 communities: the default
    # first pages stop early and say where to go on
    gk = ask("gatekeepers")
    assert len(gk["items"]) == 14 and gk["candidates"] == 14 and gk["next"] is None
    first = ask("trusted-voices")
    assert len(first["items"]) == 20 and first["candidates"] == 74
    assert first["next"] == first["items"][-1]["account"]
    second = ask("trusted-voices", after=first["next"])
    assert second["items"][0]["score"] <= first["items"][-1]["score"]
    assert not {v["account"] for v in first["items"]} & {v["account"] for v in second["items"]}


def test_members_page_through_one_community_and_the_list_stays_small(ask):
    communities = ask("communities", members_limit=3)
    assert communities["total"] == len(communities["items"]) == 4
    biggest = communities["items"][0]
    assert len(biggest["members"]) == 3 and biggest["size"] == 25
    members, pages = _follow(ask, "members", 10, community=biggest["id"])
    assert len(members) == len(set(members)) == 25 and pages == 3
    assert members[:3] == biggest["members"]
    whole = ask("communities", members_limit=1000)["items"][0]["members"]
    assert members == whole


def test_a_pod_lists_its_strongest_pairs_and_counts_them_all(ask):
    (pod,) = ask("pods")["items"]
    assert pod["size"] == 12 and pod["edges_total"] == 12 * 11 // 2 == len(pod["edges"])
    (cut,) = ask("pods", pairs_limit=5)["items"]
    assert cut["edges_total"] == 66 and len(cut["edges"]) == 5
    weights = sorted((e["weight"] for e in pod["edges"]), reverse=True)
    assert [e["weight"] for e in cut["edges"]] == weights[:5]
    (none,) = ask("pods", pairs_limit=0)["items"]
    assert none["edges"] == [] and none["members"] == pod["members"]


def test_castles_count_the_flagged_communities(ask):
    body = ask("castles", limit=1)
    assert body["total"] == 4 and len(body["items"]) == 1 and body["next"] == str(body["items"][0]["id"])
    everything = ask("castles")["items"]
    assert body["castles"] == sum(c["castle"] for c in everything) >= 1


def test_a_cursor_the_list_does_not_hold_is_refused_naming_after(ask):
    with pytest.raises(InvalidInput) as e:
        ask("gatekeepers", after="no-such-account")
    assert [f.field for f in e.value.errors] == ["after"]
    with pytest.raises(InvalidInput):
        ask("communities", after="99")


def test_members_of_a_community_not_in_the_analysis_is_not_found(ask):
    with pytest.raises(NotFound):
        ask("members", community=99)
