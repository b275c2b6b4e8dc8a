"""The audit scheduler: runs due audits and delivers their webhooks.

It runs in every worker process (``castlegate worker``, and the one ``castlegate serve``
starts), unless ``CASTLEGATE_SCHEDULER=off``; any number of them may share one store. Each
``tick``:

1. ``claim_due``: every due schedule gets one queued run for its slot (the store makes
   sure a slot is queued once, whichever process gets there first);
2. ``claim_runs``: queued runs (and runs whose process died) are leased and executed on
   the run thread, one at a time: a run asks for the account's diversity answer (a job on
   the analysis queue, sharing cached stages with the API) and records it;
3. ``claim_deliveries``: due webhook deliveries are leased and sent on the delivery
   threads, each bounded by a timeout, so a slow or dead receiver holds one delivery
   thread at most ``webhook_timeout`` seconds and never an audit run.

Time comes from an injectable clock; leases are in clock time and renewed while a run
works. A background thread calls ``tick`` every ``poll`` seconds and at once when woken
(a manual run, a finished run with a webhook).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable


import msgspec

from graph.audits import runner
from graph.audits.clock import Clock
from graph.audits.model import AuditRun, Delivery, DeliveryAttempt, DeliveryStatus
from graph.errors import NotFound, StoreUnavailable
from graph.store.port import AuditStore
from graph.usecases import audit_run
from service import webhooks
from service.secrets import SecretBox, SecretUnreadable, is_encrypted, secret_box
from service.settings import Settings

log = logging.getLogger("castlegate.scheduler")

__all__ = ["Scheduler", "SchedulerConfig", "backoff"]


@dataclass(frozen=True)
class SchedulerConfig:
    #: seconds between ticks when nothing wakes the scheduler
    poll: float = 1.0
    #: only these graphs (None: all)
    graphs: tuple[str, ...] | None = None
    #: how long a claimed run is ours without renewal (clock time)
    run_lease: timedelta = timedelta(minutes=2)
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 10
    #: wait before the first retry; doubles per attempt up to ``webhook_backoff_cap``
    webhook_backoff: timedelta = timedelta(seconds=10)
    webhook_backoff_cap: timedelta = timedelta(hours=1)
    delivery_threads: int = 8
    #: deliver to private, loopback and link-local addresses
    allow_private: bool = False
    #: opens the webhook secrets the store keeps encrypted (``service.secrets``); None:
    #: only plaintext secrets can be read (an encrypted one fails the attempt)
    secret_box: SecretBox | None = None


def backoff(failed_attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Wait after the ``failed_attempts``-th failure: ``base * 2**(n-1)``, at most ``cap``.

    >>> [backoff(n, timedelta(seconds=10), timedelta(hours=1)).seconds for n in (1, 2, 3, 9, 10)]
    [10, 20, 40, 2560, 3600]
    """
    return min(cap, base * 2 ** (failed_attempts - 1))


class Scheduler:
    def __init__(self, store: AuditStore, clock: Clock, diversity_for: audit_run.DiversityFor,
                 config: SchedulerConfig = SchedulerConfig(), *, owner: str | None = None) -> None:
        self.store = store
        self.clock = clock
        #: ``diversity_for(graph, params, account)``: the answer a run records
        self.diversity_for = diversity_for
        self.config = config
        #: this process in the store's leases
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._runs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-run")
        self._sends = ThreadPoolExecutor(max_workers=config.delivery_threads, thread_name_prefix="webhook")
        self._in_flight: set[Future] = set()
        self._running: Future | None = None
        #: the run this process works on, whose lease the renewer keeps
        self._held: str | None = None
        self._renewer: threading.Thread | None = None
        self._sending: set[Future] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the clock time of the last tick that completed, for /ready
        self.last_tick: datetime | None = None
        self.ticks = 0
        #: called after every completed tick (the worker reports the clock to /ready)
        self.on_tick: Callable[[], None] | None = None

    # the loop ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler started", extra={"owner": self.owner, "clock": repr(self.clock),
                                              "graphs": self.config.graphs})

    def wake(self) -> None:
        self._wake.set()

    def stop(self, wait_seconds: float = 5.0) -> None:
        """Stops ticking and waits briefly for work in flight; what does not finish keeps
        its lease until it expires, then another scheduler takes it over."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait_seconds)
        self.drain(wait_seconds)
        self._runs.shutdown(wait=False, cancel_futures=True)
        self._sends.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as e:  # a store hiccup must not kill the scheduler
                # the stack once per outage, not once per poll while the store is down
                if not failing:
                    log.exception("scheduler tick failed; retrying every poll")
                else:
                    log.debug("scheduler tick failed again", extra={"error": str(e)})
                failing = True
            else:
                if failing:
                    log.info("scheduler ticks again")
                failing = False
            self._wake.wait(self.config.poll)
            self._wake.clear()

    # one pass ------------------------------------------------------------------------
    def tick(self) -> int:
        """Queues due slots, starts a run if none is running, starts due deliveries up to
        the free delivery threads. Returns without waiting for the work it started: how
        many runs were queued plus runs and deliveries started."""
        started = 0
        now = self.clock.now()
        cfg = self.config
        queued = self.store.claim_due(now, runner.plan, graphs=cfg.graphs)
        started += len(queued)
        for run in queued:
            log.info("audit due", extra={"graph": run.graph, "audit": run.audit, "slot": run.slot.isoformat()})
        with self._lock:
            run_free = self._running is None or self._running.done()
        if run_free:
            claimed = self.store.claim_runs(now, self.owner, now + cfg.run_lease, graphs=cfg.graphs, limit=1)
            if claimed:
                with self._lock:
                    self._running = self._submit(self._runs, self._execute, claimed[0])
                started += 1
        with self._lock:
            self._sending = {f for f in self._sending if not f.done()}
            free = cfg.delivery_threads - len(self._sending)
        if free > 0:
            lease = timedelta(seconds=2 * cfg.webhook_timeout + 30)
            for d in self.store.claim_deliveries(now, self.owner, now + lease, graphs=cfg.graphs, limit=free):
                with self._lock:
                    self._sending.add(self._submit(self._sends, self._deliver, d))
                started += 1
        with self._lock:
            self._in_flight = {f for f in self._in_flight if not f.done()}
        self.last_tick = now
        self.ticks += 1
        if self.on_tick is not None:
            self.on_tick()
        return started

    def _submit(self, pool: ThreadPoolExecutor, fn, item) -> Future:
        # called with self._lock held
        f = pool.submit(fn, item)
        self._in_flight.add(f)
        f.add_done_callback(_log_failure)
        return f

    def drain(self, timeout: float | None = None) -> bool:
        """Waits for the runs and deliveries started so far (tests, shutdown). True when
        all finished."""
        with self._lock:
            pending = set(self._in_flight)
        done, not_done = wait(pending, timeout=timeout)
        return not not_done

    # the work ------------------------------------------------------------------------
    def _execute(self, run: AuditRun) -> None:
        self._hold(run.id)
        try:
            try:
                audit = self.store.get_audit(run.graph, run.audit)
            except NotFound:
                return  # deleted meanwhile, with its runs
            try:
                outcome = audit_run.execute(audit, self.diversity_for)
            except StoreUnavailable as e:
                # an outage is not the run's fault: it is not finished, its lease runs out
                # and it is run again (its slot keeps its one run)
                log.warning("store unavailable during an audit run; it is run again after its lease",
                            extra={"run": run.id, "audit": run.audit, "error": str(e)})
                return
            except Exception as e:  # recorded on the run; the scheduler goes on
                log.warning("audit run failed", extra={"run": run.id, "audit": run.audit, "error": str(e)},
                            exc_info=not isinstance(e, audit_run.RunFailed))
                outcome = audit_run.Outcome("failed", None, None, str(e) or type(e).__name__)
            finished = msgspec.structs.replace(
                run, status=outcome.status, graph_version=outcome.graph_version, result=outcome.result,
                error=outcome.error, finished_at=self.clock.now(),
            )
            deliveries: list[Delivery] = []
            if audit.webhook_url:
                history = [finished] + [r for r in self.store.list_runs(run.graph, run.audit, limit=1000)
                                        if r.id != run.id]
                did = secrets.token_hex(8)
                deliveries.append(Delivery(
                    id=did, graph=run.graph, audit=run.audit, run=run.id, url=audit.webhook_url,
                    event=runner.EVENTS[finished.status], body=runner.webhook_body(audit, finished, did, history),
                    next_attempt_at=finished.finished_at, created_at=finished.finished_at,
                ))
            if self.store.finish_run(finished, self.owner, deliveries):
                log.info("audit run finished", extra={"run": run.id, "audit": run.audit, "status": finished.status})
                if deliveries:
                    self.wake()
            else:
                log.warning("audit run lease lost; another scheduler finished it", extra={"run": run.id})
        finally:
            self._hold(None)

    def _hold(self, run_id: str | None) -> None:
        with self._lock:
            self._held = run_id
            if run_id is not None and self._renewer is None:
                # one renewer for the life of the scheduler (one store connection), not
                # one thread per run
                self._renewer = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        # renew at a third of the lease in real seconds, so that a slow analysis keeps its
        # run while a dead process' run is free again within one lease
        every = max(0.5, self.config.run_lease.total_seconds() / 3)
        while not self._stop.wait(every):
            run_id = self._held
            if run_id is None:
                continue
            try:
                self.store.renew_run(run_id, self.owner, self.clock.now() + self.config.run_lease)
            except Exception:
                log.exception("renewing a run lease failed", extra={"run": run_id})

    def _deliver(self, d: Delivery) -> None:
        try:
            audit = self.store.get_audit(d.graph, d.audit)
        except NotFound:
            return
        cfg = self.config
        now = self.clock.now()
        if audit.webhook_url != d.url:
            # removed or moved since the run: the old receiver has no business getting it,
            # and the new one never asked for runs from before it was set
            reason = "removed" if audit.webhook_url is None else "moved to another URL"
            attempt = DeliveryAttempt(number=len(d.attempts) + 1, at=now, duration_ms=0.0,
                                      error=f"not sent: the audit's webhook was {reason}", delivered=False)
            self.store.record_attempt(d.id, self.owner, attempt, status=DeliveryStatus.CANCELLED, next_attempt_at=None)
            return
        try:
            secret = self._secret(audit.webhook_secret)
        except SecretUnreadable as e:
            # never sent unsigned; retried, in case the operator gives the key back
            log.error("webhook secret unreadable; not sent", extra={"delivery": d.id, "audit": d.audit, "error": str(e)})
            attempt = DeliveryAttempt(number=len(d.attempts) + 1, at=now, duration_ms=0.0, error="error",
                                      delivered=False)
        else:
            attempt = webhooks.send(d, secret, now, cfg.webhook_timeout, allow_private=cfg.allow_private)
        if attempt.delivered:
            status, next_at = DeliveryStatus.DELIVERED, None
        elif attempt.number >= cfg.webhook_max_attempts:
            status, next_at = DeliveryStatus.FAILED, None
        else:
            status = DeliveryStatus.PENDING
            next_at = attempt.at + backoff(attempt.number, cfg.webhook_backoff, cfg.webhook_backoff_cap)
        if not self.store.record_attempt(d.id, self.owner, attempt, status=status, next_attempt_at=next_at):
            log.warning("delivery lease lost before the attempt was recorded", extra={"delivery": d.id})
        log.info("webhook attempt", extra={"delivery": d.id, "attempt": attempt.number,
                                           "status_code": attempt.status_code, "outcome": status})

    def _secret(self, stored: str | None) -> str | None:
        """The webhook secret as stored (a Fernet token, or plaintext from before
        encryption) in the clear. Raises ``SecretUnreadable``."""
        if not stored:
            return None
        box = self.config.secret_box
        if box is None:
            if is_encrypted(stored):
                raise SecretUnreadable("the secret is encrypted and this scheduler has no key")
            return stored
        return box.decrypt(stored)


def config_from(settings: Settings) -> SchedulerConfig:
    graphs = tuple(g.strip() for g in (settings.scheduler_graphs or "").split(",") if g.strip())
    return SchedulerConfig(
        poll=settings.scheduler_poll, graphs=graphs or None, run_lease=timedelta(seconds=settings.audit_lease),
        webhook_timeout=settings.webhook_timeout, webhook_max_attempts=settings.webhook_max_attempts,
        webhook_backoff=timedelta(seconds=settings.webhook_backoff),
        allow_private=settings.webhook_allow_private, secret_box=secret_box(settings),
    )


def _log_failure(f: Future) -> None:
    # work that raised past its own handling (a store error while recording) would
    # otherwise vanish inside the Future; its lease runs out and it is tried again
    if not f.cancelled() and f.exception() is not None:
        log.error("scheduled work failed; it is retried after its lease", exc_info=f.exception())

