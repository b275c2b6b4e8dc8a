"""Mixing check: are the null model's draws random enough, and how cheaply?

Castles' closure z-scores and polarization's modularity z-score compare the observed
graph with random simple graphs of the same degrees (``graph.analysis.nulls``). Both
engines sample them with a Markov chain: double edge swaps (Maslov & Sneppen) in the
reference engine, global curveball trades (Carstens et al. 2018) in the fast one. A chain
has run long enough when running it longer no longer changes what the z-scores are built
from. This bench runs each chain at several lengths (the same seeds at every setting) and
compares, against the longest double-edge-swap chain:

- per community of the observed Louvain partition (5+ members): the mean E-I index and
  the mean k-core depth over the draws (the castles' closure statistics): the largest
  difference, and how many communities differ by more than 3 standard errors (each
  side's spread floored at 0.01);
- the mean modularity of a Louvain partition of the draws (polarization's null), in
  standard errors of the difference;
- the seconds per draw (the chain alone).

Run:  .venv/bin/python -m bench.mixing [--samples 6] [--lfr-samples 4]
Needs ../shared/datasets (CASTLEGATE_DATASETS) for the Reddit reply network. Writes
bench/results/mixing.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analysis import lfr_edges, reddit_edges  # noqa: E402
from bench.ingest import machine  # noqa: E402
from graph.analysis.engine import get_engine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MIN_SIZE = 5
#: (chain, length): swaps per edge, or global trades per draw
SETTINGS = [("curveball", 5), ("curveball", 10), ("curveball", 20), ("curveball", 40),
            ("swaps", 10), ("swaps", 30)]
REFERENCE = ("swaps", 30)


def undirected(edges: list[tuple[str, str]]) -> tuple[int, np.ndarray, np.ndarray]:
    ids: dict[str, int] = {}
    s = np.array([ids.setdefault(a, len(ids)) for a, _ in edges], dtype=np.int64)
    d = np.array([ids.setdefault(b, len(ids)) for _, b in edges], dtype=np.int64)
    n = len(ids)
    keep = s != d
    lo, hi = np.minimum(s[keep], d[keep]), np.maximum(s[keep], d[keep])
    pairs = np.unique(lo * n + hi)
    return n, pairs // n, pairs % n


def ei_index(lab: np.ndarray, src: np.ndarray, dst: np.ndarray, c: int) -> np.ndarray:
    inside = lab[src] == lab[dst]
    internal = np.bincount(lab[src][inside], minlength=c).astype(float)
    external = np.bincount(lab[src][~inside], minlength=c) + np.bincount(lab[dst][~inside], minlength=c)
    return (external - internal) / np.maximum(external + internal, 1)


def depth(lab: np.ndarray, core: np.ndarray, c: int) -> np.ndarray:
    return np.bincount(lab, weights=core, minlength=c) / np.maximum(np.bincount(lab, minlength=c), 1) / core.max()


def draw(n: int, src: np.ndarray, dst: np.ndarray, chain: str, length: int, seed: int):
    """One draw, timed: the chain only, from the same starting graph."""
    import igraph
    import networkit as nk

    if chain == "swaps":
        import random

        g = igraph.Graph(n=n, edges=list(zip(src.tolist(), dst.tolist())))
        igraph.set_random_number_generator(random.Random(seed))
        t0 = time.perf_counter()
        g.rewire(n=length * len(src), allowed_edge_types="simple")
        seconds = time.perf_counter() - t0
        e = np.asarray(g.get_edgelist(), dtype=np.int64)
    else:
        g = nk.GraphFromCoo((np.ones(len(src)), (src.astype(np.uint64), dst.astype(np.uint64))), n=n,
                            weighted=False, directed=False)
        nk.setSeed(seed, False)
        t0 = time.perf_counter()
        trades = nk.randomization.GlobalCurveball(g, length)
        trades.run()
        h = trades.getGraph()
        seconds = time.perf_counter() - t0
        e = np.asarray(list(h.iterEdges()), dtype=np.int64)
    return e[:, 0], e[:, 1], seconds


def check(name: str, edges: list[tuple[str, str]], samples: int) -> dict:
    import networkit as nk

    nk.setNumberOfThreads(1)  # one draw, one core: what a draw costs in the product
    eng = get_engine("fast")
    n, src, dst = undirected(edges)
    m = len(src)
    memb = np.asarray(eng.louvain(n, src, dst, np.ones(m), seed=0), dtype=np.int64)
    c = int(memb.max()) + 1
    big = np.bincount(memb, minlength=c) >= MIN_SIZE
    stats = {}
    for chain, length in SETTINGS:
        ei, dp, q, seconds = [], [], [], 0.0
        for k in range(samples):
            rs, rd, s = draw(n, src, dst, chain, length, seed=1000 + k)
            seconds += s
            ei.append(ei_index(memb, rs, rd, c)[big])
            dp.append(depth(memb, np.asarray(eng.coreness(n, rs, rd), dtype=float), c)[big])
            ones = np.ones(len(rs))
            q.append(eng.modularity(n, rs, rd, ones, eng.louvain(n, rs, rd, ones, seed=k)))
        stats[(chain, length)] = (np.array(ei), np.array(dp), np.array(q), seconds / samples)
        print(f"{name} {chain} {length}: {seconds / samples:.2f} s per draw, Q {np.mean(q):.4f}", file=sys.stderr)
    ref_ei, ref_dp, ref_q, _ = stats[REFERENCE]
    rows = []
    for (chain, length), (ei, dp, q, seconds) in stats.items():
        row = {"chain": chain, "length": length, "seconds": seconds, "q_mean": float(q.mean()),
               "q_sd": float(q.std(ddof=1))}
        for stat, a, b in (("ei", ei, ref_ei), ("depth", dp, ref_dp)):
            se = np.sqrt((np.maximum(a.std(0, ddof=1), 0.01) ** 2 + np.maximum(b.std(0, ddof=1), 0.01) ** 2) / samples)
            diff = np.abs(a.mean(0) - b.mean(0))
            row[f"{stat}_max_diff"] = float(diff.max())
            row[f"{stat}_off"] = int((diff > 3 * se).sum())
        q_se = np.sqrt((q.var(ddof=1) + ref_q.var(ddof=1)) / samples)
        row["q_diff_se"] = float(abs(q.mean() - ref_q.mean()) / q_se) if q_se > 0 else 0.0
        rows.append(row)
    return {"graph": name, "nodes": n, "edges": m, "communities": int(big.sum()), "samples": samples,
            "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=6)
    p.add_argument("--lfr-samples", type=int, default=4)
    p.add_argument("--datasets", type=Path,
                   default=Path(os.environ.get("CASTLEGATE_DATASETS", ROOT.parent / "shared" / "datasets")))
    args = p.parse_args(argv)
    runs = [check("reddit", reddit_edges(args.datasets), args.samples),
            check("lfr-1M", lfr_edges(100_000, 20), args.lfr_samples)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mixing.json").write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2) + "\n")
    chain_names = {"curveball": "global curveball trades (fast engine)", "swaps": "double edge swaps per edge"}
    lines = ["# Mixing check: the null model's Markov chains", "",
             f"Machine: {machine()}. `python -m bench.mixing`: the same seeds at every setting, one thread per draw;"
             f" everything compared with {REFERENCE[1]} double edge swaps per edge (igraph `rewire`). Per community"
             " of the observed Louvain partition (5+ members): the mean E-I index and mean k-core depth over the"
             " draws; 'off' counts communities whose mean differs by more than 3 standard errors. Q: mean"
             " modularity of a Louvain partition of the draws, and its distance from the reference's in standard"
             " errors.", ""]
    for r in runs:
        lines += [f"## {r['graph']}: {r['nodes']:,} nodes, {r['edges']:,} edges, {r['communities']} communities,"
                  f" {r['samples']} draws per setting", "",
                  "| chain | length | s per draw | largest E-I difference | E-I off | largest depth difference |"
                  " depth off | Q (sd) | Q difference in SE |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {chain_names[x['chain']]} | {x['length']} | {x['seconds']:.2f} | {x['ei_max_diff']:.4f} |"
                  f" {x['ei_off']} of {r['communities']} | {x['depth_max_diff']:.4f} | {x['depth_off']} of"
                  f" {r['communities']} | {x['q_mean']:.4f} ({x['q_sd']:.4f}) | {x['q_diff_se']:.1f} |"
                  for x in r["rows"]]
        lines.append("")
    # the conclusion drawn from the run of 2026-12-01 (bench/results/mixing.md); a rerun
    # that disagrees with it shows in the table above it
    lines += ["The fast engine draws with 20 global curveball trades (`CURVEBALL_TRADES`): the shortest setting"
              " that is as close to the reference as 10 double edge swaps per edge (the reference engine's"
              " setting) on every statistic, on both graphs, at a fifth of their cost on the 1M-edge graph."
              " 10 trades suffice for the E-I index and the null modularity but not for k-core depth on LFR;"
              " 5 trades leave the null modularity visibly too high. On Reddit every chain, the longest"
              " included, has a few of 508 communities' depth off by more than 3 SE: the noise floor of a"
              " discrete statistic over a few draws.", ""]
    (RESULTS / "mixing.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
