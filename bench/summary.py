"""The speed targets (issue 11) in one table, from the benches' own results.

Reads bench/results/{analysis,cached-reads,ingest-higgs,streaming,mixing}.json, as the
last ``make bench`` (or each ``python -m bench.<name>``) wrote them, and writes
bench/results/summary.md: each target, what was measured, the ratio, met or not, and the
table it comes from. It measures nothing itself.

Run:  .venv/bin/python -m bench.summary
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _load(name: str) -> tuple[dict | None, str]:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None, "not run"
    when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return json.loads(path.read_text()), when


def _row(target: str, measured: str, met: bool | None, source: str) -> str:
    verdict = "n/a" if met is None else ("met" if met else "**not met**")
    return f"| {target} | {measured} | {verdict} | [{source}]({source}) |"


def rows() -> list[str]:
    out: list[str] = []
    analysis, _ = _load("analysis")
    if analysis:
        runs = {(r["graph"], r["engine"]): r for r in analysis["runs"]}
        for graph, limit in (("lfr-1M", 60.0), ("higgs", 90.0)):
            r = runs.get((graph, "fast"))
            if r:
                peak = max(r["peak_rss_mb"], r.get("helper_peak_rss_mb", 0))
                out.append(_row(f"full analysis of {graph} <= {limit:.0f} s, peak RSS < 2 GB",
                                f"{r['total']:.1f} s, {peak:.0f} MB", r["total"] <= limit and peak < 2048,
                                "analysis.md"))
        for graph in ("reddit-sample", "lfr-1M-sample"):
            ref, fast = runs.get((graph, "reference")), runs.get((graph, "fast"))
            if ref and fast:
                ra = ref["total"] - ref["stages"].get("load", 0)
                fa = fast["total"] - fast["stages"].get("load", 0)
                dq = 100 * (fast["modularity"] - ref["modularity"]) / ref["modularity"]
                out.append(_row(f"{graph}: fast >= 50x reference, modularity within 1%",
                                f"{ra / fa:.0f}x ({ra:.1f} s vs {fa:.2f} s after the store read), {dq:+.2f}%",
                                ra / fa >= 50 and abs(dq) <= 1, "analysis.md"))
    cached, _ = _load("cached-reads")
    if cached:
        out.append(_row("cached reads >= 0.70x bare Litestar (same bytes, same server), p99 <= 1.5x",
                        f"{cached['ratio_rps']:.2f}x, p99 {cached['ratio_p99']:.2f}x",
                        cached["ratio_rps"] >= 0.7 and cached["ratio_p99"] <= 1.5, "cached-reads.md"))
    ingest, _ = _load("ingest-higgs")
    if ingest:
        r = ingest["ratios"]
        out.append(_row("API -> Neo4j ingest >= 1/3 of neo4j-admin import, >= 100x naive",
                        f"{r['api_neo4j_vs_offline']:.2f} of offline, {r['api_neo4j_vs_naive']:.0f}x naive"
                        + (f" (one writer's bare Cypher write, the floor: {r['floor_vs_naive']:.0f}x naive)"
                           if "floor_vs_naive" in r else "")
                        + (f"; two bare writers, disjoint accounts: {r['floor2_vs_naive']:.0f}x"
                           if "floor2_vs_naive" in r else ""),
                        r["api_neo4j_vs_offline"] >= 1 / 3 and r["api_neo4j_vs_naive"] >= 100, "ingest-higgs.md"))
    streaming, _ = _load("streaming")
    if streaming:
        on = [x for x in streaming["rows"] if x.get("store") == "neo4j" and x.get("group_commit")]
        for x in on:
            if x["batch"] == 10:
                out.append(_row("streaming into Neo4j, 10-item batches: >= 200 req/s, p99 < 100 ms",
                                f"{x['requests_per_s']:.0f} req/s, p99 {x['p99_ms']:.0f} ms",
                                x["requests_per_s"] >= 200 and x["p99_ms"] < 100, "streaming.md"))
            if x["batch"] == 100:
                out.append(_row("streaming into Neo4j, 100-item batches: >= 10,000 interactions/s, p99 < 100 ms",
                                f"{x['interactions_per_s']:,.0f}/s, p99 {x['p99_ms']:.0f} ms",
                                x["interactions_per_s"] >= 10_000 and x["p99_ms"] < 100, "streaming.md"))
    mixing, _ = _load("mixing")
    if mixing:
        for r in mixing["runs"]:
            x = next((x for x in r["rows"] if x["chain"] == "curveball" and x["length"] == 20), None)
            ref = next((x for x in r["rows"] if x["chain"] == "swaps" and x["length"] == 10), None)
            if x and ref:
                out.append(_row(f"null model mixed ({r['graph']}): 20 curveball trades as close to 30 swaps/edge"
                                " as 10 swaps/edge are",
                                f"communities off: E-I {x['ei_off']} (swaps {ref['ei_off']}), depth {x['depth_off']}"
                                f" (swaps {ref['depth_off']}) of {r['communities']}; Q {x['q_diff_se']:.1f} SE apart"
                                f" (swaps {ref['q_diff_se']:.1f})",
                                x["ei_off"] <= ref["ei_off"] and x["depth_off"] <= ref["depth_off"]
                                and x["q_diff_se"] < 3, "mixing.md"))
    return out


def main(argv: list[str] | None = None) -> int:
    names = ("analysis", "cached-reads", "ingest-higgs", "streaming", "mixing")
    # each table says which machine it was measured on: hosts of one machine kind differ
    # (bench/results/analysis.md ran 1.3-1.5x slower on an AMD EPYC than on an Intel Xeon host)
    where = []
    for name in names:
        data, _ = _load(name)
        m = (data or {}).get("machine", {})
        where.append(name + (f" on {m.get('cpu', '?')}, {m.get('cores', '?')} cores" if m else ": not run"))
    lines = ["# Speed targets (issue 11)", "",
             "Each row comes from the table it links to, each table from one run of its bench ("
             + "; ".join(where) + "). `make bench` runs every bench, then this.",
             "", "| target | measured | verdict | table |", "|---|---|---|---|"]
    lines += rows()
    lines.append("")
    (RESULTS / "summary.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
