"""Run a throwaway local Redis (Debian's ``redis-server``) for tests and benchmarks.

``start_redis(state_dir)`` starts ``redis-server`` in the foreground as a child process,
listening on 127.0.0.1 only, without persistence (``--save ""``, no AOF), waits until it
answers PING and returns a ``RedisServer`` with its ``url`` and ``stop()``. Not for
production: there the operator runs Redis (see ``graph/jobs/redis.py`` for what it needs).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RedisServer", "LocalRedisError", "start_redis"]

#: how long a started server may take to answer PING (seconds)
START_TIMEOUT = 30.0


class LocalRedisError(RuntimeError):
    """redis-server is missing, or did not start; the message says why."""


@dataclass
class RedisServer:
    url: str
    port: int
    state_dir: Path
    proc: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_redis(state_dir: Path, port: int | None = None, *,
                binary: str | None = None) -> RedisServer:
    """Starts ``redis-server`` on 127.0.0.1 (a free port unless ``port`` is given) with its
    working directory and log in ``state_dir``; returns once it answers PING."""
    exe = binary or os.environ.get("CASTLEGATE_REDIS_SERVER") or shutil.which("redis-server")
    if exe is None or not Path(exe).exists():
        raise LocalRedisError(
            "redis-server is not installed (Debian/Ubuntu: apt-get install redis-server),"
            " or set REDIS_URL to a running Redis")
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # a free port found by binding may be taken again before redis-server binds it: retry
    for attempt in range(1 if port is not None else 3):
        p = port if port is not None else _free_port()
        log = state_dir / f"redis-{p}.log"
        cmd = [exe, "--port", str(p), "--bind", "127.0.0.1", "--protected-mode", "yes",
               "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--dir", str(state_dir), "--maxmemory-policy", "noeviction"]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=state_dir)
        server = RedisServer(f"redis://127.0.0.1:{p}/0", p, state_dir, proc, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            # its own log line first: a PONG alone could come from another server that
            # holds the port while this one exits
            if "Ready to accept connections" in _tail(log) and _pong(p):
                return server
            time.sleep(0.05)
        server.stop()
        text = _tail(log)
        if "Address already in use" in text and port is None:
            continue
        raise LocalRedisError(
            f"redis-server did not answer PING on 127.0.0.1:{p}"
            f" (exit code {proc.returncode}); its log {log}:\n{text}")
    raise LocalRedisError(f"no free port for redis-server after {attempt + 1} tries")
