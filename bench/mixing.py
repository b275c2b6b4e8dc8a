"""Mixing check: how many swaps per edge do the castles and polarization null models need?

Castles' closure z-scores and polarization's modularity null compare the observed graph
with degree-preserving rewirings (``engine.rewire``, double edge swaps, today 10 swaps per
edge). A rewiring is mixed when more swaps no longer change the statistic the z-score is
built from. This bench rewires each graph ``--samples`` times at several swaps per edge
(fast engine, the same seeds at every setting) and compares, per community of the observed
Louvain partition (5+ members), the mean E-I index over the samples with the mean at the
largest setting: the largest difference, and how many communities differ by more than 3
standard errors (each side's spread floored at 0.01). Also reported: the share of the
original edges still present, and the seconds per sample.

Run:  .venv/bin/python -m bench.mixing [--samples 8] [--lfr-samples 3]
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


def undirected(edges: list[tuple[str, str]]) -> tuple[int, np.ndarray, np.ndarray]:
    ids: dict[str, int] = {}
    s = np.array([ids.setdefault(a, len(ids)) for a, _ in edges], dtype=np.int64)
    d = np.array([ids.setdefault(b, len(ids)) for _, b in edges], dtype=np.int64)
    n = len(ids)
    pairs = np.unique(np.minimum(s, d) * n + np.maximum(s, d))
    return n, pairs // n, pairs % n


def ei_index(lab: np.ndarray, src: np.ndarray, dst: np.ndarray, c: int) -> np.ndarray:
    inside = lab[src] == lab[dst]
    internal = np.bincount(lab[src][inside], minlength=c).astype(float)
    external = np.bincount(lab[src][~inside], minlength=c) + np.bincount(lab[dst][~inside], minlength=c)
    return (external - internal) / np.maximum(external + internal, 1)


def check(name: str, edges: list[tuple[str, str]], settings: list[int], samples: int) -> dict:
    eng = get_engine("fast")
    n, src, dst = undirected(edges)
    m = len(src)
    memb = np.asarray(eng.louvain(n, src, dst, np.ones(m), seed=0), dtype=np.int64)
    c = int(memb.max()) + 1
    big = np.bincount(memb, minlength=c) >= MIN_SIZE
    original = set((src * n + dst).tolist())
    stats = {}
    for spe in settings:
        values, kept, seconds = [], [], 0.0
        for k in range(samples):
            t0 = time.perf_counter()
            rs, rd = eng.rewire(n, src, dst, seed=1000 + k, swaps_per_edge=spe)
            seconds += time.perf_counter() - t0
            rs, rd = np.asarray(rs, np.int64), np.asarray(rd, np.int64)
            kept.append(len(original & set((rs * n + rd).tolist())) / m)
            values.append(ei_index(memb, rs, rd, c)[big])
        v = np.array(values)
        stats[spe] = (v.mean(0), v.std(0, ddof=1), float(np.mean(kept)), seconds / samples)
    ref = max(settings)
    ref_mean, ref_sd = stats[ref][0], stats[ref][1]
    rows = []
    for spe, (mu, sd, kept, seconds) in stats.items():
        se = np.sqrt((np.maximum(sd, 0.01) ** 2 + np.maximum(ref_sd, 0.01) ** 2) / samples)
        diff = np.abs(mu - ref_mean)
        rows.append({"swaps_per_edge": spe, "kept": kept, "seconds": seconds, "max_diff": float(diff.max()),
                     "off": int((diff > 3 * se).sum())})
    return {"graph": name, "nodes": n, "edges": m, "communities": int(big.sum()), "samples": samples,
            "reference": ref, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--lfr-samples", type=int, default=3)
    p.add_argument("--datasets", type=Path,
                   default=Path(os.environ.get("CASTLEGATE_DATASETS", ROOT.parent / "shared" / "datasets")))
    args = p.parse_args(argv)
    runs = [check("reddit", reddit_edges(args.datasets), [1, 2, 3, 5, 10, 20], args.samples),
            check("lfr-1M", lfr_edges(100_000, 20), [1, 2, 3, 5, 10], args.lfr_samples)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mixing.json").write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2) + "\n")
    lines = ["# Mixing check: swaps per edge of the degree-preserving rewiring", "",
             f"Machine: {machine()}. `python -m bench.mixing`: fast engine (igraph `rewire`), the same seeds at "
             "every setting; per community of the observed Louvain partition (5+ members), the mean E-I index over "
             "the samples against the mean at the largest setting.", ""]
    for r in runs:
        lines += [f"## {r['graph']}: {r['nodes']:,} nodes, {r['edges']:,} edges, {r['communities']} communities, "
                  f"{r['samples']} samples per setting, reference {r['reference']} swaps per edge", "",
                  "| swaps per edge | original edges kept | s per sample | largest E-I difference |"
                  " communities off by > 3 SE |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {x['swaps_per_edge']} | {x['kept']:.4f} | {x['seconds']:.2f} | {x['max_diff']:.3f} |"
                  f" {x['off']} of {r['communities']} |" for x in r["rows"]]
        lines.append("")
    (RESULTS / "mixing.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
