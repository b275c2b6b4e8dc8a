"""Cached reads against the web framework's own floor, on the same server, in one run.

What a dashboard does all day: ask for an answer that is already computed. Three servers
on loopback, one at a time, each one uvicorn process with castlegate's settings (no access
log, no server header), measured with ``wrk`` (C, Debian's package) under the same load:

- ``castlegate``: ``castlegate serve`` (API only: the answer, ``gatekeepers?limit=500`` of
  the embedded store's demo graph, was computed beforehand by a serve with its worker, on
  the same data folder) asked with an admin key (the key check, the Host check, the graph
  version, the cache look-up: everything a client gets);
- ``castlegate 304``: the same request with ``If-None-Match`` naming the answer's ETag (a
  client that holds the answer and asks whether it is still current);
- ``bare Litestar``: a Litestar app whose one handler returns those same bytes, nothing else
  (``bench/bare_app.py``): the floor castlegate cannot go under on this server;
- the same castlegate app (one more API process on the same data folder, as a second
  replica is) and the same bare app on granian (Rust HTTP server; ``serve --server granian``), one
  worker each: is granian worth adopting as castlegate's server?

Each server is measured ``--rounds`` times (interleaved, so drift hits all alike); the
table gives every round and the ratios of the medians: castlegate / bare (target >= 0.70
of the requests per second, p99 <= 1.5x).

Run:  .venv/bin/python -m bench.cached_reads [--seconds 10] [--connections 64] [--rounds 3]
Needs ``wrk`` (``apt-get install wrk``). Writes bench/results/cached-reads.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
PATH = "/v1/graphs/demo/gatekeepers?limit=500"
TARGET_RPS, TARGET_P99 = 0.70, 1.5


def _wait(url: str, proc: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"]),
            "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def main(argv: list[str] | None = None) -> int:
    import httpx

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CASTLEGATE_", "REDIS_"))}
    env |= {"CASTLEGATE_DATA_DIR": str(work / "data"), "CASTLEGATE_LOG_LEVEL": "WARNING",
            "CASTLEGATE_SECRET_KEY": secrets.token_hex(32), "CASTLEGATE_RATE_LIMIT": "100000000"}
    subprocess.run([sys.executable, "-m", "service.cli", "demo"], cwd=ROOT, env=env, check=True, capture_output=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "serve.log"
    serve = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT,
                             env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    bare = None
    others: list[subprocess.Popen] = []
    try:
        _wait(f"{base}/ready", serve, log)
        token = (work / "data" / "admin.key").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 120
        while (r := httpx.get(base + PATH, headers=auth, timeout=60)).status_code != 200:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
        body, etag = r.content, r.headers["etag"]
        assert httpx.get(base + PATH, headers=auth | {"If-None-Match": etag}).status_code == 304
        (work / "answer.json").write_bytes(body)
        # what is measured is API processes only: the one that computed the answer (with its
        # worker) is replaced by `castlegate serve` without a worker on the same data folder
        serve.terminate()
        serve.wait(30)
        serve = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT,
                                 env=env | {"CASTLEGATE_EMBEDDED_WORKER": "off"}, stdout=log.open("a"),
                                 stderr=subprocess.STDOUT)
        _wait(f"{base}/health", serve, log)
        assert httpx.get(base + PATH, headers=auth).content == body  # from the shared result cache

        bare_port = free_port()
        bare_log = work / "bare.log"
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare_app", str(work / "answer.json"), str(bare_port)],
                                cwd=ROOT, env=env, stdout=bare_log.open("w"), stderr=subprocess.STDOUT)
        _wait(f"http://127.0.0.1:{bare_port}{PATH}", bare, bare_log)
        assert httpx.get(f"http://127.0.0.1:{bare_port}{PATH}").content == body

        # the same two apps on granian: castlegate as one more API process on the same data
        # folder (what a second replica is), bare Litestar as above
        g_port, gb_port = free_port(), free_port()
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--workers", "1",
                   "--no-access-log", "--factory"]
        for name, port_, target, extra in (("granian", g_port, "service.app:create_app", {}),
                                           ("granian-bare", gb_port, "bench.bare_app:create",
                                            {"BARE_ANSWER": str(work / "answer.json")})):
            glog = work / f"{name}.log"
            others.append(subprocess.Popen(granian + ["--port", str(port_), target], cwd=ROOT, env=env | extra,
                                           stdout=glog.open("w"), stderr=subprocess.STDOUT))
            _wait(f"http://127.0.0.1:{port_}/health" if name == "granian" else f"http://127.0.0.1:{port_}{PATH}",
                  others[-1], glog)
        g_url = f"http://127.0.0.1:{g_port}{PATH}"
        assert httpx.get(g_url, headers=auth).content == body  # the shared result cache's bytes
        cases = {
            "castlegate": (base + PATH, auth),
            "castlegate 304": (base + PATH, auth | {"If-None-Match": etag}),
            "bare Litestar": (f"http://127.0.0.1:{bare_port}{PATH}", {}),
            "castlegate on granian": (g_url, auth),
            "bare Litestar on granian": (f"http://127.0.0.1:{gb_port}{PATH}", {}),
        }
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (url, headers) in cases.items():
                runs[name].append(wrk(url, headers, args.seconds, args.connections, args.threads))
    finally:
        for proc in (serve, bare, *others):
            if proc is not None:
                proc.terminate()
                proc.wait(30)

    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50_ms", "p99_ms")}
           for name, rs in runs.items()}
    ratio_rps = med["castlegate"]["rps"] / med["bare Litestar"]["rps"]
    ratio_p99 = med["castlegate"]["p99_ms"] / med["bare Litestar"]["p99_ms"]
    report = {"machine": machine(), "path": PATH, "bytes": len(body), "seconds": args.seconds,
              "connections": args.connections, "threads": args.threads, "runs": runs, "medians": med,
              "ratio_rps": ratio_rps, "ratio_p99": ratio_p99}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cached-reads.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Cached reads: castlegate vs bare Litestar on the same server",
        "",
        f"Machine: {machine()}. One uvicorn process each (no access log, no server header); "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s` on loopback, rounds interleaved. "
        f"`GET {PATH}` on the embedded store's demo graph, answer computed beforehand ({len(body):,} bytes). "
        "`python -m bench.cached_reads`.",
        "",
        "| server | round | req/s | p50 ms | p99 ms | non-2xx/3xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in runs.items():
        for i, r in enumerate(rs, 1):
            lines.append(f"| {name} | {i} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
                         f" {r['non_2xx_3xx']} | {r['socket_errors']} |")
    lines += [
        "",
        f"- castlegate / bare Litestar, medians: **{ratio_rps:.2f}x** the requests per second "
        f"(target >= {TARGET_RPS:.2f}: {'met' if ratio_rps >= TARGET_RPS else 'NOT met'}), "
        f"p99 **{ratio_p99:.2f}x** (target <= {TARGET_P99}: {'met' if ratio_p99 <= TARGET_P99 else 'NOT met'}).",
        f"- a client holding the answer (304 with its ETag): {med['castlegate 304']['rps']:,.0f} req/s, "
        f"p99 {med['castlegate 304']['p99_ms']:.1f} ms, and no body on the wire.",
        f"- granian vs uvicorn, medians: castlegate {med['castlegate on granian']['rps']:,.0f} vs "
        f"{med['castlegate']['rps']:,.0f} req/s (**{med['castlegate on granian']['rps'] / med['castlegate']['rps']:.2f}x**), "
        f"p99 {med['castlegate on granian']['p99_ms']:.1f} vs {med['castlegate']['p99_ms']:.1f} ms; "
        f"bare Litestar {med['bare Litestar on granian']['rps']:,.0f} vs {med['bare Litestar']['rps']:,.0f} req/s. "
        f"castlegate on granian / bare Litestar on granian: "
        f"{med['castlegate on granian']['rps'] / med['bare Litestar on granian']['rps']:.2f}x.",
    ]
    (RESULTS / "cached-reads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
