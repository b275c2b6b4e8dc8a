"""The one place castlegate is wired: the stores, the queue and the analyses facade, opened
from settings, for the app (``service/app.py``) and the CLI (``serve``, ``worker``,
``demo``, ``ingest``) alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.errors import StoreUnavailable
from graph.jobs.port import JobStore
from graph.store.port import Store
from service.settings import Settings

if TYPE_CHECKING:
    from service.analyses import Analyses
    from service.queue import Queue

log = logging.getLogger("castlegate")


@dataclass
class Services:
    settings: Settings
    #: the graph store: graphs, their interactions, audits
    store: Store
    #: jobs, leases, the result cache, the worker roll-call
    jobs: JobStore
    queue: "Queue"
    analyses: "Analyses"
    #: why the graph store's schema could not be made at start-up (None: it was)
    store_error: str | None = None
    own_store: bool = True

    def close(self) -> None:
        self.jobs.close()
        self.queue.close()
        if self.own_store:
            self.store.close()


def open_services(settings: Settings, store: Store | None = None) -> Services:
    """Opens everything a process serves or works with. A ``store`` handed in is used as
    is (and not closed by ``Services.close``). A store that does not answer yet is not an
    error here: ``store_error`` says why, ``/ready`` answers 503, work retries."""
    from service.analyses import Analyses
    from service.queue import Queue

    if not settings.secret_key and (settings.neo4j_uri or settings.redis_url):
        # a shared deployment needs one key everywhere: keys and webhook secrets written by
        # one machine must be readable on the others
        log.warning("CASTLEGATE_SECRET_KEY is not set: this machine uses the key in its data folder;"
                    " give every process of a deployment the same CASTLEGATE_SECRET_KEY")
    own = store is None
    store = open_store(settings) if own else store
    error = None
    ensure = getattr(store, "ensure_schema", None)
    if ensure is not None:
        try:
            ensure()
        except StoreUnavailable as e:
            error = str(e)
            log.warning("store not ready at start-up", extra={"error": error})
    jobs = open_job_store(settings)
    queue = Queue(settings)
    analyses = Analyses(store, jobs, queue.enqueue, wait=settings.answer_wait,
                        max_null_samples=settings.max_null_samples, max_active=settings.max_active_jobs,
                        hot_bytes=settings.hot_answers_bytes)
    return Services(settings, store, jobs, queue, analyses, error, own)


def open_store(settings: Settings) -> Store:
    """Neo4j when ``NEO4J_URI`` is set, else the embedded sqlite file.

    With only ``NEO4J_URI`` set and it pointing at the project's own local server, the
    credentials come from that server's credentials file, the same one ``castlegate neo4j
    start`` writes, so both commands read one local config.
    """
    if settings.neo4j_uri:
        from graph.store.neo4j import Neo4jStore

        user, password = settings.neo4j_user, settings.neo4j_password
        if password is None:
            from service.neo4j_local import local_credentials_for

            creds = local_credentials_for(settings.neo4j_uri)
            if creds is None:
                raise SystemExit(
                    f"NEO4J_URI={settings.neo4j_uri} is not the local server started by"
                    " 'castlegate neo4j start'; set NEO4J_PASSWORD (and NEO4J_USER)"
                )
            user, password = creds.user, creds.password
        return Neo4jStore(settings.neo4j_uri, user, password, settings.neo4j_database)
    from graph.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


def open_job_store(settings: Settings) -> JobStore:
    """Redis when ``REDIS_URL`` is set (every replica and worker shares it), else a SQLite
    file beside the embedded store (processes of one machine share it)."""
    if settings.redis_url:
        from graph.jobs.redis import RedisJobStore

        return RedisJobStore(settings.redis_url, prefix=f"{settings.queue_name}:",
                             max_result_bytes=settings.results_max_bytes)
    from graph.jobs.sqlite import SqliteJobStore

    return SqliteJobStore(settings.data_dir / f"{settings.queue_name}-jobs.sqlite",
                          max_result_bytes=settings.results_max_bytes)
