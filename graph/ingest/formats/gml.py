"""GML, the Graph Modelling Language (Himsolt, 1997) as networkx, igraph and Pajek write
it: ``graph [ node [ id 1 label "x" ... ] edge [ source 1 target 2 weight 3 ] ]``, e.g.
``polblogs.gml`` or ConvoKit's ``reddit_small_corpus_network_digraph.gml.gz``.

Reference: https://web.archive.org/web/20190207140002/http://www.fim.uni-passau.de/index.php?id=17297&L=1

The file is read as a stream of tokens, line by line, so memory holds one line and one
node or edge, whatever the file's size: each ``node [...]`` becomes an account when its
``]`` is read, each ``edge [...]`` its interactions.

- a node is an account whose id is its ``id`` (as written: ``1``), its ``label`` the
  handle, its other scalar keys (``value``, ``source``, ``num_comments``...) attributes;
  a key repeated as networkx writes lists (``subreddits "a" subreddits "b"``) is joined
  with commas, networkx's ``_networkx_list_start`` marker dropped. Nested lists
  (``graphics [...]``) are skipped.
- an edge is ``weight`` interactions (a positive whole number; else one) from ``source``
  to ``target``, of the kind its ``kind`` key names, else ``mention``, dated 1970-01-01Z
  (see ``static_graph``: time windows mean nothing for such a graph). Ids are
  ``<source>-><target>:<n>``, ``n`` the 0-based position of the edge among the file's
  edges. ``directed`` is not read: an edge's direction is as written.

Strings are UTF-8 (ASCII with ``&...;`` entities, as the specification writes them, is
UTF-8 too) and may span lines, up to ``MAX_STRING`` characters. Errors are
``FieldError``s at the 0-based line index of the offending token, or of the ``node [`` /
``edge [`` line for a record missing its ``id`` or ``source``:

>>> from graph.ingest.formats.gml import parse
>>> lines = enumerate([b'graph [', b' node [ id 1 label "a" ]', b' edge [ source 1 target 2 ]', b']'])
>>> [(type(i).__name__, i.id) for i in parse(lines)]
[('Account', '1'), ('Interaction', '1->2:0')]
>>> list(parse(enumerate([b'graph [', b' node [ id 1 ]]]'])))[-1]
FieldError(field='line', message="unexpected ']': no list is open", index=1)
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.static_graph import account, count_of, edge, edge_problem, kind_of, node_id
from graph.model import Account, Interaction

__all__ = ["MAX_STRING", "parse"]

#: longest string value (a node label, an attribute); a longer one is a broken file
MAX_STRING = 64 * 1024
#: most scalar keys kept for one node (attributes keep 64; the rest are read and dropped)
_MAX_PAIRS = 1024
#: deepest nesting of lists (graph > node > graphics > ...): a deeper file is refused
_MAX_DEPTH = 32

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# a string (closed, or open to the line's end), a bracket, or a bare word/number
_TOKEN = re.compile(r'"[^"]*"?|\[|\]|[^\s\[\]"]+')
_LIST_MARK = "_networkx_list_start"


class _Record:
    __slots__ = ("kind", "line", "pairs")

    def __init__(self, kind: str, line: int) -> None:
        self.kind, self.line, self.pairs = kind, line, []


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Account | Interaction | FieldError]:
    """``lines`` are ``(line index, line)`` pairs, as ``graph.ingest.formats`` frames them."""
    path: list[tuple[str, int]] = []   # the open lists: (key, line index it opened on)
    key: str | None = None             # a key read, its value not yet
    record: _Record | None = None      # the node or edge being read (path depth 2)
    pending: list[str] | None = None   # a string value spanning lines
    pending_size = 0
    edges = 0
    index = -1
    for index, raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield FieldError("line", "not UTF-8 text", index)
            return
        if pending is not None:
            end = line.find('"')
            piece = line if end < 0 else line[:end]
            pending_size += len(piece) + 1
            if pending_size > MAX_STRING:
                yield FieldError("line", f"a string longer than {MAX_STRING} characters", index)
                return
            pending.append(piece)
            if end < 0:
                continue
            value, pending = "\n".join(pending), None
            line = line[end + 1:]
            if record is not None and len(path) == 2 and len(record.pairs) < _MAX_PAIRS and key:
                record.pairs.append((key, value))
            key = None
        elif line.lstrip().startswith("#"):  # a comment line, as some writers add
            continue
        for m in _TOKEN.finditer(line):
            token = m.group()
            if key is None:
                if token == "]":
                    if not path:
                        yield FieldError("line", "unexpected ']': no list is open", index)
                        return
                    path.pop()
                    if record is not None and len(path) == 1:
                        if record.kind == "node":
                            yield _node(record)
                        else:
                            yield from _edge(record, edges)
                            edges += 1
                        record = None
                elif _KEY.match(token):
                    key = token
                else:
                    yield FieldError("line", f"expected a key or ']', got {token[:40]!r}", index)
                    return
                continue
            if token == "[":
                if len(path) >= _MAX_DEPTH:
                    yield FieldError("line", f"lists nested deeper than {_MAX_DEPTH} levels", index)
                    return
                path.append((key, index))
                if len(path) == 2 and path[0][0] == "graph" and key in ("node", "edge"):
                    record = _Record(key, index)
                key = None
                continue
            if token == "]":
                yield FieldError("line", f"key {key!r} has no value", index)
                return
            if token.startswith('"'):
                if len(token) == 1 or not token.endswith('"'):
                    # the string goes on past this line (it is the last token on it)
                    pending, pending_size = [token[1:]], len(token)
                    break
                value = token[1:-1]
                if len(value) > MAX_STRING:
                    yield FieldError("line", f"a string longer than {MAX_STRING} characters", index)
                    return
            else:
                value = token
            if record is not None and len(path) == 2 and len(record.pairs) < _MAX_PAIRS:
                record.pairs.append((key, value))
            key = None
    if pending is not None:
        yield FieldError("file", "the file ends inside a string", index)
    elif path:
        yield FieldError("file", f"the file ends inside the list {path[-1][0]!r} opened on"
                         f" line {path[-1][1] + 1}", path[-1][1])
    elif key is not None:
        yield FieldError("file", f"the file ends after key {key!r}, before its value", index)


def _node(record: _Record) -> Account | FieldError:
    ids = [v for k, v in record.pairs if k == "id"]
    if not ids:
        return FieldError("node.id", "a node without an id", record.line)
    if node_id(ids[0]) is None:
        return FieldError("node.id", f"expected 1-512 printable characters, got {ids[0][:40]!r}", record.line)
    label = next((v for k, v in record.pairs if k == "label"), None)
    attrs = [(k, v) for k, v in record.pairs if k not in ("id", "label") and v != _LIST_MARK]
    return account(ids[0], label, attrs, record.line, "node")


def _edge(record: _Record, n: int) -> Iterator[Interaction | FieldError]:
    fields: dict[str, str] = {}
    for k, v in record.pairs:
        fields.setdefault(k, v)
    source, target = fields.get("source"), fields.get("target")
    if source is None or target is None:
        yield FieldError("edge.source" if source is None else "edge.target", "an edge without it", record.line)
        return
    count = count_of(fields.get("weight"))
    if isinstance(count, str):
        yield FieldError("edge.weight", count, record.line)
        return
    kind = kind_of(fields.get("kind"))
    if kind is None:
        yield FieldError("edge.kind", f"expected a castlegate kind, got {fields['kind'][:40]!r}", record.line)
        return
    problem = edge_problem(source, target, n, count)
    if problem:
        yield FieldError("edge." + problem[0], problem[1], record.line)
        return
    yield from edge(source, target, n, count, kind)
