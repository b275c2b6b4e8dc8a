"""A run limited to what a diversity audit needs gives the same diversity as a full run,
and never stands in for a full run in the API's cache."""

from __future__ import annotations

import msgspec
import pytest

from graph.analysis.params import AnalysisParams
from graph.analysis.pipeline import DIVERSITY_STAGES, account_diversity, run_analysis
from graph.demo import demo_network
from graph.store.sqlite import SqliteStore
from service.jobs import Analyses


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("stages") / "s.sqlite")
    accounts, interactions = demo_network(seed=7)
    store.create_graph("d")
    store.upsert_accounts("d", accounts)
    store.add_interactions("d", interactions)
    yield store
    store.close()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_an_audit_run_skips_what_diversity_does_not_use_and_agrees_with_a_full_run(demo, engine):
    params = AnalysisParams(engine=engine, seed=5)
    full = run_analysis(demo, "d", params)
    part = run_analysis(demo, "d", params, only=DIVERSITY_STAGES)
    assert (part.roles, part.gatekeepers, part.polarization) == (None, None, None)
    assert full.roles is not None and full.polarization is not None
    assert part.manifest.analyses == ["communities", "pods", "trusted", "castles"]
    assert full.manifest.analyses == ["communities", "roles", "gatekeepers", "pods", "trusted", "castles",
                                      "polarization"]
    for account in ("north-00", "bridge-ns", "pod-03", "east-11"):
        assert msgspec.to_builtins(account_diversity(part, account)) == msgspec.to_builtins(
            account_diversity(full, account)), account


def test_a_partial_bundle_is_cached_apart(demo):
    analyses = Analyses(demo)
    params = AnalysisParams(seed=9)
    part = analyses.compute("d", params, DIVERSITY_STAGES)
    assert part.polarization is None
    assert analyses.compute("d", params, DIVERSITY_STAGES) is part  # cached for the next audit
    assert analyses.cached("d", params)[0] is None  # the API does not answer from it
    full = analyses.get_or_start("d", params)
    assert full.polarization is not None
    assert analyses.compute("d", params, DIVERSITY_STAGES) is full  # a full one serves audits too
    analyses.close()
