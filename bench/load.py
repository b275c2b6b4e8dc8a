"""Five minutes of mixed load on loopback: does castlegate stay correct, fast and flat?

One real ``castlegate serve`` (with its worker) on the embedded store, several graphs and
several API keys, each key reaching only its own graphs. Client threads run a bounded loop
(a request, a short pause, the next), each on its own key:

- ``cached read``: gatekeepers / communities / castles of a graph whose answers are cached;
- ``small ingest``: 10 new interactions into the key's ingest graph (its version moves on);
- ``analysis``: ``POST .../analyses`` on the key's analysis graph with a seed from a small set
  (new jobs at first, done jobs after), and polls of those jobs;
- ``stranger``: a request for another key's graph (must be 404) and one without a key
  (must be 401).

Reported per kind: requests, errors (any 5xx, or any answer other than the expected
ones), p50 and p99; and the service's memory (the API process, and the worker with its
children) sampled every 5 s: RSS at the start, the end and the peak.

Run:  .venv/bin/python -m bench.load [--seconds 300] [--clients 6]
Writes bench/results/load.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
PAUSE = 0.01  # seconds between one client's requests
#: what each kind of request may answer (anything else is an error)
EXPECTED = {"cached read": {200, 202}, "small ingest": {200}, "analysis": {200, 202, 429},
            "job poll": {200}, "stranger 404": {404}, "stranger 401": {401}}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def rss_mb(pid: int) -> tuple[float, float]:
    import psutil

    api = psutil.Process(pid)
    workers = 0.0
    for p in api.children(recursive=True):
        try:
            workers += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return api.memory_info().rss / 2**20, workers / 2**20


def main(argv: list[str] | None = None) -> int:
    import httpx

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--clients", type=int, default=6)
    args = p.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CASTLEGATE_", "REDIS_"))}
    env |= {"CASTLEGATE_DATA_DIR": str(work / "data"), "CASTLEGATE_LOG_LEVEL": "WARNING",
            "CASTLEGATE_SECRET_KEY": secrets.token_hex(32),
            # the clients ask as fast as they get answers: the per-key limit is not what is measured here
            "CASTLEGATE_RATE_LIMIT": "1000000"}
    clients = args.clients
    graphs = {i: {"read": f"read-{i}", "ingest": f"ingest-{i}", "analysis": f"analysis-{i}"} for i in range(clients)}
    for i in range(clients):
        for g in graphs[i].values():
            subprocess.run([sys.executable, "-m", "service.cli", "demo", "--graph", g], cwd=ROOT, env=env,
                           check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=(work / "serve.log").open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (work / "serve.log").read_text()[-2000:]
            time.sleep(0.2)
        admin = (work / "data" / "admin.key").read_text().strip()
        tokens = {}
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {admin}"}) as c:
            for i in range(clients):
                r = c.post("/v1/keys", json={"name": f"client-{i}", "scopes": ["read", "write"],
                                             "graphs": list(graphs[i].values())})
                tokens[i] = r.json()["token"]
            # warm the cached reads (what a dashboard asks again and again)
            for i in range(clients):
                for path in ("gatekeepers", "communities", "castles"):
                    url = f"/v1/graphs/{graphs[i]['read']}/{path}"
                    end = time.monotonic() + 120
                    while c.get(url).status_code != 200:
                        assert time.monotonic() < end
                        time.sleep(0.2)
        lat: dict[str, list[float]] = defaultdict(list)
        codes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds

        def record(kind: str, t: float, status: int) -> None:
            with lock:
                lat[kind].append((time.perf_counter() - t) * 1000)
                codes[kind][status] += 1

        def client(i: int) -> None:
            rnd = random.Random(i)
            mine, other = graphs[i], graphs[(i + 1) % clients]
            jobs: list[str] = []
            n = 0
            t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {tokens[i]}"}) as c, \
                    httpx.Client(base_url=base, timeout=60) as anon:
                while time.monotonic() < stop:
                    x = rnd.random()
                    t = time.perf_counter()
                    if x < 0.60:
                        path = rnd.choice(("gatekeepers", "communities", "castles"))
                        record("cached read", t, c.get(f"/v1/graphs/{mine['read']}/{path}").status_code)
                    elif x < 0.80:
                        batch = [{"id": f"load-{i}-{n}-{k}", "kind": "reply", "source": f"north-{rnd.randrange(24):02d}",
                                  "target": f"south-{rnd.randrange(24):02d}",
                                  "at": (t0 + timedelta(seconds=n * 10 + k)).isoformat()} for k in range(10)]
                        n += 1
                        record("small ingest", t, c.post(f"/v1/graphs/{mine['ingest']}/interactions", json=batch).status_code)
                    elif x < 0.88:
                        r = c.post(f"/v1/graphs/{mine['analysis']}/analyses", json={"seed": rnd.randrange(4)})
                        record("analysis", t, r.status_code)
                        if r.status_code == 202:
                            jobs.append(r.json()["id"])
                            del jobs[:-20]
                    elif x < 0.96 and jobs:
                        record("job poll", t, c.get(f"/v1/analyses/{rnd.choice(jobs)}").status_code)
                    elif x < 0.98:
                        record("stranger 404", t, c.get(f"/v1/graphs/{other['read']}/gatekeepers").status_code)
                    else:
                        record("stranger 401", t, anon.get(f"/v1/graphs/{mine['read']}").status_code)
                    time.sleep(PAUSE)

        samples: list[tuple[float, float, float]] = []
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append((round(time.monotonic() - started, 1), *rss_mb(proc.pid)))
            time.sleep(5)
        for t in threads:
            t.join()
        log = (work / "serve.log").read_text()
    finally:
        proc.terminate()
        proc.wait(30)
    rows = []
    for kind in EXPECTED:
        got = codes.get(kind, {})
        errors = sum(n for code, n in got.items() if code not in EXPECTED[kind])
        rows.append({"kind": kind, "requests": sum(got.values()), "errors": errors,
                     "codes": {str(k): v for k, v in sorted(got.items())},
                     "p50_ms": round(pct(lat[kind], 0.5), 2), "p99_ms": round(pct(lat[kind], 0.99), 2)})
    report = {"machine": machine(), "seconds": args.seconds, "clients": clients, "rows": rows, "rss": samples,
              "tracebacks_in_log": log.count("Traceback")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render(report)
    (RESULTS / "load.md").write_text(md)
    print(md)
    return 0 if all(r["errors"] == 0 for r in rows) and report["tracebacks_in_log"] == 0 else 1


def render(r: dict) -> str:
    m, rss = r["machine"], r["rss"]
    api = [s[1] for s in rss]
    workers = [s[2] for s in rss]
    lines = [
        f"# Mixed load for {r['seconds'] / 60:.0f} minutes on loopback",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}. One `castlegate serve`"
        f" (embedded store, its own worker) and {r['clients']} client threads, each with its own API key reaching"
        " only its own three graphs (the demo network each: one for cached reads, one for ingest, one for"
        f" analyses); a request, {PAUSE * 1000:.0f} ms pause, the next. An error is any 5xx or any answer other"
        " than the expected ones (cached read 200/202; ingest 200; analysis 200/202/429; job poll 200; another"
        " key's graph 404; no key 401). The per-key rate limit is lifted for this run (the clients ask as fast"
        " as they are answered); it has tests of its own.",
        "",
        "| kind | requests | errors | answers | p50 ms | p99 ms |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row in r["rows"]:
        answers = ", ".join(f"{k}: {v}" for k, v in row["codes"].items())
        lines.append(f"| {row['kind']} | {row['requests']} | {row['errors']} | {answers} | {row['p50_ms']:.1f} |"
                     f" {row['p99_ms']:.1f} |")
    lines += [
        "",
        f"Memory (RSS, MB), sampled every 5 s: API process {api[0]:.0f} at the start, {api[-1]:.0f} at the end,"
        f" {max(api):.0f} at most; worker and its children {workers[0]:.0f} / {workers[-1]:.0f} / {max(workers):.0f}.",
        f"Tracebacks in the service's log: {r['tracebacks_in_log']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
