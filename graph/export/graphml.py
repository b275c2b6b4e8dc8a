"""GraphML, the XML graph format networkx, igraph, NodeXL, yEd and Gephi all read.

A directed graph with typed attributes (``<key attr.type=...>``: int, long, double,
boolean, string), so that a reader gets numbers back as numbers. Each (source, target,
kind) is one edge: two accounts that replied to and reposted each other are joined by
parallel edges, which GraphML allows and networkx reads as a ``MultiDiGraph``. GraphML
has no time of its own: first and last interaction are ISO 8601 attributes (GEXF is the
format for Gephi's timeline).

Example
-------
>>> from graph.analysis.params import AnalysisParams
>>> from graph.analysis.stages import Inputs, plan
>>> from graph.analysis.graph import LayerGraph
>>> x = Inputs(AnalysisParams(layers=("reply",)), "g", events=[],
...            g=LayerGraph.from_rows([("a", "b", "reply", 2, 1000, 9000), ("a", "b", "like", 1, 0, 0)]))
>>> for s in plan(NEEDS):
...     x.results[s.name] = s.compute(x)
>>> doc = b"".join(graphml(x)).decode()
>>> doc.count("<edge "), '<data key="first">1970-01-01T00:00:01Z</data>' in doc
(2, True)
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from graph.analysis.stages import Inputs
from graph.export.attributes import EDGE_COLUMNS, NEEDS, NODE_COLUMNS, edges, iso, meta_items, nodes, require
from graph.export.xml import attr, chunks, text, value

__all__ = ["graphml", "NEEDS"]

NS = "http://graphml.graphdrawing.org/xmlns"


def graphml(x: Inputs, meta: Mapping[str, Any] | None = None) -> Iterator[bytes]:
    """The analysed graph as a GraphML document, in UTF-8 chunks.

    Parameters
    ----------
    x : Inputs
        ``x.g`` and the results of the stages ``NEEDS`` (see ``graph.export``).
    meta : mapping, optional
        Facts about the analysis (graph id, version, parameters), written as graph
        attributes (networkx: ``G.graph``); nested values as JSON.

    Returns
    -------
    iterator of bytes
    """
    require(x)
    return chunks(_document(x, meta_items(meta)))


def _document(x: Inputs, items: list[tuple[str, str]]) -> Iterator[str]:
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<graphml xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
           f' xsi:schemaLocation="{NS} {NS}/1.0/graphml.xsd">\n')
    for i, (name, _) in enumerate(items):
        yield f'  <key id="g_{i}" for="graph" attr.name="{attr(name)}" attr.type="string"/>\n'
    # a key's id is its name: Gephi names its columns by key id, networkx by attr.name
    yield '  <key id="label" for="node" attr.name="label" attr.type="string"/>\n'
    for c in NODE_COLUMNS:
        yield f'  <key id="{c.name}" for="node" attr.name="{c.name}" attr.type="{c.type}"/>\n'
    for c in EDGE_COLUMNS:
        yield f'  <key id="{c.name}" for="edge" attr.name="{c.name}" attr.type="{c.type}"/>\n'
    # the count again under the name Gephi's layouts and networkx's algorithms look for
    yield '  <key id="weight" for="edge" attr.name="weight" attr.type="double"/>\n'
    yield '  <graph id="G" edgedefault="directed">\n'
    for i, (_, v) in enumerate(items):
        yield f'    <data key="g_{i}">{text(v)}</data>\n'
    for n in nodes(x):
        values = "".join(f'<data key="{k}">{text(value(v))}</data>' for k, v in n.values.items())
        yield f'    <node id="{attr(n.id)}"><data key="label">{text(n.label)}</data>{values}</node>\n'
    for i, e in enumerate(edges(x)):
        # label= is not GraphML but Gephi's importer: it makes the kind the edge type, so
        # Gephi keeps parallel edges of different kinds apart instead of merging them;
        # other readers ignore it
        yield (f'    <edge id="e{i}" source="{attr(e.source)}" target="{attr(e.target)}" label="{attr(e.kind)}">'
               f'<data key="kind">{text(e.kind)}</data><data key="count">{e.count}</data>'
               f'<data key="first">{iso(e.first_ms)}</data><data key="last">{iso(e.last_ms)}</data>'
               f'<data key="weight">{e.count}.0</data></edge>\n')
    yield '  </graph>\n</graphml>\n'
