"""Streaming ingest: four clients posting small batches to one graph at once.

A real ``castlegate serve`` (no embedded worker), on Neo4j and on the embedded sqlite
store, with group commit on and off (``CASTLEGATE_GROUP_COMMIT=off``: each request its own
transaction, as before), so the "before" and "after" rows come from the same run, the same
Neo4j and the same machine. For each batch size (10, 100, 1000 interactions), ``CLIENTS``
client threads POST JSON batches of higgs-twitter events (each request new ids: the
events' ids prefixed per round) to ``/v1/graphs/{graph}/interactions`` of one graph, each
waiting for its answer before sending the next, for ``--seconds`` seconds. A short warm-up
(not counted) goes first, so Neo4j has planned its queries.

Reported: requests/s, interactions/s, p50 and p99 latency, non-200 answers; and a check
that every acknowledged interaction is stored exactly once (the graph's counters equal the
sum of ``accepted``, and nothing was a duplicate).

The clients, the server and Neo4j share the machine's cores (2 here): the clients' own CPU
(encoding, HTTP) is taken from the server's.

Run:  .venv/bin/python -m bench.streaming [--seconds 20] [--sizes 10,100,1000]
      NEO4J_URI=bolt://127.0.0.1:7691 CASTLEGATE_NEO4J_HOME=... to use a running Neo4j
      (else one of this run's own is started: 2g heap, 1g page cache)
Writes bench/results/streaming.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from bench.faults import OwnNeo4j, Serve, base_environment  # noqa: E402
from bench.ingest import machine  # noqa: E402
from graph.ingest.formats import read_records  # noqa: E402
from graph.model import Interaction  # noqa: E402
from service.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
CLIENTS = 4
SIZES = (10, 100, 1000)
WARMUP_SECONDS = 2.0
TARGETS = {10: ("requests/s", 200), 100: ("interactions/s", 10_000)}
P99_TARGET_MS = 100


def events(datasets: Path, n: int) -> list[dict]:
    """The first ``n`` higgs events, as the JSON the API takes."""
    source = datasets / "higgs-twitter" / "higgs-activity_time.txt.gz"
    if not source.exists():
        raise SystemExit(f"{source} not found: set CASTLEGATE_DATASETS or --datasets")
    out = []
    for r in read_records(source, "snap-higgs"):
        if isinstance(r, Interaction):
            out.append(msgspec.to_builtins(r))
            if len(out) >= n:
                break
    return out


class Feed:
    """Batches for all clients: the pool's events in order (again from the start when it
    runs out), each under a new id (``<tag>-<sequence number>``), so no id is sent twice."""

    def __init__(self, pool: list[dict], size: int, tag: str) -> None:
        self.pool, self.size, self.tag = pool, size, tag
        self.next = 0
        self.lock = threading.Lock()

    def take(self) -> list[dict]:
        with self.lock:
            start, self.next = self.next, self.next + self.size
        n = len(self.pool)
        return [{**self.pool[k % n], "id": f"{self.tag}-{k}"} for k in range(start, start + self.size)]


def run_clients(serve: Serve, graph: str, feed: Feed, seconds: float) -> dict:
    """``CLIENTS`` threads posting ``feed``'s batches to ``graph`` for ``seconds``."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    accepted = duplicates = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        nonlocal accepted, duplicates
        mine: list[float] = []
        with serve.client() as c:
            while time.perf_counter() < stop_at:
                body = msgspec.json.encode(feed.take())
                t = time.perf_counter()
                r = c.post(f"/v1/graphs/{graph}/interactions", content=body,
                           headers={"content-type": "application/json"})
                took = time.perf_counter() - t
                with lock:
                    statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                    if r.status_code == 200:
                        a = r.json()
                        accepted += a["accepted"]
                        duplicates += a["duplicates"]
                if r.status_code == 200:
                    mine.append(took)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    ok = len(latencies)
    return {"seconds": elapsed, "requests": ok, "requests_per_s": ok / elapsed,
            "interactions_per_s": accepted / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "statuses": statuses, "accepted": accepted, "duplicates": duplicates}


def measure(store: str, group_commit: bool, env: dict[str, str], pool: list[dict], sizes, seconds: float,
            work: Path) -> list[dict]:
    mode = "on" if group_commit else "off"
    env = base_environment(work / f"data-{store}-{mode}", env | {
        "CASTLEGATE_EMBEDDED_WORKER": "off", "CASTLEGATE_LOG_LEVEL": "WARNING",
        "CASTLEGATE_RATE_LIMIT": "100000000", "CASTLEGATE_GROUP_COMMIT": mode,
        "CASTLEGATE_MAX_BODY_BYTES": str(64 << 20)})
    serve = Serve(env, work / f"serve-{store}-{mode}.log").start()
    rows = []
    try:
        for size in sizes:
            graph = f"stream-{uuid.uuid4().hex[:8]}"
            with serve.client() as c:
                c.post("/v1/graphs", json={"id": graph}).raise_for_status()
            tag = uuid.uuid4().hex[:6]
            run_clients(serve, graph, Feed(pool, size, f"w{tag}"), WARMUP_SECONDS)
            with serve.client() as c:
                before = sum(c.get(f"/v1/graphs/{graph}").json()["interactions"].values())
            r = run_clients(serve, graph, Feed(pool, size, f"m{tag}"), seconds)
            with serve.client() as c:
                stored = sum(c.get(f"/v1/graphs/{graph}").json()["interactions"].values()) - before
            r |= {"store": store, "group_commit": group_commit, "batch": size,
                  "stored": stored, "exactly_once": stored == r["accepted"] and r["duplicates"] == 0}
            rows.append(r)
            print(f"{store:6} group commit {mode:3} {size:5}-item: {r['requests_per_s']:7.1f} req/s"
                  f" {r['interactions_per_s']:9.0f} interactions/s p50 {r['p50_ms']:6.1f} ms"
                  f" p99 {r['p99_ms']:6.1f} ms {r['statuses']} exactly once: {r['exactly_once']}",
                  file=sys.stderr)
    finally:
        serve.stop()
    return rows


def neo4j_env(work: Path) -> tuple[dict[str, str], OwnNeo4j | None, str]:
    """A running Neo4j named by NEO4J_URI (password from NEO4J_PASSWORD or the local
    launcher's file), else one of this run's own."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        password = os.environ.get("NEO4J_PASSWORD")
        user = os.environ.get("NEO4J_USER", "neo4j")
        if password is None:
            from service.neo4j_local import local_credentials_for

            creds = local_credentials_for(uri)
            if creds is None:
                raise SystemExit(f"NEO4J_URI={uri}: set NEO4J_PASSWORD, or CASTLEGATE_NEO4J_HOME of its launcher")
            user, password = creds.user, creds.password
        return {"NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}, None, "running server"
    own = OwnNeo4j(work / "neo4j", heap="2g", pagecache="1g")
    own.start()
    return own.env, own, "2g heap, 1g page cache"


def server_version(env: dict[str, str]) -> str:
    from graph.store.neo4j import Neo4jStore

    s = Neo4jStore(env["NEO4J_URI"], env["NEO4J_USER"], env["NEO4J_PASSWORD"])
    try:
        return s.server_version()
    finally:
        s.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="seconds each configuration runs (default 20)")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="batch sizes, comma-separated")
    p.add_argument("--stores", default="neo4j,sqlite")
    p.add_argument("--datasets", type=Path, default=Settings.from_env().datasets_dir)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    stores = args.stores.split(",")

    pool = events(args.datasets, 200_000)
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    rows: list[dict] = []
    neo4j_info = ""
    own = None
    try:
        if "neo4j" in stores:
            env, own, how = neo4j_env(work)
            neo4j_info = f"Neo4j {server_version(env)} ({how})"
            for gc in (False, True):
                rows += measure("neo4j", gc, env, pool, sizes, args.seconds, work)
        if "sqlite" in stores:
            # the sqlite store cannot write several requests in one transaction: its
            # requests are written apart whatever CASTLEGATE_GROUP_COMMIT says
            rows += measure("sqlite", False, {}, pool, sizes, args.seconds, work)
    finally:
        if own is not None:
            own.stop()
    shutil.rmtree(work, ignore_errors=True)

    report = {"machine": machine(), "neo4j": neo4j_info, "clients": CLIENTS, "seconds": args.seconds,
              "warmup_seconds": WARMUP_SECONDS, "rows": rows,
              "targets": {"10": "requests/s >= 200", "100": "interactions/s >= 10,000", "p99_ms": "< 100"}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "streaming.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render(report)
    (RESULTS / "streaming.md").write_text(md)
    print(md)
    return 0


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Streaming ingest: four clients, small batches, one graph",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores (shared by the clients, castlegate and Neo4j), "
        f"{m['memory_gb']} GB; Python {m['python']}; {report['neo4j'] or 'no Neo4j'}; driver {m['neo4j_driver']}."
        f" {report['clients']} client threads, each posting a JSON batch of new higgs events and waiting for"
        f" the answer, for {report['seconds']:g} s per row (after {report['warmup_seconds']:g} s of warm-up);"
        " `castlegate serve` without its worker. Group commit off: `CASTLEGATE_GROUP_COMMIT=off` (a transaction"
        " per request, on the same new write path). All rows from one run of `python -m bench.streaming`;"
        " before this work (two commits back, a transaction of 11 queries per request) the same load measured"
        " 20 requests/s (10-item) and 1,371 interactions/s (100-item) on Neo4j.",
        "",
        "| store | group commit | batch | requests/s | interactions/s | p50 ms | p99 ms | answers | exactly once |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in report["rows"]:
        answers = ", ".join(f"{n} x {s}" for s, n in sorted(r["statuses"].items()))
        lines.append(
            f"| {r['store']} | {_mode(r)} | {r['batch']:,} |"
            f" {r['requests_per_s']:,.1f} | {r['interactions_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            f" {answers} | {'yes' if r['exactly_once'] else 'NO'} |")
    lines += ["", "Targets (Neo4j, group commit on):", ""]
    for r in report["rows"]:
        if r["store"] != "neo4j" or not r["group_commit"]:
            continue
        if r["batch"] in TARGETS:
            what, goal = TARGETS[r["batch"]]
            have = r["requests_per_s"] if what == "requests/s" else r["interactions_per_s"]
            lines.append(f"- {r['batch']}-item batches: **{have:,.0f} {what}** (target >= {goal:,}):"
                         f" {'met' if have >= goal else 'not met'}; p99 **{r['p99_ms']:.0f} ms** (target <"
                         f" {P99_TARGET_MS}): {'met' if r['p99_ms'] < P99_TARGET_MS else 'not met'}.")
    lines.append("")
    return "\n".join(lines)


def _mode(row: dict) -> str:
    if row["store"] == "sqlite":
        return "n/a (a transaction per request)"
    return "on" if row["group_commit"] else "off (a transaction per request)"


if __name__ == "__main__":
    raise SystemExit(main())
