"""Stages and the analyse use case: only what a question needs is computed, stages are
reused across questions that share their parameters, and an answer cut from reused
stages is the same as one computed from scratch."""

from __future__ import annotations

import msgspec
import pytest

from graph.analysis.answers import TARGETS
from graph.analysis.nulls import NullDraws
from graph.analysis.params import AnalysisParams
from graph.analysis.polarization import PolarizationResult
from graph.analysis.stages import STAGES, param_names, plan
from graph.demo import demo_network
from graph.jobs.sqlite import SqliteJobStore
from graph.store.sqlite import SqliteStore
from graph.usecases.analyse import StageRecord, answer_key, produce, stage_key


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("stages") / "s.sqlite")
    accounts, interactions = demo_network(seed=7)
    store.create_graph("d")
    store.upsert_accounts("d", accounts)
    store.add_interactions("d", interactions)
    yield store
    store.close()


@pytest.fixture
def cache(tmp_path):
    c = SqliteJobStore(tmp_path / "jobs.sqlite")
    yield c
    c.close()


def _stages_filed(cache, version, params) -> set[str]:
    return {s for s in STAGES if cache.has_result(stage_key("d", version, s, params))}


def test_plans_follow_declared_inputs():
    assert [s.name for s in plan(["castles"])] == ["communities", "nulls", "castles"]
    assert [s.name for s in plan(["polarization"])] == ["communities", "nulls", "polarization"]
    assert [s.name for s in plan(["gatekeepers", "pods"])] == ["communities", "roles", "gatekeepers", "pods"]
    # pods do not depend on the partition, so not on its seed or layers
    assert param_names("pods") == ("count", "min_repeats", "min_size", "since", "tau", "until")
    assert "null_samples" in param_names("castles") and "null_samples" not in param_names("trusted")
    # every answer names stages that exist
    for t in TARGETS.values():
        assert plan(t.stages)


def test_communities_compute_communities_and_nothing_else(demo, cache):
    params = AnalysisParams(seed=4)
    out = produce(demo, cache, "d", params, "communities")
    assert _stages_filed(cache, out.graph_version, params) == {"communities"}
    body = msgspec.json.decode(cache.get_result(out.result_key))
    assert body["manifest"]["analyses"] == ["communities"]
    assert out.result_key == answer_key("d", out.graph_version, "communities", params,
                                        {"limit": 100, "after": None, "members_limit": 100})
    # castles then compute castles only: the partition is reused, byte for byte
    before = cache.get_result(stage_key("d", out.graph_version, "communities", params))
    produce(demo, cache, "d", params, "castles")
    assert _stages_filed(cache, out.graph_version, params) == {"communities", "nulls", "castles"}
    assert cache.get_result(stage_key("d", out.graph_version, "communities", params)) == before


def test_castles_and_polarization_are_scored_against_the_same_null_draws(demo, cache):
    params = AnalysisParams(seed=3, null_samples=6)
    v = produce(demo, cache, "d", params, "castles").graph_version
    nulls = cache.get_result(stage_key("d", v, "nulls", params))
    produce(demo, cache, "d", params, "polarization")
    # the draws were made once and both stages read them
    assert cache.get_result(stage_key("d", v, "nulls", params)) == nulls
    draws = msgspec.msgpack.decode(msgspec.msgpack.decode(nulls, type=StageRecord).result, type=NullDraws)
    pol = msgspec.msgpack.decode(
        msgspec.msgpack.decode(cache.get_result(stage_key("d", v, "polarization", params)), type=StageRecord).result,
        type=PolarizationResult)
    assert pol.null_samples == draws.samples == 6
    assert pol.modularity_null_mean == pytest.approx(sum(draws.modularity) / 6)


def test_pods_are_reused_across_seeds_and_the_partition_is_not(demo, cache):
    a, b = AnalysisParams(seed=1), AnalysisParams(seed=2)
    v = produce(demo, cache, "d", a, "trusted-voices").graph_version
    pods_a = msgspec.msgpack.decode(cache.get_result(stage_key("d", v, "pods", a)), type=StageRecord)
    produce(demo, cache, "d", b, "trusted-voices")
    pods_b = msgspec.msgpack.decode(cache.get_result(stage_key("d", v, "pods", b)), type=StageRecord)
    assert pods_b.computed_at == pods_a.computed_at  # the same filed result, not a recomputation
    assert stage_key("d", v, "communities", a) != stage_key("d", v, "communities", b)


def test_an_answer_from_filed_stages_needs_no_store_read(demo, cache, tmp_path):
    params = AnalysisParams(seed=6)
    first = produce(demo, cache, "d", params, "gatekeepers", {"limit": 5})

    class NoReads:
        kind = "sqlite"

        def read_snapshot(self, *a, **k):
            raise AssertionError("the store was read although every stage was filed")

    again = produce(NoReads(), cache, "d", params, "gatekeepers", {"limit": 3}, version=first.graph_version)
    five = msgspec.json.decode(cache.get_result(first.result_key))["items"]
    three = msgspec.json.decode(cache.get_result(again.result_key))["items"]
    assert three == five[:3]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_diversity_from_reused_stages_equals_diversity_from_scratch(demo, tmp_path, engine):
    params = AnalysisParams(engine=engine, seed=5)
    fresh = SqliteJobStore(tmp_path / "fresh.sqlite")
    shared = SqliteJobStore(tmp_path / "shared.sqlite")
    try:
        produce(demo, shared, "d", params, "analysis")  # every stage filed first
        for account in ("north-00", "bridge-ns", "pod-03", "east-11"):
            a = produce(demo, fresh, "d", params, "diversity", {"account": account})
            b = produce(demo, shared, "d", params, "diversity", {"account": account})
            da = msgspec.json.decode(fresh.get_result(a.result_key))
            db = msgspec.json.decode(shared.get_result(b.result_key))
            assert da["manifest"]["analyses"] == db["manifest"]["analyses"] == ["communities", "pods", "trusted",
                                                                               "nulls", "castles"]
            for d in (da, db):
                del d["manifest"]
            assert da == db, account
    finally:
        fresh.close()
        shared.close()


def test_a_full_analysis_files_the_usual_answers(demo, cache):
    params = AnalysisParams(seed=8)
    out = produce(demo, cache, "d", params, "analysis")
    assert _stages_filed(cache, out.graph_version, params) == set(STAGES)
    for name in ("communities", "gatekeepers", "trusted-voices", "castles", "pods", "polarization"):
        key = answer_key("d", out.graph_version, name, params, TARGETS[name].arguments({}))
        assert cache.has_result(key), name
