"""Analysis benchmark: a full analysis (load from Neo4j, build, communities, roles with
betweenness, gatekeepers, pods, trusted voices, castles with their null model,
polarization), ``fast`` vs ``reference`` engines side by side in one run, with the time per
stage and the peak RSS of each run (each run is its own process, so peaks do not mix).

Graphs:
- the Reddit reply network (../shared/datasets/reddit-small-reply-network), ~240k edges;
- a synthetic LFR graph (NetworKit's generator, mu = 0.3) of ~1M edges;
- higgs-twitter's 563k activity events (retweets, replies, mentions), every default layer.

Targets (issue 11): the 1M-edge LFR graph in <= 60 s with peak RSS < 2 GB, higgs on all
layers in <= 90 s, and fast >= 50x reference on the samples with modularity within 1%.
Every run uses the product's default ``null_samples``.

The reference engine (networkx + python-louvain) needs hours on the full graphs (Burt
constraint and betweenness above all), so it runs on a sample: the subgraph of the first
``--sample-edges`` edges; the fast engine runs on the same sample too, so the ratio is
like for like, and on the full graph.

Run:  .venv/bin/python -m bench.analysis [--sample-edges N] [--skip-lfr]
Writes bench/results/analysis.md (and .json).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, machine  # noqa: E402
from graph.model import Interaction, Kind  # noqa: E402
from service.neo4j_local import LocalNeo4j, LocalNeo4jConfig  # noqa: E402
from service.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def reddit_edges(datasets: Path) -> list[tuple[str, str]]:
    """The reply pairs (u replied to v) by node id, self-loops dropped. A line scan of the
    GML: networkx.read_gml needs ~40 s for the same file."""
    import re

    path = next((datasets / "reddit-small-reply-network").glob("*.gml.gz"))
    text = gzip.open(path, "rt").read()
    pairs = re.findall(r"edge \[\s*source (\d+)\s*target (\d+)", text)
    return [(a, b) for a, b in pairs if a != b]


def lfr_edges(n: int, avg_degree: int, seed: int = 1) -> list[tuple[str, str]]:
    import networkit as nk

    nk.setSeed(seed, False)
    gen = nk.generators.LFRGenerator(n)
    gen.generatePowerlawDegreeSequence(avg_degree, min(n // 10, 500), -2.0)
    gen.generatePowerlawCommunitySizeSequence(20, 1000, -1.0)
    gen.setMu(0.3)
    g = gen.generate()
    return [(str(u), str(v)) for u, v in g.iterEdges()]


def higgs_events(datasets: Path) -> list[Interaction]:
    from graph.ingest.formats import read_records

    source = datasets / "higgs-twitter" / "higgs-activity_time.txt.gz"
    return [r for r in read_records(source, "snap-higgs") if isinstance(r, Interaction)]


def load(store, graph: str, edges: list[tuple[str, str]] | list[Interaction]) -> float:
    """Stores the edges as replies (each pair once, in random direction order), or the
    interactions as they are, and returns the seconds it took."""
    from graph.errors import GraphExists

    try:
        store.create_graph(graph)
    except GraphExists:
        store.delete_graph(graph)
        store.create_graph(graph)
    start = time.perf_counter()
    batch = []
    for i, e in enumerate(edges):
        if not isinstance(e, Interaction):
            e = Interaction(id=f"e{i}", kind=Kind.REPLY, source=e[0], target=e[1], at=T0 + timedelta(seconds=i))
        batch.append(e)
        if len(batch) == 20_000:
            store.add_interactions(graph, batch)
            batch = []
    if batch:
        store.add_interactions(graph, batch)
    return time.perf_counter() - start


def child(args: argparse.Namespace) -> int:
    """One full analysis (every stage, as ``POST .../analyses`` runs it in a worker) in this
    process, with an empty result cache; prints a JSON line with timings and peak RSS."""
    import msgspec

    from graph.analysis import parallel
    from graph.analysis.engine import get_engine
    from graph.analysis.params import DEFAULT_LAYERS, AnalysisParams
    from graph.analysis.stages import STAGES
    from graph.jobs.sqlite import SqliteJobStore
    from graph.store.neo4j import Neo4jStore
    from graph.usecases.analyse import StageRecord, produce, stage_key

    import importlib

    from service.worker import _PRELOAD

    # a job's analysis process forks from a server that has these imported already: the
    # clock starts where a job's would
    for module in _PRELOAD:
        importlib.import_module(module)
    store = Neo4jStore(args.uri, "neo4j", os.environ["BENCH_NEO4J_PASSWORD"])
    cache = SqliteJobStore(Path(tempfile.mkdtemp(dir=WORK)) / "results.sqlite")
    layers = DEFAULT_LAYERS if args.graph == "higgs" else ("reply",)
    params = AnalysisParams(layers=layers, engine=args.engine, seed=1, null_samples=args.null_samples)
    timings: dict[str, float] = {}
    mark = [None, time.perf_counter()]

    def progress(step: str, done: float) -> None:
        now = time.perf_counter()
        if mark[0] is not None:
            timings[mark[0]] = round(now - mark[1], 4)
        mark[:] = [step, now]

    start = time.perf_counter()
    out = produce(store, cache, args.graph, params, "analysis", progress=progress)
    progress("done", 1.0)
    total = time.perf_counter() - start
    store.close()

    def result(stage: str):
        rec = msgspec.msgpack.decode(cache.get_result(stage_key(args.graph, out.graph_version, stage, params)),
                                     type=StageRecord)
        return msgspec.msgpack.decode(rec.result, type=STAGES[stage].result_type)

    comms, roles = result("communities"), result("roles")
    cache.close()
    # VmHWM, not getrusage: ru_maxrss survives exec, so a process started by a big one
    # (this one by the bench, a helper by this one) would report its parent's peak
    helpers_peak = max((_peak_rss_mb(pid) for pid in parallel.helper_pids()), default=0.0)
    print(json.dumps({
        "engine": args.engine, "graph": args.graph, "nodes": len(comms.membership),
        "stages": timings, "total": total, "modularity": comms.modularity,
        "communities": len(comms.communities),
        "betweenness": roles.betweenness_method,
        "versions": get_engine(args.engine).versions(),
        "peak_rss_mb": _peak_rss_mb("self"),
        "helper_peak_rss_mb": helpers_peak,
    }))
    return 0


def _peak_rss_mb(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_child(uri: str, password: str, graph: str, engine: str, null_samples: int) -> dict:
    env = os.environ | {"BENCH_NEO4J_PASSWORD": password}
    out = subprocess.run(
        [sys.executable, "-m", "bench.analysis", "--child", "--uri", uri, "--graph", graph,
         "--engine", engine, "--null-samples", str(null_samples)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{engine} on {graph} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--uri")
    p.add_argument("--graph")
    p.add_argument("--engine")
    p.add_argument("--null-samples", type=int, default=None, help="default: the product's")
    p.add_argument("--sample-edges", type=int, default=20_000,
                   help="edges of the sample both engines run on (reference needs hours on the full graphs)")
    p.add_argument("--lfr-nodes", type=int, default=100_000)
    p.add_argument("--lfr-degree", type=int, default=20)
    p.add_argument("--skip-lfr", action="store_true")
    p.add_argument("--skip-higgs", action="store_true")
    p.add_argument("--datasets", type=Path, default=Settings.from_env().datasets_dir)
    args = p.parse_args(argv)
    if args.null_samples is None:
        from graph.analysis.params import AnalysisParams

        args.null_samples = AnalysisParams().null_samples
    if args.child:
        return child(args)

    graphs: dict[str, list] = {"reddit": reddit_edges(args.datasets)}
    if not args.skip_lfr:
        graphs["lfr-1M"] = lfr_edges(args.lfr_nodes, args.lfr_degree)
    if not args.skip_higgs:
        graphs["higgs"] = higgs_events(args.datasets)
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    local = LocalNeo4j(LocalNeo4jConfig.from_env(state_dir=work / "neo4j", bolt_port=free_port()))
    rows, loads = [], {}
    try:
        creds = local.start()
        from graph.store.neo4j import Neo4jStore

        store = Neo4jStore(creds.uri, creds.user, creds.password)
        for name, edges in graphs.items():
            loads[name] = {"edges": len(edges), "seconds": load(store, name, edges)}
            if name == "higgs":
                continue  # all layers, fast only
            sample = f"{name}-sample"
            loads[sample] = {"edges": min(len(edges), args.sample_edges),
                             "seconds": load(store, sample, edges[: args.sample_edges])}
            print(f"{name}: {len(edges):,} edges stored", file=sys.stderr)
        store.close()
        for name in graphs:
            sample = f"{name}-sample"
            runs = ((name, "fast"),) if name == "higgs" else ((sample, "reference"), (sample, "fast"), (name, "fast"))
            for graph, engine in runs:
                r = run_child(creds.uri, creds.password, graph, engine, args.null_samples)
                print(f"{graph} {engine}: {r['total']:.1f} s, Q={r['modularity']:.4f}", file=sys.stderr)
                rows.append(r)
        version = local.status()["version"]
    finally:
        local.stop()
    report = {"machine": machine() | {"neo4j_server": version}, "loads": loads, "runs": rows,
              "sample_edges": args.sample_edges, "null_samples": args.null_samples}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analysis.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render(report)
    (RESULTS / "analysis.md").write_text(md)
    print(md)
    return 0


def render(report: dict) -> str:
    m = report["machine"]
    # load = the consistent snapshot out of Neo4j (columns and single events) and the graph
    # built from it; nulls = the null-model draws castles and polarization share
    stages = ["load", "communities", "roles", "gatekeepers", "pods", "trusted", "nulls", "castles",
              "polarization", "render"]
    lines = [
        "# Full analysis: fast vs reference",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']};"
        f" Neo4j {m['neo4j_server']}; driver {m['neo4j_driver']} (Rust extension: {m['neo4j_rust_ext']})."
        f" `python -m bench.analysis`. Layer: reply (higgs: every default layer). {report['null_samples']}"
        f" null-model draws (the default), shared by castles and polarization. One process per run,"
        f" with its helper processes (peak RSS: the analysis process / the largest helper; VmHWM)."
        f" The null draws start as soon as the partition is there and run beside the role metrics on"
        f" the same helpers, so where they overlap their time is in the roles column. The"
        f" reference engine runs only on the samples (first {report['sample_edges']:,} edges): on"
        f" the full graphs it needs hours.",
        "",
        "Engines: " + "; ".join(
            f"{e}: " + ", ".join(f"{k} {v}" for k, v in sorted(v.items()))
            for e, v in {r["engine"]: r.get("versions", {}) for r in report["runs"]}.items()) + ".",
        "",
        "| graph | engine | nodes | edges | " + " | ".join(stages) + " | total s | peak RSS MB | modularity |",
        "|---|---|---:|---:|" + "---:|" * len(stages) + "---:|---:|---:|",
    ]
    for r in report["runs"]:
        st = r["stages"]
        lines.append(
            f"| {r['graph']} | {r['engine']} | {r['nodes']:,} | {report['loads'][r['graph']]['edges']:,} | "
            + " | ".join(f"{st.get(s, 0):.2f}" for s in stages)
            + f" | {r['total']:.1f} | {r['peak_rss_mb']:.0f} / {r.get('helper_peak_rss_mb', 0):.0f}"
            f" | {r['modularity']:.4f} |"
        )
    lines.append("")
    by = {(r["graph"], r["engine"]): r for r in report["runs"]}
    for r in report["runs"]:
        if r["engine"] == "reference":
            fast = by[(r["graph"], "fast")]
            # the store read is the same code for both engines: the engines' ratio is the rest
            ref_a, fast_a = r["total"] - r["stages"].get("load", 0), fast["total"] - fast["stages"].get("load", 0)
            dq = 100 * (fast["modularity"] - r["modularity"]) / r["modularity"]
            lines.append(
                f"- {r['graph']}: the analysis after the store read takes {ref_a:.1f} s on reference and"
                f" {fast_a:.2f} s on fast: **{ref_a / fast_a:.0f}x** (target >= 50x:"
                f" {'met' if ref_a / fast_a >= 50 else 'NOT met'}); with the read, {r['total'] / fast['total']:.0f}x."
                f" Modularity {fast['modularity']:.4f} vs {r['modularity']:.4f} ({dq:+.2f}%; target within 1%:"
                f" {'met' if abs(dq) <= 1 else 'NOT met'})."
            )
    targets = {"lfr-1M": 60.0, "higgs": 90.0}
    for r in report["runs"]:
        if r["engine"] == "fast" and not r["graph"].endswith("-sample"):
            load_s = r["stages"].get("load", 0)
            line = (f"- {r['graph']}: {r['total']:.1f} s in all")
            if r["graph"] in targets:
                t = targets[r["graph"]]
                line += f" (target <= {t:.0f} s: {'met' if r['total'] <= t else 'NOT met'})"
            peak = max(r["peak_rss_mb"], r.get("helper_peak_rss_mb", 0))
            line += (f"; reading {report['loads'][r['graph']]['edges']:,} interactions out of Neo4j in one"
                     f" snapshot and building the graph took {load_s:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB"
                     f" in the analysis process, {r.get('helper_peak_rss_mb', 0):.0f} MB in its largest helper"
                     f" (target < 2,048 MB: {'met' if peak < 2048 else 'NOT met'}).")
            lines.append(line)
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
