"""GraphML (http://graphml.graphdrawing.org/specification.html), the XML graph format of
networkx, igraph, Gephi and yEd, read as a stream (``xml_stream``: one node or edge in
memory at a time; DTDs and entity declarations refused).

- ``<key id="d0" for="node" attr.name="label">`` declarations name the ``<data key>``
  values (a ``<default>`` is not applied); up to 1,024 are kept.
- ``<node id="n0">`` is an account with id ``n0``; its ``label`` data (any case) is the
  handle, its other data are attributes, by the key's ``attr.name`` (the key's id when
  it has none).
- ``<edge source target>`` is ``weight`` interactions (its ``weight`` data, when a positive
  whole number; else one) of the kind its ``kind`` data names, else ``mention``, dated
  1970-01-01Z: time windows mean nothing for a static graph (see ``static_graph``).
  Interaction ids are ``<source>-><target>:<n>``, ``n`` the edge's 0-based position in
  the file. ``edgedefault`` is not read: direction is as written. Hyperedges, ports and
  nested graphs are skipped.

Errors are ``FieldError``s at the 0-based line index where the element ends.

>>> from graph.ingest.formats.graphml import parse
>>> doc = [b'<graphml><key id="d0" for="node" attr.name="party"/><graph>',
...        b'<node id="a"><data key="d0">left</data></node><edge source="a" target="b"/>',
...        b'</graph></graphml>']
>>> [(type(i).__name__, i.id) for i in parse(enumerate(doc))]
[('Account', 'a'), ('Interaction', 'a->b:0')]
"""

from __future__ import annotations

from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.static_graph import account, count_of, edge, edge_problem, kind_of, node_id
from graph.ingest.formats.xml_stream import local, records
from graph.model import Account, Interaction

__all__ = ["parse"]

_MAX_KEYS = 1024
_RECORDS = frozenset({"key", "node", "edge"})


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Account | Interaction | FieldError]:
    keys: dict[str, str] = {}   # key id -> attr.name
    edges = 0
    for item in records(lines, _RECORDS):
        if isinstance(item, FieldError):
            yield item
            return
        index, el, ancestors = item
        name = local(el.tag)
        parents = [local(a.tag) for a in ancestors]
        if name == "key":
            if len(keys) < _MAX_KEYS and el.get("id"):
                keys[el.get("id", "")] = el.get("attr.name") or el.get("id", "")
            continue
        if "graph" not in parents or "node" in parents or "edge" in parents:
            continue  # a nested graph's, or a port's: not read
        data = [(keys.get(d.get("key", ""), d.get("key", "")), d.text or "")
                for d in el if local(d.tag) == "data"]
        if name == "node":
            id = el.get("id", "")
            if node_id(id) is None:
                yield FieldError("node.id", f"expected 1-512 printable characters, got {id[:40]!r}", index)
                continue
            label = next((v for k, v in data if k.lower() == "label"), None)
            yield account(id, label, [(k, v) for k, v in data if k.lower() != "label"], index)
            continue
        fields = {k.lower(): v for k, v in reversed(data)}
        yield from _edge(el.get("source", ""), el.get("target", ""), fields, edges, index)
        edges += 1


def _edge(source: str, target: str, fields: dict[str, str], n: int,
          index: int) -> Iterator[Interaction | FieldError]:
    count = count_of(fields.get("weight"))
    if isinstance(count, str):
        yield FieldError("edge.weight", count, index)
        return
    kind = kind_of(fields.get("kind"))
    if kind is None:
        yield FieldError("edge.kind", f"expected a castlegate kind, got {fields['kind'][:40]!r}", index)
        return
    problem = edge_problem(source, target, n, count)
    if problem:
        yield FieldError("edge." + problem[0], problem[1], index)
        return
    yield from edge(source, target, n, count, kind)
