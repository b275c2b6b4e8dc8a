"""GEXF (https://gexf.net/), Gephi's own XML graph format (1.1 to 1.3), read as a stream
(``xml_stream``: one node or edge in memory at a time; DTDs and entity declarations
refused).

- ``<attributes class="node|edge"><attribute id title>`` declarations name the
  ``<attvalue for value>`` values (a ``<default>`` is not applied); up to 1,024 kept.
- ``<node id label>`` is an account with id ``id``, handle ``label``, and its attvalues as
  attributes, by title.
- ``<edge source target weight kind>`` is ``weight`` interactions (when a positive whole
  number; else one) of the kind ``kind`` names (the edge's attribute, else its attvalue
  titled ``kind``, as networkx writes it) (it must be a castlegate kind), else
  ``mention``, dated 1970-01-01Z: time windows mean nothing for a static graph (see
  ``static_graph``); GEXF's own ``start``/``end``/spells are not read. Interaction ids
  are ``<source>-><target>:<n>``, ``n`` the edge's 0-based position in the file.
  ``defaultedgetype`` is not read: direction is as written. Nested (hierarchical) nodes
  are skipped.

Errors are ``FieldError``s at the 0-based line index where the element ends.

>>> from graph.ingest.formats.gexf import parse
>>> doc = [b'<gexf><graph><attributes class="node"><attribute id="0" title="party"/></attributes>',
...        b'<nodes><node id="a" label="A"><attvalues><attvalue for="0" value="left"/></attvalues></node></nodes>',
...        b'<edges><edge source="a" target="b" weight="2"/></edges></graph></gexf>']
>>> [(type(i).__name__, i.id) for i in parse(enumerate(doc))]
[('Account', 'a'), ('Interaction', 'a->b:0'), ('Interaction', 'a->b:0.1')]
"""

from __future__ import annotations

from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.graphml import _edge
from graph.ingest.formats.static_graph import account, node_id
from graph.ingest.formats.xml_stream import local, records
from graph.model import Account, Interaction

__all__ = ["parse"]

_MAX_ATTRIBUTES = 1024
_RECORDS = frozenset({"attribute", "node", "edge"})


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Account | Interaction | FieldError]:
    titles: dict[tuple[str, str], str] = {}   # (class, attribute id) -> title
    declared = 0
    edges = 0
    for item in records(lines, _RECORDS):
        if isinstance(item, FieldError):
            yield item
            return
        index, el, ancestors = item
        name = local(el.tag)
        parents = [local(a.tag) for a in ancestors]
        if name == "attribute":
            # the class is on the enclosing <attributes>, which is still open
            if declared < _MAX_ATTRIBUTES and el.get("id") is not None:
                titles[(ancestors[-1].get("class", "node"), el.get("id", ""))] = el.get("title") or el.get("id", "")
                declared += 1
            continue
        if "graph" not in parents or "node" in parents or "edge" in parents:
            continue
        values = [(titles.get((name, v.get("for", "")), v.get("for", "")), v.get("value", ""))
                  for vs in el if local(vs.tag) == "attvalues" for v in vs if local(v.tag) == "attvalue"]
        if name == "node":
            id = el.get("id", "")
            if node_id(id) is None:
                yield FieldError("node.id", f"expected 1-512 printable characters, got {id[:40]!r}", index)
                continue
            yield account(id, el.get("label"), values, index)
            continue
        # attvalues (networkx writes an edge's data so), then the edge's own weight and kind
        fields = {k.lower(): v for k, v in reversed(values)}
        fields |= {k: v for k, v in (("weight", el.get("weight")), ("kind", el.get("kind"))) if v is not None}
        yield from _edge(el.get("source", ""), el.get("target", ""), fields, edges, index)
        edges += 1

