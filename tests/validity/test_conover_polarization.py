"""Conover et al. (ICWSM 2011): the retweet network of the 2010 US midterms splits into two
partisan sides, the mention network much less. Imported with ``castlegate ingest``, asked
through ``GET /polarization`` on a real server with default parameters, the normalised
score must say the same: retweets clearly above mentions."""

from __future__ import annotations

import pytest

from tests.conftest import castlegate, start_service
from tests.validity.test_conover_compare import ask


@pytest.fixture(scope="module")
def conover_both(tmp_path_factory, datasets):
    folder = datasets / "conover-icwsm-polarization"
    tmp = tmp_path_factory.mktemp("conover-both")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    for graph, network in (("rt", "retweet"), ("mt", "mention")):
        for part in ("nodes", "edgelist"):
            r = castlegate("ingest", str(folder / f"{network}.{part}"), "--format", "conover",
                           "--graph", graph, "--quiet", env=env)
            assert r.returncode == 0, r.stderr
    svc = start_service(tmp, env)
    yield svc
    svc.stop()


def test_retweets_are_more_polarized_than_mentions(conover_both):
    with conover_both.client() as c:
        rt = ask(c, "GET", "/v1/graphs/rt/polarization")
        mt = ask(c, "GET", "/v1/graphs/mt/polarization")
    print(f"Conover polarization score: retweets {rt['score']:.3f} ({rt['split']}), "
          f"mentions {mt['score']:.3f} ({mt['split']}); raw modularity {rt['modularity']:.3f} vs "
          f"{mt['modularity']:.3f}")
    assert rt["polarized"] is True and rt["score"] >= 0.75
    # clearly above: more than the spread of the score between seeds and engines (< 0.01)
    assert rt["score"] - mt["score"] >= 0.1
    assert rt["method"].startswith("score = (lambda2 - sqrt(lambda1))")
