"""Gephi's spreadsheet (CSV) node and edge tables, as its Data Laboratory exports and
imports them (https://docs.gephi.org/desktop/Import_CSV_Data/), e.g. ``polblogs_nodes.csv``
and ``polblogs_edges.csv``. The two tables are two files, each imported by itself with
``--format gephi-csv`` (nodes first or not: accounts are upserts); the header row tells
which table a file is (column names in any case and order):

- an edge table has ``Source`` and ``Target`` columns, optionally ``Weight`` (a positive
  whole number is a count of interactions, else one, see ``static_graph``) and ``Kind``
  (a castlegate kind; else ``mention``). Other columns (``Type``, ``Id``, ``Label``...)
  are not read. Edges are dated 1970-01-01Z: time windows mean nothing for a static
  graph. Interaction ids are ``<source>-><target>:<line index>``.
- a node table has an ``Id`` column (and no ``Source``/``Target``): each row is an account
  with that id, ``Label`` its handle, its other non-empty cells attributes (e.g.
  polblogs' ``value``, 0 liberal / 1 conservative, and ``source``).

RFC 4180 CSV in UTF-8 (a BOM tolerated). Errors are ``FieldError``s at the 0-based line
index (the header is line 0; a row is named by its first line).

>>> from graph.ingest.formats.gephi_csv import parse
>>> [(type(i).__name__, i.id) for i in parse(enumerate([b"Id,Label,value", b"1,a.com,0"]))]
[('Account', '1')]
>>> [i.id for i in parse(enumerate([b"source,target", b"1,2", b"1,2"]))]
['1->2:1', '1->2:2']
"""

from __future__ import annotations

import csv
from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.native import _text
from graph.ingest.formats.static_graph import account, count_of, edge, edge_problem, kind_of, node_id
from graph.model import Account, Interaction

__all__ = ["parse"]


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Account | Interaction | FieldError]:
    reader = csv.reader(_text(lines))
    try:
        header = next(reader, None)
        if header is None:
            yield FieldError("header", "empty file: expected a header row", 0)
            return
        names = [h.strip().lower() for h in header]
        duplicated = sorted({n for n in names if n and names.count(n) > 1})
        if duplicated:
            yield FieldError(duplicated[0], "column appears more than once", 0)
            return
        if "source" in names and "target" in names:
            rows = _edges(reader, names)
        elif "id" in names:
            rows = _nodes(reader, header, names)
        else:
            yield FieldError("header", "expected an edge table (Source and Target columns)"
                             " or a node table (an Id column)", 0)
            return
        yield from rows
    except UnicodeDecodeError as e:
        yield FieldError("file", f"not UTF-8 text: {e}", reader.line_num)
    except csv.Error as e:
        yield FieldError("line", f"malformed CSV: {e}", reader.line_num - 1)


def _rows(reader, width: int) -> Iterator[tuple[int, list[str]] | FieldError]:
    start = reader.line_num
    for row in reader:
        if row:
            if len(row) != width:
                yield FieldError("line", f"expected {width} cells, got {len(row)}", start)
            else:
                yield start, row
        start = reader.line_num


def _edges(reader, names: list[str]) -> Iterator[Interaction | FieldError]:
    s, t = names.index("source"), names.index("target")
    w = names.index("weight") if "weight" in names else None
    k = names.index("kind") if "kind" in names else None
    for row in _rows(reader, len(names)):
        if isinstance(row, FieldError):
            yield row
            continue
        index, cells = row
        source, target = cells[s].strip(), cells[t].strip()
        count = count_of(cells[w].strip()) if w is not None else 1
        if isinstance(count, str):
            yield FieldError("weight", count, index)
            continue
        kind = kind_of(cells[k] if k is not None else None)
        if kind is None:
            yield FieldError("kind", f"expected a castlegate kind, got {cells[k][:40]!r}", index)
            continue
        problem = edge_problem(source, target, index, count)
        if problem:
            yield FieldError(problem[0], problem[1], index)
            continue
        yield from edge(source, target, index, count, kind)


def _nodes(reader, header: list[str], names: list[str]) -> Iterator[Account | FieldError]:
    i = names.index("id")
    label = names.index("label") if "label" in names else None
    others = [(j, header[j].strip()) for j in range(len(names)) if j not in (i, label)]
    for row in _rows(reader, len(names)):
        if isinstance(row, FieldError):
            yield row
            continue
        index, cells = row
        id = cells[i].strip()
        if node_id(id) is None:
            yield FieldError("id", f"expected 1-512 printable characters, got {id[:40]!r}", index)
            continue
        attrs = [(name, cells[j]) for j, name in others if cells[j] != ""]
        yield account(id, cells[label] if label is not None and cells[label] else None, attrs, index)
