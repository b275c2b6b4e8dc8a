"""Shared fixtures: a real Neo4j, fresh stores of both kinds, a real HTTP server.

Neo4j is found in this order:
1. ``NEO4J_URI`` (with ``NEO4J_PASSWORD``, or the local launcher's credentials file);
2. testcontainers' ``Neo4jContainer`` when a Docker daemon answers;
3. the project's own launcher (``service.neo4j_local``), in a temporary state folder.
With ``CASTLEGATE_REQUIRE_NEO4J=1`` (CI sets it) a missing Neo4j fails the run instead of
skipping the tests that need it.

Redis (for the job store) likewise: ``REDIS_URL``; testcontainers' Redis when a Docker
daemon answers; the project's launcher (``service.redis_local``: Debian's
``redis-server``); ``CASTLEGATE_REQUIRE_REDIS=1`` makes a missing Redis a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_NEO4J = os.environ.get("CASTLEGATE_REQUIRE_NEO4J") == "1"
NEO4J_IMAGE = "neo4j:5.26-community"


@dataclass
class Neo4jServer:
    uri: str
    user: str
    password: str
    how: str
    #: what a child process needs in its environment to reach this server
    env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _unavailable(reason: str):
    if REQUIRE_NEO4J:
        pytest.fail(f"CASTLEGATE_REQUIRE_NEO4J=1 but no Neo4j: {reason}", pytrace=False)
    pytest.skip(f"no Neo4j: {reason}")


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory) -> Iterator[Neo4jServer]:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        password = os.environ.get("NEO4J_PASSWORD")
        user = os.environ.get("NEO4J_USER", "neo4j")
        env = {"NEO4J_URI": uri}
        if password is None:
            from service.neo4j_local import local_credentials_for

            creds = local_credentials_for(uri)
            if creds is None:
                _unavailable(f"NEO4J_URI={uri} set but no NEO4J_PASSWORD and no local credentials")
            user, password = creds.user, creds.password
            if os.environ.get("CASTLEGATE_NEO4J_HOME"):
                env["CASTLEGATE_NEO4J_HOME"] = os.environ["CASTLEGATE_NEO4J_HOME"]
        else:
            env |= {"NEO4J_USER": user, "NEO4J_PASSWORD": password}
        yield Neo4jServer(uri, user, password, "NEO4J_URI", env)
        return

    if _docker_answers():
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer(NEO4J_IMAGE, password="castlegate-test") as c:
            uri = c.get_connection_url()
            yield Neo4jServer(
                uri, "neo4j", "castlegate-test", "testcontainers",
                {"NEO4J_URI": uri, "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": "castlegate-test"},
            )
        return

    try:
        from service.neo4j_local import LocalNeo4j, LocalNeo4jConfig

        home = tmp_path_factory.mktemp("neo4j-home")
        local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=home, bolt_port=free_port()))
        creds = local.start()
    except Exception as e:  # Maven refused, Java missing ...: say exactly why
        _unavailable(f"the project's launcher could not start Neo4j: {e}")
    try:
        yield Neo4jServer(
            creds.uri, creds.user, creds.password, "launcher",
            {"NEO4J_URI": creds.uri, "CASTLEGATE_NEO4J_HOME": str(home)},
        )
    finally:
        local.stop()


REQUIRE_REDIS = os.environ.get("CASTLEGATE_REQUIRE_REDIS") == "1"
REDIS_IMAGE = "redis:7.2-alpine"


def pytest_configure(config):
    # registered here rather than in pyproject's marker list, beside the fixture it marks
    config.addinivalue_line(
        "markers", "redis: needs a real Redis server (see tests/conftest.py for how one is found)")


def _redis_unavailable(reason: str):
    if REQUIRE_REDIS:
        pytest.fail(f"CASTLEGATE_REQUIRE_REDIS=1 but no Redis: {reason}", pytrace=False)
    pytest.skip(f"no Redis: {reason}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """The URL of a real Redis: ``REDIS_URL``, else a testcontainers Redis when Docker
    answers, else a local ``redis-server`` started by ``service.redis_local``."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return

    if _docker_answers():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer(REDIS_IMAGE) as c:
            yield f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(c.port)}/0"
        return

    try:
        from service.redis_local import start_redis

        server = start_redis(tmp_path_factory.mktemp("redis"))
    except Exception as e:  # not installed, would not start: say exactly why
        _redis_unavailable(f"the project's launcher could not start redis-server: {e}")
    try:
        yield server.url
    finally:
        server.stop()


def open_job_store(spec: tuple[str, str, str | None], **kw):
    """A job store from ``JobStoreFactory.spec`` (also in child processes)."""
    kind, location, prefix = spec
    if kind == "sqlite":
        from graph.jobs.sqlite import SqliteJobStore

        return SqliteJobStore(location, **kw)
    from graph.jobs.redis import RedisJobStore

    return RedisJobStore(location, prefix=prefix, **kw)


@dataclass
class JobStoreFactory:
    """Opens handles on one job store (one sqlite file, or one Redis prefix): call it, with
    the adapter's keyword arguments (``max_result_bytes=...``) where a test needs them."""

    kind: str
    location: str
    prefix: str | None
    made: list = field(default_factory=list)

    @property
    def spec(self) -> tuple[str, str, str | None]:
        return (self.kind, self.location, self.prefix)

    def __call__(self, **kw):
        s = open_job_store(self.spec, **kw)
        self.made.append(s)
        return s


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def job_store_factory(request, tmp_path) -> Iterator[JobStoreFactory]:
    """Each job store adapter in turn; on Redis under a prefix of its own, so tests never
    see each other's data (and its keys are deleted afterwards)."""
    if request.param == "sqlite":
        factory = JobStoreFactory("sqlite", str(tmp_path / "jobs.sqlite"), None)
    else:
        url = request.getfixturevalue("redis_server")
        factory = JobStoreFactory("redis", url, f"ct-{uuid.uuid4().hex[:12]}:")
    yield factory
    for s in factory.made:
        s.close()
    if factory.kind == "redis":
        import redis

        with redis.Redis.from_url(factory.location) as r:
            keys = list(r.scan_iter(match=f"{factory.prefix}*", count=1000))
            for i in range(0, len(keys), 500):
                r.delete(*keys[i : i + 500])


@pytest.fixture
def job_store(job_store_factory):
    """A fresh job store of each kind: the JobStore contract tests run unchanged on both."""
    return job_store_factory()


@pytest.fixture
def graph_id() -> str:
    """A fresh graph id per test, so tests never see each other's data."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path):
    """Each store adapter in turn; the contract tests run unchanged against both."""
    if request.param == "sqlite":
        from graph.store.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "store.sqlite")
    else:
        from graph.store.neo4j import Neo4jStore

        server = request.getfixturevalue("neo4j_server")
        s = Neo4jStore(server.uri, server.user, server.password)
    yield s
    s.close()


#: one server secret for the whole run, handed to every castlegate process the tests start,
#: so that a key made by the tests (or by one service) is valid for every other
TEST_SECRET_KEY = secrets.token_hex(32)
_tokens: dict[tuple, str] = {}


def admin_token(env: dict[str, str]) -> str:
    """An admin key in the store ``env`` points a service at (made once per store)."""
    from graph.keys import new_key
    from service.bootstrap import open_store
    from service.secrets import derive, server_key
    from service.settings import Settings

    settings = Settings.from_env(env)
    where = (settings.neo4j_uri, env.get("NEO4J_USER")) if settings.neo4j_uri else (str(settings.sqlite_path),)
    if where not in _tokens:
        store = open_store(settings)
        try:
            key, token = new_key("tests", ["admin"], ["*"], server_key=derive(server_key(settings), "api-keys"))
            store.create_key(key)
        finally:
            store.close()
        _tokens[where] = token
    return _tokens[where]


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """What a castlegate process started by a test runs with: this environment without
    the Neo4j settings (a test names its store), the run's server secret, and ``env``."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CASTLEGATE_NEO4J"))}
    return child | {"CASTLEGATE_SECRET_KEY": TEST_SECRET_KEY} | (env or {})


@dataclass
class Service:
    url: str
    proc: subprocess.Popen
    log: Path
    #: an admin key of the service's store; ``client()`` sends it
    token: str = ""

    def client(self, **kw) -> httpx.Client:
        headers = ({"Authorization": f"Bearer {self.token}"} if self.token else {}) | kw.pop("headers", {})
        return httpx.Client(base_url=self.url, timeout=60, headers=headers, **kw)

    def anonymous(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_service(tmp_path: Path, env: dict[str, str] | None = None, wait_ready: bool = True) -> Service:
    """Runs ``castlegate serve`` as a real process on a free port and waits for /ready
    (/health with ``wait_ready=False``); the returned service's ``client()`` carries an
    admin key of its store (none with ``wait_ready=False``)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    child_env = child_environment({"CASTLEGATE_DATA_DIR": str(tmp_path / "data"), "CASTLEGATE_LOG_LEVEL": "INFO"}
                                  | (env or {}))
    # a service started to be found unready may have no store to hold a key
    token = admin_token(child_env) if wait_ready else ""
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=child_env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    svc = Service(f"http://127.0.0.1:{port}", proc, log, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"castlegate serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            r = httpx.get(f"{svc.url}/{'ready' if wait_ready else 'health'}", timeout=2)
            if r.status_code == 200 or not wait_ready:
                return svc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    svc.stop()
    raise RuntimeError(f"castlegate serve did not become ready:\n{log.read_text()}")


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    """A real castlegate server on the embedded sqlite store."""
    svc = start_service(tmp_path)
    yield svc
    svc.stop()


DEMO_STORES = ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def demo_service(request, tmp_path_factory, prefix: str) -> Iterator[tuple[Service, str]]:
    """A real server holding the demo network, on the store ``request.param`` names
    (``DEMO_STORES``: sqlite, and Neo4j where a server is found): the body of the modules'
    ``demo_api`` fixtures, which ``yield from`` it. The graph id is new per run, so runs
    against one Neo4j do not meet."""
    tmp = tmp_path_factory.mktemp(f"{prefix}-{request.param}")
    env = {"CASTLEGATE_DATA_DIR": str(tmp / "data")}
    if request.param == "neo4j":
        env |= request.getfixturevalue("neo4j_server").env
    graph = f"{prefix}-{request.param}-{int(time.time() * 1000) % 10**8}"
    r = castlegate("demo", "--graph", graph, env=env)
    assert r.returncode == 0, r.stderr
    svc = start_service(tmp, env)
    yield svc, graph
    svc.stop()


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared data sets folder (``CASTLEGATE_DATASETS``, default ../shared/datasets).
    Absent in a user's own clone: the tests that need it skip, unless
    ``CASTLEGATE_REQUIRE_DATASETS=1`` (CI), where they must run."""
    from service.settings import Settings

    path = Settings.from_env().datasets_dir
    if not path.is_dir():
        if os.environ.get("CASTLEGATE_REQUIRE_DATASETS") == "1":
            pytest.fail(f"CASTLEGATE_REQUIRE_DATASETS=1 but {path} does not exist", pytrace=False)
        pytest.skip(f"data sets not found at {path} (set CASTLEGATE_DATASETS)")
    return path


def follow_job(c: httpx.Client, job_url: str, timeout: float = 120, poll: float = 0.1) -> dict:
    """Polls an analysis job (the ``location`` of a 202) until it has left queued and
    running; returns it as last read. Fails the test past ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (job := c.get(job_url).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(poll)
    return job


def castlegate(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Runs the real ``castlegate`` CLI in a child process."""
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=child_environment(env),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def receivers():
    """Starts real webhook receivers on 127.0.0.1: ``receivers(script)``; all are shut
    down after the test."""
    from tests.audits.receiver import Receiver

    made: list[Receiver] = []

    def make(script=()) -> Receiver:
        r = Receiver(script)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
