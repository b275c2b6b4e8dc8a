"""CSV node and edge tables in a zip, in the layout Gephi's spreadsheet import expects
(``nodes.csv``: Id, Label, ...; ``edges.csv``: Source, Target, Type, ...), which NodeXL,
pandas and any spreadsheet open as well.

Account ids are untrusted text and a spreadsheet runs a cell that starts with ``=``,
``+``, ``-`` or ``@`` as a formula (CSV injection): such a cell gets a leading ``'``,
the quote spreadsheets themselves use to mark "this is text". Ids are guarded the same
way in Id, Source and Target, so the tables still join. Numbers are written as numbers
(a community of -1 stays -1).

Example
-------
>>> guard("=cmd|' /C calc'!A0"), guard("north-01"), guard("-1")
("'=cmd|' /C calc'!A0", 'north-01', "'-1")
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any, Iterator, Mapping

from graph.analysis.stages import Inputs
from graph.export.attributes import NEEDS, NODE_COLUMNS, edges, iso, nodes, require
from graph.export.xml import value

__all__ = ["csv_zip", "guard", "NEEDS"]

# = + - @ start formulas; tab and CR are in OWASP's list too, as some spreadsheets strip
# them and then see the formula behind
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

#: rows written between hand-overs of the zip's bytes
_ROWS = 2000


def guard(cell: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + cell if cell.startswith(_FORMULA) else cell


def csv_zip(x: Inputs, meta: Mapping[str, Any] | None = None) -> Iterator[bytes]:
    """The analysed graph as a zip (deflated) of ``nodes.csv`` and ``edges.csv``, plus
    ``meta.json`` when ``meta`` is given, in chunks as the zip is written.

    Parameters
    ----------
    x : Inputs
        ``x.g`` and the results of the stages ``NEEDS`` (see ``graph.export``).
    meta : mapping, optional
        Facts about the analysis (graph id, version, parameters) for ``meta.json``.

    Returns
    -------
    iterator of bytes

    Notes
    -----
    ``nodes.csv``: Id, Label, then ``attributes.NODE_COLUMNS`` (a value not measured
    is an empty cell). ``edges.csv``: Source, Target, Type (always ``Directed``), Kind,
    Weight (the interaction count), First, Last (ISO 8601 UTC). UTF-8, comma separated,
    CRLF line ends (RFC 4180).
    """
    require(x)
    return _zip(x, meta)


class _Sink(io.RawIOBase):
    """Where the zip writes: collects the bytes until they are handed on. Not seekable,
    so zipfile writes data descriptors instead of going back to patch headers."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _zip(x: Inputs, meta) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("nodes.csv", "w") as f:
            yield from _write(f, sink, ["Id", "Label", *(c.name for c in NODE_COLUMNS)], _node_rows(x))
        with z.open("edges.csv", "w") as f:
            yield from _write(f, sink, ["Source", "Target", "Type", "Kind", "Weight", "First", "Last"],
                              _edge_rows(x))
        if meta:
            z.writestr("meta.json", json.dumps(dict(meta), sort_keys=True, indent=2, default=str) + "\n")
    yield sink.take()


def _write(f, sink: _Sink, header: list[str], rows) -> Iterator[bytes]:
    out = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=True)
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    for i, row in enumerate(rows, 1):
        w.writerow(row)
        if i % _ROWS == 0:
            chunk = sink.take()
            if chunk:
                yield chunk
    out.flush()
    out.detach()  # the zip entry is closed by its own ``with``, not by the wrapper


def _cell(v: Any) -> str:
    return guard(v) if isinstance(v, str) else value(v)


def _node_rows(x: Inputs) -> Iterator[list[str]]:
    for n in nodes(x):
        yield [guard(n.id), guard(n.label), *(_cell(n.values[c.name]) if c.name in n.values else "" for c in NODE_COLUMNS)]


def _edge_rows(x: Inputs) -> Iterator[list[str]]:
    for e in edges(x):
        yield [guard(e.source), guard(e.target), "Directed", guard(e.kind), str(e.count), iso(e.first_ms),
               iso(e.last_ms)]
