"""``castlegate demo`` loads the generated demo network, idempotently."""

import os
import subprocess
import sys

from graph.demo import DEMO_GRAPH, demo_network
from graph.store.sqlite import SqliteStore
from tests.conftest import ROOT


def test_demo_network_is_deterministic_and_has_its_parts():
    a1, i1 = demo_network(seed=7)
    a2, i2 = demo_network(seed=7)
    assert (a1, i1) == (a2, i2)
    ids = {a.id for a in a1}
    assert {"bridge-ns", "bridge-se", "pod-star"} <= ids
    assert sum(1 for a in ids if a.startswith("pod-")) == 13
    # the pod reposts each object within a minute, all twelve of them
    pod_reposts = [i for i in i1 if i.kind.value == "repost" and i.object and i.object.startswith("pod-star-post-")]
    assert len(pod_reposts) == 20 * 12
    first = [i for i in pod_reposts if i.object == "pod-star-post-00"]
    assert (max(i.at for i in first) - min(i.at for i in first)).total_seconds() < 60


def test_demo_command_loads_into_sqlite_twice_without_doubling(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env["CASTLEGATE_DATA_DIR"] = str(tmp_path)
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "service.cli", "demo"], cwd=ROOT, env=env, check=True)
    store = SqliteStore(tmp_path / "castlegate.sqlite")
    info = store.get_graph(DEMO_GRAPH)
    accounts, interactions = demo_network()
    assert info.accounts == len(accounts)
    assert info.interactions.total() == len(interactions)
    store.close()
