"""Conover et al. (ICWSM 2011): the retweet network of the 2010 US midterms splits into two
partisan sides, the mention network much less. Imported with ``castlegate ingest``, asked
through ``GET /polarization`` on a real server with default parameters, the normalised
score must say the same: retweets clearly above mentions."""

from __future__ import annotations

import pytest

from tests.validity.conftest import ask

pytestmark = pytest.mark.datasets


def test_retweets_are_more_polarized_than_mentions(conover):
    with conover.client() as c:
        rt = ask(c, "GET", "/v1/graphs/cv/polarization")
        mt = ask(c, "GET", "/v1/graphs/mt/polarization")
    print(f"Conover polarization score: retweets {rt['score']:.3f} ({rt['split']}), "
          f"mentions {mt['score']:.3f} ({mt['split']}); raw modularity {rt['modularity']:.3f} vs "
          f"{mt['modularity']:.3f}")
    assert rt["polarized"] is True and rt["score"] >= 0.75
    # clearly above: more than the spread of the score between seeds and engines (< 0.01)
    assert rt["score"] - mt["score"] >= 0.1
    assert rt["method"].startswith("score = (lambda2 - sqrt(lambda1))")
