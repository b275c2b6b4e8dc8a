"""Analysis jobs as a client and an operator see them, on real processes: ``castlegate
serve`` (with its own worker, or API-only), ``castlegate worker``, a real Redis and the real
Neo4j. Cancelling stops the analysis process; deleting a graph cancels its jobs; results
and queued jobs survive a restart; replicas share results and jobs; a worker killed with
-9 loses no job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, castlegate, child_environment, start_service

#: a job that runs for a while: every stage of the Reddit reply network
FULL = {"engine": "fast", "seed": 1}


def eventually(probe, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.05)
    return value


def job(c: httpx.Client, job_id: str) -> dict:
    r = c.get(f"/v1/analyses/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def running_stage(c: httpx.Client, job_id: str) -> dict:
    """Waits until the job computes a stage (past reading the graph)."""
    return eventually(lambda: (j := job(c, job_id))["status"] == "running" and j["stage"] not in (None, "load") and j,
                      timeout=120, what="the job computing a stage")


def busy_cpu(pid: int, seconds: float = 1.0) -> float:
    """CPU percent used by ``pid``'s descendants over ``seconds``."""
    procs = psutil.Process(pid).children(recursive=True)
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.NoSuchProcess:
            pass
    time.sleep(seconds)
    total = 0.0
    for p in procs:
        try:
            total += p.cpu_percent(None)
        except psutil.NoSuchProcess:
            pass
    return total


def load_reddit(store, graph: str, datasets: Path, limit: int | None = None) -> None:
    from bench.analysis import load, reddit_edges

    edges = reddit_edges(datasets)
    load(store, graph, edges[:limit] if limit else edges)


@pytest.fixture(scope="module")
def reddit_data(tmp_path_factory, datasets):
    """A data folder whose sqlite store holds the Reddit reply network (240k replies)."""
    from graph.store.sqlite import SqliteStore

    data = tmp_path_factory.mktemp("reddit") / "data"
    store = SqliteStore(data / "castlegate.sqlite")
    try:
        load_reddit(store, "reddit", datasets)
    finally:
        store.close()
    return data


def copy_data(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_cancelling_a_running_job_stops_it_and_frees_the_cpu(reddit_data, tmp_path):
    data = copy_data(reddit_data, tmp_path / "data")
    svc = start_service(tmp_path, {"CASTLEGATE_DATA_DIR": str(data)})
    try:
        with svc.client() as c:
            r = c.post("/v1/graphs/reddit/analyses", json=FULL)
            assert r.status_code == 202, r.text
            j = running_stage(c, r.json()["id"])
            assert busy_cpu(svc.proc.pid) > 50  # an analysis is using a core
            asked = time.monotonic()
            r = c.delete(f"/v1/analyses/{j['id']}")
            assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
            assert r.json()["error"] == "cancelled by the client"
            # the analysis process is killed within seconds: the cores are free again
            eventually(lambda: busy_cpu(svc.proc.pid, 0.5) < 15, timeout=5, what="the cores free")
            assert time.monotonic() - asked < 5
            assert job(c, j["id"])["status"] == "cancelled"  # and it stays so
            # the worker goes on with the next job
            r = c.get("/v1/graphs/reddit/pods")
            assert r.status_code in (200, 202)
    finally:
        svc.stop()
    assert "Traceback" not in svc.log.read_text()


def test_deleting_a_graph_cancels_its_jobs_without_a_traceback(reddit_data, tmp_path):
    data = copy_data(reddit_data, tmp_path / "data")
    svc = start_service(tmp_path, {"CASTLEGATE_DATA_DIR": str(data)})
    try:
        with svc.client() as c:
            running = c.post("/v1/graphs/reddit/analyses", json=FULL).json()
            queued = c.post("/v1/graphs/reddit/analyses", json=FULL | {"seed": 2}).json()
            running_stage(c, running["id"])
            assert c.delete("/v1/graphs/reddit").status_code == 204
            for j in (running, queued):
                got = eventually(lambda: (x := job(c, j["id"]))["status"] == "cancelled" and x, timeout=5,
                                 what="the job cancelled")
                assert got["error"] == "graph 'reddit' was deleted"
            eventually(lambda: busy_cpu(svc.proc.pid, 0.5) < 15, timeout=5, what="the cores free")
            listed = c.get("/v1/analyses", params={"graph": "reddit", "status": "cancelled"}).json()["items"]
            assert {x["id"] for x in listed} == {running["id"], queued["id"]}
            # its results are gone with it: a new graph of that name starts from nothing
            assert c.post("/v1/graphs", json={"id": "reddit"}).status_code == 201
    finally:
        svc.stop()
    log = svc.log.read_text()
    assert "Traceback" not in log and '"level": "ERROR"' not in log


def test_a_job_past_its_time_limit_is_stopped_with_a_reason(reddit_data, tmp_path):
    data = copy_data(reddit_data, tmp_path / "data")
    svc = start_service(tmp_path, {"CASTLEGATE_DATA_DIR": str(data), "CASTLEGATE_JOB_TIME_LIMIT": "3"})
    try:
        with svc.client() as c:
            r = c.post("/v1/graphs/reddit/analyses", json=FULL)
            failed = eventually(lambda: (j := job(c, r.json()["id"]))["status"] not in ("queued", "running") and j,
                                timeout=30, what="the job stopped")
            assert failed["status"] == "failed" and failed["error_kind"] == "time_limit", failed
            assert failed["error"] == "stopped after the time limit of 3 s (CASTLEGATE_JOB_TIME_LIMIT)"
            eventually(lambda: busy_cpu(svc.proc.pid, 0.5) < 15, timeout=5, what="the cores free")
    finally:
        svc.stop()
    assert "Traceback" not in svc.log.read_text()


def test_serve_starts_its_worker_again_when_it_dies(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    assert castlegate("demo", env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            [first] = eventually(lambda: c.get("/ready").json()["queue"]["workers"], what="the worker")
            assert first["pid"] in [p.pid for p in psutil.Process(svc.proc.pid).children()]
            os.kill(first["pid"], signal.SIGKILL)
            eventually(lambda: any(w["pid"] != first["pid"] for w in c.get("/ready").json()["queue"]["workers"]),
                       timeout=30, what="a new worker")
            r = c.get("/v1/graphs/demo/pods")
            if r.status_code == 202:
                eventually(lambda: job(c, r.json()["id"])["status"] == "done", what="the job done")
    finally:
        svc.stop()
    assert "the embedded worker exited; starting it again" in svc.log.read_text()


def test_results_and_queued_jobs_survive_a_restart(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path / "data")}
    assert castlegate("demo", env=env).returncode == 0
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            r = c.get("/v1/graphs/demo/communities", params={"seed": 3})
            if r.status_code == 202:
                eventually(lambda: job(c, r.json()["id"])["status"] == "done", what="the job done")
                r = c.get("/v1/graphs/demo/communities", params={"seed": 3})
            assert r.status_code == 200
            first = r.content
            jobs = c.get("/v1/analyses").json()["items"]
    finally:
        svc.stop()
    # an API-only process (no worker): a new question is queued and waits
    api_only = start_service(tmp_path, env | {"CASTLEGATE_EMBEDDED_WORKER": "off"})
    try:
        with api_only.client() as c:
            again = c.get("/v1/graphs/demo/communities", params={"seed": 3})
            assert again.status_code == 200 and again.content == first  # served from storage
            assert c.get("/v1/analyses").json()["items"] == jobs  # without a new job
            queued = c.post("/v1/graphs/demo/analyses", json={"seed": 4}).json()
            assert queued["status"] == "queued"
            time.sleep(1)
            assert job(c, queued["id"])["status"] == "queued"
            assert c.get("/ready").json()["queue"]["pending"] == 1
    finally:
        api_only.stop()
    svc = start_service(tmp_path, env)
    try:
        with svc.client() as c:
            done = eventually(lambda: (j := job(c, queued["id"]))["status"] == "done" and j, what="the queued job run")
            assert done["attempts"] == 1
            assert c.get(done["links"]["castles"]).status_code == 200
    finally:
        svc.stop()


@dataclass
class Worker:
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_worker(tmp_path: Path, env: dict[str, str]) -> Worker:
    log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT, env=child_environment(env),
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    return Worker(proc, log)


@pytest.mark.neo4j
def test_replicas_share_results_and_jobs_and_a_killed_worker_loses_no_job(tmp_path, neo4j_server, redis_server,
                                                                          graph_id, datasets):
    from graph.store.neo4j import Neo4jStore

    env = neo4j_server.env | {
        "REDIS_URL": redis_server,
        "CASTLEGATE_QUEUE_NAME": f"t{uuid.uuid4().hex[:8]}",
        "CASTLEGATE_DATA_DIR": str(tmp_path / "data"),
        "CASTLEGATE_EMBEDDED_WORKER": "off",
        "CASTLEGATE_SCHEDULER_GRAPHS": graph_id,
        "CASTLEGATE_JOB_LEASE": "3",
    }
    assert castlegate("demo", "--graph", graph_id, env=env).returncode == 0
    big = f"{graph_id}-reddit"
    store = Neo4jStore(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    try:
        load_reddit(store, big, datasets, limit=120_000)
    finally:
        store.close()
    a, b = start_service(tmp_path, env), start_service(tmp_path, env)
    workers = [start_worker(tmp_path, env), start_worker(tmp_path, env)]
    try:
        with a.client() as ca, b.client() as cb:
            eventually(lambda: len(ca.get("/ready").json()["queue"]["workers"]) == 2, what="two workers")
            # computed through replica A ...
            r = ca.get(f"/v1/graphs/{graph_id}/gatekeepers", params={"seed": 21})
            if r.status_code == 202:
                eventually(lambda: job(ca, r.json()["id"])["status"] == "done", what="the job done")
                r = ca.get(f"/v1/graphs/{graph_id}/gatekeepers", params={"seed": 21})
            assert r.status_code == 200
            # ... served by replica B without computing again
            jobs = cb.get("/v1/analyses", params={"graph": graph_id}).json()["items"]
            assert len(jobs) == 1 and jobs[0]["target"] == "gatekeepers"
            rb = cb.get(f"/v1/graphs/{graph_id}/gatekeepers", params={"seed": 21})
            assert rb.status_code == 200 and rb.content == r.content
            assert cb.get("/v1/analyses", params={"graph": graph_id}).json()["items"] == jobs

            # 20 identical requests at once, across both replicas: one job
            answers: list[httpx.Response] = []

            def ask(client):
                answers.append(client.get(f"/v1/graphs/{graph_id}/castles", params={"seed": 22, "null_samples": 40}))

            threads = [threading.Thread(target=ask, args=((ca, cb)[i % 2],)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert {x.status_code for x in answers} <= {200, 202}
            castle_jobs = [j for j in cb.get("/v1/analyses", params={"graph": graph_id}).json()["items"]
                           if j["target"] == "castles"]
            assert len(castle_jobs) == 1
            assert {x.json()["id"] for x in answers if x.status_code == 202} <= {castle_jobs[0]["id"]}

            # a worker killed with -9 mid-job: the other one runs the job again
            r = ca.post(f"/v1/graphs/{big}/analyses", json=FULL)
            assert r.status_code == 202
            j = running_stage(ca, r.json()["id"])
            pid = int(j_owner_pid(ca, j["id"]))
            victim = next(w for w in workers if w.proc.pid == pid)
            kids = psutil.Process(pid).children(recursive=True)  # its fork server and the analysis
            assert kids
            os.kill(pid, signal.SIGKILL)
            victim.proc.wait(10)
            done = eventually(lambda: (x := job(cb, j["id"]))["status"] in ("done", "failed") and x, timeout=600,
                              what="the job finished by the other worker")
            assert done["status"] == "done" and done["attempts"] == 2, done
            assert cb.get(done["links"]["castles"]).status_code == 200
            survivor = next(w for w in workers if w is not victim)
            assert "worker lost; job back in the queue" in survivor.log.read_text() or \
                "worker lost; job back in the queue" in victim.log.read_text()
            # and the killed worker's processes died with it
            eventually(lambda: not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids),
                       timeout=10, what="the killed worker's children gone")
    finally:
        for w in workers:
            w.stop()
        a.stop()
        b.stop()


def j_owner_pid(c: httpx.Client, job_id: str) -> str:
    """The pid of the worker holding the job, from the roll-call in /ready."""
    def probe():
        for w in c.get("/ready").json()["queue"]["workers"]:
            if job_id in w["running"]:
                return str(w["pid"])
        return None
    return eventually(probe, what="the job's worker in the roll-call")
