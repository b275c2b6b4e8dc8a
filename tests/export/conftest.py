"""What the export tests share: the demo network and polblogs analysed offline (the
stages an export needs, computed as ``graph.usecases.analyse.produce`` computes them),
and Gephi's own importers (``tests/export/gephi``, built once per session)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from graph.analysis.events import Event
from graph.analysis.graph import LayerGraph
from graph.analysis.params import AnalysisParams
from graph.analysis.stages import Inputs, plan
from graph.demo import demo_network
from graph.export import NEEDS
from graph.store.sqlite import SqliteStore
from graph.usecases.analyse import EVENT_KINDS

GEPHI_CHECK = Path(__file__).parent / "gephi"


def analyse(x: Inputs) -> Inputs:
    for s in plan(NEEDS):
        x.results[s.name] = s.compute(x)
    return x


@pytest.fixture(scope="session", params=["fast", "reference"])
def demo(request, tmp_path_factory) -> Inputs:
    """The demo network stored in sqlite, read back in one snapshot and analysed with
    each engine."""
    store = SqliteStore(tmp_path_factory.mktemp("export-demo") / "s.sqlite")
    try:
        accounts, interactions = demo_network(seed=7)
        store.create_graph("demo")
        store.upsert_accounts("demo", accounts)
        store.add_interactions("demo", interactions)
        snap = store.read_snapshot("demo", event_kinds=EVENT_KINDS)
        handles = store.account_handles("demo", [a.id for a in accounts])
    finally:
        store.close()
    x = Inputs(AnalysisParams(engine=request.param, seed=1, null_samples=4), "demo",
               g=LayerGraph.from_table(snap.table), events=[Event(*r) for r in snap.events],
               handles=lambda ids: {a: handles[a] for a in ids if a in handles})
    return analyse(x)


@pytest.fixture(scope="session")
def polblogs(datasets) -> tuple[Inputs, Path]:
    """polblogs (hyperlinks as the mention layer, all at 1970-01-01: a static network)
    analysed once, and the folder it came from."""
    folder = datasets / "polblogs"
    if not folder.is_dir():
        pytest.skip(f"polblogs not in {datasets}")
    with open(folder / "polblogs_nodes.csv", newline="") as f:
        nodes = [r["id"] for r in csv.DictReader(f)]
    with open(folder / "polblogs_edges.csv", newline="") as f:
        links = Counter((r["source"], r["target"]) for r in csv.DictReader(f))
    g = LayerGraph.from_rows([(s, t, "mention", c, 0, 0) for (s, t), c in links.items()], nodes=nodes)
    x = Inputs(AnalysisParams(layers=("mention",), seed=0, null_samples=2), "polblogs", g=g, events=[])
    return analyse(x), folder


def read_zip(data: bytes) -> dict[str, list[dict]]:
    """The tables of a CSV export, as the csv module reads them."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {name: list(csv.DictReader(io.StringIO(z.read(name).decode("utf-8"), newline="")))
                for name in z.namelist() if name.endswith(".csv")}


def _no_gephi(reason: str):
    # like Neo4j (tests/conftest.py): a clone without Maven Central skips, CI can insist
    if os.environ.get("CASTLEGATE_REQUIRE_GEPHI") == "1":
        pytest.fail(f"CASTLEGATE_REQUIRE_GEPHI=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gephi(tmp_path_factory):
    """``gephi(paths) -> [what Gephi read from each]``: the Maven check in
    tests/export/gephi, built once in a temporary copy (so no build output lands in the
    repository; Maven caches the toolkit in ~/.m2), run in one JVM for all paths."""
    if not shutil.which("mvn") or not shutil.which("java"):
        _no_gephi("the Gephi check needs Maven and Java (mvn, java not on PATH)")
    work = tmp_path_factory.mktemp("gephi-check")
    shutil.copytree(GEPHI_CHECK, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("target"))
    classpath = work / "classpath.txt"
    build = ["mvn", "-q", "-B", "compile", "dependency:build-classpath", f"-Dmdep.outputFile={classpath}"]
    # offline first: with the toolkit in ~/.m2 this skips every remote check
    done = subprocess.run(build + ["-o"], cwd=work, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        done = subprocess.run(build, cwd=work, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        _no_gephi(f"the Gephi check did not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    cp = f"{work / 'target' / 'classes'}:{classpath.read_text().strip()}"

    def run(paths: list[Path]) -> list[dict]:
        out = subprocess.run(["java", "-Djava.awt.headless=true", "-cp", cp, "castlegate.GephiCheck",
                              *map(str, paths)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    return run


@pytest.fixture(scope="session")
def polblogs_files(polblogs, tmp_path_factory) -> dict[str, Path]:
    """polblogs exported once in every format: format name -> file."""
    from graph.export import FORMATS

    x, _ = polblogs
    folder = tmp_path_factory.mktemp("polblogs-export")
    meta = {"graph": "polblogs", "version": "static", "parameters": {"layers": ["mention"]}}
    out = {}
    for name, f in FORMATS.items():
        path = folder / f"polblogs.{f.extension}"
        with path.open("wb") as fh:
            for chunk in f.write(x, meta):
                fh.write(chunk)
        out[name] = path
    return out
