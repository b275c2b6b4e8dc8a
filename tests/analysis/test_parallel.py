"""Analyses on several cores: the same numbers as on one, and no process outlives its
analysis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from graph.analysis import parallel
from graph.analysis.engine import get_engine
from graph.analysis.graph import LayerGraph
from graph.analysis.nulls import degree_preserving_draws
from graph.analysis.roles import account_roles

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big():
    # large enough that draws and pivots go to other processes (parallel.MIN_WORK)
    G = nx.powerlaw_cluster_graph(30_000, 4, 0.3, seed=5)
    g = LayerGraph.from_rows([(str(u), str(v), "reply", 1, 0, 0) for u, v in G.edges()])
    memb = np.asarray(get_engine("fast").louvain(g.n, *g.undirected(["reply"]), seed=0))
    return g, memb


@pytest.fixture
def processes():
    yield parallel.set_processes
    parallel.set_processes(0)


def test_null_draws_are_the_same_on_one_core_or_two(big, processes):
    g, memb = big
    eng = get_engine("fast")
    processes(1)
    one = degree_preserving_draws(g, ["reply"], memb, engine=eng, samples=20, seed=4)
    processes(2)
    assert 20 * len(g.undirected(["reply"])[0]) >= parallel.MIN_WORK
    two = degree_preserving_draws(g, ["reply"], memb, engine=eng, samples=20, seed=4)
    assert one == two
    # and the draws are draws: different from each other, degrees kept
    assert len({tuple(x) for x in one.internal}) == 20
    assert len(set(one.modularity)) == 20


def test_role_metrics_are_the_same_on_one_core_or_two(big, processes):
    g, memb = big
    eng = get_engine("fast")
    processes(1)
    one = account_roles(g, ["reply"], memb, engine=eng, k=500, seed=3)
    processes(2)
    two = account_roles(g, ["reply"], memb, engine=eng, k=500, seed=3)
    assert one == two
    assert one.betweenness_method == "sampled" and max(one.betweenness) > 0
    # the shares of sampled betweenness add up to the estimate made in one piece
    src, dst, _ = g.undirected(["reply"])
    whole = eng.betweenness(len(one.nodes), *_local(g, one.nodes, src, dst), k=500, seed=3)
    assert np.allclose(one.betweenness, whole, rtol=1e-12, atol=1e-15)


def _local(g, nodes, src, dst):
    local = np.full(g.n, -1)
    local[nodes] = np.arange(len(nodes))
    return local[src], local[dst]


def test_the_helper_processes_die_with_the_analysis_process(tmp_path):
    """A cancelled job's analysis process is killed with SIGKILL: the processes it
    started for its pieces must not run on."""
    pids = tmp_path / "pids"
    # the pieces report their pid and then sleep, standing for a long draw
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from graph.analysis import parallel
        from tests.analysis.test_parallel import _report_and_sleep
        parallel.set_processes(2)
        parallel.map_pieces(_report_and_sleep, [({str(pids)!r},), ({str(pids)!r},)], work=1e12)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = pids.read_text().split() if pids.exists() else []
            if len(found) == 2:
                break
            time.sleep(0.1)
        assert len(found) == 2, "the pieces did not start"
        helpers = [int(p) for p in found]
        assert all(_alive(p) for p in helpers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in helpers)
    finally:
        if proc.poll() is None:
            proc.kill()


def _report_and_sleep(path: str) -> None:
    with open(path, "a") as f:
        f.write(f"{os.getpid()} ")
    time.sleep(300)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_pieces_error_reaches_its_caller_and_the_helpers_go_on(processes):
    processes(2)
    with pytest.raises(ZeroDivisionError):
        parallel.map_pieces(_divide, [(1, 1), (1, 0), (2, 1)], work=1e12)
    assert parallel.map_pieces(_divide, [(6, 3), (1, 4)], work=1e12) == [2.0, 0.25]


def test_a_killed_helper_fails_its_piece_and_is_replaced(processes):
    processes(2)
    with pytest.raises(parallel.HelperDied):
        parallel.map_pieces(_die, [(), ()], work=1e12)
    assert parallel.map_pieces(_divide, [(9, 3), (8, 4)], work=1e12) == [3.0, 2.0]
    parallel.stop_helpers()  # and after the helpers are stopped, new ones take over
    assert parallel.map_pieces(_divide, [(1, 2), (3, 4)], work=1e12) == [0.5, 0.75]


def _divide(a, b):
    return a / b


def _die():
    os.kill(os.getpid(), signal.SIGKILL)
