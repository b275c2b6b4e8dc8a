"""Plain edge lists, one edge a line, as SNAP, KONECT and ``networkx.write_edgelist``
write them: two formats, so that a third number is never guessed to be a time or a
weight.

- ``edgelist``: ``source target [weight]`` — e.g. SNAP's
  ``higgs-retweet_network.edgelist.gz`` (``A B WEIGHT``). The edge is dated
  ``STATIC_AT`` (1970-01-01T00:00:00Z): time windows mean nothing for such a graph.
- ``edgelist-timed``: ``source target unix_ts [count]`` — e.g. SNAP's ``CollegeMsg.txt``
  (``SRC DST UNIXTS``); ``unix_ts`` is whole seconds since 1970, UTC.

Columns are separated by whitespace, or by commas when the line holds one. Lines starting
with ``#`` or ``%`` are comments; blank lines are skipped. A weight or count that is a
positive whole number makes that many interactions (see ``static_graph``); the kind is
``mention`` (``read_records`` takes no options to set it). Node ids are the tokens as
written (``298960``, not ``higgs:298960``), so these accounts do not join the ones the
``snap-higgs`` activity importer makes. Only interactions are produced; interaction ids
are ``<source>-><target>:<line index>`` (plus ``.<k>`` for a count's extra copies).

Errors are ``FieldError``s indexed by the 0-based line index, e.g. a line with one column:

>>> from graph.ingest.formats.edgelist import parse
>>> [(i.id, i.source, i.target, i.kind.value) for i in parse([(0, b"# a b w"), (1, b"a b 2")])]
[('a->b:1', 'a', 'b', 'mention'), ('a->b:1.1', 'a', 'b', 'mention')]
>>> list(parse([(3, b"lonely")]))
[FieldError(field='line', message='expected 2 or 3 columns `source target [weight]`, got 1', index=3)]
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.static_graph import STATIC_AT, count_of, edge, edge_problem, unix_time
from graph.model import Interaction, Kind

__all__ = ["parse", "parse_timed"]


def _columns(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, list[str]] | FieldError]:
    for index, raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield FieldError("line", "not UTF-8 text", index)
            continue
        head = line.lstrip()
        if not head or head[0] in "#%":
            continue
        parts = [p.strip() for p in line.split(",")] if "," in line else line.split()
        yield index, parts


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Interaction | FieldError]:
    """``edgelist``: ``(line index, line)`` pairs in, interactions out."""
    for row in _columns(lines):
        if isinstance(row, FieldError):
            yield row
            continue
        index, parts = row
        if not 2 <= len(parts) <= 3:
            yield FieldError("line", f"expected 2 or 3 columns `source target [weight]`, got {len(parts)}", index)
            continue
        yield from _counted(parts, index, parts[2] if len(parts) == 3 else None, "weight", STATIC_AT)


def parse_timed(lines: Iterable[tuple[int, bytes]]) -> Iterator[Interaction | FieldError]:
    """``edgelist-timed``: ``(line index, line)`` pairs in, interactions out."""
    for row in _columns(lines):
        if isinstance(row, FieldError):
            yield row
            continue
        index, parts = row
        if not 3 <= len(parts) <= 4:
            yield FieldError(
                "line", f"expected 3 or 4 columns `source target unix_ts [count]`, got {len(parts)}", index)
            continue
        at = unix_time(parts[2])
        if isinstance(at, str):
            yield FieldError("unix_ts", at, index)
            continue
        yield from _counted(parts, index, parts[3] if len(parts) == 4 else None, "count", at)


def _counted(parts: list[str], index: int, count_raw: str | None, count_field: str,
             at: datetime) -> Iterator[Interaction | FieldError]:
    """The interactions of one line's edge (``count_raw`` of them), or its error."""
    count = count_of(count_raw)
    if isinstance(count, str):
        yield FieldError(count_field, count, index)
        return
    problem = edge_problem(parts[0], parts[1], index, count)
    if problem:
        yield FieldError(problem[0], problem[1], index)
        return
    yield from edge(parts[0], parts[1], index, count, Kind.MENTION, at)
