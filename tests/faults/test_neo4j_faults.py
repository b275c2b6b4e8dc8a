"""Neo4j faults survived, on real processes: ``castlegate serve`` (with its worker) on a
Neo4j server of these tests' own, which they stop, restart and watch castlegate through.

The server comes from the project's launcher (``service.neo4j_local``) in a temporary
folder on a free port, with a 1 GB heap: never the suite's shared server, which other tests
are using. The ingest runs are ``bench/faults.py``'s (the benchmark reports the same runs):
client threads POST batches of 200 interactions with deterministic ids, and every batch's
ids are looked up in the store afterwards.

1. Neo4j stopped mid-ingest: clients get 503 with ``Retry-After`` (problem JSON, never a
   500, never a hang), nothing acknowledged is lost, and the same serve process answers 200
   again by itself once Neo4j is back; its worker's scheduler logged the outage once.
2. The serve process and its worker killed with SIGKILL mid-ingest: after a new serve
   started, every acknowledged batch is there and no batch is there in part.
3. Neo4j restarted while audits are due (a moved file clock): each (audit, slot) has
   exactly one run, and it is done.

Besides, without any server: which driver errors mean "unavailable", and how long a store
call takes to say so when nothing answers.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from neo4j.exceptions import (
    ClientError,
    ConnectionAcquisitionTimeoutError,
    ConstraintError,
    CypherSyntaxError,
    DatabaseUnavailable,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from bench.faults import BATCH, WARMUP, FaultRun, OwnNeo4j, neo4j_stop_run, serve_kill_run
from graph.audits.clock import FileClock
from graph.errors import GraphNotFound, StoreUnavailable
from graph.store.neo4j import Neo4jStore, is_unavailable
from tests.conftest import _unavailable, castlegate, free_port, start_service

#: seconds a request may take at most, even one in flight when Neo4j began to stop (which
#: waits for the server's shutdown first); a store call alone fails within ~8 s
REQUEST_BOUND = 30.0
#: seconds from Neo4j answering again to the first 200 (a cold Neo4j plans its queries anew)
RECOVERY_BOUND = 45.0


@pytest.fixture(scope="module")
def own_neo4j(tmp_path_factory):
    """Neo4j of this module's own: stopped and started by the tests."""
    neo = OwnNeo4j(tmp_path_factory.mktemp("own-neo4j"))
    try:
        neo.start()
    except Exception as e:  # Maven refused, Java missing ...: say exactly why
        _unavailable(f"the project's launcher could not start a Neo4j of the fault tests' own: {e}")
    yield neo
    neo.stop()


@pytest.fixture
def neo(own_neo4j):
    own_neo4j.start()  # a test that failed half-way may have left it stopped
    return own_neo4j


def log_lines(path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # the admin key banner, a worker's plain line
    return out


def check_ingest(fr: FaultRun) -> None:
    """What every fault run must show: nothing acknowledged lost, no batch in part."""
    assert len(fr.acked) >= 2 * WARMUP, fr.row()
    assert fr.lost == [], f"acknowledged batches not wholly stored: {fr.lost} {fr.row()}"
    assert fr.partial == [], f"batches stored in part: {fr.partial} {[fr.present[b] for b in fr.partial]}"
    assert fr.partial_on_resend == [], f"re-sent batches found stored in part: {fr.partial_on_resend}"
    assert all(fr.present[b] == BATCH for b in fr.acked)
    assert all(n in (0, BATCH) for n in fr.present.values())


# ---------------------------------------------------------------- without a server


@pytest.mark.parametrize("error, unavailable", [
    (ServiceUnavailable("refused"), True),
    (IncompleteCommit("connection lost during commit"), True),
    (SessionExpired("gone"), True),
    (ConnectionAcquisitionTimeoutError("no connection in 5 s"), True),
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError("timed out"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.TransientError.General.DatabaseUnavailable", message="down"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.TransientError.Transaction.DeadlockDetected", message="busy"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.ClientError.Transaction.Terminated", message="stopping"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.ClientError.Transaction.LockClientStopped", message="stopping"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.ClientError.Security.Unauthorized", message="bad password"), True),
    (Neo4jError._hydrate_neo4j(code="Neo.ClientError.Schema.ConstraintValidationFailed", message="dup"), False),
    (Neo4jError._hydrate_neo4j(code="Neo.ClientError.Statement.SyntaxError", message="typo"), False),
    (ValueError("a bug of ours"), False),
    (GraphNotFound("g"), False),
])
def test_driver_errors_meaning_unavailable(error, unavailable):
    assert is_unavailable(error) is unavailable
    # the server codes come back as the driver's classes
    if isinstance(error, Neo4jError) and "DatabaseUnavailable" in (error.code or ""):
        assert isinstance(error, (DatabaseUnavailable, TransientError))
    if isinstance(error, Neo4jError) and "Constraint" in (error.code or ""):
        assert isinstance(error, ConstraintError)
    if isinstance(error, Neo4jError) and "Syntax" in (error.code or ""):
        assert isinstance(error, (CypherSyntaxError, ClientError))


def test_nothing_listening_is_store_unavailable_within_the_bound():
    """Neo4j gone (connection refused): every kind of store call fails with
    StoreUnavailable, within the 8.4 s documented in graph/store/neo4j.py."""
    store = Neo4jStore(f"bolt://127.0.0.1:{free_port()}", "neo4j", "irrelevant")
    try:
        # a direct session, the schema, a write, a read through ``_read`` (the key and
        # audit mixins' path) and the snapshot's own sessions
        for call in (store.server_version, store.ensure_schema, lambda: store.create_graph("g"),
                     lambda: store.get_key("k"), lambda: store.read_snapshot("g")):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                call()
            assert time.monotonic() - started < 9.5
    finally:
        store.close()


def test_a_server_that_never_answers_is_store_unavailable_within_the_bound():
    """A port that accepts connections and never speaks Bolt (a hung server, a black hole
    behind a proxy): the acquisition timeout ends each attempt, 11.2 s at most in all."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(64)  # never accepted, never answered: the handshake waits forever
        store = Neo4jStore(f"bolt://127.0.0.1:{mute.getsockname()[1]}", "neo4j", "irrelevant")
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                store.list_graphs()
            took = time.monotonic() - started
        finally:
            store.close()
    assert 4.5 < took < 13.0, took


@pytest.mark.parametrize("kind, error, status", [
    ("unavailable", "a store did not answer while the analysis read the graph", 503),
    ("failed", "ZeroDivisionError: division by zero", 500),
])
def test_an_analysis_the_store_failed_under_is_503_not_500(kind, error, status):
    """A job whose graph read hit a Neo4j outage (``error_kind`` "unavailable") is a store
    outage to the client waiting for it: 503 with Retry-After, and no internals."""
    from litestar import Litestar, get
    from litestar.testing import TestClient

    from graph.jobs.model import Job, JobStatus
    from service.analyses import AnalysisFailed
    from service.errors import EXCEPTION_HANDLERS

    job = Job(id="j1", graph="g", key="k", target="communities", params={}, status=JobStatus.FAILED,
              error=error, error_kind=kind, created_at=datetime.now(timezone.utc))

    @get("/answer", sync_to_thread=False)
    def answer() -> None:
        raise AnalysisFailed(job)

    with TestClient(Litestar([answer], exception_handlers=EXCEPTION_HANDLERS)) as c:
        r = c.get("/answer")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    if status == 503:
        assert r.headers["retry-after"] == "5" and r.json()["job"] == "/v1/analyses/j1"
        assert "bolt://" not in r.text


# ---------------------------------------------------------------- 1. Neo4j stopped


@pytest.mark.neo4j
def test_neo4j_stopped_mid_ingest_503_then_recovers_alone_and_loses_nothing(neo, tmp_path):
    seen: dict = {}

    def during_outage(serve):
        with serve.client() as c, httpx.Client(base_url=serve.url, timeout=60) as anon:
            started = time.monotonic()
            seen["ready"] = anon.get("/ready")
            seen["ready_s"] = time.monotonic() - started
            seen["health"] = anon.get("/health")
            started = time.monotonic()
            seen["graph"] = c.get("/v1/graphs/faults-stop")
            seen["graph_s"] = time.monotonic() - started

    def after_recovery(serve):
        with serve.client() as c:
            seen["graph_after"] = c.get("/v1/graphs/faults-stop")
            # the worker is alive and its scheduler ticks again (a tick after the recovery)
            back = datetime.now(timezone.utc)
            deadline = time.monotonic() + 30
            while True:
                r = c.get("/ready")
                workers = r.json()["queue"]["workers"] if r.status_code == 200 else []
                if any(w["last_tick"] and datetime.fromisoformat(w["last_tick"]) >= back for w in workers):
                    seen["ready_after"] = r
                    break
                assert time.monotonic() < deadline, f"no scheduler tick after the recovery: {r.text}"
                time.sleep(0.2)

    fr = neo4j_stop_run(neo, tmp_path, graph="faults-stop", run="stop", outage=10,
                        during_outage=during_outage, after_recovery=after_recovery)

    # during the fault: 503 with Retry-After and problem JSON, nothing else, no hang
    assert fr.failed, f"no request failed while Neo4j was down: {fr.row()}"
    assert set(fr.statuses) <= {"200", "503"}, fr.statuses
    for a in fr.failed:
        assert a.status == 503 and a.retry_after == "5", a
        assert a.content_type.startswith("application/problem+json"), a
        problem = json.loads(a.error)
        assert problem["status"] == 503 and problem["title"] == "Store unavailable", problem
    assert fr.longest_s < REQUEST_BOUND, fr.row()
    assert seen["ready"].status_code == 503 and seen["ready"].headers["retry-after"] == "5"
    assert seen["health"].status_code == 200
    assert seen["graph"].status_code == 503, seen["graph"].text
    assert seen["graph"].headers["content-type"].startswith("application/problem+json")
    assert seen["graph_s"] < 12 and seen["ready_s"] < 12, seen

    # recovered alone: the same serve process, 200 again within the bound
    assert fr.notes["same_serve_process"], fr.row()
    assert fr.recover_s is not None and fr.recover_s < RECOVERY_BOUND, fr.row()
    assert seen["graph_after"].status_code == 200
    check_ingest(fr)

    # the worker's scheduler logged the outage once (with its stack), then that it ticks again
    logs = log_lines(tmp_path / "serve.log")
    failed = [i for i, e in enumerate(logs) if e.get("msg") == "scheduler tick failed; retrying every poll"]
    again = [i for i, e in enumerate(logs) if e.get("msg") == "scheduler ticks again"]
    assert len(failed) == 1, [logs[i]["ts"] for i in failed]
    assert again and again[-1] > failed[0]
    assert not [e for e in logs if e.get("msg") == "unhandled error"]
    assert all(e.get("status") in (200, 201, 503) for e in logs if e.get("msg") == "request")


# ---------------------------------------------------------------- 2. castlegate killed


@pytest.mark.neo4j
def test_serve_killed_mid_ingest_loses_no_acknowledged_batch_and_leaves_none_in_part(neo, tmp_path):
    fr = serve_kill_run(neo, tmp_path, graph="faults-kill", run="kill")

    assert fr.notes["in_flight_at_fault"] >= 1
    killed = fr.notes["killed_pids"]
    assert any("service.cli serve" in k for k in killed) and any("service.cli worker" in k for k in killed), killed
    # the clients saw no answer while no serve ran, then 200s from the new one: no HTTP error
    assert set(fr.statuses) <= {"200", "no answer"}, fr.statuses
    assert "no answer" in fr.statuses
    assert fr.recover_s is not None and fr.recover_s < 60, fr.row()
    check_ingest(fr)
    # a batch the killed process had committed without answering was acknowledged later, as
    # all duplicates: nothing stored twice (the counts of the graph agree with the ids)
    store = neo.store()
    try:
        info = store.get_graph("faults-kill")
        assert info.interactions.reply == sum(fr.present.values())
    finally:
        store.close()


# ---------------------------------------------------------------- 3. audits across a restart

T0 = datetime(2026, 1, 5, 5, 58, tzinfo=timezone.utc)  # a Monday, two minutes before six
SLOTS = [datetime(2026, 1, 5, h, 0, tzinfo=timezone.utc) for h in (6, 7, 8)]


def eventually(probe, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.1)
    return value


@pytest.mark.neo4j
def test_audits_due_across_a_neo4j_restart_run_once_each(neo, tmp_path):
    graph = "faults-audits"
    clock = FileClock(tmp_path / "clock")
    clock.set(T0)
    env = neo.env | {"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_CLOCK": f"file:{clock.path}",
                     "CASTLEGATE_SCHEDULER_POLL": "0.1", "CASTLEGATE_SCHEDULER_GRAPHS": graph,
                     # a run the outage interrupts is run again once its lease runs out
                     "CASTLEGATE_AUDIT_LEASE": "10"}
    r = castlegate("demo", "--graph", graph, env=env)
    assert r.returncode == 0, r.stderr
    svc = start_service(tmp_path, env)
    audits: list[str] = []

    def finished(slot: datetime) -> bool:
        """Every audit has a finished run for ``slot`` (through the API)."""
        with svc.client() as c:
            for a in audits:
                r = c.get(f"/v1/graphs/{graph}/audits/{a}/runs")
                if r.status_code != 200:
                    return False
                if not any(x["slot"] == slot.strftime("%Y-%m-%dT%H:%M:%SZ") and x["status"] in ("done", "failed")
                           for x in r.json()["items"]):
                    return False
        return True

    try:
        with svc.client() as c:
            for body in ({"account": "north-00", "every": "PT1H", "start": "2026-01-05T06:00:00Z"},
                         {"account": "south-01", "every": "PT30M", "start": "2026-01-05T06:00:00Z"},
                         {"account": "east-02", "cron": "0 * * * *"},
                         {"account": "pod-03", "cron": "*/20 * * * *"}):
                r = c.post(f"/v1/graphs/{graph}/audits", json=body)
                assert r.status_code == 201, r.text
                assert r.json()["next_run_at"] == "2026-01-05T06:00:00Z"
                audits.append(r.json()["id"])

        # the first slot comes due; while a run works (the others queued) Neo4j stops, the
        # next slot comes due while it is down, and Neo4j starts again
        clock.set(SLOTS[0] + timedelta(seconds=5))

        def working():
            with svc.client() as c:
                return any(x["status"] == "running" for a in audits
                           for x in c.get(f"/v1/graphs/{graph}/audits/{a}/runs").json()["items"])
        eventually(working, 120, "an audit run working")
        neo.stop()
        clock.set(SLOTS[1] + timedelta(seconds=5))
        time.sleep(5)  # ticks fail meanwhile
        neo.start()
        restarted = time.monotonic()

        def first_two_slots() -> bool:
            # the scheduler's clock runs on as a real one would, short of the next slot: a run
            # the outage cut short is taken again when its lease (10 s) has run out, also when
            # it was claimed after the clock was last set
            clock.set(SLOTS[1] + timedelta(seconds=5 + min(time.monotonic() - restarted, 300)))
            return finished(SLOTS[0]) and finished(SLOTS[1])

        eventually(first_two_slots, 240, "the runs of the first two slots")
        clock.set(SLOTS[2] + timedelta(seconds=5))
        eventually(lambda: finished(SLOTS[2]), 180, "the runs of the third slot")
    finally:
        svc.stop()

    # the scheduler logged the outage once, and that it ticks again
    logs = log_lines(svc.log)
    failed = [e for e in logs if e.get("msg") == "scheduler tick failed; retrying every poll"]
    assert len(failed) == 1, [e["ts"] for e in failed]
    assert any(e.get("msg") == "scheduler ticks again" for e in logs)
    assert not [e for e in logs if e.get("msg") == "unhandled error"]

    # through the store: exactly one run per (audit, slot), and it is done
    store = neo.store()
    try:
        runs = {a: store.list_runs(graph, a, limit=1000) for a in audits}
    finally:
        store.close()
    for a, rs in runs.items():
        per_slot = Counter(r.slot for r in rs)
        assert per_slot == Counter(SLOTS), (a, sorted(per_slot.items()))
    not_done = [(a, r.slot.isoformat(), r.status, r.attempts, r.error) for a, rs in runs.items() for r in rs
                if r.status != "done"]
    # a run the outage interrupted is not recorded failed: it is run again after its lease
    assert not_done == []
