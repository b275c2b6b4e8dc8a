"""The communities of Conover et al.'s 2010 US-midterms retweet network (ICWSM 2011) against
the left/right labels the data set carries, as an agency would check them: imported with
``castlegate ingest``, asked through ``POST /communities/compare`` on a real server. The
paper's finding is that retweets form two nearly pure partisan clusters; the two largest
communities must each be at least 95% one side."""

from __future__ import annotations

import pytest

from tests.validity.conftest import ask

pytestmark = pytest.mark.datasets


@pytest.mark.parametrize("engine, algorithm", [("fast", "louvain"), ("fast", "leiden"), ("reference", "louvain")])
def test_the_two_largest_retweet_communities_are_partisan(conover, engine, algorithm):
    with conover.client() as c:
        out = ask(c, "POST", "/v1/graphs/cv/communities/compare", json={"attribute": "cluster"},
                  params={"layers": "repost", "engine": engine, "algorithm": algorithm, "limit": 5})
    first, second = out["items"][:2]
    print(f"Conover retweet, {engine} {algorithm}: purity {out['purity']:.4f}, NMI {out['nmi']:.4f},"
          f" ARI {out['ari']:.4f}; largest {first['size']} {first['mix']}, next {second['size']} {second['mix']}")
    assert out["labels"] == {"left": 11355, "right": 7115} and out["unlabelled"] == 0
    assert first["purity"] >= 0.95 and second["purity"] >= 0.95
    # the two sides, one each
    assert {first["majority"], second["majority"]} == {"left", "right"}
    assert out["purity"] >= 0.9 and out["manifest"]["parameters"]["algorithm"] == algorithm


def test_stability_and_an_attribute_nobody_has(conover):
    with conover.client() as c:
        st = ask(c, "GET", "/v1/graphs/cv/communities/stability", params={"layers": "repost", "runs": 3, "limit": 3})
        assert len(st["seeds"]) == 3 and len(st["items"]) == 3 and st["next"] == "2"
        assert all(0.0 <= s["stability"] <= 1.0 for s in st["items"]) and 0.5 <= st["mean_stability"] <= 1.0
        none = ask(c, "POST", "/v1/graphs/cv/communities/compare", json={"attribute": "shoe-size"},
                   params={"layers": "repost"})
        assert (none["labelled"], none["purity"], none["nmi"]) == (0, None, None)
        r = c.post("/v1/graphs/cv/communities/compare", json={"attribute": ""})
        assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "attribute", r.text
