"""A worker process: takes analysis jobs off the queue and runs each in a child process.

Why a child process per job: it is the only way to stop an analysis at once. Louvain or a
rewiring inside igraph does not look at a flag; killing its process frees the cores in
milliseconds, so a cancelled job (``DELETE /v1/analyses/{job}``, or its graph deleted) or
one past ``CASTLEGATE_JOB_TIME_LIMIT`` is really stopped. Children come from a fork server
that has the analysis libraries imported already (a few milliseconds per child), run at a
lower CPU priority than the API and this supervisor, and die with their worker.

The thread that took the message supervises its child: it renews the job's lease in the
job store every second (and learns there that the job was cancelled), relays progress,
enforces the time limit, and records the outcome as a one-line reason, never a traceback.
Besides the consumer threads, every worker process runs:

* the roll-call: it reports itself to the job store (``/ready`` lists live workers) and,
  as janitor, hands the jobs of workers that died (expired leases) back to the queue, or
  fails them with a reason once they have cost too many workers;
* the audit scheduler (``service/scheduler.py``), whose runs ask for the diversity answer
  through the same jobs, so that audits and the API share results.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import threading
import time
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from typing import Any, Callable

import msgspec

from graph.analysis.params import AnalysisParams
from graph.errors import AccountNotFound, InvalidInput, NotFound, StoreUnavailable
from graph.jobs.model import ErrorKind, Job, JobStatus
from graph.jobs.port import JobStore, WorkerInfo
from graph.usecases.audit_run import RunFailed
from service.analyses import AnalysisFailed
from service.settings import Settings

log = logging.getLogger("castlegate.worker")

__all__ = ["Worker", "die_with_parent"]

#: seconds between lease renewals (and so the most a cancellation waits to be seen)
BEAT = 1.0
#: a job handed back this many times (its workers died) is failed instead
MAX_ATTEMPTS = 3
#: roll-call and janitor period, seconds
ROLL_CALL = 5.0
#: finished jobs kept: a day, at most this many
KEEP_SECONDS, KEEP_MAX = 86_400.0, 10_000

#: imported once by the fork server, so that a child starts in milliseconds
_PRELOAD = ["service.worker", "graph.usecases.analyse", "numpy", "scipy.sparse", "igraph", "networkit", "networkx"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (f"{type(e).__name__}: {text[0]}" if text else type(e).__name__)[:300]


class Worker:
    def __init__(self, settings: Settings, jobs: JobStore, enqueue, *, concurrency: int | None = None) -> None:
        self.settings = settings
        self.jobs = jobs
        #: ``enqueue(job_id) -> message id``: how a handed-back job returns to the queue
        self.enqueue = enqueue
        self.concurrency = concurrency or settings.worker_concurrency
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.started_at = _now()
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._roll: threading.Thread | None = None
        self._last_beat = 0.0
        #: the audit scheduler of this process, when it runs one (its clock goes in the
        #: roll-call)
        self.scheduler = None

    # the process' life -----------------------------------------------------------------
    def start(self) -> None:
        """Starts the fork server (so the first job does not wait for its imports) and the
        roll-call thread."""
        from multiprocessing import forkserver

        forkserver.ensure_running()
        self._beat()
        self._roll = threading.Thread(target=self._roll_call, name="roll-call", daemon=True)
        self._roll.start()
        log.info("worker started", extra={"owner": self.owner, "concurrency": self.concurrency,
                                          "queue": self.settings.queue_kind})

    def stop(self) -> None:
        """Stops the children and hands their jobs back to the queue at once (not after
        the lease), so a restart loses no job and delays it by seconds only."""
        self._stop.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    break
            time.sleep(0.05)
        try:
            self.jobs.drop_worker(self.owner)
        except Exception:
            log.warning("could not leave the roll-call", exc_info=True)
        log.info("worker stopped", extra={"owner": self.owner})

    # one job ---------------------------------------------------------------------------
    def execute(self, job_id: str) -> None:
        """Runs one job to its end (what the queue's consumer threads call)."""
        lease = self.settings.job_lease
        job = self.jobs.claim(job_id, self.owner, time.time() + lease, _now())
        if job is None:
            log.info("job not queued any more; skipped", extra={"job": job_id})
            return
        with self._lock:
            self._running[job.id] = job
        try:
            self._supervise(job)
        except Exception:  # the job store failed us: the lease runs out and the job is retried
            log.exception("supervising a job failed", extra={"job": job.id})
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _supervise(self, job: Job) -> None:
        cfg = self.settings
        recv, send = self._ctx.Pipe(duplex=False)
        child = self._ctx.Process(target=_child, args=(cfg, msgspec.to_builtins(job), send),
                                  name=f"analysis-{job.id}", daemon=True)
        child.start()
        send.close()
        started = time.monotonic()
        log.info("job started", extra={"job": job.id, "graph": job.graph, "target": job.target,
                                       "attempt": job.attempts, "pid": child.pid})
        stage, progress, outcome = job.stage, job.progress, None
        next_beat = started + BEAT
        try:
            while outcome is None:
                if recv.poll(0.25):
                    try:
                        msg = recv.recv()
                    except EOFError:  # the child is gone without a word
                        child.join(5)
                        outcome = ("error", ErrorKind.FAILED, _died(child.exitcode))
                        break
                    if msg[0] == "progress":
                        stage, progress = msg[1], msg[2]
                    else:
                        outcome = msg
                        break
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + BEAT
                    status = self.jobs.heartbeat(job.id, self.owner, time.time() + cfg.job_lease,
                                                 stage=stage, progress=progress)
                    if status != JobStatus.RUNNING:
                        _kill(child)
                        log.info("job stopped: it was cancelled", extra={"job": job.id, "status": status})
                        return
                if self._stop.is_set():
                    _kill(child)
                    self._hand_back(job)
                    return
                if now - started > cfg.job_time_limit:
                    _kill(child)
                    outcome = ("error", ErrorKind.TIME_LIMIT,
                               f"stopped after the time limit of {cfg.job_time_limit:g} s (CASTLEGATE_JOB_TIME_LIMIT)")
        finally:
            recv.close()
        child.join(5)
        if outcome[0] == "done":
            ok = self.jobs.finish(job.id, self.owner, JobStatus.DONE, now=_now(), result_key=outcome[1],
                                  graph_version=outcome[2])
        else:
            ok = self.jobs.finish(job.id, self.owner, JobStatus.FAILED, now=_now(), error_kind=outcome[1],
                                  error=outcome[2])
        log.info("job finished", extra={"job": job.id, "outcome": outcome[0], "recorded": ok,
                                        "seconds": round(time.monotonic() - started, 2),
                                        **({"error": outcome[2]} if outcome[0] != "done" else {})})

    def _hand_back(self, job: Job) -> None:
        # expire our own lease, then take the janitor's path back to the queue
        self.jobs.heartbeat(job.id, self.owner, 0.0)
        back = self.jobs.requeue(job.id, self.owner, max_attempts=MAX_ATTEMPTS + 1, now=_now())
        if back is not None and back.status == JobStatus.QUEUED:
            self.jobs.set_queue_id(job.id, self.enqueue(job.id))
            log.info("job handed back to the queue at shutdown", extra={"job": job.id})

    # audit runs -----------------------------------------------------------------------
    def diversity_via(self, analyses) -> Callable[[str, AnalysisParams, str], tuple[str, bytes]]:
        """The audit scheduler's ``DiversityFor`` in a worker: the account's diversity
        answer through a job, so that it is computed once for the API and the audits."""

        def diversity_for(graph: str, params: AnalysisParams, account: str) -> tuple[str, bytes]:
            try:
                out = analyses.answer(graph, params, "diversity", {"account": account},
                                      wait=self.settings.job_time_limit + 60)
            except AnalysisFailed as e:
                if e.job.error_kind == ErrorKind.NOT_FOUND:
                    raise AccountNotFound(graph, account) from None
                if e.job.error_kind == ErrorKind.UNAVAILABLE:
                    # not the run's fault: the scheduler leaves it to be run again
                    raise StoreUnavailable(e.job.error or "a store did not answer") from None
                raise RunFailed(f"analysis {e.job.error_kind}: {e.job.error}") from None
            if isinstance(out, Job):
                raise RunFailed(f"analysis job {out.id} did not finish in time (status {out.status})")
            return out.graph_version, out.body

        return diversity_for

    def tick_seen(self) -> None:
        """Called after each scheduler tick: reports it (at most twice a second), so that
        ``/ready`` shows the scheduler's clock."""
        if time.monotonic() - self._last_beat >= 0.5:
            try:
                self._beat()
            except Exception as e:
                log.warning("roll-call failed", extra={"error": _one_line(e)})

    # roll-call and janitor -------------------------------------------------------------
    def _beat(self) -> None:
        with self._lock:
            running = list(self._running)
        self._last_beat = time.monotonic()
        last_tick = self.scheduler.last_tick if self.scheduler is not None else None
        self.jobs.beat_worker(WorkerInfo(id=self.owner, host=socket.gethostname(), pid=os.getpid(),
                                         started_at=self.started_at, last_seen=_now(), running=running,
                                         concurrency=self.concurrency, last_tick=last_tick), ttl=3 * ROLL_CALL)

    def _roll_call(self) -> None:
        last_prune = 0.0
        while not self._stop.wait(ROLL_CALL):
            try:
                self._beat()
                self.reap()
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    self.jobs.prune(_now(), keep_seconds=KEEP_SECONDS, keep_max=KEEP_MAX)
            except Exception as e:  # the job store is down: try again next round
                log.warning("roll-call failed", extra={"error": _one_line(e)})

    def reap(self) -> int:
        """Hands the jobs of dead workers (expired leases) back to the queue, or fails
        them once they cost ``MAX_ATTEMPTS`` workers. Any worker may do it; the job store
        lets exactly one succeed per job."""
        n = 0
        for job in self.jobs.expired(time.time()):
            back = self.jobs.requeue(job.id, job.owner or "", max_attempts=MAX_ATTEMPTS, now=_now())
            if back is None:
                continue
            n += 1
            if back.status == JobStatus.QUEUED:
                self.jobs.set_queue_id(back.id, self.enqueue(back.id))
                log.warning("worker lost; job back in the queue", extra={"job": back.id, "lost": job.owner,
                                                                         "attempts": back.attempts})
            else:
                log.warning("worker lost again; job failed", extra={"job": back.id, "attempts": back.attempts})
        return n


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the analysis process was killed by {name}{hint}"
    return f"the analysis process exited with code {exitcode} before answering"


def _kill(child) -> None:
    if child.is_alive():
        child.kill()
    child.join(5)


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Asks Linux to SIGKILL this process when its parent dies, so that no analysis (or
    embedded worker) outlives the process that started it, even one killed with -9."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # pragma: no cover - not Linux
        pass


def _child(settings: Settings, job: dict, conn: Connection) -> None:
    """The analysis of one job, in its own process: the answer is filed in the job store
    and its key sent to the supervisor, or a one-line reason."""
    die_with_parent()
    # the API and the supervisors answer first when the cores are busy
    os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from graph.usecases.analyse import produce
    from service import logs
    from service.bootstrap import open_job_store, open_store

    logs.configure(settings.log_level, settings.log_format)
    from graph.analysis import parallel

    parallel.set_processes(settings.analysis_processes)
    store = cache = None
    try:
        store, cache = open_store(settings), open_job_store(settings)
        produced = produce(
            store, cache, job["graph"], msgspec.convert(job["params"], AnalysisParams), job["target"], job["args"],
            version=job["graph_version"], progress=lambda stage, done: conn.send(("progress", stage, round(done, 3))),
        )
        conn.send(("done", produced.result_key, produced.graph_version))
    except NotFound as e:
        conn.send(("error", ErrorKind.NOT_FOUND, str(e)))
    except InvalidInput as e:
        # "field: message; ...": the API turns it back into the problem's named errors
        conn.send(("error", ErrorKind.INVALID, "; ".join(f"{f.field}: {f.message}" for f in e.errors)[:300]
                   or _one_line(e)))
    except StoreUnavailable as e:
        conn.send(("error", ErrorKind.UNAVAILABLE, "a store did not answer while the analysis read the graph"))
        logging.getLogger("castlegate.worker").warning("store unavailable", extra={"job": job["id"],
                                                                                   "error": _one_line(e)})
    except Exception as e:  # the stack goes to the worker's log, one line to the client
        logging.getLogger("castlegate.worker").exception("analysis failed", extra={"job": job["id"]})
        conn.send(("error", ErrorKind.FAILED, _one_line(e)))
    finally:
        conn.close()
        for s in (store, cache):
            if s is not None:
                s.close()
