"""Streaming XML for the ``graphml`` and ``gexf`` importers: the file's lines are fed to
``xml.etree.ElementTree.XMLPullParser`` one at a time, and each finished element is
dropped from the tree once its importer has read it, so memory holds one node or edge
(plus the few declarations an importer keeps), whatever the file's size.

Hostile XML is refused before the parser sees it: a line holding ``<!DOCTYPE`` or
``<!ENTITY`` stops the file with a ``FieldError`` and nothing more is yielded. Without a
DTD no entity can be declared, so neither entity expansion ("billion laughs") nor
external entities (files, URLs) can happen; an undeclared ``&name;`` is malformed XML.
Graph files need no DTD (GraphML and GEXF are described by XML Schemas). ``defusedxml``
is not a castlegate dependency, so this guard stands in for it.

Errors carry the 0-based line index of the line being read when the error showed (blank
lines are skipped before the parser sees them, in C: a flood of them costs nothing, so
the parser's own line numbers are not the file's).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterable, Iterator

from graph.errors import FieldError

__all__ = ["MAX_RECORD_ELEMENTS", "local", "records"]

#: most elements inside one record (a node's data, attvalues, viz...): more is a broken
#: or hostile file, which would otherwise be held whole
MAX_RECORD_ELEMENTS = 10_000

_REFUSED = (b"<!DOCTYPE", b"<!ENTITY")


def local(tag: str) -> str:
    """``{namespace}node`` -> ``node``."""
    return tag.rpartition("}")[2]


def records(lines: Iterable[tuple[int, bytes]], record_tags: frozenset[str],
            ) -> Iterator[tuple[int, ET.Element, list[ET.Element]] | FieldError]:
    """``(line index, element, its ancestors, outermost first)`` for each finished
    element named in ``record_tags`` (and not inside another such element), or the
    ``FieldError`` that ends the file. The element is dropped after the caller resumes,
    and the ancestors list is the parser's own: read it, do not keep it."""
    parser = ET.XMLPullParser(events=("start", "end"))
    stack: list[ET.Element] = []
    names: list[str] = []
    inside = 0      # how deep inside a record the parser is (0: between records)
    elements = 0    # elements of the current record
    index = -1
    for index, raw in lines:
        for refused in _REFUSED:
            if refused in raw:
                yield FieldError("file", f"{refused.decode()} is refused: graph files need no DTD, and entity"
                                 " declarations are how XML entity bombs and external entities work", index)
                return
        try:
            parser.feed(raw + b"\n")
            events = list(parser.read_events())
        except ET.ParseError as e:
            yield _malformed(e, index)
            return
        for event, el in events:
            if event == "start":
                name = local(el.tag)
                if inside or name in record_tags:
                    inside += 1
                    elements += 1
                    if elements > MAX_RECORD_ELEMENTS:
                        yield FieldError("file", f"a <{names[-1] if inside > 1 else name}> holding more than"
                                         f" {MAX_RECORD_ELEMENTS} elements", index)
                        return
                stack.append(el)
                names.append(name)
                continue
            stack.pop()
            name = names.pop()
            if inside:
                inside -= 1
                if inside:
                    continue
                elements = 0
                yield index, el, stack
            if stack:  # read (or of no interest): drop it, so the tree stays small
                stack[-1].remove(el)
    try:
        parser.close()
    except ET.ParseError as e:
        yield _malformed(e, index)
        return
    if index < 0:
        yield FieldError("file", "the file is empty", 0)


def _malformed(e: ET.ParseError, index: int) -> FieldError:
    # the message without the parser's "line N, column M": its N counts only non-blank lines
    message = str(e).split(": line ")[0]
    return FieldError("line", f"malformed XML: {message}", max(index, 0))
