"""The layering the README's architecture section promises, kept by a test: the domain
never imports the service; the analysis never imports the store, the audits, the jobs or
the use cases (it gets its edges handed to it); and the packages of ``graph/`` import one
another without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Module (dotted) -> the castlegate modules it imports, anywhere in its body."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
        out[module] = {m for m in found if m.split(".")[0] in ("graph", "service")}
    return out


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_the_domain_never_imports_the_service():
    bad = {m: sorted(i for i in deps if i.startswith("service")) for m, deps in _imports("graph").items()}
    assert not {m: d for m, d in bad.items() if d}


def test_the_analysis_gets_its_edges_handed_to_it():
    forbidden = ("graph.store", "graph.audits", "graph.jobs", "graph.usecases", "graph.ingest")
    bad = {m: sorted(i for i in deps if i.startswith(forbidden))
           for m, deps in _imports("graph").items() if m.startswith("graph.analysis")}
    assert not {m: d for m, d in bad.items() if d}


def test_graph_packages_import_each_other_without_a_cycle():
    edges: dict[str, set[str]] = {}
    for module, deps in _imports("graph").items():
        a = _subpackage(module)
        for d in deps:
            b = _subpackage(d)
            if a != b:
                edges.setdefault(a, set()).add(b)
    # depth-first search for a back edge
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path + [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for node in sorted(edges):
        if state.get(node) is None and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)
    # and the one that used to be there stays gone
    assert "graph.store" not in edges.get("graph.analysis", set())
