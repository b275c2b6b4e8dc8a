"""Run a real Neo4j 5.26 Community server locally, from Maven Central jars.

There is no Docker engine on the target machines, and shipping the Neo4j
distribution tarball in the repo is not an option, so this module:

* resolves the server jars with Maven (``deploy/neo4j/pom.xml``) into a
  per-version cache shared by every clone and state directory,
* renders ``deploy/neo4j/neo4j.conf.template`` into a per-instance state
  directory (data, logs, pid file, credentials),
* sets a random initial password with the real ``neo4j-admin`` code before the
  first start, and
* launches ``org.neo4j.server.CommunityEntryPoint`` directly with ``java``,
  i.e. exactly what the official ``neo4j`` bootloader script ends up running.

CLI: ``python -m service.neo4j_local start|stop|status|install`` (or the
``deploy/neo4j/neo4j.sh`` wrapper). ``start`` prints only the Bolt URI on
stdout so scripts can capture it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

__all__ = [
    "Credentials",
    "LocalNeo4j",
    "LocalNeo4jConfig",
    "LocalNeo4jError",
    "local_credentials_for",
    "main",
]

log = logging.getLogger(__name__)

DEFAULT_BOLT_PORT = 7687
DEFAULT_HEAP = "4g"
DEFAULT_PAGECACHE = "3g"
NEO4J_USER = "neo4j"

SERVER_MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_MAIN_CLASS = "org.neo4j.cli.AdminTool"

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_MEMORY_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_LIB_MARKER = ".castlegate-complete.json"
_CONSOLE_TAIL_LINES = 40


class LocalNeo4jError(RuntimeError):
    """Anything that prevents installing, starting or stopping the local server.

    Messages are meant to be shown to a developer as-is: they say what failed,
    where to look and, when known, what to do about it. They never contain the
    password.
    """


@dataclass(frozen=True)
class Credentials:
    uri: str
    user: str
    password: str

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"Credentials(uri={self.uri!r}, user={self.user!r}, password='***')"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


def _xdg_dir(env_var: str, fallback: str) -> Path:
    value = os.environ.get(env_var)
    # XDG spec: relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def _default_state_dir() -> Path:
    explicit = os.environ.get("CASTLEGATE_NEO4J_HOME")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg_dir("XDG_DATA_HOME", ".local/share") / "castlegate" / "neo4j"


def _default_cache_dir() -> Path:
    explicit = os.environ.get("CASTLEGATE_NEO4J_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "castlegate" / "neo4j"


def _default_port() -> int:
    raw = os.environ.get("CASTLEGATE_NEO4J_PORT")
    if not raw:
        return DEFAULT_BOLT_PORT
    try:
        return int(raw)
    except ValueError:
        raise LocalNeo4jError(f"CASTLEGATE_NEO4J_PORT must be an integer, got {raw!r}") from None


#: what the launcher reads from deploy/neo4j (neo4j.sh there is a wrapper for checkouts)
DEPLOY_FILES = ("pom.xml", "neo4j.conf.template")
#: the package the wheel carries deploy/ as (pyproject.toml: package-dir, package-data)
_DEPLOY_PACKAGE = "castlegate_deploy"


def _installed_deploy_dir() -> Path | None:
    """deploy/neo4j as shipped in the installed wheel, or None when not installed.

    ``castlegate_deploy`` has no ``__init__.py`` (deploy/ is no Python package), so it is
    a namespace package: its folders are the spec's search locations. (Its
    ``importlib.resources.files`` breaks on the placeholder entry an editable install
    adds there.) A wheel installs as plain files, so the folder is a real path, which
    maven needs."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(_DEPLOY_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location) / "neo4j"
        if all((folder / name).is_file() for name in DEPLOY_FILES):
            return folder
    return None


def deploy_dir() -> Path:
    """Where pom.xml and neo4j.conf.template live.

    ``CASTLEGATE_DEPLOY_DIR`` if set; else the checkout's ``deploy/neo4j`` beside
    ``service/`` (a source tree or an editable install); else the copy an installed wheel
    carries in the ``castlegate_deploy`` package.
    """
    explicit = os.environ.get("CASTLEGATE_DEPLOY_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    source = Path(__file__).resolve().parents[1] / "deploy" / "neo4j"
    if all((source / name).is_file() for name in DEPLOY_FILES):
        return source
    installed = _installed_deploy_dir()
    if installed is not None:
        return installed
    raise LocalNeo4jError(
        f"the local Neo4j's {' and '.join(DEPLOY_FILES)} are in neither {source} nor the "
        f"installed {_DEPLOY_PACKAGE} package; reinstall castlegate or set CASTLEGATE_DEPLOY_DIR"
    )


def _read_pom_version(pom: Path) -> str:
    try:
        root = ET.parse(pom).getroot()
    except (OSError, ET.ParseError) as exc:
        raise LocalNeo4jError(f"cannot read Neo4j version from {pom}: {exc}") from exc
    node = root.find("m:properties/m:neo4j.version", _POM_NS)
    if node is None:  # tolerate a pom written without the Maven namespace
        node = root.find("properties/neo4j.version")
    if node is None or not (node.text or "").strip():
        raise LocalNeo4jError(f"{pom} has no <properties><neo4j.version> element")
    return node.text.strip()


@dataclass
class LocalNeo4jConfig:
    state_dir: Path = field(default_factory=_default_state_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    bolt_port: int = field(default_factory=_default_port)
    heap: str = field(default_factory=lambda: os.environ.get("CASTLEGATE_NEO4J_HEAP") or DEFAULT_HEAP)
    pagecache: str = field(
        default_factory=lambda: os.environ.get("CASTLEGATE_NEO4J_PAGECACHE") or DEFAULT_PAGECACHE
    )
    version: str = field(default_factory=lambda: _read_pom_version(deploy_dir() / "pom.xml"))

    def __post_init__(self) -> None:
        # Absolute paths: they are written into neo4j.conf and the java command
        # line, and the server's working directory is not ours.
        self.state_dir = Path(self.state_dir).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser().resolve()
        self.bolt_port = int(self.bolt_port)
        if not 1 <= self.bolt_port <= 65535:
            raise LocalNeo4jError(f"Bolt port must be in 1..65535, got {self.bolt_port}")
        for name in ("heap", "pagecache"):
            value = str(getattr(self, name)).strip()
            if not _MEMORY_RE.match(value):
                raise LocalNeo4jError(
                    f"{name} must look like '4g', '512m' or a byte count, got {value!r}"
                )
            setattr(self, name, value.lower())

    @classmethod
    def from_env(cls, **overrides: object) -> "LocalNeo4jConfig":
        """Defaults from CASTLEGATE_NEO4J_* / XDG variables; ``None`` overrides are ignored."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]

    # Derived paths ---------------------------------------------------------

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / self.version / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.state_dir / "conf"

    @property
    def conf_file(self) -> Path:
        return self.conf_dir / "neo4j.conf"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def pid_file(self) -> Path:
        # Same path as Neo4j's own server.directories.run/neo4j.pid: the server
        # writes its (identical) pid there too and deletes it on clean exit.
        return self.run_dir / "neo4j.pid"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _tail(path: Path, lines: int = _CONSOLE_TAIL_LINES) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()
    except FileNotFoundError:
        return f"({path} does not exist)"


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _text_tail(text: str, lines: int = _CONSOLE_TAIL_LINES) -> str:
    # Maven 3.8 emits colour resets even with -B; they garble error messages.
    return "\n".join(_ANSI_RE.sub("", text).strip().splitlines()[-lines:])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines()) if text else "    (empty)"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise installs/starts/stops across processes (two clones, parallel test runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _find_executable(name: str, env_home: str | None = None) -> str:
    if env_home:
        candidate = Path(env_home) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if not found:
        hint = " (or set JAVA_HOME)" if name == "java" else ""
        raise LocalNeo4jError(f"'{name}' not found on PATH{hint}; it is required to run the local Neo4j")
    return found


def _proc_state(pid: int) -> str | None:
    """Single-letter Linux process state, or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    # comm (field 2) may contain spaces/parens; the state follows the last ')'.
    return stat.rpartition(")")[2].split()[0]


def _pid_alive(pid: int) -> bool:
    # Reap it if it is our own child, otherwise a dead server lingers as a
    # zombie and kill(pid, 0) keeps reporting it alive.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    state = _proc_state(pid) if Path("/proc").is_dir() else "?"
    return state not in (None, "Z", "X")


def _is_our_server(pid: int, state_dir: Path) -> bool:
    """Guard against pid reuse: the pid must be a Neo4j server for *this* state dir."""
    cmdline_path = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc").is_dir():
        return True  # no /proc (macOS): best effort, trust the pid file
    try:
        argv = cmdline_path.read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVER_MAIN_CLASS.encode() in argv and f"--home-dir={state_dir}".encode() in argv


def _port_is_free(port: int) -> bool:
    # Bind the way the JVM's server socket does (SO_REUSEADDR on Linux) so that
    # a port merely in TIME_WAIT after our own stop counts as free, while any
    # listener (127.0.0.1 or 0.0.0.0) counts as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _tcp_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _write_private_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)  # before any secret is written
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_credentials_file(path: Path) -> Credentials | None:
    try:
        raw = json.loads(path.read_text())
        return Credentials(uri=str(raw["uri"]), user=str(raw["user"]), password=str(raw["password"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LocalNeo4jError(f"{path} is unreadable or malformed ({type(exc).__name__}); "
                              "fix or delete it (deleting requires wiping the state dir too)") from exc


def _parse_jvm_additional(conf_text: str) -> list[str]:
    flags = []
    for line in conf_text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "server.jvm.additional" and value.strip():
            flags.append(value.strip())
    return flags


# --------------------------------------------------------------------------
# The launcher
# --------------------------------------------------------------------------


class LocalNeo4j:
    def __init__(self, config: LocalNeo4jConfig | None = None) -> None:
        self.config = config or LocalNeo4jConfig.from_env()
        self._deploy_dir = deploy_dir()
        # Only set when this object launched the server; used to reap it.
        self._proc: subprocess.Popen | None = None

    # install ---------------------------------------------------------------

    def _lib_complete(self) -> bool:
        lib = self.config.lib_dir
        try:
            marker = json.loads((lib / _LIB_MARKER).read_text())
            jars = marker["jars"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        # A cache that was pruned by hand is as bad as a half-finished copy.
        return bool(jars) and all((lib / name).is_file() for name in jars)

    def install(self) -> Path:
        """Make sure the server jars for this version are in the cache; return the lib dir."""
        cfg = self.config
        if self._lib_complete():
            return cfg.lib_dir
        version_dir = cfg.lib_dir.parent
        version_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(version_dir / ".install.lock"):
            if self._lib_complete():  # another process finished while we waited
                return cfg.lib_dir
            mvn = _find_executable("mvn", os.environ.get("MAVEN_HOME"))
            pom = self._deploy_dir / "pom.xml"
            tmp = Path(tempfile.mkdtemp(prefix="lib.partial-", dir=version_dir))
            cmd = [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
                   f"-DoutputDirectory={tmp}"]
            log.info("Resolving Neo4j %s jars with Maven into %s (first run only, ~125 MB)...",
                     cfg.version, cfg.lib_dir)
            started = time.monotonic()
            try:
                result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, check=False)
                jars = sorted(p.name for p in tmp.glob("*.jar"))
                if result.returncode != 0 or not jars:
                    raise LocalNeo4jError(
                        "Maven failed to resolve the Neo4j jars "
                        f"(exit code {result.returncode}, {len(jars)} jars copied).\n"
                        f"  command: {subprocess.list2cmdline(cmd)}\n"
                        f"  output (last {_CONSOLE_TAIL_LINES} lines):\n"
                        f"{_indent(_text_tail(result.stdout))}"
                    )
                # The marker goes in last so that a copy interrupted at any
                # point is recognisable as incomplete and redone.
                (tmp / _LIB_MARKER).write_text(json.dumps(
                    {"version": cfg.version, "jars": jars}, indent=2))
                tmp.chmod(0o755)  # mkdtemp makes it 0700; the jars are not secret
                if cfg.lib_dir.exists():
                    shutil.rmtree(cfg.lib_dir)  # incomplete leftovers
                os.rename(tmp, cfg.lib_dir)  # atomic: readers see all jars or none
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            log.info("Installed %d jars in %.1fs", len(jars), time.monotonic() - started)
        return cfg.lib_dir

    # state inspection ------------------------------------------------------

    def _read_pid(self) -> int | None:
        try:
            return int(self.config.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _running_pid(self) -> int | None:
        """Pid of the live server for this state dir; cleans up stale pid files."""
        pid = self._read_pid()
        if pid is None:
            return None
        if _pid_alive(pid) and _is_our_server(pid, self.config.state_dir):
            return pid
        with contextlib.suppress(FileNotFoundError):
            self.config.pid_file.unlink()
        return None

    def credentials(self) -> Credentials | None:
        return _read_credentials_file(self.config.credentials_file)

    def _database_initialised(self) -> bool:
        # The system database is created on the first start; from then on
        # set-initial-password has no effect.
        return (self.config.data_dir / "databases" / "system").exists()

    # config / password -----------------------------------------------------

    def _render_conf(self) -> str:
        cfg = self.config
        template_path = self._deploy_dir / "neo4j.conf.template"
        try:
            template = string.Template(template_path.read_text())
        except OSError as exc:
            raise LocalNeo4jError(f"cannot read {template_path}: {exc}") from exc
        values = {
            "neo4j_version": cfg.version,
            "bolt_port": cfg.bolt_port,
            "heap": cfg.heap,
            "pagecache": cfg.pagecache,
            "data_dir": cfg.data_dir,
            "logs_dir": cfg.logs_dir,
            "run_dir": cfg.run_dir,
            "import_dir": cfg.state_dir / "import",
            "plugins_dir": cfg.state_dir / "plugins",
            "licenses_dir": cfg.state_dir / "licenses",
            "dumps_dir": cfg.data_dir / "dumps",
            "lib_dir": cfg.lib_dir,
        }
        try:
            text = template.substitute(values)
        except (KeyError, ValueError) as exc:
            raise LocalNeo4jError(f"{template_path}: bad or unknown placeholder: {exc}") from exc
        cfg.conf_dir.mkdir(parents=True, exist_ok=True)
        tmp = cfg.conf_file.with_suffix(".conf.tmp")
        tmp.write_text(text)
        os.replace(tmp, cfg.conf_file)
        return text

    def _java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.config.state_dir)
        env["NEO4J_CONF"] = str(self.config.conf_dir)
        return env

    def admin(self, *args: str, heap: str = "2g") -> subprocess.CompletedProcess:
        """Runs ``neo4j-admin`` (the real AdminTool) against this instance's state folder,
        e.g. ``admin("database", "import", "full", ...)``. The server should be stopped for
        commands that write a database. Output is captured; the exit code is not checked."""
        self.install()
        self._render_conf()
        java = _find_executable("java", os.environ.get("JAVA_HOME"))
        cmd = [java, f"-Xmx{heap}", "-Dfile.encoding=UTF-8", "-cp", f"{self.config.lib_dir}/*",
               ADMIN_MAIN_CLASS, *args]
        return subprocess.run(cmd, env=self._java_env(), cwd=self.config.state_dir,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)

    def _set_initial_password(self, java: str, password: str) -> None:
        cfg = self.config
        base = [java, "-Xmx256m", "-Dfile.encoding=UTF-8", "-cp", f"{cfg.lib_dir}/*",
                ADMIN_MAIN_CLASS, "dbms", "set-initial-password"]
        # The password is briefly visible in the local process list; the admin
        # tool has no stdin/file option, and the alternative (writing auth.ini
        # ourselves) would mean re-implementing Neo4j's hash format.
        result = subprocess.run(base + [password], env=self._java_env(), cwd=cfg.state_dir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, check=False)
        if result.returncode != 0:
            shown = subprocess.list2cmdline(base + ["<password>"])
            output = _text_tail(result.stdout.replace(password, "<password>"))
            raise LocalNeo4jError(
                f"neo4j-admin dbms set-initial-password failed (exit code {result.returncode}).\n"
                f"  command: NEO4J_HOME={cfg.state_dir} NEO4J_CONF={cfg.conf_dir} {shown}\n"
                f"  output:\n{_indent(output)}"
            )

    def _prepare_credentials(self, java: str) -> Credentials:
        cfg = self.config
        existing = self.credentials()
        if self._database_initialised():
            if existing is None:
                raise LocalNeo4jError(
                    f"{cfg.data_dir} already holds a database but {cfg.credentials_file} is "
                    "missing, so the neo4j password is unknown. Restore credentials.json, or "
                    f"delete {cfg.state_dir} to start from an empty database."
                )
            password = existing.password
        else:
            # Re-running set-initial-password before the first start simply
            # overwrites the pending one, so reuse a stored password if a
            # previous first start got this far and then failed.
            # hex: a password starting with '-' would be read as an option by neo4j-admin
            password = existing.password if existing else secrets.token_hex(24)
            self._set_initial_password(java, password)
        creds = Credentials(uri=cfg.uri, user=NEO4J_USER, password=password)
        _write_private_json(cfg.credentials_file, asdict(creds))
        return creds

    # Bolt ------------------------------------------------------------------

    @staticmethod
    def _driver(creds: Credentials):
        from neo4j import GraphDatabase  # heavy import; keep `install`/`stop` light

        return GraphDatabase.driver(creds.uri, auth=creds.auth, connection_timeout=5.0,
                                    connection_acquisition_timeout=10.0)

    def _bolt_answers(self, creds: Credentials) -> bool:
        from neo4j.exceptions import AuthError, Neo4jError, DriverError

        try:
            with self._driver(creds) as driver:
                driver.verify_connectivity()
            return True
        except AuthError as exc:
            raise LocalNeo4jError(
                f"Neo4j at {creds.uri} rejected the stored credentials in "
                f"{self.config.credentials_file} ({exc.code})."
            ) from None
        except (DriverError, Neo4jError, OSError):
            return False

    def _server_version(self, creds: Credentials) -> str | None:
        from neo4j.exceptions import DriverError, Neo4jError

        try:
            with self._driver(creds) as driver:
                # The system database only allows bare CALL/YIELD/RETURN, so
                # filter in Python; it is used because it is up even when the
                # default database failed to start.
                records, _, _ = driver.execute_query(
                    "CALL dbms.components() YIELD name, versions RETURN name, versions",
                    database_="system",
                )
            for record in records:
                if record["name"] == "Neo4j Kernel" and record["versions"]:
                    return str(record["versions"][0])
            return None
        except (DriverError, Neo4jError, OSError):
            return None

    def _wait_for_bolt(self, creds: Credentials, pid: int, deadline: float) -> None:
        quiet_driver_logs = logging.getLogger("neo4j")
        previous_level = quiet_driver_logs.level
        # The driver logs every refused connection while the server boots.
        quiet_driver_logs.setLevel(logging.CRITICAL)
        try:
            while True:
                own_child = self._proc is not None and self._proc.pid == pid
                if own_child and self._proc.poll() is not None:
                    raise self._died_error(f"exited with code {self._proc.returncode}")
                if not own_child and not _pid_alive(pid):
                    raise self._died_error("exited")
                # Cheap TCP probe first; a full driver handshake only once the
                # port is open.
                if _tcp_accepts(_port_of(creds.uri)) and self._bolt_answers(creds):
                    return
                if time.monotonic() >= deadline:
                    raise TimeoutError
                time.sleep(0.25)
        finally:
            quiet_driver_logs.setLevel(previous_level)

    def _died_error(self, how: str) -> LocalNeo4jError:
        cfg = self.config
        with contextlib.suppress(FileNotFoundError):
            cfg.pid_file.unlink()
        return LocalNeo4jError(
            f"Neo4j {how} during startup.\n"
            f"  console log: {cfg.console_log} (last {_CONSOLE_TAIL_LINES} lines):\n"
            f"{_indent(_tail(cfg.console_log))}\n"
            f"  server log: {cfg.logs_dir / 'neo4j.log'} (last 10 lines):\n"
            f"{_indent(_tail(cfg.logs_dir / 'neo4j.log', 10))}"
        )

    # start / stop ----------------------------------------------------------

    def java_command(self, conf_text: str | None = None) -> list[str]:
        """The exact server command line (flags from the rendered conf's server.jvm.additional)."""
        cfg = self.config
        if conf_text is None:
            conf_text = cfg.conf_file.read_text() if cfg.conf_file.exists() else self._render_conf()
        java = _find_executable("java", os.environ.get("JAVA_HOME"))
        # Same shape as the official bootloader: jvm.additional, heap, encoding,
        # classpath, entry point, --home-dir/--config-dir.
        return [
            java,
            *_parse_jvm_additional(conf_text),
            f"-Xms{cfg.heap}",
            f"-Xmx{cfg.heap}",
            "-Dfile.encoding=UTF-8",
            "-cp", f"{cfg.lib_dir}/*",
            SERVER_MAIN_CLASS,
            f"--home-dir={cfg.state_dir}",
            f"--config-dir={cfg.conf_dir}",
        ]

    def start(self, timeout: float = 120) -> Credentials:
        """Start the server (installing jars first if needed) and return its credentials.

        Idempotent: if this state dir's server is already running, its
        credentials are returned. ``timeout`` covers server startup only, not
        the first-run Maven download.
        """
        cfg = self.config
        self.install()
        # Private: it will hold the graph and credentials.json.
        cfg.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _file_lock(cfg.run_dir / "launcher.lock"):
            pid = self._running_pid()
            if pid is not None:
                return self._attach(pid, timeout)

            if not _port_is_free(cfg.bolt_port):
                raise LocalNeo4jError(
                    f"port {cfg.bolt_port} on 127.0.0.1 is already in use by another process "
                    f"(not the castlegate Neo4j in {cfg.state_dir}). Stop that process or pick "
                    "another port with --port / CASTLEGATE_NEO4J_PORT."
                )

            for d in (cfg.data_dir, cfg.logs_dir, cfg.run_dir, cfg.state_dir / "import",
                      cfg.state_dir / "plugins", cfg.state_dir / "licenses"):
                d.mkdir(parents=True, exist_ok=True)
            conf_text = self._render_conf()
            cmd = self.java_command(conf_text)
            creds = self._prepare_credentials(cmd[0])

            log.info("Starting Neo4j %s on %s (state dir %s)", cfg.version, creds.uri, cfg.state_dir)
            started = time.monotonic()
            with open(cfg.console_log, "ab") as console:
                console.write(f"\n==== castlegate launcher: starting at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
                              f" ====\n".encode())
                console.flush()
                # New session: the server survives the launching CLI and
                # terminal, and stop() can signal its whole process group.
                self._proc = subprocess.Popen(
                    cmd, cwd=cfg.state_dir, env=self._java_env(), stdin=subprocess.DEVNULL,
                    stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                )
            cfg.pid_file.write_text(f"{self._proc.pid}\n")

            try:
                self._wait_for_bolt(creds, self._proc.pid, started + timeout)
            except TimeoutError:
                self._terminate(self._proc.pid, grace=30)
                raise LocalNeo4jError(
                    f"Neo4j did not answer on {creds.uri} within {timeout:.0f}s; it was stopped.\n"
                    f"  console log: {cfg.console_log} (last {_CONSOLE_TAIL_LINES} lines):\n"
                    f"{_indent(_tail(cfg.console_log))}"
                ) from None
            except BaseException:
                # Includes LocalNeo4jError and KeyboardInterrupt: never leave a
                # half-started JVM behind.
                if _pid_alive(self._proc.pid):
                    self._terminate(self._proc.pid, grace=30)
                raise
            log.info("Neo4j is up (pid %d) after %.1fs", self._proc.pid, time.monotonic() - started)
            return creds

    def _attach(self, pid: int, timeout: float) -> Credentials:
        cfg = self.config
        creds = self.credentials()
        if creds is None:
            raise LocalNeo4jError(
                f"Neo4j (pid {pid}) is running from {cfg.state_dir} but {cfg.credentials_file} "
                "is missing; cannot connect. Stop it and restore or reset the state dir."
            )
        if _port_of(creds.uri) != cfg.bolt_port:
            raise LocalNeo4jError(
                f"Neo4j from {cfg.state_dir} is already running on {creds.uri}, not on port "
                f"{cfg.bolt_port}. Stop it first to change the port."
            )
        # It may still be booting (another start() in a different process).
        try:
            self._wait_for_bolt(creds, pid, time.monotonic() + timeout)
        except TimeoutError:
            raise LocalNeo4jError(
                f"Neo4j (pid {pid}) from {cfg.state_dir} is running but did not answer on "
                f"{creds.uri} within {timeout:.0f}s. See {cfg.console_log} and "
                f"{cfg.logs_dir / 'neo4j.log'}."
            ) from None
        log.info("Neo4j already running (pid %d) on %s", pid, creds.uri)
        return creds

    def _terminate(self, pid: int, grace: float) -> None:
        def signal_group(sig: int) -> None:
            try:
                # start_new_session made the server a group leader; signalling
                # the group also reaches anything it forked.
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass

        # SIGTERM makes Neo4j run its shutdown hook: checkpoint and close the
        # stores cleanly, so the next start needs no recovery.
        signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            log.warning("Neo4j (pid %d) ignored SIGTERM for %.0fs; sending SIGKILL", pid, grace)
            signal_group(signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid):
                raise LocalNeo4jError(f"Neo4j (pid {pid}) survived SIGKILL")
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=1)
            self._proc = None
        with contextlib.suppress(FileNotFoundError):
            self.config.pid_file.unlink()

    def stop(self, timeout: float = 60) -> bool:
        """Stop the server; returns whether one was running. Safe to call repeatedly."""
        cfg = self.config
        with _file_lock(cfg.run_dir / "launcher.lock"):
            pid = self._running_pid()
            if pid is None:
                return False
            log.info("Stopping Neo4j (pid %d)...", pid)
            started = time.monotonic()
            self._terminate(pid, grace=timeout)
            log.info("Neo4j stopped in %.1fs", time.monotonic() - started)
            return True

    def status(self) -> dict:
        cfg = self.config
        pid = self._running_pid()
        creds = self.credentials() if cfg.credentials_file.exists() else None
        version = None
        if pid is not None and creds is not None:
            quiet = logging.getLogger("neo4j")
            previous = quiet.level
            quiet.setLevel(logging.CRITICAL)
            try:
                version = self._server_version(creds)
            finally:
                quiet.setLevel(previous)
        return {
            "running": pid is not None,
            "pid": pid,
            "uri": creds.uri if (pid is not None and creds is not None) else cfg.uri,
            "version": version,
            "state_dir": str(cfg.state_dir),
            "lib_dir": str(cfg.lib_dir),
        }


# --------------------------------------------------------------------------
# Lookup used by the service
# --------------------------------------------------------------------------

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}
_PLAIN_BOLT_SCHEMES = {"bolt", "neo4j"}


def _port_of(uri: str) -> int:
    return urlsplit(uri).port or DEFAULT_BOLT_PORT


def _normalise_uri(uri: str) -> tuple[str, int] | None:
    """(host, port) for a plain-text Bolt URI, with loopback aliases folded together."""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port or DEFAULT_BOLT_PORT
    except ValueError:
        return None
    # The local server has no TLS, so bolt+s:// etc. can never be it.
    if parts.scheme.lower() not in _PLAIN_BOLT_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if host in _LOOPBACK_HOSTS:
        host = "127.0.0.1"
    return host, port


def local_credentials_for(uri: str) -> Credentials | None:
    """Credentials of the local launcher-managed server if ``uri`` points at it.

    Lets ``castlegate serve`` run with only NEO4J_URI set. Looks at the default
    state dir (``CASTLEGATE_NEO4J_HOME`` or the XDG data dir). bolt:// and
    neo4j:// and localhost/127.0.0.1/::1 are treated as equivalent. Returns the
    stored credentials (whose ``uri`` is the launcher's canonical form).
    """
    wanted = _normalise_uri(uri)
    if wanted is None:
        return None
    path = _default_state_dir().expanduser() / "credentials.json"
    try:
        creds = _read_credentials_file(path)
    except LocalNeo4jError as exc:
        log.warning("ignoring local Neo4j credentials: %s", exc)
        return None
    if creds is None or _normalise_uri(creds.uri) != wanted:
        return None
    return creds


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="neo4j_local",
        description="Run a local Neo4j Community server from Maven Central jars.",
    )
    parser.add_argument("command", choices=["start", "stop", "status", "install"])
    parser.add_argument("--port", type=int, default=None,
                        help=f"Bolt port (default: $CASTLEGATE_NEO4J_PORT or {DEFAULT_BOLT_PORT})")
    parser.add_argument("--home", type=Path, default=None,
                        help="state directory (default: $CASTLEGATE_NEO4J_HOME or "
                             "$XDG_DATA_HOME/castlegate/neo4j)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds to wait for start/stop (default: 120 / 60)")
    args = parser.parse_args(argv)

    # Human-readable progress on stderr; stdout is reserved for machine output.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="neo4j_local: %(message)s")
    logging.getLogger("neo4j").setLevel(logging.ERROR)

    try:
        launcher = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=args.home, bolt_port=args.port))
        if args.command == "install":
            lib = launcher.install()
            print(f"neo4j_local: Neo4j {launcher.config.version} jars in {lib}", file=sys.stderr)
        elif args.command == "start":
            creds = launcher.start(timeout=args.timeout or 120)
            print(f"neo4j_local: credentials in {launcher.config.credentials_file}", file=sys.stderr)
            print(creds.uri)
        elif args.command == "stop":
            if not launcher.stop(timeout=args.timeout or 60):
                print("neo4j_local: not running", file=sys.stderr)
        else:
            print(json.dumps(launcher.status(), indent=2))
    except LocalNeo4jError as exc:
        print(f"neo4j_local: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
