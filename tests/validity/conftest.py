"""What the validity tests share: Conover et al.'s networks imported once, as a user
would (``castlegate ingest``), behind one real server, and asking it as a client would."""

from __future__ import annotations


import pytest

from tests.conftest import castlegate, follow_job, start_service


@pytest.fixture(scope="session")
def conover(tmp_path_factory, datasets):
    """A server holding the retweet network as graph ``cv`` and the mention network as
    ``mt``."""
    folder = datasets / "conover-icwsm-polarization"
    tmp = tmp_path_factory.mktemp("conover")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    for graph, network in (("cv", "retweet"), ("mt", "mention")):
        for part in ("nodes", "edgelist"):
            r = castlegate("ingest", str(folder / f"{network}.{part}"), "--format", "conover",
                           "--graph", graph, "--quiet", env=env)
            assert r.returncode == 0, r.stderr
    svc = start_service(tmp, env)
    yield svc
    svc.stop()


def ask(c, method: str, path: str, **kw) -> dict:
    r = c.request(method, path, **kw)
    if r.status_code == 202:
        job = follow_job(c, r.headers["location"], timeout=300, poll=0.2)
        assert job["status"] == "done", job
        r = c.get(job["links"]["result"])
    assert r.status_code == 200, r.text
    return r.json()
