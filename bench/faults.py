"""Neo4j faults, measured: does an ingest lose nothing, and does castlegate come back alone?

Two fault runs against a real ``castlegate serve`` (with its embedded worker) on a Neo4j
server of this run's own (the project's launcher, 1 GB heap, 512 MB page cache, in a
scratch folder, on a free port: never the user's or a test suite's server, since it is
stopped here). In each, ``CLIENTS`` client threads POST batches of ``BATCH`` interactions
with deterministic ids (``<run>-<batch>-<item>``) to ``/v1/graphs/{graph}/interactions``;
a batch that is not acknowledged (200 with ``accepted``/``duplicates``) is sent again after
``PAUSE`` seconds, so clients are impatient on purpose (they do not wait out the
``Retry-After`` of 5 s) to time the recovery to the half second.

- ``neo4j-stop``: once the ingest runs, Neo4j is stopped (the launcher's clean stop,
  SIGTERM) for ``OUTAGE`` seconds and started again; castlegate is not touched and must
  answer 503 with ``Retry-After`` meanwhile, then 200 again by itself.
- ``serve-kill``: once the ingest runs, the serve process and its worker (every
  descendant) get SIGKILL together while requests are in flight; a new ``castlegate serve``
  is started on the same port and data folder, and the clients carry on against it.

Afterwards every batch's ids are looked up in the store (``Neo4jStore.iter_interactions``):
*lost* counts acknowledged batches not wholly there, *partial* batches neither wholly there
nor wholly absent, at the end or as the answer to a re-send saw them (a re-sent batch
answers with how many of its items were stored already: 0 or all of them, never some).

Run:  .venv/bin/python -m bench.faults [--outage 10] [--clients 4]
Writes bench/results/faults.md (and .json). The tests in tests/faults/ run the same runs
and assert on them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work" / "faults"

#: interactions a batch (one request, one transaction)
BATCH = 200
#: client threads
CLIENTS = 4
#: seconds a client waits before sending an unacknowledged batch again
PAUSE = 0.5
#: seconds Neo4j stays stopped in the neo4j-stop run
OUTAGE = 10.0
#: batches acknowledged before the fault is injected, and again after the recovery
WARMUP = 12
#: accounts the interactions are spread over
ACCOUNTS = 1000
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: a request that takes longer than this is a hang (the HTTP client's own timeout)
REQUEST_TIMEOUT = 90.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the data


def batch_ids(run: str, b: int) -> list[str]:
    return [f"{run}-{b:05d}-{i:03d}" for i in range(BATCH)]


def batch_body(run: str, b: int) -> list[dict]:
    """Batch ``b`` of a run: always the same ids and content, so a re-send is recognised
    as such (duplicates) and presence can be checked id by id."""
    out = []
    for i, ident in enumerate(batch_ids(run, b)):
        s = (b * 31 + i * 7) % ACCOUNTS
        t = (s + 1 + (b + i) % (ACCOUNTS - 1)) % ACCOUNTS  # never s itself
        at = T0 + timedelta(seconds=b * BATCH + i)
        out.append({"id": ident, "kind": "reply", "source": f"u{s:04d}", "target": f"u{t:04d}",
                    "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return out


# ---------------------------------------------------------------- Neo4j of our own


class OwnNeo4j:
    """A Neo4j server of this run's own, from the project's launcher
    (``service.neo4j_local``), with a small heap: a fault run may stop and start it."""

    def __init__(self, state_dir: Path, *, heap: str = "1g", pagecache: str = "512m") -> None:
        from service.neo4j_local import LocalNeo4j, LocalNeo4jConfig

        self.local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=state_dir, bolt_port=free_port(),
                                                          heap=heap, pagecache=pagecache))
        self.creds = None

    def start(self, timeout: float = 240) -> None:
        cfg = self.local.config
        if not cfg.credentials_file.exists():
            # The launcher draws its first password with token_urlsafe, which starts with
            # "-" one time in 64, and neo4j-admin then takes it for an option and fails.
            # A hex password of our own (the launcher keeps a stored one) avoids that.
            cfg.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(cfg.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"uri": cfg.uri, "user": "neo4j", "password": secrets.token_hex(16)}, fh)
        self.creds = self.local.start(timeout=timeout)

    def stop(self) -> None:
        self.local.stop()

    @property
    def env(self) -> dict[str, str]:
        c = self.creds
        return {"NEO4J_URI": c.uri, "NEO4J_USER": c.user, "NEO4J_PASSWORD": c.password}

    def store(self):
        from graph.store.neo4j import Neo4jStore

        return Neo4jStore(self.creds.uri, self.creds.user, self.creds.password)


# ---------------------------------------------------------------- castlegate serve


#: the server secret of every castlegate process this run starts (API keys made by one are
#: valid for all)
SECRET_KEY = secrets.token_hex(32)


def base_environment(data: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A serve process' environment: ours without castlegate, Neo4j or Redis settings (the
    run names its own), a generous rate limit (the clients retry fast on purpose)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CASTLEGATE_", "REDIS_"))}
    return env | {"CASTLEGATE_DATA_DIR": str(data), "CASTLEGATE_LOG_LEVEL": "INFO",
                  "CASTLEGATE_RATE_LIMIT": "100000", "CASTLEGATE_SECRET_KEY": SECRET_KEY} | (extra or {})


def admin_token(env: dict[str, str]) -> str:
    """A new admin key, made straight in the store ``env`` names (as ``castlegate keys
    create`` does)."""
    from graph.keys import new_key
    from service.bootstrap import open_store
    from service.secrets import derive, server_key
    from service.settings import Settings

    settings = Settings.from_env(env)
    store = open_store(settings)
    try:
        key, token = new_key("bench-faults", ["admin"], ["*"], server_key=derive(server_key(settings), "api-keys"))
        store.create_key(key)
    finally:
        store.close()
    return token


class Serve:
    """``castlegate serve`` as a real process, with an admin ``token`` of its store (made
    unless given)."""

    def __init__(self, env: dict[str, str], log: Path, *, port: int | None = None, token: str | None = None,
                 cwd: Path = ROOT) -> None:
        self.env, self.log, self.cwd = env, log, cwd
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token or admin_token(env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "Serve":
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
                                         cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"castlegate serve exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"castlegate serve did not become ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def kill9(self) -> list[str]:
        """SIGKILL to the serve process and every descendant (its worker, the worker's fork
        server and analyses) at once; returns their pids once all are gone."""
        return kill9_tree(self.proc.pid, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


def kill9_tree(pid: int, popen: subprocess.Popen | None = None) -> list[str]:
    """SIGKILL to ``pid`` and all its descendants, gathered first (so none is missed by
    being re-parented once its parent died); waits until every one is gone. Returns
    "pid command line" of each."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    names = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            names.append(f"{p.pid} {' '.join(p.cmdline()[1:5])}")
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    if popen is not None:
        popen.wait(30)
    deadline = time.monotonic() + 30
    while alive := [p for p in procs if _running(p)]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes survived SIGKILL: {[p.pid for p in alive]}")
        time.sleep(0.05)
    return names


def _running(p: psutil.Process) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps it here)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ---------------------------------------------------------------- the clients


@dataclass
class Answer:
    batch: int
    client: int
    #: monotonic seconds
    started: float
    ended: float
    #: None: no HTTP answer (connection refused or reset)
    status: int | None
    retry_after: str | None = None
    content_type: str | None = None
    accepted: int | None = None
    duplicates: int | None = None
    error: str | None = None

    @property
    def took(self) -> float:
        return self.ended - self.started


class Ingest:
    """``clients`` threads; client ``k`` sends batches k, k+clients, k+2*clients, ... in
    turn, each until it is acknowledged. ``url`` may be changed while they run."""

    def __init__(self, url: str, token: str, graph: str, run: str, *, clients: int = CLIENTS,
                 pause: float = PAUSE) -> None:
        self.url, self.token, self.graph, self.run = url, token, graph, run
        self.clients, self.pause = clients, pause
        self.answers: list[Answer] = []
        #: batch -> its 200 answer
        self.acked: dict[int, Answer] = {}
        #: batches sent at least once
        self.sent: set[int] = set()
        self._in_flight: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "Ingest":
        self._threads = [threading.Thread(target=self._client, args=(k,), name=f"ingest-{k}", daemon=True)
                         for k in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = REQUEST_TIMEOUT + 10) -> None:
        """Sends nothing new; waits for the requests in flight to be answered."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"clients still waiting for an answer: {stuck}")

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def n_acked(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait(self, probe: Callable[["Ingest"], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not probe(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s ({self.n_acked()} batches acknowledged)")
            time.sleep(0.05)

    def _client(self, k: int) -> None:
        b = k
        with httpx.Client(timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Bearer {self.token}"}) as c:
            while not self._stop.is_set():
                body = batch_body(self.run, b)
                with self._lock:
                    self.sent.add(b)
                    self._in_flight[k] = time.monotonic()
                started = time.monotonic()
                try:
                    r = c.post(f"{self.url}/v1/graphs/{self.graph}/interactions", json=body)
                except httpx.HTTPError as e:
                    a = Answer(b, k, started, time.monotonic(), None, error=type(e).__name__)
                else:
                    a = Answer(b, k, started, time.monotonic(), r.status_code, r.headers.get("retry-after"),
                               r.headers.get("content-type"))
                    if r.status_code == 200:
                        j = r.json()
                        a.accepted, a.duplicates = j.get("accepted"), j.get("duplicates")
                    else:
                        a.error = r.text[:2000]
                with self._lock:
                    self._in_flight.pop(k, None)
                    self.answers.append(a)
                    if a.status == 200:
                        self.acked[b] = a
                if a.status == 200:
                    b += self.clients
                else:
                    self._stop.wait(self.pause)


# ---------------------------------------------------------------- checking


def presence(store, graph: str, run: str, batches) -> dict[int, int]:
    """Batch -> how many of its ids the store holds (read back through the store API)."""
    stored = {it.id for it in store.iter_interactions(graph) if it.id.startswith(f"{run}-")}
    return {b: sum(i in stored for i in batch_ids(run, b)) for b in batches}


@dataclass
class FaultRun:
    name: str
    graph: str
    run: str
    answers: list[Answer]
    sent: list[int]
    acked: list[int]
    present: dict[int, int]
    #: monotonic moments: the fault injected, its end (Neo4j answering again, or the new
    #: serve started), the end of the run
    fault_at: float
    fault_over_at: float
    #: what was measured besides (pids, in-flight requests at the fault, ...)
    notes: dict = field(default_factory=dict)

    # the verdict ------------------------------------------------------------------
    @property
    def lost(self) -> list[int]:
        return sorted(b for b in self.acked if self.present.get(b, 0) != BATCH)

    @property
    def partial(self) -> list[int]:
        return sorted(b for b, n in self.present.items() if 0 < n < BATCH)

    @property
    def partial_on_resend(self) -> list[int]:
        """Batches whose acknowledgement after a failed send found some, not all, of its
        items stored already."""
        failed = {a.batch for a in self.answers if a.status != 200}
        return sorted(b for b in failed if b in self.acked and self.acked_answer(b).duplicates not in (0, BATCH))

    def acked_answer(self, b: int) -> Answer:
        return next(a for a in self.answers if a.batch == b and a.status == 200)

    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]

    @property
    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.answers:
            key = str(a.status) if a.status is not None else "no answer"
            out[key] = out.get(key, 0) + 1
        return out

    @property
    def first_failure(self) -> float | None:
        """The start of the first request that failed (it may have been in flight when the
        fault came)."""
        return min((a.started for a in self.failed), default=None)

    @property
    def recovered_at(self) -> float | None:
        """The end of the first 200 to a request sent after a client was first told of a
        failure (none succeeds between that and the recovery: a stopping Neo4j takes no new
        transaction, a killed serve no request)."""
        told = min((a.ended for a in self.failed), default=None)
        if told is None:
            return None
        return min((a.ended for a in self.answers if a.status == 200 and a.started > told), default=None)

    @property
    def unavailable_s(self) -> float | None:
        first, back = self.first_failure, self.recovered_at
        return None if first is None or back is None else back - first

    @property
    def recover_s(self) -> float | None:
        back = self.recovered_at
        return None if back is None else back - self.fault_over_at

    @property
    def longest_failed_s(self) -> float:
        return max((a.took for a in self.failed), default=0.0)

    @property
    def longest_s(self) -> float:
        return max((a.took for a in self.answers), default=0.0)

    @property
    def longest_ok_s(self) -> float:
        return max((a.took for a in self.answers if a.status == 200), default=0.0)

    def row(self) -> dict:
        return {
            "run": self.name, "batches_sent": len(self.sent), "acknowledged": len(self.acked),
            "present_after": sum(1 for n in self.present.values() if n == BATCH),
            "absent_after": sum(1 for n in self.present.values() if n == 0),
            "lost": len(self.lost), "partial": len(self.partial) + len(self.partial_on_resend),
            "answers": self.statuses, "answers_503": self.statuses.get("503", 0),
            "unavailable_s": _r(self.unavailable_s), "recover_s": _r(self.recover_s),
            "longest_failed_s": _r(self.longest_failed_s), "longest_ok_s": _r(self.longest_ok_s),
            "longest_s": _r(self.longest_s),
            "resent_after_commit": sum(1 for b in self.acked if b in {a.batch for a in self.failed}
                                       and self.acked_answer(b).duplicates == BATCH),
            **self.notes,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _create_graph(serve: Serve, graph: str) -> None:
    with serve.client() as c:
        r = c.post("/v1/graphs", json={"id": graph})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"creating {graph}: {r.status_code} {r.text}")


# ---------------------------------------------------------------- the two runs


def neo4j_stop_run(neo: OwnNeo4j, work: Path, *, graph: str = "faults-stop", run: str = "stop",
                   outage: float = OUTAGE, clients: int = CLIENTS, serve_env: dict[str, str] | None = None,
                   during_outage: Callable[[Serve], None] | None = None,
                   after_recovery: Callable[[Serve], None] | None = None) -> FaultRun:
    """Neo4j stopped mid-ingest for ``outage`` seconds and started again; the same serve
    process throughout. ``during_outage(serve)`` runs while Neo4j is down,
    ``after_recovery(serve)`` once the clients stopped (tests probe there)."""
    work.mkdir(parents=True, exist_ok=True)
    serve = Serve(base_environment(work / "data", neo.env | (serve_env or {})), work / "serve.log").start()
    try:
        _create_graph(serve, graph)
        pid = serve.proc.pid
        ingest = Ingest(serve.url, serve.token, graph, run, clients=clients).start()
        try:
            ingest.wait(lambda i: i.n_acked() >= WARMUP, 180, "the ingest warming up")
            in_flight = ingest.in_flight()
            fault_at = time.monotonic()
            neo.stop()
            stopped_at = time.monotonic()
            if during_outage is not None:
                during_outage(serve)
            time.sleep(max(0.0, outage - (time.monotonic() - stopped_at)))
            down_for = time.monotonic() - stopped_at
            neo.start()
            back_at = time.monotonic()
            acked_then = ingest.n_acked()
            ingest.wait(lambda i: i.n_acked() >= acked_then + WARMUP, 180, "the ingest after Neo4j came back")
        finally:
            ingest.stop()
        alive = serve.proc.poll() is None and serve.proc.pid == pid
        if after_recovery is not None:
            after_recovery(serve)
        store = neo.store()
        try:
            present = presence(store, graph, run, sorted(ingest.sent))
        finally:
            store.close()
        return FaultRun("neo4j-stop", graph, run, ingest.answers, sorted(ingest.sent), sorted(ingest.acked), present,
                        fault_at, back_at, notes={
                            "in_flight_at_fault": in_flight, "neo4j_stop_s": _r(stopped_at - fault_at),
                            "neo4j_down_s": _r(down_for), "neo4j_start_s": _r(back_at - stopped_at - down_for),
                            "same_serve_process": alive, "serve_pid": pid, "serve_log": str(serve.log)})
    finally:
        serve.stop()


def serve_kill_run(neo: OwnNeo4j, work: Path, *, graph: str = "faults-kill", run: str = "kill",
                   clients: int = CLIENTS, serve_env: dict[str, str] | None = None) -> FaultRun:
    """``castlegate serve`` and its worker killed with SIGKILL mid-ingest; a new serve on
    the same port and data folder; the clients carry on."""
    work.mkdir(parents=True, exist_ok=True)
    env = base_environment(work / "data", neo.env | (serve_env or {}))
    first = Serve(env, work / "serve.log").start()
    second = None
    try:
        _create_graph(first, graph)
        ingest = Ingest(first.url, first.token, graph, run, clients=clients).start()
        try:
            ingest.wait(lambda i: i.n_acked() >= WARMUP, 180, "the ingest warming up")
            ingest.wait(lambda i: i.in_flight() >= min(clients, 2), 30, "requests in flight")
            in_flight = ingest.in_flight()
            fault_at = time.monotonic()
            killed = first.kill9()
            killed_at = time.monotonic()
            acked_at_kill = ingest.n_acked()
            second = Serve(env, work / "serve.log", port=first.port, token=first.token)
            restart_at = time.monotonic()
            second.start()
            ready_at = time.monotonic()
            ingest.wait(lambda i: i.n_acked() >= acked_at_kill + WARMUP, 180, "the ingest after the restart")
        finally:
            ingest.stop()
        store = neo.store()
        try:
            present = presence(store, graph, run, sorted(ingest.sent))
        finally:
            store.close()
        return FaultRun("serve-kill", graph, run, ingest.answers, sorted(ingest.sent), sorted(ingest.acked), present,
                        fault_at, restart_at, notes={
                            "in_flight_at_fault": in_flight, "killed_pids": killed,
                            "kill_s": _r(killed_at - fault_at), "serve_start_s": _r(ready_at - restart_at),
                            "serve_log": str(first.log)})
    finally:
        first.stop()
        if second is not None:
            second.stop()


# ---------------------------------------------------------------- the report


def machine() -> dict:
    from bench.ingest import machine as m

    return m()


def render(result: dict) -> str:
    rows = result["runs"]
    m = result["machine"]
    out = [
        "# Neo4j faults during ingest",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB; "
        f"Neo4j {result['neo4j_version']} (the project's launcher, {result['heap']} heap, {result['pagecache']} "
        f"page cache), neo4j driver {result['driver']}. `python -m bench.faults` ({result['at']}).",
        "",
        f"{result['clients']} client threads POST batches of {BATCH} interactions with deterministic ids to a real "
        "`castlegate serve` (with its embedded worker); an unacknowledged batch is sent again after "
        f"{PAUSE} s. **neo4j-stop**: Neo4j is stopped (clean stop) mid-ingest, kept down "
        f"{result['outage_s']:.0f} s and started again; castlegate is not restarted. **serve-kill**: the serve "
        "process and its worker get SIGKILL mid-ingest; a new serve starts on the same port. Presence is read "
        "back through the store API (`iter_interactions`) afterwards.",
        "",
        "| run | batches sent | acknowledged | present after | lost | partial | 503 answers | other failures "
        "| unavailability seen by clients (s) | recovered after (s) | longest failed request (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        other = {k: v for k, v in r["answers"].items() if k not in ("200", "503")}
        other_text = ", ".join(f"{v} x {k}" for k, v in other.items()) or "none"
        recover = (f"{r['recover_s']} after Neo4j was back" if r["run"] == "neo4j-stop"
                   else f"{r['recover_s']} after the new serve was started (Neo4j stayed up)")
        out.append(f"| {r['run']} | {r['batches_sent']} | {r['acknowledged']} | {r['present_after']} | "
                   f"{r['lost']} | {r['partial']} | {r['answers_503']} | {other_text} | {r['unavailable_s']} | "
                   f"{recover} | {r['longest_failed_s']} |")
    stop = next((r for r in rows if r["run"] == "neo4j-stop"), None)
    kill = next((r for r in rows if r["run"] == "serve-kill"), None)
    out += ["", "What the columns mean: *present after*: batches whose ids are all in the store; *lost*: "
            "acknowledged batches not wholly there (must be 0); *partial*: batches neither wholly there nor "
            "wholly absent, at the end or as seen by a re-send's `duplicates` (must be 0); *unavailability*: "
            "from the start of the first request that failed to the first 200 of a request sent after it; "
            "*recovered after*: from Neo4j answering again (the launcher's start returned), or from the new "
            "serve's start command, to that 200.", ""]
    if stop:
        out += [f"- neo4j-stop: {stop['in_flight_at_fault']} requests in flight when the stop began; Neo4j took "
                f"{stop['neo4j_stop_s']} s to stop, was down {stop['neo4j_down_s']} s and took {stop['neo4j_start_s']} s "
                f"to start. Every failed answer was 503 with `Retry-After` and problem JSON: "
                f"{stop['all_failures_503_problem']}. The same serve process answered throughout and after: "
                f"{stop['same_serve_process']}. Longest 503: {stop['longest_failed_s']} s (a batch in flight when "
                f"the clean stop began: the server's shutdown first, then the driver's retries); longest 200: "
                f"{stop['longest_ok_s']} s (a batch sent while Neo4j was down, kept in the driver's retries until it "
                f"answered, then written by the freshly started server, whose first transactions plan their "
                f"queries anew: ~3 s for the first batch alone, 0.15 s once warm). Batches re-sent after a failed "
                f"attempt that turned out to be committed already (all {BATCH} duplicates): "
                f"{stop['resent_after_commit']}."]
    if kill:
        out += [f"- serve-kill: {kill['in_flight_at_fault']} requests in flight when {len(kill['killed_pids'])} "
                f"processes (serve, worker and its children) got SIGKILL; the new serve was ready after "
                f"{kill['serve_start_s']} s. Clients saw connection errors meanwhile, no HTTP error. Batches re-sent "
                f"after the kill that had been committed before it (all {BATCH} duplicates): "
                f"{kill['resent_after_commit']}."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outage", type=float, default=OUTAGE, help="seconds Neo4j stays stopped")
    p.add_argument("--clients", type=int, default=CLIENTS)
    p.add_argument("--keep-work", action="store_true", help=f"keep {WORK} (Neo4j's data, the serve logs)")
    args = p.parse_args(argv)

    import neo4j

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    neo = OwnNeo4j(WORK / "neo4j")
    neo.start()
    runs = []
    try:
        for fn in (neo4j_stop_run, serve_kill_run):
            kw = {"outage": args.outage} if fn is neo4j_stop_run else {}
            fr = fn(neo, WORK / fn.__name__, clients=args.clients, **kw)
            row = fr.row()
            row["all_failures_503_problem"] = all(
                a.status == 503 and a.retry_after and (a.content_type or "").startswith("application/problem+json")
                for a in fr.failed if a.status is not None)
            row["no_500"] = not any(a.status is not None and a.status >= 500 and a.status != 503 for a in fr.answers)
            runs.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "killed_pids"}), flush=True)
        version = neo.local.status().get("version")
    finally:
        neo.stop()
    cfg = neo.local.config
    result = {"at": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine(), "neo4j_version": version,
              "heap": cfg.heap, "pagecache": cfg.pagecache, "driver": neo4j.__version__, "clients": args.clients,
              "batch": BATCH, "outage_s": args.outage, "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "faults.md").write_text(render(result))
    print(render(result))
    if not args.keep_work:
        shutil.rmtree(WORK, ignore_errors=True)
    bad = [r["run"] for r in runs if r["lost"] or r["partial"] or not r["no_500"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
