"""GEXF 1.3, the format Gephi opens natively, with the time of every interaction so
that Gephi's timeline can replay the conversation.

The graph is ``mode="dynamic"``: each edge carries ``start`` / ``end`` (its first and last
interaction), each account the span of its own interactions. Without them Gephi shows a
static graph and its timeline stays greyed out. Communities are coloured (``viz:color``,
the same palette in every export) and gatekeepers drawn larger (``viz:size``).
Each (source, target, kind) is one edge whose GEXF ``kind`` is the layer: Gephi keeps
edges of different kinds between the same pair as parallel edges of different types
instead of merging them.

Example
-------
>>> from graph.analysis.params import AnalysisParams
>>> from graph.analysis.stages import Inputs, plan
>>> from graph.analysis.graph import LayerGraph
>>> x = Inputs(AnalysisParams(layers=("reply",)), "g", events=[],
...            g=LayerGraph.from_rows([("a", "b", "reply", 2, 1000, 9000), ("b", "a", "reply", 1, 5000, 5000)]))
>>> for s in plan(NEEDS):
...     x.results[s.name] = s.compute(x)
>>> doc = b"".join(gexf(x, {"graph": "g"})).decode()
>>> '<edge id="0" source="a" target="b" kind="reply" weight="2" start="1" end="9">' in doc
True
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from graph.analysis.stages import Inputs
from graph.export.attributes import (EDGE_COLUMNS, NEEDS, NODE_COLUMNS, edge_count, edges, iso, meta_items,
                                     nodes, require, seconds, community_color)
from graph.export.xml import attr, chunks, text, value

__all__ = ["gexf", "NEEDS"]

NS = "http://gexf.net/1.3"
VIZ = "http://gexf.net/1.3/viz"

# GraphML's type words (attributes.Column) in GEXF's words
_TYPES = {"int": "integer", "long": "long", "double": "double", "boolean": "boolean", "string": "string"}

#: viz:size of an account that is not a listed gatekeeper, and of the top one (score 1)
SIZE_MIN, SIZE_MAX = 5.0, 30.0


def gexf(x: Inputs, meta: Mapping[str, Any] | None = None, *, timeformat: str = "double") -> Iterator[bytes]:
    """The analysed graph as a dynamic GEXF 1.3 document, in UTF-8 chunks.

    Parameters
    ----------
    x : Inputs
        ``x.g`` and the results of the stages ``NEEDS`` (see ``graph.export``).
    meta : mapping, optional
        Facts about the analysis (graph id, version, parameters) for the ``<meta>``
        description.
    timeformat : {"double", "datetime"}
        How times are spelled: Unix seconds (read by every GEXF reader, networkx
        included) or ISO 8601 UTC (Gephi's timeline then shows dates; networkx cannot
        read them). A static graph's times are all 1970-01-01 and written as such.

    Returns
    -------
    iterator of bytes
    """
    if timeformat not in ("double", "datetime"):
        raise ValueError(f"timeformat must be 'double' or 'datetime', not {timeformat!r}")
    require(x)
    when = seconds if timeformat == "double" else iso
    return chunks(_document(x, meta, when, timeformat))


def _document(x: Inputs, meta, when, timeformat: str) -> Iterator[str]:
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<gexf xmlns="{NS}" xmlns:viz="{VIZ}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
           f' xsi:schemaLocation="{NS} {NS}/gexf.xsd" version="1.3">\n')
    yield '  <meta>\n    <creator>castlegate</creator>\n'
    items = meta_items(meta)
    if items:
        yield f'    <description>{text("; ".join(f"{k}: {v}" for k, v in items))}</description>\n'
    yield '  </meta>\n'
    yield (f'  <graph defaultedgetype="directed" mode="dynamic" timeformat="{timeformat}"'
           ' timerepresentation="interval">\n')
    yield from _declare("node", NODE_COLUMNS)
    yield from _declare("edge", EDGE_COLUMNS)

    yield f'    <nodes count="{x.g.n}">\n'
    for n in nodes(x):
        yield _node(n, when)
    yield '    </nodes>\n'
    yield f'    <edges count="{edge_count(x)}">\n'
    for i, e in enumerate(edges(x)):
        yield (f'      <edge id="{i}" source="{attr(e.source)}" target="{attr(e.target)}"'
               f' kind="{attr(e.kind)}" weight="{e.count}"'
               f' start="{when(e.first_ms)}" end="{when(e.last_ms)}">'
               f'<attvalues><attvalue for="kind" value="{attr(e.kind)}"/>'
               f'<attvalue for="count" value="{e.count}"/>'
               f'<attvalue for="first" value="{iso(e.first_ms)}"/>'
               f'<attvalue for="last" value="{iso(e.last_ms)}"/></attvalues></edge>\n')
    yield '    </edges>\n  </graph>\n</gexf>\n'


def _declare(cls: str, columns) -> Iterator[str]:
    yield f'    <attributes class="{cls}" mode="static">\n'
    for c in columns:
        yield f'      <attribute id="{c.name}" title="{c.name}" type="{_TYPES[c.type]}"/>\n'
    yield '    </attributes>\n'


def _node(n, when) -> str:
    span = f' start="{when(n.first_ms)}" end="{when(n.last_ms)}"' if n.first_ms is not None else ""
    values = "".join(f'<attvalue for="{k}" value="{attr(value(v))}"/>' for k, v in n.values.items())
    r, g, b = community_color(n.values["community"])
    score = n.values.get("gatekeeper")
    size = SIZE_MIN if score is None else SIZE_MIN + (SIZE_MAX - SIZE_MIN) * max(0.0, min(1.0, score))
    return (f'      <node id="{attr(n.id)}" label="{attr(n.label)}"{span}><attvalues>{values}</attvalues>'
            f'<viz:color r="{r}" g="{g}" b="{b}"/><viz:size value="{size:g}"/></node>\n')
