"""The local Neo4j launcher (service/neo4j_local.py) against the real server.

The server tests start the real Neo4j 5.26 Community jars in a temporary state
dir on a free port. The jar cache is the default one, so only the very first
run on a machine pays for the Maven download.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from service.neo4j_local import (
    Credentials,
    LocalNeo4j,
    LocalNeo4jConfig,
    LocalNeo4jError,
    local_credentials_for,
)

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "deploy" / "neo4j" / "neo4j.sh"
REQUIRE_NEO4J = os.environ.get("CASTLEGATE_REQUIRE_NEO4J") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _servers_for(state_dir: Path) -> list[int]:
    """Pids of live (non-zombie) Neo4j servers whose --home-dir is state_dir."""
    needle = f"--home-dir={state_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if needle in argv and state not in ("Z", "X"):
            pids.append(int(proc.name))
    return pids


def _process_gone(pid: int, within: float = 10.0) -> bool:
    # A server started by a CLI that already exited is reaped by init, which
    # may take a moment after the process itself is dead.
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _run_cypher(creds: Credentials, query: str):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(creds.uri, auth=(creds.user, creds.password)) as driver:
        records, _, _ = driver.execute_query(query)
        return [r.data() for r in records]


@pytest.fixture
def launcher(tmp_path):
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        msg = f"{' and '.join(missing)} not on PATH"
        if REQUIRE_NEO4J:
            pytest.fail(f"CASTLEGATE_REQUIRE_NEO4J=1 but {msg}", pytrace=False)
        pytest.skip(msg)
    # Small memory settings: the suite may run next to the session-wide test
    # server; the sizing itself is not what is under test here.
    config = LocalNeo4jConfig.from_env(
        state_dir=tmp_path / "neo4j", bolt_port=_free_port(), heap="1g", pagecache="256m"
    )
    local = LocalNeo4j(config)
    yield local
    try:
        local.stop()
    finally:
        for pid in _servers_for(config.state_dir):  # last resort: never leak a JVM
            os.kill(pid, 9)


@pytest.mark.neo4j
def test_lifecycle_start_status_query_stop_restart(launcher: LocalNeo4j):
    cfg = launcher.config

    t0 = time.monotonic()
    creds = launcher.start(timeout=180)
    first_start = time.monotonic() - t0

    assert creds.uri == f"bolt://127.0.0.1:{cfg.bolt_port}"
    assert creds.user == "neo4j"
    assert len(creds.password) >= 20
    assert "password='***'" in repr(creds)  # never printed by accident

    # Credentials file: private and round-trips.
    mode = stat.S_IMODE(cfg.credentials_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert json.loads(cfg.credentials_file.read_text()) == {
        "uri": creds.uri, "user": creds.user, "password": creds.password,
    }
    assert launcher.credentials() == creds

    status = launcher.status()
    assert status["running"] is True
    assert status["version"].startswith("5.26"), status
    assert status["uri"] == creds.uri
    assert status["state_dir"] == str(cfg.state_dir)
    assert status["lib_dir"] == str(cfg.lib_dir)
    pid = status["pid"]
    assert pid == int(cfg.pid_file.read_text())

    assert _run_cypher(creds, "RETURN 1 AS one") == [{"one": 1}]
    _run_cypher(creds, "CREATE (:LauncherProbe {marker: 'kept'})")

    # The generated conf is the template with our values filled in.
    conf = cfg.conf_file.read_text()
    assert f"server.bolt.listen_address=127.0.0.1:{cfg.bolt_port}" in conf
    assert "server.memory.heap.max_size=1g" in conf
    settings = [line for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    assert not [line for line in settings if "$" in line]  # no unrendered placeholders

    # A second start while running attaches instead of launching another JVM.
    t0 = time.monotonic()
    again = LocalNeo4j(cfg).start(timeout=60)
    assert again == creds
    assert time.monotonic() - t0 < 10
    assert _servers_for(cfg.state_dir) == [pid]

    assert launcher.stop() is True
    assert _process_gone(pid), f"java pid {pid} still alive after stop()"
    assert _servers_for(cfg.state_dir) == []
    assert not cfg.pid_file.exists()
    assert launcher.status()["running"] is False
    assert launcher.stop() is False  # idempotent

    # Restart through the shell wrapper: stdout is exactly the URI, and data
    # plus password survive.
    t0 = time.monotonic()
    result = subprocess.run(
        [str(WRAPPER), "start", "--home", str(cfg.state_dir), "--port", str(cfg.bolt_port)],
        capture_output=True, text=True, timeout=180,
        env={**os.environ, "CASTLEGATE_NEO4J_HEAP": "1g", "CASTLEGATE_NEO4J_PAGECACHE": "256m"},
    )
    second_start = time.monotonic() - t0
    assert result.returncode == 0, result.stderr
    assert result.stdout == creds.uri + "\n"
    assert creds.password not in result.stdout + result.stderr

    assert launcher.credentials() == creds
    assert _run_cypher(creds, "MATCH (p:LauncherProbe) RETURN p.marker AS m") == [{"m": "kept"}]
    assert second_start < 60, f"restart took {second_start:.1f}s"

    # The wrapper's JSON status agrees; the server was started by a process
    # that has exited, so stop() must handle a non-child pid too.
    status = json.loads(subprocess.run(
        [str(WRAPPER), "status", "--home", str(cfg.state_dir), "--port", str(cfg.bolt_port)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout)
    assert status["running"] is True and status["version"].startswith("5.26")
    new_pid = status["pid"]

    assert launcher.stop() is True
    assert _process_gone(new_pid)
    assert _servers_for(cfg.state_dir) == []

    print(f"\nfirst start {first_start:.1f}s, restart via neo4j.sh {second_start:.1f}s")


@pytest.mark.neo4j
def test_start_refuses_a_port_held_by_another_process(launcher: LocalNeo4j):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", launcher.config.bolt_port))
        squatter.listen()
        with pytest.raises(LocalNeo4jError, match=f"port {launcher.config.bolt_port} .* already in use"):
            launcher.start(timeout=60)
    assert _servers_for(launcher.config.state_dir) == []
    assert launcher.status()["running"] is False


# ---------------------------------------------------------------------------
# local_credentials_for: pure, no server
# ---------------------------------------------------------------------------


@pytest.fixture
def stored(tmp_path, monkeypatch):
    def store(uri: str) -> Credentials:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        creds = Credentials(uri=uri, user="neo4j", password="s3cret-value")
        (home / "credentials.json").write_text(
            json.dumps({"uri": creds.uri, "user": creds.user, "password": creds.password})
        )
        monkeypatch.setenv("CASTLEGATE_NEO4J_HOME", str(home))
        return creds

    return store


@pytest.mark.parametrize(
    "asked",
    [
        "bolt://127.0.0.1:7999",
        "bolt://localhost:7999",
        "neo4j://localhost:7999",
        "neo4j://127.0.0.1:7999/",
        "BOLT://LOCALHOST:7999",
        "bolt://[::1]:7999",
        " bolt://127.0.0.1:7999 ",
    ],
)
def test_local_credentials_match_equivalent_uris(stored, asked):
    creds = stored("bolt://127.0.0.1:7999")
    assert local_credentials_for(asked) == creds


@pytest.mark.parametrize(
    "asked",
    [
        "bolt://127.0.0.1:7998",  # other port
        "bolt+s://127.0.0.1:7999",  # TLS: never the local server
        "neo4j+ssc://localhost:7999",
        "bolt://10.1.2.3:7999",  # other host
        "http://127.0.0.1:7999",
        "bolt://127.0.0.1",  # default port 7687
        "not a uri",
        "",
    ],
)
def test_local_credentials_reject_other_uris(stored, asked):
    stored("bolt://127.0.0.1:7999")
    assert local_credentials_for(asked) is None


def test_local_credentials_default_port(stored):
    creds = stored("bolt://127.0.0.1:7687")
    assert local_credentials_for("neo4j://localhost") == creds
    assert local_credentials_for("bolt://localhost:7687") == creds


def test_local_credentials_without_or_with_broken_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CASTLEGATE_NEO4J_HOME", str(tmp_path))
    assert local_credentials_for("bolt://127.0.0.1:7687") is None
    (tmp_path / "credentials.json").write_text("{not json")
    assert local_credentials_for("bolt://127.0.0.1:7687") is None


def test_config_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CASTLEGATE_NEO4J_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("CASTLEGATE_NEO4J_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CASTLEGATE_NEO4J_PORT", "17001")
    monkeypatch.setenv("CASTLEGATE_NEO4J_HEAP", "2G")
    monkeypatch.delenv("CASTLEGATE_NEO4J_PAGECACHE", raising=False)
    cfg = LocalNeo4jConfig.from_env()
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.bolt_port == 17001
    assert cfg.heap == "2g" and cfg.pagecache == "3g"
    assert cfg.version.startswith("5.26.")
    assert cfg.lib_dir == tmp_path / "cache" / cfg.version / "lib"
    # None means "not given", so CLI flags left unset fall through to the env.
    assert LocalNeo4jConfig.from_env(bolt_port=None, state_dir=tmp_path / "x").bolt_port == 17001
    with pytest.raises(LocalNeo4jError, match="heap"):
        LocalNeo4jConfig.from_env(heap="lots")
