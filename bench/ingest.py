"""Ingest benchmark: the higgs-twitter activity events through castlegate's HTTP API into
Neo4j and into sqlite, with two baselines measured in the same run on the same events:

- naive: one ``MERGE`` transaction per event, straight through the driver (what a first
  attempt at "load this into Neo4j" looks like); run on a sample, it is too slow for all;
- offline: ``neo4j-admin database import full`` on CSV files of the same events, into a
  stopped database (the fastest way into Neo4j there is; no idempotency, no validation).

Run:  .venv/bin/python -m bench.ingest [--events N] [--naive-sample N]
Writes bench/results/ingest-higgs.md (and .json) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faults import Serve, base_environment  # noqa: E402
from graph.ingest.formats import read_records  # noqa: E402
from graph.model import Interaction, epoch_ms  # noqa: E402
from graph.store.neo4j import REL_TYPES  # noqa: E402
from service.api_client import ndjson  # noqa: E402
from service.neo4j_local import LocalNeo4j, LocalNeo4jConfig  # noqa: E402
from service.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
BATCH = 10_000


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import neo4j

    try:
        import neo4j._rust  # noqa: F401

        rust = "yes"
    except ImportError:
        rust = "no"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "neo4j_driver": neo4j.__version__,
        "neo4j_rust_ext": rust,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict[str, str], work: Path, name: str) -> Serve:
    """``castlegate serve`` (without its worker) on the store ``env`` names, with an admin
    key of that store and no rate limit in the way."""
    env = base_environment(work / f"data-{name}", env | {
        "CASTLEGATE_LOG_LEVEL": "WARNING", "CASTLEGATE_EMBEDDED_WORKER": "off",
        "CASTLEGATE_RATE_LIMIT": "100000000", "CASTLEGATE_MAX_BODY_BYTES": str(256 << 20)})
    return Serve(env, work / f"serve-{name}.log").start()


def through_api(server: Serve, events: list[Interaction], senders: int = 2) -> float:
    """Posts the events as NDJSON batches from ``senders`` clients at once (so one batch is
    encoded and sent while the server commits the previous one); returns seconds."""
    graph = f"bench-{uuid.uuid4().hex[:8]}"
    bodies = [ndjson(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]
    accepted = 0
    lock = threading.Lock()
    with server.client() as c:
        c.post("/v1/graphs", json={"id": graph}).raise_for_status()

    def send(body: bytes) -> None:
        nonlocal accepted
        with server.client() as c:
            r = c.post(f"/v1/graphs/{graph}/interactions", content=body,
                       headers={"content-type": "application/x-ndjson"}, timeout=600)
            r.raise_for_status()
            with lock:
                accepted += r.json()["accepted"]

    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, bodies))
    seconds = time.perf_counter() - start
    with server.client() as c:
        info = c.get(f"/v1/graphs/{graph}", timeout=600).json()
    stored = sum(info["interactions"].values())
    if accepted != len(events) or stored != len(events):
        raise SystemExit(f"API stored {stored} / accepted {accepted} of {len(events)} events")
    return seconds


def naive(creds, events: list[Interaction]) -> float:
    """One MERGE transaction per event."""
    from neo4j import GraphDatabase

    uid = uuid.uuid4().hex[:16]
    with GraphDatabase.driver(creds.uri, auth=creds.auth) as driver, driver.session() as s:
        start = time.perf_counter()
        for it in events:
            s.execute_write(
                lambda tx, it=it: tx.run(
                    "MERGE (a:Account {key: $sk}) ON CREATE SET a.graph_uid = $uid, a.id = $s"
                    " MERGE (b:Account {key: $tk}) ON CREATE SET b.graph_uid = $uid, b.id = $t"
                    f" MERGE (a)-[r:{REL_TYPES[it.kind]} {{key: $k}}]->(b)"
                    " ON CREATE SET r.id = $id, r.at = $at, r.platform = $p",
                    sk=f"{uid}:{it.source}", tk=f"{uid}:{it.target}", s=it.source, t=it.target,
                    uid=uid, k=f"{uid}:{it.id}", id=it.id, at=epoch_ms(it.at), p=it.platform,
                ).consume()
            )
        return time.perf_counter() - start


def floor(creds, events: list[Interaction], writers: int = 1) -> float:
    """Neo4j's own transactional write of the same events, as a ceiling for any API: one
    ``UNWIND ... CREATE`` transaction per batch, the accounts merged by key, three
    properties per relationship (key, id, time), under castlegate's schema (the key's
    uniqueness constraints), but nothing else: no look-up of stored ids (no idempotency),
    no digests, no optional fields, no counters, no graph lock, no HTTP, no validation.

    With ``writers`` > 1, that many threads write at once, each a share of the events
    under its own key prefix: disjoint accounts, so no lock is ever waited for. That is
    the most any set of writers into one database gets here, not what writers into one
    graph could (they share accounts, and a snapshot needs its writes ordered). Seconds
    of wall clock, the rows built before the clock starts."""
    from neo4j import GraphDatabase

    query = (
        "CALL () { UNWIND $names AS n MERGE (a:Account {key: $uid + ':' + n})"
        " ON CREATE SET a.graph_uid = $uid, a.id = n RETURN collect(a) AS nodes } "
        + " ".join(f"CALL (nodes) {{ UNWIND $rows.{k.value} AS r WITH nodes[r.s] AS s, nodes[r.t] AS t, r"
                   f" CREATE (s)-[:{rt} {{key: $uid + ':' + r.id, id: r.id, at: r.at}}]->(t) }}"
                   for k, rt in REL_TYPES.items())
        + " RETURN 1"
    )

    def batches(share: list[Interaction]) -> list[tuple[list[str], dict[str, list]]]:
        out = []
        for i in range(0, len(share), BATCH):
            batch = share[i : i + BATCH]
            names = sorted({it.source for it in batch} | {it.target for it in batch})
            at = {n: j for j, n in enumerate(names)}
            rows: dict[str, list] = {k.value: [] for k in REL_TYPES}
            for it in batch:
                rows[it.kind.value].append({"s": at[it.source], "t": at[it.target], "id": it.id,
                                            "at": epoch_ms(it.at)})
            out.append((names, rows))
        return out

    shares = [batches(events[w::writers]) for w in range(writers)]
    with GraphDatabase.driver(creds.uri, auth=creds.auth, warn_notification_severity="OFF") as driver:
        def write(share) -> None:
            uid = uuid.uuid4().hex[:16]
            with driver.session() as s:
                for names, rows in share:
                    s.execute_write(lambda tx: tx.run(query, names=names, uid=uid, rows=rows).consume())

        start = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, shares))
        return time.perf_counter() - start


def phases(creds, events: list[Interaction]) -> dict[str, float]:
    """Where castlegate's time goes per batch, measured in this process on castlegate's own
    code (``Neo4jStore.add_interaction_batches``' two queries, taken apart): milliseconds per
    batch of ``BATCH`` events, averaged over the events given."""
    from graph.ingest.validate import decode_interactions
    from graph.store import batch as prep
    from graph.store.neo4j import _STORED, Neo4jStore, _write_new

    store = Neo4jStore(creds.uri, creds.user, creds.password)
    graph = f"phases-{uuid.uuid4().hex[:8]}"
    uid = store.create_graph(graph).version.split(".")[0]  # "<uid>.<revision>"
    spent = dict.fromkeys(("decode", "prepare", "stored ids", "write", "commit"), 0.0)
    batches = 0
    try:
        with store._session() as session:
            for i in range(0, len(events), BATCH):
                body = ndjson(events[i : i + BATCH])
                t0 = time.perf_counter()
                items = decode_interactions(body, ndjson=True)
                t1 = time.perf_counter()
                prepared = prep.prepare_each([items])
                ids = list(prepared[0].items)
                t2 = time.perf_counter()
                marks: list[float] = []

                def tx(t):
                    marks.clear()
                    a = time.perf_counter()
                    head = t.run(_STORED, id=graph, keys=[f"{uid}:{x}" for x in ids]).single()
                    group = prep.settle(prepared, dict(head["stored"]))
                    b = time.perf_counter()
                    _write_new(t, graph, uid, group)
                    marks.extend([a, b, time.perf_counter()])

                session.execute_write(tx)
                end = time.perf_counter()
                for name, took in (("decode", t1 - t0), ("prepare", t2 - t1), ("stored ids", marks[1] - marks[0]),
                                   ("write", marks[2] - marks[1]), ("commit", end - marks[2])):
                    spent[name] += took
                batches += 1
    finally:
        store.delete_graph(graph)
        store.close()
    return {k: 1000 * v / batches for k, v in spent.items()}


def offline_import(events: list[Interaction], work: Path) -> tuple[float, float]:
    """CSV files, then ``neo4j-admin database import full`` into a stopped instance.
    Returns (seconds writing the CSV, seconds importing)."""
    start = time.perf_counter()
    nodes, rels = work / "accounts.csv", work / "interactions.csv"
    names = sorted({it.source for it in events} | {it.target for it in events})
    with nodes.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key:ID", "graph_uid", "id"])
        w.writerows([f"bench:{n}", "bench", n] for n in names)
    with rels.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([":START_ID", ":END_ID", ":TYPE", "key", "id", "at:long", "platform"])
        w.writerows(
            [f"bench:{it.source}", f"bench:{it.target}", REL_TYPES[it.kind], f"bench:{it.id}",
             it.id, epoch_ms(it.at), it.platform or ""]
            for it in events
        )
    csv_seconds = time.perf_counter() - start
    local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=work / "neo4j-import", bolt_port=free_port()))
    start = time.perf_counter()
    done = local.admin(
        # the database name first: --nodes and --relationships take lists of files
        "database", "import", "full", "neo4j", "--overwrite-destination=true",
        f"--nodes=Account={nodes}", f"--relationships={rels}",
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"neo4j-admin database import failed:\n{done.stdout[-3000:]}")
    return csv_seconds, seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=0, help="use the first N events (default: all)")
    p.add_argument("--naive-sample", type=int, default=5000, help="events for the naive baseline")
    p.add_argument("--datasets", type=Path, default=Settings.from_env().datasets_dir)
    args = p.parse_args(argv)

    source = args.datasets / "higgs-twitter" / "higgs-activity_time.txt.gz"
    if not source.exists():
        raise SystemExit(f"{source} not found: set CASTLEGATE_DATASETS or --datasets")
    t = time.perf_counter()
    events = [r for r in read_records(source, "snap-higgs") if isinstance(r, Interaction)]
    parse_seconds = time.perf_counter() - t
    if args.events:
        events = events[: args.events]
    n = len(events)
    print(f"{n:,} events parsed in {parse_seconds:.1f} s", file=sys.stderr)

    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    rows: list[dict] = []
    local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=work / "neo4j", bolt_port=free_port()))
    try:
        creds = local.start()
        version = local.status()["version"]

        server = serve({"NEO4J_URI": creds.uri, "NEO4J_USER": creds.user, "NEO4J_PASSWORD": creds.password},
                       work, "neo4j")
        try:
            through_api(server, events[: min(n, 20_000)])  # warm the JIT and the query caches
            s = through_api(server, events)
        finally:
            server.stop()
        rows.append({"method": "castlegate API -> Neo4j", "events": n, "seconds": s})
        print(f"API -> Neo4j: {n / s:,.0f} events/s", file=sys.stderr)

        floor(creds, events[: min(n, 20_000)])  # its query planned and the JIT warm, as for the API
        s = floor(creds, events)
        rows.append({"method": "floor: Neo4j's own UNWIND CREATE per batch, no idempotency (see below)",
                     "events": n, "seconds": s})
        print(f"floor: {n / s:,.0f} events/s", file=sys.stderr)
        s = floor(creds, events, writers=2)
        rows.append({"method": "floor x2: two such writers at once, disjoint accounts (see below)",
                     "events": n, "seconds": s})
        print(f"floor x2: {n / s:,.0f} events/s", file=sys.stderr)
        spent = phases(creds, events[: min(n, 200_000)])
        print(f"per batch: {spent}", file=sys.stderr)

        sample = events[: args.naive_sample]
        s = naive(creds, sample)
        rows.append({"method": "naive: one MERGE transaction per event -> Neo4j", "events": len(sample), "seconds": s})
        print(f"naive: {len(sample) / s:,.0f} events/s", file=sys.stderr)
    finally:
        local.stop()

    server = serve({}, work, "sqlite")
    try:
        s = through_api(server, events)
    finally:
        server.stop()
    rows.append({"method": "castlegate API -> sqlite", "events": n, "seconds": s})
    print(f"API -> sqlite: {n / s:,.0f} events/s", file=sys.stderr)

    csv_s, s = offline_import(events, work)
    rows.append({"method": "offline: neo4j-admin database import full (CSV ready)", "events": n, "seconds": s})
    print(f"offline import: {n / s:,.0f} events/s (+{csv_s:.1f} s writing CSV)", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)

    for r in rows:
        r["rate"] = r["events"] / r["seconds"]
    api = rows[0]["rate"]
    by = {r["method"].split(":")[0]: r["rate"] for r in rows}
    ratios = {
        "api_neo4j_vs_naive": api / by["naive"],
        "api_neo4j_vs_offline": api / by["offline"],
        "api_neo4j_vs_floor": api / by["floor"],
        "floor_vs_naive": by["floor"] / by["naive"],
        "floor_vs_offline": by["floor"] / by["offline"],
        "floor2_vs_naive": by["floor x2"] / by["naive"],
        "floor2_vs_offline": by["floor x2"] / by["offline"],
        "api_sqlite_vs_naive": by["castlegate API -> sqlite"] / by["naive"],
    }
    info = machine() | {"neo4j_server": version}
    report = {"machine": info, "parse_seconds": parse_seconds, "rows": rows, "ratios": ratios,
              "batch": BATCH, "csv_seconds": csv_s, "phases_ms": spent}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest-higgs.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render(report)
    (RESULTS / "ingest-higgs.md").write_text(md)
    print(md)
    return 0


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Ingest: higgs-twitter activity events",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']};"
        f" Neo4j {m['neo4j_server']} (heap 4g, page cache 3g); driver {m['neo4j_driver']}"
        f" (Rust extension: {m['neo4j_rust_ext']}). API batches of {report['batch']:,} events as"
        " NDJSON, two clients sending at once. All rows measured in one run of"
        " `python -m bench.ingest`.",
        "",
        "| method | events | seconds | events/s |",
        "|---|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['method']} | {r['events']:,} | {r['seconds']:.1f} | {r['rate']:,.0f} |")
    q = report["ratios"]
    lines += [
        "",
        f"- API -> Neo4j is **{q['api_neo4j_vs_naive']:.0f}x** the naive baseline (target >= 100x).",
        f"- API -> Neo4j is **{q['api_neo4j_vs_offline']:.2f}** of the offline import rate (target >= 0.33).",
        f"- The floor (one writer's bare transactional write of the same events, nothing castlegate adds:"
        f" no idempotency, no counters) is {q['floor_vs_naive']:.0f}x naive and {q['floor_vs_offline']:.2f} of"
        f" offline; API -> Neo4j is {q['api_neo4j_vs_floor']:.2f} of it.",
        f"- Two such writers at once, on disjoint accounts so that neither ever waits for a lock, reach"
        f" {q['floor2_vs_naive']:.0f}x naive and {q['floor2_vs_offline']:.2f} of offline: the most this machine's"
        " Neo4j took in through transactions (more writers than its two cores took in less, when tried).",
        f"- API -> sqlite is {q['api_sqlite_vs_naive']:.0f}x the naive Neo4j baseline.",
        f"- Parsing the file: {report['parse_seconds']:.1f} s; writing the offline import's CSV:"
        f" {report['csv_seconds']:.1f} s (not counted in its rate).",
        "",
    ]
    if report.get("phases_ms"):
        ph = report["phases_ms"]
        lines += [
            f"Where castlegate's time goes, per batch of {report['batch']:,} (one writer, castlegate's own"
            " code taken apart in the bench process, first 200,000 events): the server decodes and validates"
            " the body, fingerprints each event, reads the digests stored under any kind for the batch's"
            " ids (idempotency), writes accounts, relationships and counters in one query under the graph's"
            " lock, and commits. Writes into one graph are serialised by that lock from the write on.",
            "",
            "| decode + validate | fingerprint | stored ids | write | commit | total |",
            "|---:|---:|---:|---:|---:|---:|",
            "| " + " | ".join(f"{ph[k]:.0f} ms" for k in ("decode", "prepare", "stored ids", "write", "commit"))
            + f" | {sum(ph.values()):.0f} ms |",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
