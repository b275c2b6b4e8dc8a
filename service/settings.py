"""One settings object, read from the environment and overridden by CLI flags.

Every option is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "castlegate"


@dataclass(frozen=True)
class Settings:
    #: where ``castlegate serve`` listens
    host: str = "127.0.0.1"
    port: int = 8000
    #: folder of the embedded sqlite store (used when no Neo4j is configured)
    data_dir: Path = field(default_factory=_default_data_dir)
    #: Neo4j: when ``neo4j_uri`` is set the service uses Neo4j instead of sqlite.
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    #: when unset and ``neo4j_uri`` is the project's local server, the password is read
    #: from that server's credentials file (written by ``castlegate neo4j start``)
    neo4j_password: str | None = None
    neo4j_database: str | None = None
    #: logging: level name, and "json" (one object per line) or "text"
    log_level: str = "INFO"
    log_format: str = "json"
    #: largest request body accepted, in bytes (413 beyond)
    max_body_bytes: int = 64 * 1024 * 1024
    #: an import (``POST .../imports``): bytes after decompression (the body as sent, too),
    #: lines (blank ones included) and records (interactions and accounts); 413 beyond
    import_max_bytes: int = 1 << 30
    import_max_lines: int = 10_000_000
    import_max_items: int = 10_000_000
    #: the task queue and the job store: Redis at this URL (production: shared by every
    #: replica and worker); unset means SQLite files in ``data_dir`` (one machine)
    redis_url: str | None = None
    #: names this deployment's queue and prefixes its job-store keys, so that several
    #: deployments (or test runs) can share one Redis
    queue_name: str = "castlegate"
    #: ``serve`` starts (and stops) one worker process of its own
    embedded_worker: bool = True
    #: the HTTP server ``serve`` runs the app on: "uvicorn" or "granian" (Rust; README
    #: "Benchmarks" measures both)
    server: str = "uvicorn"
    #: analyses one worker process runs at once (each in a child process of its own)
    worker_concurrency: int = 2
    #: processes one analysis may use for its independent pieces (null-model draws,
    #: role metrics); 0: one per core
    analysis_processes: int = 0
    #: seconds a job may run before it is stopped and failed
    job_time_limit: float = 3600.0
    #: seconds a worker holds a job without renewing it; a dead worker's job is handed
    #: back to the queue after this
    job_lease: float = 15.0
    #: on a cache miss, seconds the API waits for the worker's answer before it answers
    #: 202 with the job
    answer_wait: float = 2.0
    #: bytes of results (answers and stage results) kept; least recently used go first
    results_max_bytes: int = 1 << 30
    #: most degree-preserving rewirings one request may ask for (``null_samples``)
    max_null_samples: int = 100
    #: bytes of answers each API process keeps in its own memory (the most asked first)
    hot_answers_bytes: int = 64 << 20
    #: the Host names clients may use (comma-separated; "*.example.org" for subdomains,
    #: "*" for any); unset: the loopback names when ``host`` is loopback, else any
    allowed_hosts: str | None = None
    #: browser origins allowed to call the API (comma-separated); unset: none (no CORS)
    cors_origins: str | None = None
    #: requests per minute one API key may make (429 with Retry-After beyond)
    rate_limit: int = 1200
    #: queued plus running analysis jobs one graph may have (429 beyond)
    max_active_jobs: int = 50
    #: audits one graph may have
    max_audits: int = 100
    #: run the audit scheduler in this deployment's workers (off: no audits run)
    scheduler: bool = True
    #: seconds between scheduler ticks
    scheduler_poll: float = 1.0
    #: comma-separated graph ids this process schedules (unset: all)
    scheduler_graphs: str | None = None
    #: "system", or "file:PATH" (a file holding an RFC 3339 time: tests, rehearsals)
    clock: str = "system"
    #: one webhook attempt's time limit, seconds
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 10
    #: deliver to private, loopback and link-local addresses (off: refused, against SSRF)
    webhook_allow_private: bool = False
    #: seconds before the first webhook retry; doubled per attempt, at most an hour
    webhook_backoff: float = 10.0
    #: seconds a scheduler holds a run without renewing it (a dead process' run is taken
    #: over after this)
    audit_lease: float = 120.0
    #: the server's secret key (hex or urlsafe base64, at least 32 bytes): API key digests
    #: and the encryption of webhook secrets derive from it (``service.secrets``); unset:
    #: one made at the first start and kept in ``data_dir/secret.key``
    secret_key: str | None = field(default=None, repr=False)
    #: the key before a rotation: secrets encrypted under it are still read
    secret_key_previous: str | None = field(default=None, repr=False)
    #: where the shared test and benchmark data sets live (beside the repository)
    datasets_dir: Path = Path(__file__).resolve().parents[2] / "shared" / "datasets"

    @property
    def store_kind(self) -> str:
        return "neo4j" if self.neo4j_uri else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "castlegate.sqlite"

    @property
    def host_names(self) -> list[str]:
        from service.protect import default_hosts

        if self.allowed_hosts:
            return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        return default_hosts(self.host)

    @property
    def queue_kind(self) -> str:
        return "redis" if self.redis_url else "sqlite"

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables: what a child process (the worker
        ``serve`` starts, granian's worker building the app) needs to run with exactly the
        same configuration."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "on" if value else "off"
            out[_ENV_NAMES[f.name]] = str(value)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Environment first, then explicit overrides (CLI flags); ``None`` overrides are
        ignored so that an absent flag keeps the environment's value."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            raw = env.get(_ENV_NAMES[f.name])
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, raw)
        s = cls(**values)
        return replace(s, **{k: v for k, v in overrides.items() if v is not None})


_ENV_NAMES = {
    "host": "CASTLEGATE_HOST",
    "port": "CASTLEGATE_PORT",
    "data_dir": "CASTLEGATE_DATA_DIR",
    "neo4j_uri": "NEO4J_URI",
    "neo4j_user": "NEO4J_USER",
    "neo4j_password": "NEO4J_PASSWORD",
    "neo4j_database": "NEO4J_DATABASE",
    "log_level": "CASTLEGATE_LOG_LEVEL",
    "log_format": "CASTLEGATE_LOG_FORMAT",
    "max_body_bytes": "CASTLEGATE_MAX_BODY_BYTES",
    "import_max_bytes": "CASTLEGATE_IMPORT_MAX_BYTES",
    "import_max_lines": "CASTLEGATE_IMPORT_MAX_LINES",
    "import_max_items": "CASTLEGATE_IMPORT_MAX_ITEMS",
    "datasets_dir": "CASTLEGATE_DATASETS",
    "redis_url": "REDIS_URL",
    "queue_name": "CASTLEGATE_QUEUE_NAME",
    "embedded_worker": "CASTLEGATE_EMBEDDED_WORKER",
    "server": "CASTLEGATE_SERVER",
    "worker_concurrency": "CASTLEGATE_WORKER_CONCURRENCY",
    "analysis_processes": "CASTLEGATE_ANALYSIS_PROCESSES",
    "job_time_limit": "CASTLEGATE_JOB_TIME_LIMIT",
    "job_lease": "CASTLEGATE_JOB_LEASE",
    "answer_wait": "CASTLEGATE_ANSWER_WAIT",
    "results_max_bytes": "CASTLEGATE_RESULTS_MAX_BYTES",
    "max_null_samples": "CASTLEGATE_MAX_NULL_SAMPLES",
    "hot_answers_bytes": "CASTLEGATE_HOT_ANSWERS_BYTES",
    "allowed_hosts": "CASTLEGATE_ALLOWED_HOSTS",
    "cors_origins": "CASTLEGATE_CORS_ORIGINS",
    "rate_limit": "CASTLEGATE_RATE_LIMIT",
    "max_active_jobs": "CASTLEGATE_MAX_ACTIVE_JOBS_PER_GRAPH",
    "max_audits": "CASTLEGATE_MAX_AUDITS_PER_GRAPH",
    "scheduler": "CASTLEGATE_SCHEDULER",
    "scheduler_poll": "CASTLEGATE_SCHEDULER_POLL",
    "scheduler_graphs": "CASTLEGATE_SCHEDULER_GRAPHS",
    "clock": "CASTLEGATE_CLOCK",
    "webhook_timeout": "CASTLEGATE_WEBHOOK_TIMEOUT",
    "webhook_max_attempts": "CASTLEGATE_WEBHOOK_MAX_ATTEMPTS",
    "webhook_allow_private": "CASTLEGATE_WEBHOOK_ALLOW_PRIVATE",
    "webhook_backoff": "CASTLEGATE_WEBHOOK_BACKOFF",
    "audit_lease": "CASTLEGATE_AUDIT_LEASE",
    "secret_key": "CASTLEGATE_SECRET_KEY",
    "secret_key_previous": "CASTLEGATE_SECRET_KEY_PREVIOUS",
}

_INTS = ("port", "max_body_bytes", "webhook_max_attempts", "worker_concurrency", "analysis_processes", "results_max_bytes",
         "max_null_samples", "hot_answers_bytes", "rate_limit", "max_active_jobs", "max_audits",
         "import_max_bytes", "import_max_lines", "import_max_items")
_POSITIVE_FLOATS = ("scheduler_poll", "webhook_timeout", "webhook_backoff", "audit_lease", "job_time_limit",
                    "job_lease")
_NON_NEGATIVE_FLOATS = ("answer_wait",)
_POSITIVE_INTS = ("worker_concurrency", "results_max_bytes", "max_null_samples", "rate_limit", "max_active_jobs",
                  "max_audits", "import_max_bytes", "import_max_lines", "import_max_items")
_BOOLS = {"1": True, "true": True, "on": True, "yes": True, "0": False, "false": False, "off": False, "no": False}


def _convert(name: str, raw: str):
    if name in _INTS:
        try:
            value = int(raw)
        except ValueError:
            raise SystemExit(f"{_ENV_NAMES[name]} must be an integer, got {raw!r}") from None
        if name in _POSITIVE_INTS and value < 1:
            raise SystemExit(f"{_ENV_NAMES[name]} must be at least 1, got {raw!r}")
        if value < 0:
            raise SystemExit(f"{_ENV_NAMES[name]} must be at least 0, got {raw!r}")
        return value
    if name in _POSITIVE_FLOATS:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise SystemExit(f"{_ENV_NAMES[name]} must be a positive number of seconds, got {raw!r}")
        return value
    if name in _NON_NEGATIVE_FLOATS:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value >= 0:
            raise SystemExit(f"{_ENV_NAMES[name]} must be a number of seconds (0 or more), got {raw!r}")
        return value
    if name in ("scheduler", "webhook_allow_private", "embedded_worker"):
        if raw.lower() not in _BOOLS:
            raise SystemExit(f"{_ENV_NAMES[name]} must be on or off, got {raw!r}")
        return _BOOLS[raw.lower()]
    if name == "clock" and not (raw == "system" or (raw.startswith("file:") and len(raw) > 5)):
        raise SystemExit(f"{_ENV_NAMES[name]} must be 'system' or 'file:PATH', got {raw!r}")
    if name in ("secret_key", "secret_key_previous"):
        from service.secrets import parse_key

        try:
            parse_key(raw)
        except ValueError as e:
            raise SystemExit(f"{_ENV_NAMES[name]} {e}") from None
        return raw.strip()
    if name in ("data_dir", "datasets_dir"):
        return Path(raw).expanduser()
    if name == "server" and raw not in ("uvicorn", "granian"):
        raise SystemExit(f"{_ENV_NAMES[name]} must be 'uvicorn' or 'granian', got {raw!r}")
    if name == "log_format" and raw not in ("json", "text"):
        raise SystemExit(f"{_ENV_NAMES[name]} must be 'json' or 'text', got {raw!r}")
    return raw


ENV_NAMES = dict(_ENV_NAMES)
