"""``castlegate ingest`` as a user runs it, on real files."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from tests.conftest import castlegate, start_service

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def counts(stderr: str) -> tuple[int, int]:
    m = re.search(r"([\d,]+) new, ([\d,]+) already there", stderr)
    assert m, stderr
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def test_ingest_into_sqlite_twice(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path)}
    args = ["ingest", str(FIXTURES / "higgs_excerpt.txt"), "--format", "snap-higgs", "--graph", "h"]
    first = castlegate(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "created graph 'h'" in first.stderr
    assert counts(first.stderr) == (20, 0)
    second = castlegate(*args, env=env)
    assert second.returncode == 0 and counts(second.stderr) == (0, 20)


def test_broken_file_names_the_record_and_exits_2(tmp_path):
    r = castlegate("ingest", str(FIXTURES / "native_broken.ndjson"), "--format", "ndjson", "--graph", "b",
                   env={"CASTLEGATE_DATA_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert re.search(r"record \d+: \w+:", r.stderr), r.stderr


def test_unknown_format_and_missing_file(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path)}
    r = castlegate("ingest", str(FIXTURES / "native.ndjson"), "--format", "myspace", "--graph", "g", env=env)
    assert r.returncode == 2 and "snap-higgs" in r.stderr
    r = castlegate("ingest", str(tmp_path / "nope.json"), "--format", "ndjson", "--graph", "g", env=env)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_ingest_through_a_running_api(tmp_path):
    svc = start_service(tmp_path)
    try:
        # without a key the API refuses, and the CLI says what to set
        r = castlegate("ingest", str(FIXTURES / "x_v2_page.json"), "--format", "x-v2", "--graph", "xg",
                       "--api", svc.url)
        assert r.returncode != 0 and "CASTLEGATE_API_KEY" in r.stderr
        key = {"CASTLEGATE_API_KEY": svc.token}
        r = castlegate("ingest", str(FIXTURES / "x_v2_page.json"), "--format", "x-v2", "--graph", "xg",
                       "--api", svc.url, env=key)
        assert r.returncode == 0, r.stderr
        new, _ = counts(r.stderr)
        with svc.client() as c:
            info = c.get("/v1/graphs/xg").json()
        assert new > 0 and sum(info["interactions"].values()) == new
        again = castlegate("ingest", str(FIXTURES / "x_v2_page.json"), "--format", "x-v2", "--graph", "xg",
                           "--api", svc.url, env=key)
        assert counts(again.stderr) == (0, new)
    finally:
        svc.stop()


@pytest.mark.neo4j
@pytest.mark.datasets
def test_higgs_into_neo4j_all_events_then_none(neo4j_server, datasets, graph_id):
    path = datasets / "higgs-twitter" / "higgs-activity_time.txt.gz"
    graph = graph_id
    env = neo4j_server.env
    args = ["ingest", str(path), "--format", "snap-higgs", "--graph", graph, "--quiet"]
    first = castlegate(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert counts(first.stderr) == (563_069, 0)
    second = castlegate(*args, env=env)
    assert second.returncode == 0, second.stderr
    assert counts(second.stderr) == (0, 563_069)
    from graph.store.neo4j import Neo4jStore

    store = Neo4jStore(neo4j_server.uri, neo4j_server.user, neo4j_server.password)
    try:
        info = store.get_graph(graph)
        assert msgspec.structs.asdict(info.interactions) == {"reply": 36_902, "quote": 0, "mention": 171_237,
                                     "repost": 354_930, "like": 0, "follow": 0}
        assert info.accounts == 304_691
    finally:
        store.delete_graph(graph)
        store.close()


def test_failed_import_through_the_api_leaves_no_empty_graph(tmp_path):
    svc = start_service(tmp_path)
    try:
        key = {"CASTLEGATE_API_KEY": svc.token}
        r = castlegate("ingest", str(FIXTURES / "native_broken.ndjson"), "--format", "ndjson", "--graph", "gone",
                       "--api", svc.url, env=key)
        assert r.returncode == 2 and "removed the empty graph 'gone'" in r.stderr, r.stderr
        with svc.client() as c:
            assert c.get("/v1/graphs/gone").status_code == 404
    finally:
        svc.stop()


def test_progress_bar_fits_80_columns(tmp_path):
    import io

    from rich.console import Console

    from graph.usecases.ingest import ImportReport
    from service.progress import ImportProgress

    path = tmp_path / ("a-very-long-export-file-name-from-a-platform" * 2 + ".ndjson.gz")
    path.write_bytes(b"x" * 3_000_000)
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    with ImportProgress(path, console=console) as progress, progress.wrap(path) as stream:
        stream.read(1_500_000)
        progress.update(ImportReport(accepted=9_876_543, seconds=1.0))
    plain = re.sub(r"\x1b\[[?0-9;]*[A-Za-z]", "", out.getvalue())  # the terminal's control codes
    lines = [line for line in plain.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and all(len(line) <= 80 for line in lines), lines
    assert "9,876,543 interactions" in lines[-1] and "/3.0 MB" in lines[-1]


def test_failed_import_leaves_no_empty_graph(tmp_path):
    env = {"CASTLEGATE_DATA_DIR": str(tmp_path)}
    r = castlegate("ingest", str(FIXTURES / "native_broken.ndjson"), "--format", "ndjson", "--graph", "gone",
                   env=env)
    assert r.returncode == 2 and "removed the empty graph 'gone'" in r.stderr, r.stderr
    r = castlegate("ingest", str(FIXTURES / "higgs_excerpt.txt"), "--format", "snap-higgs", "--graph", "gone",
                   env=env)
    # created anew: the failed run did not leave it behind
    assert r.returncode == 0 and "created graph 'gone'" in r.stderr
