"""Scheduled audits benchmark: how long a morning's audits take when several accounts of
one graph are due at once, three ways side by side in one run, through the real scheduler
(claim, run, store the result) on Neo4j:

- ``naive``: every run analyses the graph itself, fully (every stage, no shared cache);
- ``shared``: one full analysis per graph version, shared by the runs through the result
  cache;
- ``castlegate``: shared, and only the stages a diversity answer needs (communities, pods,
  trusted voices, castles; roles, gatekeepers and polarization skipped), as the workers do.

The graph is the Reddit reply network (../shared/datasets/reddit-small-reply-network),
~240k reply pairs; the audited accounts are the ones with the most reply partners. Every
way gets fresh manual runs of the same audits and an empty cache.

Run:  .venv/bin/python -m bench.audits [--audits N]
Writes bench/results/audits.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analysis import load, reddit_edges  # noqa: E402
from bench.ingest import free_port, machine  # noqa: E402
from service.neo4j_local import LocalNeo4j, LocalNeo4jConfig  # noqa: E402
from service.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
GRAPH = "reddit"


def run_way(store, audits, way: str) -> dict:
    """Queues one manual run per audit and lets a scheduler work them off; returns the
    wall time and the runs' results (to check the three ways agree)."""
    from graph.audits.clock import ManualClock
    from graph.jobs.sqlite import SqliteJobStore
    from graph.usecases.analyse import produce
    from graph.usecases.audit_run import inline
    from service.scheduler import Scheduler, SchedulerConfig

    folder = Path(tempfile.mkdtemp(dir=WORK))
    caches = []

    def cache() -> SqliteJobStore:
        caches.append(SqliteJobStore(folder / f"results-{len(caches)}.sqlite"))
        return caches[-1]

    shared = cache()

    def naive(g, p, account):  # a full analysis per run, nothing shared
        c = cache()
        produce(store, c, g, p, "analysis")
        return inline(store, c)(g, p, account)

    def full_shared(g, p, account):  # one full analysis, shared by the runs
        produce(store, shared, g, p, "analysis")
        return inline(store, shared)(g, p, account)

    diversity_for = {"naive": naive, "shared": full_shared, "castlegate": inline(store, shared)}[way]
    clock = ManualClock(T0)
    s = Scheduler(store, clock, diversity_for, SchedulerConfig(graphs=(GRAPH,)))
    ids = {a.id: store.queue_run(GRAPH, a.id, T0, f"{way}-{uuid.uuid4().hex[:8]}").id for a in audits}
    start = time.perf_counter()
    while s.tick():
        s.drain()
    seconds = time.perf_counter() - start
    s.stop()
    for c in caches:
        c.close()
    runs = [store.get_run(GRAPH, a, r) for a, r in ids.items()]
    assert all(r.status == "done" for r in runs), [r.error for r in runs]
    return {"way": way, "audits": len(audits), "seconds": round(seconds, 2),
            "per_audit": round(seconds / len(audits), 2),
            "results": {r.audit: json.loads(r.result) for r in runs}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audits", type=int, default=4, help="accounts audited at the same hour")
    p.add_argument("--datasets", type=Path, default=Settings.from_env().datasets_dir)
    args = p.parse_args(argv)

    from graph.analysis.params import AnalysisParams
    from graph.audits.model import Audit
    from graph.store.neo4j import Neo4jStore

    edges = reddit_edges(args.datasets)
    degree = Counter(a for e in set(edges) for a in e)
    accounts = [a for a, _ in degree.most_common(args.audits)]
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=work / "neo4j", bolt_port=free_port()))
    try:
        creds = local.start()
        store = Neo4jStore(creds.uri, creds.user, creds.password)
        load(store, GRAPH, edges)
        params = AnalysisParams(layers=("reply",), seed=1)
        audits = []
        for acc in accounts:
            a = Audit(id=uuid.uuid4().hex[:16], graph=GRAPH, account=acc, every="P1D", params=params,
                      paused=True, created_at=T0, updated_at=T0)
            audits.append(store.create_audit(a))
        rows = []
        for way in ("naive", "shared", "castlegate"):
            rows.append(run_way(store, audits, way))
            print(f"{way}: {rows[-1]['seconds']} s", file=sys.stderr)
        version = local.status()["version"]
        store.close()
    finally:
        local.stop()
    # the three ways must give the same diversity figures (manifests differ in timing and
    # in the analyses listed)
    strip = lambda r: {k: v for k, v in r.items() if k != "manifest"}  # noqa: E731
    same = all(strip(rows[0]["results"][a]) == strip(r["results"][a]) for r in rows for a in rows[0]["results"])
    report = {"machine": machine() | {"neo4j_server": version}, "graph": GRAPH, "pairs": len(edges),
              "accounts": accounts, "same_results": same,
              "rows": [{k: v for k, v in r.items() if k != "results"} for r in rows]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audits.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render(report)
    (RESULTS / "audits.md").write_text(md)
    print(md)
    return 0 if same else 1


def render(r: dict) -> str:
    m = r["machine"]
    base = r["rows"][0]["seconds"]
    lines = [
        "# Scheduled audits: a morning's runs on one graph",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; Python {m.get('python', '?')};"
        f" Neo4j {m['neo4j_server']}. Graph: {r['graph']} ({r['pairs']:,} reply pairs);"
        f" {len(r['accounts'])} audits due at once (the accounts with the most reply partners),"
        " run through the scheduler (claim, analyse, store), fast engine, one run.",
        "",
        "| way | audits | total s | per audit s | vs naive |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['way']} | {row['audits']} | {row['seconds']:.1f} | {row['per_audit']:.1f} |"
                     f" {base / row['seconds']:.1f}x |")
    lines += ["", f"- The three ways give the same diversity results: {'yes' if r['same_results'] else 'NO'}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
