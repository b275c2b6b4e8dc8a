"""A client generated from the committed OpenAPI document feels hand-written.

``openapi-python-client`` (the test lock's) generates a package from
``openapi/openapi.json`` into a temporary folder; the demo is then driven through that
package only, against a real castlegate: create a graph, upsert the demo's accounts and
add its interactions as the generated ``Account`` and ``Interaction`` models, list graphs,
read the gatekeepers (following the job while it computes) with typed ``components``,
create an audit from a typed ``AuditCreate`` and read it back. Every model is named by the
document (``components/schemas``): none after an operation, a body or a field.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from graph.demo import demo_network
from service.cli import OPENAPI_PATH
from tests.conftest import start_service

PACKAGE = "castlegate_client"
#: how a generator names a model the document left anonymous: after an operation's body,
#: an array's item, a map's values, a union's member, or a field of its parent
ANONYMOUS = re.compile(r"Json|Body|Item$|Additional|Type\d+$")


def _generator() -> str:
    found = shutil.which("openapi-python-client") or str(Path(sys.executable).parent / "openapi-python-client")
    if not Path(found).exists():
        pytest.skip("openapi-python-client is not installed (it is in the test lock)")
    return found


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    """The generated package, imported from a temporary folder."""
    root = tmp_path_factory.mktemp("generated")
    r = subprocess.run(
        [_generator(), "generate", "--path", str(OPENAPI_PATH), "--output-path", str(root / PACKAGE),
         "--meta", "none"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE), root / PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_every_model_is_named_by_the_document(client_package):
    _, path = client_package
    schemas = set(json.loads(OPENAPI_PATH.read_text())["components"]["schemas"])
    classes = {m.group(1): f.name for f in (path / "models").glob("*.py")
               for m in re.finditer(r"^class (\w+)", f.read_text(), re.M)}
    assert not [f.name for f in (path / "models").glob("*json_body*")]
    assert {c: f for c, f in classes.items() if c not in schemas} == {}
    assert [c for c in classes if ANONYMOUS.search(c)] == []
    assert {"Interaction", "Account", "GraphCreate", "AuditCreate", "AuditPatch", "KeyCreate", "ReachRequest",
            "InteractionDeletion", "GatekeeperComponents", "BrokerageCounts", "KindCounts", "Engine",
            "Kind"} <= set(classes)


def test_the_demo_through_the_generated_client(client_package, tmp_path):
    pkg, _ = client_package
    models = importlib.import_module(f"{PACKAGE}.models")
    api = {name: importlib.import_module(f"{PACKAGE}.api.{group}.{name}") for group, name in (
        ("graphs", "create_graph"), ("graphs", "upsert_accounts"), ("graphs", "list_graphs"),
        ("graphs", "get_graph"), ("ingest", "add_interactions"), ("analysis", "gatekeepers"),
        ("analysis", "get_analysis"), ("audits", "create_audit"), ("audits", "get_audit"))}
    svc = start_service(tmp_path)
    try:
        client = pkg.AuthenticatedClient(base_url=svc.url, token=svc.token, raise_on_unexpected_status=True,
                                         timeout=60)
        graph = "typed-demo"
        made = api["create_graph"].sync(client=client, body=models.GraphCreate(id=graph, description="demo"))
        assert isinstance(made, models.GraphInfo) and made.id == graph

        accounts, interactions = demo_network()
        body = [models.Account.from_dict(msgspec.to_builtins(a)) for a in accounts]
        assert isinstance(body[0].attributes, models.Attributes)
        written = api["upsert_accounts"].sync(graph, client=client, body=body)
        assert isinstance(written, models.Written)
        added = api["add_interactions"].sync(
            graph, client=client, body=[models.Interaction.from_dict(msgspec.to_builtins(i)) for i in interactions])
        assert isinstance(added, models.IngestResult)
        assert (added.accepted, added.duplicates) == (len(interactions), 0)

        page = api["list_graphs"].sync(client=client, limit=10)
        assert isinstance(page, models.GraphsPage) and page.next_ is None
        assert [g.id for g in page.items] == [graph]
        info = api["get_graph"].sync(graph, client=client)
        assert isinstance(info.interactions, models.KindCounts)
        assert sum(info.interactions.to_dict().values()) == len(interactions) and info.interactions.reply > 0

        answer = api["gatekeepers"].sync(graph, client=client, limit=5)
        deadline = time.monotonic() + 30
        while isinstance(answer, models.JobOut):  # 202: computed by a job; follow it
            job = answer
            while job.status in (models.JobStatus.QUEUED, models.JobStatus.RUNNING):
                assert time.monotonic() < deadline, "the gatekeepers job did not finish"
                time.sleep(0.2)
                job = api["get_analysis"].sync(job.id, client=client)
            assert job.status == models.JobStatus.DONE, job.error
            answer = api["gatekeepers"].sync(graph, client=client, limit=5)
        assert isinstance(answer, models.GatekeepersAnswer)
        assert {g.account for g in answer.items[:2]} == {"bridge-ns", "bridge-se"}
        top = answer.items[0]
        assert isinstance(top.components, models.GatekeeperComponents)
        assert isinstance(top.components.betweenness, float) and top.components.betweenness > 0
        assert 0.9 < top.ranks.cross_brokerage <= 1.0
        assert isinstance(answer.weights, models.GatekeeperComponents) and answer.weights.cross_brokerage == 0.4
        assert isinstance(answer.manifest.parameters, models.AnalysisParams)
        assert answer.manifest.parameters.engine == models.Engine.FAST

        audit = api["create_audit"].sync(graph, client=client, body=models.AuditCreate(
            account="bridge-ns", every="P1D", layers=[models.Kind.REPLY, models.Kind.QUOTE], paused=True))
        assert isinstance(audit, models.AuditOut) and audit.account == "bridge-ns"
        again = api["get_audit"].sync(graph, audit.id, client=client)
        assert isinstance(again, models.AuditOut)
        assert (again.id, again.account, again.every, again.paused) == (audit.id, "bridge-ns", "P1D", True)
        assert sorted(again.layers) == ["quote", "reply"]
        assert again.links.self_ == audit.links.self_ and again.links.runs.endswith("/runs")
    finally:
        svc.stop()
