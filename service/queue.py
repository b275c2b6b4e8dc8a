"""The task queue: huey carries "run job X" messages from the API to the workers.

huey, because one well-kept library gives both backends castlegate needs: Redis for
deployments of many replicas and workers, and SQLite for the one-command default, with the
same consumer. What huey does not offer (cancelling a running task, a lease that survives a
dead worker, job state a client can list) lives in the job store (``graph.jobs``); a
message only names a job, and a message for a job that is no longer queued does nothing.
"""

from __future__ import annotations

from typing import Callable

from huey import Huey, RedisHuey, SqliteHuey

from service.settings import Settings

__all__ = ["Queue", "TASK_NAME"]

TASK_NAME = "castlegate.run_job"

#: what a worker process does with a message (set by the worker; None in API processes,
#: which only enqueue)
_runner: Callable[[str], None] | None = None


def _run_job(job_id: str) -> None:
    if _runner is None:  # pragma: no cover - a consumer without a worker behind it
        raise RuntimeError("this process runs no worker")
    _runner(job_id)


class Queue:
    def __init__(self, settings: Settings) -> None:
        self.huey: Huey
        if settings.redis_url:
            # blocking pops: a worker takes a message the moment it is enqueued
            self.huey = RedisHuey(settings.queue_name, url=settings.redis_url, blocking=True,
                                  results=False, utc=True)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(settings.queue_name, filename=str(settings.data_dir / f"{settings.queue_name}-queue.sqlite"),
                                   results=False, utc=True)
        self.kind = settings.queue_kind
        self._task = self.huey.task(name=TASK_NAME)(_run_job)

    def enqueue(self, job_id: str) -> str:
        """Puts a message for the job on the queue; returns the message id."""
        task = self._task.s(job_id)
        self.huey.enqueue(task)
        return task.id

    def pending(self) -> int:
        return self.huey.pending_count()

    def consume(self, runner: Callable[[str], None], *, workers: int) -> None:
        """Runs messages through ``runner`` on ``workers`` threads until SIGINT/SIGTERM
        (blocks; call from the main thread)."""
        global _runner
        _runner = runner
        consumer = self.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=False,
            # SQLite is polled: a short, flat delay keeps an idle worker quick to answer
            initial_delay=0.05, backoff=1.2, max_delay=0.5,
        )
        consumer.run()

    def close(self) -> None:
        self.huey.storage.close()
