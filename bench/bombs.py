"""Hostile little bodies against a real ``castlegate serve`` on the embedded store.

For each body: the answer's status, the seconds it took, and the server's resident memory
(the ``serve`` process and its children: the embedded worker) before the request, at its
peak while it runs (sampled every 10 ms) and two seconds after the answer; beside them, a
well-formed import of 100,000 interactions as the baseline.

The bodies (what the security review measured before the import route streamed):

- 1 GiB of zeros, gzipped (~1 MB on the wire) to ``/imports`` (review: peak 2.3-3.0 GB, up
  to 1.9 GB kept afterwards), and 1.1 GiB of blank lines, which only the decompressed byte
  limit stops;
- 0.2 MB of gzip that inflates to 200 MiB of newlines (review: 364 s of CPU), and 0.2 MB of
  plain newlines;
- 2 M short lines, gzipped, in a JSON-document format and in NDJSON (review: an 87 KB file
  of 2 M lines took 50 s and +400 MB before its 422);
- JSON nested 100,000 deep on ``/interactions`` and on ``POST /v1/graphs``, which Litestar
  decodes itself (review: 500 with a traceback).

Run:  .venv/bin/python -m bench.bombs
Writes bench/results/bombs.md (and .json).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"
MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    proc = psutil.Process(pid)
    t = proc.cpu_times()
    return t.user + t.system


def gzipped(blocks) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(z.compress(b) for b in blocks), z.flush()])


def interactions(n: int, tag: str) -> bytes:
    return b"".join(
        json.dumps({"id": f"{tag}{i}", "kind": "reply", "source": f"u{i % 4999}", "target": f"u{(i * 7) % 4999}",
                    "at": f"2026-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}).encode() + b"\n"
        for i in range(n)
    )


def cases() -> list[dict]:
    """(name, method, path, content type, body, what the review measured before)."""
    baseline = interactions(100_000, "b")
    return [
        {"name": "baseline: 100k interactions, NDJSON", "path": "/v1/graphs/{g}/imports?format=ndjson",
         "type": "application/x-ndjson", "body": baseline, "before": "-", "fresh": True},
        {"name": "baseline: 100k interactions, NDJSON gzipped", "path": "/v1/graphs/{g}/imports?format=ndjson",
         "type": "application/gzip", "body": gzip.compress(baseline), "before": "-", "fresh": True},
        {"name": "1 GiB of zeros, gzipped (snap-higgs)", "path": "/v1/graphs/{g}/imports?format=snap-higgs",
         "type": "application/gzip", "body": gzipped(b"\0" * MB for _ in range(1024)),
         "before": "peak 2.3-3.0 GB, 1.9 GB kept"},
        {"name": "1 GiB of zeros, gzipped (x-v2)", "path": "/v1/graphs/{g}/imports?format=x-v2",
         "type": "application/gzip", "body": gzipped(b"\0" * MB for _ in range(1024)),
         "before": "peak 2.3-3.0 GB, 1.9 GB kept"},
        {"name": "1.1 GiB of blank lines (spaces), gzipped (ndjson)", "path": "/v1/graphs/{g}/imports?format=ndjson",
         "type": "application/gzip", "body": gzipped((b" " * 1023 + b"\n") * 1024 for _ in range(1100)),
         "before": "-"},
        {"name": "200 MiB of newlines in 0.2 MB of gzip (ndjson)", "path": "/v1/graphs/{g}/imports?format=ndjson",
         "type": "application/gzip", "body": gzipped(b"\n" * MB for _ in range(200)), "before": "364 s of CPU"},
        {"name": "0.2 MB of newlines, plain (snap-higgs)", "path": "/v1/graphs/{g}/imports?format=snap-higgs",
         "type": "text/plain", "body": b"\n" * 200_000, "before": "-"},
        {"name": "2 M short lines, gzipped (x-v2)", "path": "/v1/graphs/{g}/imports?format=x-v2",
         "type": "application/gzip", "body": gzip.compress(b"{}\n" * 2_000_000), "before": "50 s, +400 MB"},
        {"name": "2 M short lines, gzipped (ndjson)", "path": "/v1/graphs/{g}/imports?format=ndjson",
         "type": "application/gzip", "body": gzip.compress(b"{}\n" * 2_000_000), "before": "-"},
        {"name": "JSON nested 100,000 deep on /interactions", "path": "/v1/graphs/{g}/interactions",
         "type": "application/json", "body": b"[" * 100_000 + b"]" * 100_000, "before": "500, traceback"},
        {"name": "JSON nested 100,000 deep on POST /v1/graphs", "path": "/v1/graphs",
         "type": "application/json", "body": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
         "before": "500, traceback"},
    ]


def serve(work: Path) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CASTLEGATE_", "REDIS_"))}
    env |= {"CASTLEGATE_DATA_DIR": str(data), "CASTLEGATE_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=(work / "serve.log").open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"castlegate serve did not start:\n{(work / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200 and (data / "admin.key").exists():
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    # the embedded worker starts beside the API (and its forkserver after it): measure from
    # a settled server, or the first body is charged for their start-up
    last, stable_since = rss(proc.pid), time.monotonic()
    while time.monotonic() - stable_since < 3 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = rss(proc.pid)
        if abs(now - last) > MB:
            last, stable_since = now, time.monotonic()
    # the first start of a store makes an admin key and keeps it here (README, "API keys")
    return proc, url, (data / "admin.key").read_text().strip()


def measure(proc: subprocess.Popen, client: httpx.Client, case: dict, graph: str) -> dict:
    samples = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss(proc.pid))
            time.sleep(0.01)

    before = rss(proc.pid)
    cpu0 = cpu_seconds(proc.pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    r = client.post(case["path"].format(g=graph), content=case["body"], headers={"content-type": case["type"]})
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    time.sleep(2)
    after = rss(proc.pid)
    answer = r.json() if r.headers.get("content-type", "").startswith(("application/json", "application/problem"))\
        else {}
    return {
        "name": case["name"], "wire_bytes": len(case["body"]), "status": r.status_code,
        "seconds": round(seconds, 3), "server_cpu_seconds": round(cpu_seconds(proc.pid) - cpu0, 3),
        "rss_before_mb": round(before / MB, 1), "rss_peak_mb": round(max([before, *samples]) / MB, 1),
        "rss_after_mb": round(after / MB, 1), "rss_growth_mb": round((max([before, *samples]) - before) / MB, 1),
        "answer": {k: answer.get(k) for k in ("accepted", "duplicates", "limit", "detail") if k in answer}
        | ({"first_error": answer["errors"][0]} if answer.get("errors") else {}),
        "before_the_fix": case["before"],
        "traceback_in_log": False,
    }


def report(rows: list[dict], info: dict) -> str:
    out = ["# Hostile bodies against a real server (embedded store)", "",
           f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; Python {info['python']}. "
           "One `castlegate serve` (with its embedded worker) on a fresh sqlite store; resident memory of the "
           "serve process and its children before the request, at its peak while it ran (10 ms samples) and "
           "2 s after the answer. `python -m bench.bombs`.", "",
           "| body | on the wire | status | seconds | server CPU s | RSS before MB | peak MB | after MB "
           "| growth MB | before the fix (review) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        wire = f"{r['wire_bytes'] / MB:.2f} MB" if r["wire_bytes"] >= 100_000 else f"{r['wire_bytes'] / 1024:.1f} KB"
        out.append(f"| {r['name']} | {wire} | {r['status']} | {r['seconds']:.2f} | {r['server_cpu_seconds']:.2f} "
                   f"| {r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | {r['rss_after_mb']:.0f} "
                   f"| {r['rss_growth_mb']:.0f} | {r['before_the_fix']} |")
    out += ["", "What each answered:", ""]
    for r in rows:
        out.append(f"- {r['name']}: {r['status']} {json.dumps(r['answer'], ensure_ascii=False)}")
    out += ["", f"Stack traces in the server log: {'yes' if any(r['traceback_in_log'] for r in rows) else 'none'}.",
            ""]
    return "\n".join(out)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK))
    bodies = cases()
    proc, url, token = serve(work)
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=600, headers={"Authorization": f"Bearer {token}"}) as c:
            for n, case in enumerate(bodies):
                graph = f"bombs-{n}" if case.get("fresh") else "bombs"
                if c.get(f"/v1/graphs/{graph}").status_code == 404:
                    assert c.post("/v1/graphs", json={"id": graph}).status_code == 201
                row = measure(proc, c, case, graph)
                rows.append(row)
                print(f"{row['name']}: {row['status']} in {row['seconds']:.2f} s, RSS {row['rss_before_mb']:.0f} -> "
                      f"{row['rss_peak_mb']:.0f} -> {row['rss_after_mb']:.0f} MB", flush=True)
                assert c.get("/health").status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    traced = "Traceback" in (work / "serve.log").read_text()
    for row in rows:
        row["traceback_in_log"] = traced
    info = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bombs.json").write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
    (RESULTS / "bombs.md").write_text(report(rows, info))
    print((RESULTS / "bombs.md").read_text())


if __name__ == "__main__":
    main()
