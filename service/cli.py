"""The ``castlegate`` command: serve | worker | demo | ingest | neo4j | openapi."""

from __future__ import annotations

import argparse
import json
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
        data_dir=args.data_dir,
        neo4j_uri=args.neo4j_uri,
        neo4j_user=args.neo4j_user,
        neo4j_password=args.neo4j_password,
        log_level=args.log_level,
        log_format=args.log_format,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service import logs
    from service.app import create_app

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The audit scheduler without the HTTP API, for deployments that keep API processes
    (``CASTLEGATE_SCHEDULER=off``) apart from the work. Any number may run: the store's
    leases give each slot, run and delivery to one of them."""
    import logging
    import signal
    import threading

    from graph.audits.clock import clock_from_setting
    from graph.errors import StoreUnavailable
    from service import logs
    from service.jobs import Analyses
    from service.scheduler import Scheduler, config_from
    from service.stores import open_store

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)
    store = open_store(settings)
    ensure = getattr(store, "ensure_schema", None)
    if ensure is not None:
        try:
            ensure()
        except StoreUnavailable as e:
            if args.once:
                print(f"castlegate worker: {e}", file=sys.stderr)
                return 1
            # a long-running worker waits for the store like serve does: ticks retry
            logging.getLogger("castlegate.worker").warning("store not ready at start-up", extra={"error": str(e)})
    analyses = Analyses(store, sync_max_interactions=settings.analysis_sync_max)
    scheduler = Scheduler(store, clock_from_setting(settings.clock), analyses.compute, config_from(settings))
    try:
        if args.once:
            # every due run, one at a time, and the deliveries they make; a retry that is
            # not due yet waits for the next --once
            for _ in range(100_000):
                started = scheduler.tick()
                scheduler.drain()
                if not started:
                    break
            return 0
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        scheduler.start()
        stop.wait()
        return 0
    finally:
        scheduler.stop()
        analyses.close()
        store.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from graph.demo import demo_network
    from graph.errors import GraphExists
    from service.stores import open_store

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
        f" {sum(info.interactions.values())} interactions ({result.accepted} new,"
        f" {result.duplicates} already there)",
        file=sys.stderr,
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from graph.errors import GraphExists, IngestConflict, InvalidInput
    from graph.ingest.formats import FORMATS, read_records
    from graph.ingest.importer import import_records
    from service.progress import ImportProgress

    if args.format not in FORMATS:
        print(f"unknown format {args.format!r}; known: {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    settings = _settings(args)
    if args.api:
        from service.api_client import ApiStore

        store = ApiStore(args.api)
    else:
        from service.stores import open_store

        store = open_store(settings)
    try:
        try:
            store.create_graph(args.graph, args.description or f"imported from {args.file.name}")
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
        for err in e.errors[:20]:
            where = f"record {err.index}" if err.index is not None else "file"
            print(f"  {where}: {err.field}: {err.message}", file=sys.stderr)
        return 2
    except IngestConflict as e:
        print(f"{args.file}: {len(e.ids)} interaction id(s) already stored with different"
              f" content, e.g. {e.ids[0]!r} (record {e.indexes[0]}); that batch was refused",
              file=sys.stderr)
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
    _store_flags(s)
    s.set_defaults(fn=cmd_serve)

    w = sub.add_parser("worker", help="run scheduled audits and webhook deliveries (no HTTP API)")
    w.add_argument("--once", action="store_true",
                   help="run everything due now, make the webhook attempts due now, and exit")
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
    i.add_argument("--format", required=True,
                   help="ndjson | csv | x-v2 | mastodon | bluesky | snap-higgs")
    i.add_argument("--description", help="description for a newly created graph")
    i.add_argument("--batch-size", type=int, default=10_000, help="interactions per transaction")
    i.add_argument("--api", metavar="URL", help="post to a running castlegate at URL instead of writing to the store")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    _store_flags(i)
    i.set_defaults(fn=cmd_ingest)

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
