"""The ``castlegate`` command: serve | worker | demo | ingest | neo4j | openapi."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from service import __version__
from service.settings import Settings

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def _store_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store (default: the environment, else sqlite in the data dir)")
    g.add_argument("--data-dir", type=Path, help="folder of the sqlite store (CASTLEGATE_DATA_DIR)")
    g.add_argument("--neo4j-uri", help="use Neo4j at this Bolt URI (NEO4J_URI)")
    g.add_argument("--neo4j-user", help="NEO4J_USER")
    g.add_argument("--neo4j-password", help="NEO4J_PASSWORD (prefer the environment)")
    g.add_argument("--log-level", help="CASTLEGATE_LOG_LEVEL")
    g.add_argument("--log-format", choices=["json", "text"], help="CASTLEGATE_LOG_FORMAT")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        server=getattr(args, "server", None),
        data_dir=args.data_dir,
        neo4j_uri=args.neo4j_uri,
        neo4j_user=args.neo4j_user,
        neo4j_password=args.neo4j_password,
        log_level=args.log_level,
        log_format=args.log_format,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP API; with ``CASTLEGATE_EMBEDDED_WORKER`` on (the default) also one worker
    process of its own, started before the API and stopped after it, so that one command
    serves analyses on one machine."""
    from service import logs

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)
    _first_admin_key(settings)
    worker = EmbeddedWorker(settings) if settings.embedded_worker else None
    try:
        if settings.server == "granian":
            _serve_granian(settings)
        else:
            import uvicorn

            from service.app import create_app

            # no "server: uvicorn" banner: a stranger learns nothing it does not need
            uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                        access_log=False, server_header=False)
    finally:
        if worker is not None:
            worker.stop()
    return 0


def _serve_granian(settings: Settings) -> None:
    """The app on granian, one worker process, which builds it from the environment
    (``service.app.create_app_from_env``): these settings are handed down as
    environment variables. granian's own messages go through castlegate's log format;
    its access log stays off (castlegate logs each request itself)."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ.update(settings.to_env())
    level = settings.log_level.lower()
    Granian(
        "service.app:create_app_from_env", factory=True, interface=Interfaces.ASGI,
        address=settings.host, port=settings.port, workers=1,
        log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
        log_access=False,
        # no handlers of granian's own: its records reach the root handler set by logs.configure
        log_dictconfig={"handlers": {}, "formatters": {}, "loggers": {"_granian": {"propagate": True}}},
    ).serve()


def _first_admin_key(settings: Settings) -> None:
    """A store without any key gets an admin key at its first start, printed once and kept
    in the data folder (0600): one command still gives a working service, and nothing is
    served without a key."""
    from graph.errors import StoreUnavailable
    from service.auth import ensure_admin_key
    from service.bootstrap import open_store
    from service.secrets import derive, server_key

    store = open_store(settings)
    try:
        path = settings.data_dir / "admin.key"
        token = ensure_admin_key(store, derive(server_key(settings), "api-keys"), path)
    except StoreUnavailable:
        return  # the store is down: the next start tries again
    finally:
        store.close()
    if token:
        print(f"\n  castlegate: no API key existed, so an admin key was made. It is shown here once and kept in"
              f"\n  {path} (mode 0600):\n\n    Authorization: Bearer {token}\n\n"
              f"  Make more keys with 'castlegate keys create' (or POST /v1/keys); revoke this one when done.\n",
              file=sys.stderr, flush=True)


def cmd_keys(args: argparse.Namespace) -> int:
    """API keys straight in the store (the first admin key of a deployment, a lost one)."""
    from datetime import datetime, timezone

    from graph.keys import SCOPES, KeyNotFound, new_key
    from service.bootstrap import open_store
    from service.secrets import derive, server_key

    settings = _settings(args)
    store = open_store(settings)
    try:
        if args.action == "create":
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
            bad = [s for s in scopes if s not in SCOPES]
            if bad or not scopes:
                print(f"--scopes: choose from {', '.join(SCOPES)}", file=sys.stderr)
                return 2
            graphs = [g.strip() for g in (args.graphs or "").split(",") if g.strip()]
            key, token = new_key(args.name, scopes, graphs, server_key=derive(server_key(settings), "api-keys"))
            store.create_key(key)
            print(json.dumps({"id": key.id, "name": key.name, "scopes": key.scopes, "graphs": key.graphs}),
                  file=sys.stderr)
            print(token)  # alone on stdout: token=$(castlegate keys create ...)
        elif args.action == "list":
            for k in store.list_keys():
                print(json.dumps({"id": k.id, "name": k.name, "scopes": k.scopes, "graphs": k.graphs,
                                  "created_at": k.created_at.isoformat(),
                                  "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}))
        else:
            try:
                k = store.revoke_key(args.id, datetime.now(timezone.utc))
            except KeyNotFound as e:
                print(str(e), file=sys.stderr)
                return 2
            print(json.dumps({"id": k.id, "revoked_at": k.revoked_at.isoformat()}))
        return 0
    finally:
        store.close()


class EmbeddedWorker:
    """``castlegate worker`` as a child of ``serve``: started at once, started again if it
    dies (backing off up to 30 s), stopped with ``serve`` (and killed with it, even by -9)."""

    def __init__(self, settings: Settings) -> None:
        import logging
        import os
        import threading

        self._env = os.environ | settings.to_env()
        self._log = logging.getLogger("castlegate.serve")
        self._stopping = threading.Event()
        self.proc = self._start()
        threading.Thread(target=self._watch, name="embedded-worker", daemon=True).start()

    def _start(self):
        import subprocess

        from service.worker import die_with_parent

        return subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], env=self._env,
                                preexec_fn=die_with_parent)

    def _watch(self) -> None:
        pause = 1.0
        while not self._stopping.wait(1.0):
            code = self.proc.poll()
            if code is None or self._stopping.is_set():
                pause = 1.0
                continue
            self._log.error("the embedded worker exited; starting it again",
                            extra={"exit_code": code, "in_seconds": pause})
            if self._stopping.wait(pause):
                return
            pause = min(30.0, pause * 2)
            self.proc = self._start()

    def stop(self) -> None:
        import subprocess

        self._stopping.set()
        self.proc.terminate()  # the worker hands its running jobs back to the queue
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cmd_worker(args: argparse.Namespace) -> int:
    """A worker process: analysis jobs from the queue (each in a child process) and the
    audit scheduler. Any number may run, against the SQLite queue of one machine or a
    shared Redis (``REDIS_URL``); the job store and the graph store's leases give each job,
    slot, run and delivery to one of them."""
    from graph.audits.clock import clock_from_setting
    from graph.usecases.audit_run import inline
    from service import logs
    from service.bootstrap import open_services
    from service.scheduler import Scheduler, config_from
    from service.worker import Worker

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)
    services = open_services(settings)
    store, jobs = services.store, services.jobs
    clock = clock_from_setting(settings.clock)
    try:
        if args.once:
            if services.store_error:
                print(f"castlegate worker: {services.store_error}", file=sys.stderr)
                return 1
            # every due audit run, one at a time, computed here, and the deliveries they
            # make; a retry that is not due yet waits for the next --once
            scheduler = Scheduler(store, clock, inline(store, jobs), config_from(settings))
            try:
                for _ in range(100_000):
                    started = scheduler.tick()
                    scheduler.drain()
                    if not started:
                        break
            finally:
                scheduler.stop()
            return 0
        # a long-running worker waits for the store like serve does: jobs and ticks retry
        worker = Worker(settings, jobs, services.queue.enqueue, concurrency=args.concurrency)
        scheduler = None
        if settings.scheduler:
            scheduler = Scheduler(store, clock, worker.diversity_via(services.analyses), config_from(settings))
            scheduler.on_tick = worker.tick_seen
            worker.scheduler = scheduler
        worker.start()
        if scheduler is not None:
            scheduler.start()
        try:
            services.queue.consume(worker.execute, workers=worker.concurrency)  # until SIGTERM / SIGINT
        finally:
            if scheduler is not None:
                scheduler.stop()
            worker.stop()
        return 0
    finally:
        services.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from graph.demo import demo_network
    from graph.errors import GraphExists
    from service.bootstrap import open_store

    settings = _settings(args)
    store = open_store(settings)
    try:
        try:
            store.create_graph(args.graph, "castlegate's built-in demo network (generated in code)")
        except GraphExists:
            pass
        accounts, interactions = demo_network(seed=args.seed)
        store.upsert_accounts(args.graph, accounts)
        result = store.add_interactions(args.graph, interactions)
        info = store.get_graph(args.graph)
    finally:
        store.close()
    print(
        f"demo graph {args.graph!r} in the {settings.store_kind} store: {info.accounts} accounts,"
        f" {info.interactions.total()} interactions ({result.accepted} new,"
        f" {result.duplicates} already there)",
        file=sys.stderr,
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from graph.errors import GraphExists, IngestConflict, InvalidInput, StoreUnavailable
    from graph.ingest.formats import FORMATS, read_records
    from graph.usecases.ingest import import_records
    from service.progress import ImportProgress

    if args.format not in FORMATS:
        print(f"unknown format {args.format!r}; known:", file=sys.stderr)
        for name, spec in FORMATS.items():
            print(f"  {name:<15} {spec.description}", file=sys.stderr)
        return 2
    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    settings = _settings(args)
    if args.api:
        from service.api_client import ApiStore

        store = ApiStore(args.api, api_key=args.api_key or os.environ.get("CASTLEGATE_API_KEY"))
    else:
        from service.bootstrap import open_store

        store = open_store(settings)
    created = False
    try:
        try:
            store.create_graph(args.graph, args.description or f"imported from {args.file.name}")
            created = True
            print(f"created graph {args.graph!r}", file=sys.stderr)
        except GraphExists:
            pass
        with ImportProgress(args.file, quiet=args.quiet) as progress, progress.wrap(args.file) as stream:
            records = read_records(stream, args.format)
            report = import_records(store, args.graph, records, batch_size=args.batch_size,
                                    on_batch=progress.update)
    except InvalidInput as e:
        print(f"{args.file}: {len(e.errors)} bad record(s); batches before the first bad one"
              " were stored, fix the file and run again (stored items count as duplicates):",
              file=sys.stderr)
        _drop_if_empty(store, args.graph, created)
        for err in e.errors[:20]:
            where = f"record {err.index}" if err.index is not None else "file"
            print(f"  {where}: {err.field}: {err.message}", file=sys.stderr)
        return 2
    except StoreUnavailable as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        try:
            _drop_if_empty(store, args.graph, created)
        except StoreUnavailable:
            pass
        return 1
    except IngestConflict as e:
        print(f"{args.file}: {len(e.ids)} interaction id(s) already stored with different"
              f" content, e.g. {e.ids[0]!r} (record {e.indexes[0]}); that batch was refused",
              file=sys.stderr)
        _drop_if_empty(store, args.graph, created)
        return 3
    finally:
        store.close()
    print(
        f"{args.graph}: {report.accepted + report.duplicates:,} interactions read,"
        f" {report.accepted:,} new, {report.duplicates:,} already there;"
        f" {report.accounts:,} account records; {report.seconds:.1f} s"
        f" ({report.rate:,.0f} interactions/s) into the {'API at ' + args.api if args.api else settings.store_kind + ' store'}",
        file=sys.stderr,
    )
    return 0


def _format_names() -> list[str]:
    from graph.ingest.formats import FORMATS

    return list(FORMATS)


def _drop_if_empty(store, graph: str, created: bool) -> None:
    """A graph this run created and nothing reached: a failed import leaves none behind."""
    if not created:
        return
    info = store.get_graph(graph)
    if info.accounts == 0 and not info.interactions.total():
        store.delete_graph(graph)
        print(f"removed the empty graph {graph!r} this run had created", file=sys.stderr)


class _Held:
    """The result cache of one CLI run: what it computes is kept only until it exits."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def get_result(self, key: str) -> bytes | None:
        return self.items.get(key)

    def put_result(self, key: str, graph: str, data: bytes) -> bool:
        self.items[key] = data
        return True


def cmd_export(args: argparse.Namespace) -> int:
    from graph.errors import InvalidInput, NotFound, StoreUnavailable
    from graph.export import FORMATS
    from graph.usecases.analyse import produce
    from service.bootstrap import open_store
    from service.routes.analysis import params_from

    try:
        params = params_from(layers=args.layers, since=args.since, until=args.until, seed=args.seed,
                             engine=args.engine, resolution=args.resolution, null_samples=args.null_samples)
    except InvalidInput as e:
        for err in e.errors:
            print(f"--{err.field.replace('_', '-')}: {err.message}", file=sys.stderr)
        return 2
    out = args.output or Path(f"{args.graph}.{FORMATS[args.format].extension}")
    cache = _Held()
    store = open_store(_settings(args))
    try:
        done = produce(store, cache, args.graph, params, "export", {"format": args.format},
                       progress=None if args.quiet else lambda stage, f: print(f"  {stage}", file=sys.stderr))
    except (NotFound, StoreUnavailable) as e:
        print(f"{args.graph}: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    data = cache.get_result(done.result_key)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)  # a reader never sees half a file
    print(f"{out}: {args.format}, {len(data):,} bytes, graph {args.graph!r} version {done.graph_version}",
          file=sys.stderr)
    return 0


def cmd_neo4j(args: argparse.Namespace) -> int:
    from service import neo4j_local

    argv = [args.action]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.home is not None:
        argv += ["--home", str(args.home)]
    return neo4j_local.main(argv)


def cmd_openapi(args: argparse.Namespace) -> int:
    text = openapi_text()
    if args.check:
        current = OPENAPI_PATH.read_text() if OPENAPI_PATH.exists() else ""
        if current != text:
            print(f"{OPENAPI_PATH} is out of date: run 'castlegate openapi'", file=sys.stderr)
            return 1
        return 0
    if args.stdout:
        sys.stdout.write(text)
    else:
        OPENAPI_PATH.write_text(text)
        print(f"wrote {OPENAPI_PATH}", file=sys.stderr)
    return 0


def openapi_text() -> str:
    """The app's OpenAPI document as committed: sorted keys, two-space indent."""
    from service.app import create_app

    app = create_app(Settings(), store=_NoStore())  # the schema does not depend on a store
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True) + "\n"


class _NoStore:
    """Placeholder handed to ``create_app`` when only the schema is wanted; the app is
    never started, so no method is ever called."""

    kind = "none"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="castlegate", description="conversation-network analysis")
    p.add_argument("--version", action="version", version=f"castlegate {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host", help="CASTLEGATE_HOST (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="CASTLEGATE_PORT (default 8000)")
    s.add_argument("--server", choices=("uvicorn", "granian"), help="CASTLEGATE_SERVER (default uvicorn)")
    _store_flags(s)
    s.set_defaults(fn=cmd_serve)

    w = sub.add_parser("worker", help="run analysis jobs, scheduled audits and webhook deliveries (no HTTP API)")
    w.add_argument("--once", action="store_true",
                   help="run the audits due now (computed in this process), make the webhook attempts due now, and exit")
    w.add_argument("--concurrency", type=int, help="analyses run at once (CASTLEGATE_WORKER_CONCURRENCY, default 2)")
    _store_flags(w)
    w.set_defaults(fn=cmd_worker)

    d = sub.add_parser("demo", help="load the built-in demo network into the current store")
    d.add_argument("--graph", default="demo", help="graph id (default: demo)")
    d.add_argument("--seed", type=int, default=7)
    _store_flags(d)
    d.set_defaults(fn=cmd_demo)

    i = sub.add_parser("ingest", help="import a file of interactions (a platform export or castlegate's own shape)")
    i.add_argument("file", type=Path, help="the file; .gz is read transparently")
    i.add_argument("--graph", required=True, help="graph id (created if missing)")
    i.add_argument("--format", required=True, metavar="FORMAT",
                   help="one of: " + ", ".join(_format_names()) + "; .gz is read as the file inside")
    i.add_argument("--description", help="description for a newly created graph")
    i.add_argument("--batch-size", type=int, default=10_000, help="interactions per transaction")
    i.add_argument("--api", metavar="URL", help="post to a running castlegate at URL instead of writing to the store")
    i.add_argument("--api-key", help="the API key for --api (prefer CASTLEGATE_API_KEY in the environment)")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    _store_flags(i)
    i.set_defaults(fn=cmd_ingest)

    e = sub.add_parser("export", help="write a graph with its analyses as a file for Gephi, networkx or pandas")
    e.add_argument("--graph", required=True, help="graph id")
    e.add_argument("--format", choices=["gexf", "graphml", "csv"], default="gexf",
                   help="gexf (dynamic, for Gephi's timeline; default), graphml, or csv (a zip of nodes.csv, edges.csv)")
    e.add_argument("-o", "--output", type=Path, help="the file (default: GRAPH.gexf, .graphml or .zip here)")
    e.add_argument("--layers", help="comma-separated kinds (default: reply, quote, mention, repost, like)")
    e.add_argument("--since", help="RFC 3339 time with a timezone: interactions at or after")
    e.add_argument("--until", help="RFC 3339 time with a timezone: interactions before")
    e.add_argument("--seed", type=int, help="random seed (default 0)")
    e.add_argument("--engine", choices=["fast", "reference"])
    e.add_argument("--resolution", type=float, help="Louvain resolution (default 1)")
    e.add_argument("--null-samples", type=int, help="degree-preserving rewirings for the castle test (default 10)")
    e.add_argument("--quiet", action="store_true", help="no stage lines")
    _store_flags(e)
    e.set_defaults(fn=cmd_export)

    k = sub.add_parser("keys", help="API keys, straight in the store")
    ks = k.add_subparsers(dest="action", required=True)
    kc = ks.add_parser("create", help="make a key; prints its token (once) on stdout")
    kc.add_argument("--name", required=True)
    kc.add_argument("--scopes", required=True, help="comma-separated: read, write, admin")
    kc.add_argument("--graphs", help="comma-separated graph ids, prefixes ending in '*', or '*' (admin: all)")
    ks.add_parser("list", help="every key, one JSON object a line (never a token)")
    kr = ks.add_parser("revoke", help="revoke a key by id")
    kr.add_argument("id")
    for sp in ks.choices.values():
        _store_flags(sp)
    k.set_defaults(fn=cmd_keys)

    n = sub.add_parser("neo4j", help="the project's local Neo4j server")
    n.add_argument("action", choices=["start", "stop", "status", "install"])
    n.add_argument("--port", type=int, help="Bolt port (CASTLEGATE_NEO4J_PORT, default 7687)")
    n.add_argument("--home", type=Path, help="state folder (CASTLEGATE_NEO4J_HOME)")
    n.set_defaults(fn=cmd_neo4j)

    o = sub.add_parser("openapi", help="write openapi/openapi.json from the app")
    o.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    o.add_argument("--stdout", action="store_true", help="print instead of writing")
    o.set_defaults(fn=cmd_openapi)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
