"""What the static-network importers (``edgelist``, ``edgelist-timed``, ``conover``,
``gml``, ``graphml``, ``gexf``, ``gephi-csv``) share: how a graph file's nodes and edges
become castlegate accounts and interactions.

- **Time.** A static network has no time, but ``Interaction.at`` is required, so every
  edge without one is dated ``STATIC_AT``, 1970-01-01T00:00:00Z. The date is fixed so
  that importing the same file again yields identical items (duplicates). Time windows,
  ``since``/``until`` filters and anything that orders events (pods, currency) are
  meaningless on such a graph: every edge happened "at once".
- **Kind.** ``read_records`` carries no per-import options, so the kind is fixed per
  format: ``mention`` (attention: A links to, or speaks of, B), unless an edge carries a
  ``kind`` attribute naming a castlegate kind (reply, quote, mention, repost, like,
  follow). Conover's files name their own kinds.
- **Counts.** An edge's ``weight`` that is a positive whole number (``3`` or ``3.0``) is a
  count of acts: the edge becomes that many interactions (SNAP and ConvoKit weights count
  retweets or replies), at most ``MAX_COUNT``; any other weight (``0.37``) is a strength,
  not a count, and the edge is one interaction.
- **Ids.** Accounts are the file's own node ids, as written (GML ``id``, GraphML/GEXF
  ``id``, the edge list's tokens); they are not qualified, so two files share accounts
  only when their node ids mean the same people. An edge's interactions are
  ``<source>-><target>:<n>``, ``n`` the edge's position in the file (the line index for
  line formats), and ``<source>-><target>:<n>.<k>`` for its ``k``-th extra copy.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.ingest.formats.native import build
from graph.model import MAX_ID_LENGTH, Account, Interaction, Kind

__all__ = ["MAX_COUNT", "STATIC_AT", "account", "count_of", "edge", "edge_problem", "kind_of", "node_id", "text",
           "unix_time"]

#: the time of every edge of a network that has none
STATIC_AT = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: most interactions one weighted edge stands for; more is a strength, or a hostile file
MAX_COUNT = 100_000
#: what ``graph.model`` accepts: attributes per account, key and value lengths
MAX_ATTRIBUTES, MAX_KEY, MAX_TEXT = 64, 128, 2048

_MAX_TS_DIGITS = 11  # up to the year 5138
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KINDS = {k.value: k for k in Kind}


def node_id(raw: str) -> str | None:
    """``raw`` when it can be an account id (1-512 printable characters), else ``None``."""
    if not raw or len(raw) > MAX_ID_LENGTH or _CONTROL.search(raw):
        return None
    return raw


def text(raw: str) -> str:
    """A free-text value as the model accepts it: entities decoded (GML and CSV exports
    write ``&amp;``), control characters made spaces, cut to 2,048 characters."""
    if "&" in raw:
        raw = html.unescape(raw)
    return _CONTROL.sub(" ", raw)[:MAX_TEXT]


def account(id: str, label: str | None, attrs: Iterable[tuple[str, str]], index: int | None,
            at: str = "node") -> Account | FieldError:
    """A node as an account: its label is the handle; other scalar attributes (the first 64
    names; a repeated name's values joined with commas) are its attributes."""
    kept: dict[str, str] = {}
    for key, value in attrs:
        if not key or len(key) > MAX_KEY or _CONTROL.search(key):
            continue
        if key in kept:
            kept[key] = (kept[key] + "," + text(value))[:MAX_TEXT] if kept[key] else text(value)
        elif len(kept) < MAX_ATTRIBUTES:
            kept[key] = text(value)
    fields: dict = {"id": id}
    if label:
        fields["handle"] = text(label)
    if kept:
        fields["attributes"] = kept
    return build(Account, fields, index, at)


def kind_of(raw: str | None, default: Kind = Kind.MENTION) -> Kind | None:
    """The kind an edge's ``kind`` attribute names (``None``: not a castlegate kind)."""
    if raw is None or raw == "":
        return default
    return _KINDS.get(raw.strip().lower())


def count_of(weight: str | None) -> int | str:
    """How many interactions an edge of this ``weight`` stands for, or what is wrong."""
    if weight is None or weight == "":
        return 1
    try:
        w = float(weight)
    except ValueError:
        return f"expected a number, got {weight[:40]!r}"
    if w != w or w in (float("inf"), float("-inf")):
        return f"expected a finite number, got {weight[:40]!r}"
    if w >= 1 and w == int(w):
        if w > MAX_COUNT:
            return f"a count of {int(w)} acts on one edge is more than {MAX_COUNT}"
        return int(w)
    return 1


def unix_time(raw: str) -> datetime | str:
    """The UTC time of ``raw`` whole seconds since 1970, or what is wrong with it."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= _MAX_TS_DIGITS):
        return f"expected a Unix time in whole seconds, got {raw[:40]!r}"
    return datetime.fromtimestamp(int(raw), timezone.utc)


def edge(source: str, target: str, n: int, count: int, kind: Kind,
         at: datetime = STATIC_AT) -> Iterator[Interaction]:
    """The ``count`` interactions of edge number ``n``; its ends checked by the caller
    (``edge_problem``)."""
    base = f"{source}->{target}:{n}"
    yield Interaction(id=base, kind=kind, source=source, target=target, at=at)
    for k in range(1, count):
        yield Interaction(id=f"{base}.{k}", kind=kind, source=source, target=target, at=at)


def edge_problem(source: str, target: str, n: int, count: int) -> tuple[str, str] | None:
    """``(field, message)`` when the edge's ends or ids break the model's rules."""
    if node_id(source) is None:
        return "source", f"expected a node id of 1-{MAX_ID_LENGTH} printable characters, got {source[:40]!r}"
    if node_id(target) is None:
        return "target", f"expected a node id of 1-{MAX_ID_LENGTH} printable characters, got {target[:40]!r}"
    longest = len(source) + len(target) + len(str(n)) + 3 + (len(str(count)) + 1 if count > 1 else 0)
    if longest > MAX_ID_LENGTH:
        return "source", f"the edge's interaction id would be longer than {MAX_ID_LENGTH} characters"
    return None
