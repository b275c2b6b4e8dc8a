"""The flat files of Conover et al., "Political Polarization on Twitter" (ICWSM 2011):
retweet and mention networks of the 2010 US midterms, ``xxx.nodes`` and ``xxx.edgelist``
(see the data set's ``data_format_specification.txt``). Both files are read by this one
format, line by line, tab separated; the number of columns tells them apart:

- a nodes line, ``index cluster`` (2 columns), is an account ``<index>`` with attribute
  ``cluster`` = ``left`` or ``right`` (``-``, no cluster, is left out);
- an edge line, ``source target type urls unix_ts [hashtag ...]`` (5 or more columns), is
  one interaction at ``unix_ts`` (read as UTC; the specification says "by local timezone"
  without naming it). ``retweet`` (an edge A→B means B retweeted A) is a ``repost`` by B
  of A, so source and target swap; ``reply`` (A mentions B) is a ``mention`` by A of B.
  The URL count and hashtags are not kept.

Node indexes are per network (``retweet.nodes``, ``mention.nodes`` and ``all.nodes``
number the same users differently), so import each network into its own graph: its
``.nodes`` file and its ``.edgelist``. Interaction ids are ``<source>-><target>:<line
index>``; errors carry the 0-based line index.

>>> from graph.ingest.formats.conover import parse
>>> [(i.id, i.kind.value, i.source, i.target) for i in parse([(0, b"1\\t2\\tretweet\\t0\\t1285399493\\t#tcot")])]
[('2->1:0', 'repost', '2', '1')]
>>> [a.attributes for a in parse([(0, b"7\\tleft"), (1, b"8\\t-")])]
[{'cluster': 'left'}, None]
"""

from __future__ import annotations

from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.static_graph import account, edge, edge_problem, node_id, unix_time
from graph.model import Account, Interaction, Kind

__all__ = ["parse"]


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Account | Interaction | FieldError]:
    for index, raw in lines:
        try:
            parts = raw.decode("utf-8").rstrip("\r").split("\t")
        except UnicodeDecodeError:
            yield FieldError("line", "not UTF-8 text", index)
            continue
        if len(parts) == 2:
            id, cluster = parts[0].strip(), parts[1].strip()
            if node_id(id) is None:
                yield FieldError("index", f"expected a node index, got {id[:40]!r}", index)
            else:
                yield account(id, None, [("cluster", cluster)] if cluster not in ("", "-") else [], index)
            continue
        if len(parts) < 5:
            yield FieldError("line", "expected a nodes line `index<TAB>cluster` or an edge line"
                             f" `source<TAB>target<TAB>type<TAB>urls<TAB>unix_ts[<TAB>hashtag...]`,"
                             f" got {len(parts)} columns", index)
            continue
        a, b, type_, _, ts = (p.strip() for p in parts[:5])
        if type_ == "retweet":
            source, target, kind = b, a, Kind.REPOST
        elif type_ == "reply":
            source, target, kind = a, b, Kind.MENTION
        else:
            yield FieldError("type", f"expected retweet or reply, got {type_[:40]!r}", index)
            continue
        at = unix_time(ts)
        if isinstance(at, str):
            yield FieldError("unix_ts", at, index)
            continue
        problem = edge_problem(source, target, index, 1)
        if problem:
            yield FieldError(problem[0], problem[1], index)
            continue
        yield from edge(source, target, index, 1, kind, at)
