"""What every export writes, whatever the format: one row per account and one per
(source, target, kind), with the analysis results as attributes.

The format modules only spell these rows; the columns, their types and the rules for
untrusted text (account ids come from whoever imported the graph) are decided here once,
so that a GEXF, a GraphML and a CSV export of the same analysis say the same thing.

Example
-------
>>> iso(0), iso(1_767_600_030_500)
('1970-01-01T00:00:00Z', '2026-01-05T08:00:30.500Z')
>>> seconds(1_767_600_030_500), seconds(-1500)
('1767600030.5', '-1.5')
>>> xml_safe('a\\x00b\\x1bc<&>')
'a\\ufffdb\\ufffdc<&>'
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

import numpy as np

from graph.analysis.brokerage import BROKERAGE_ROLES
from graph.analysis.palette import community_color  # noqa: F401 (the exports' colours)
from graph.analysis.stages import Inputs

__all__ = [
    "NEEDS", "Column", "NODE_COLUMNS", "EDGE_COLUMNS", "Node", "Edge",
    "nodes", "edges", "require", "edge_count", "node_ids", "iso", "seconds", "xml_safe", "community_color",
    "meta_items",
]

#: the stage results an export reads from ``Inputs.results`` (``stages.plan`` adds
#: what they need in turn: "nulls" for "castles")
NEEDS = ("communities", "roles", "gatekeepers", "trusted", "castles", "pods")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Column:
    """One attribute: its name and its type, in the words GraphML uses
    (``int``, ``long``, ``double``, ``boolean``, ``string``)."""

    name: str
    type: str


#: the RolesTable metrics written per account: column name -> RolesTable field. The
#: within-module degree z-score is not called "z": Gephi's GraphML import takes an
#: attribute named z for the node's position and drops it
_ROLE_NUMBERS = {"within_module_z": "z", "participation": "participation", "betweenness": "betweenness",
                 "constraint": "constraint", "effective_size": "effective_size", "pagerank": "pagerank",
                 "hub": "hub", "authority": "authority"}

NODE_COLUMNS: tuple[Column, ...] = (
    Column("community", "int"),
    Column("castle", "boolean"),
    Column("pods", "string"),
    # the Gould-Fernandez role of most of its brokered pairs (between which groups it
    # mediates), then the Guimerà-Amaral role (its place inside its own community)
    Column("brokerage_role", "string"),
    Column("module_role", "string"),
    Column("gatekeeper", "double"),
    Column("trusted", "double"),
    *(Column(n, "double") for n in _ROLE_NUMBERS),
    # empty where betweenness is exact
    Column("betweenness_se", "double"),
    # prefixed: Gould-Fernandez has a "gatekeeper" role too, which is not the score above
    *(Column(f"brokerage_{r}", "int") for r in BROKERAGE_ROLES),
    # of the account's own interactions; named apart from the edges' first and last, as
    # GraphML key ids are one namespace for nodes and edges
    Column("first_seen", "string"),
    Column("last_seen", "string"),
)

EDGE_COLUMNS: tuple[Column, ...] = (
    Column("kind", "string"),
    Column("count", "long"),
    Column("first", "string"),
    Column("last", "string"),
)


@dataclass(frozen=True)
class Node:
    #: the account id, made safe for XML (``node_ids``)
    id: str
    #: its handle where it has one, else its id; made safe for XML
    label: str
    #: column name -> value; a column left out has no value for this account
    values: dict[str, Any]
    #: epoch ms of its first and last interaction, None for an account without any
    first_ms: int | None
    last_ms: int | None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    count: int
    first_ms: int
    last_ms: int


def nodes(x: Inputs) -> Iterator[Node]:
    """Every account of ``x.g``, in node order, with its attributes (``NODE_COLUMNS``).

    Parameters
    ----------
    x : Inputs
        With ``g`` and the results of every stage in ``NEEDS``.

    Notes
    -----
    An account outside the partition (community -1: no edge in the analysed layers) has
    no role metrics; an account not listed among the gatekeepers or trusted voices has no
    score there: those values are left out, not written as 0, so that "not measured" and
    "measured zero" stay apart in Gephi's data laboratory.
    """
    require(x)
    g, r = x.g, x.results
    ids = node_ids(g.nodes)
    membership = r["communities"].membership
    castles = {c.id for c in r["castles"].communities if c.castle}
    pods: dict[str, list[int]] = {}
    for p in r["pods"].pods:
        for a in p.members:
            pods.setdefault(a, []).append(p.id)
    gatekeeper = {k.account: k.score for k in r["gatekeepers"].items}
    trusted = {v.account: v.score for v in r["trusted"].voices}
    roles = r["roles"]
    row_of = {node: i for i, node in enumerate(roles.nodes)}
    first, last = _node_times(x)
    handles = x.handles(g.nodes) if x.handles else {}

    for i, account in enumerate(g.nodes):
        c = int(membership[i]) if i < len(membership) else -1
        v: dict[str, Any] = {"community": c, "castle": c in castles}
        if account in pods:
            v["pods"] = ";".join(str(p) for p in sorted(pods[account]))
        j = row_of.get(i)
        if j is not None:
            for name in ("brokerage_role", "module_role"):
                if getattr(roles, name)[j] is not None:
                    v[name] = getattr(roles, name)[j]
            for name, field in _ROLE_NUMBERS.items():
                value = getattr(roles, field)[j]
                if value is not None and math.isfinite(value):
                    v[name] = float(value)
            if roles.betweenness_se is not None:
                v["betweenness_se"] = float(roles.betweenness_se[j])
            for b in BROKERAGE_ROLES:
                if b in roles.brokerage:
                    v[f"brokerage_{b}"] = int(roles.brokerage[b][j])
        if account in gatekeeper:
            v["gatekeeper"] = float(gatekeeper[account])
        if account in trusted:
            v["trusted"] = float(trusted[account])
        f = int(first[i]) if first[i] <= last[i] else None
        l_ = int(last[i]) if f is not None else None
        if f is not None:
            v["first_seen"], v["last_seen"] = iso(f), iso(l_)
        handle = handles.get(account)
        yield Node(ids[i], xml_safe(handle) if handle else ids[i], v, f, l_)


def require(x: Inputs) -> None:
    """Raises ``ValueError`` unless ``x`` holds the graph and every stage in ``NEEDS``:
    called by each writer before its first byte, so a caller never streams half a file."""
    missing = [s for s in NEEDS if s not in x.results] + (["graph"] if x.g is None else [])
    if missing:
        raise ValueError(f"an export needs the graph and the stages {list(NEEDS)}; missing {missing}")


def edges(x: Inputs) -> Iterator[Edge]:
    """One edge per (source, target, kind) of ``x.g``, kinds in name order; self-loops
    kept (an account replying to itself did interact)."""
    g = x.g
    ids = node_ids(g.nodes)
    for kind in sorted(g.kinds):
        e = g.kinds[kind]
        for s, t, c, f, l_ in zip(e.src.tolist(), e.dst.tolist(), e.count.tolist(), e.first.tolist(),
                                  e.last.tolist()):
            yield Edge(ids[s], ids[t], kind, c, f, l_)


def edge_count(x: Inputs) -> int:
    """How many edges ``edges(x)`` yields."""
    return sum(len(e) for e in x.g.kinds.values())


def _node_times(x: Inputs) -> tuple[np.ndarray, np.ndarray]:
    # an account is there from its first interaction to its last, in either direction
    n = x.g.n
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    for e in x.g.kinds.values():
        for side in (e.src, e.dst):
            np.minimum.at(first, side, e.first)
            np.maximum.at(last, side, e.last)
    return first, last


# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates, U+FFFE, U+FFFF
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry (NUL, ESC and the other C0
    controls, lone surrogates) replaced by U+FFFD. Escaping ``<`` ``&`` ``"`` is the
    writer's job; this is about characters no escape can carry (``&#0;`` is not
    well-formed either)."""
    return _NOT_XML.sub("\ufffd", text)


def node_ids(accounts: list[str]) -> list[str]:
    """The id each account is written under: the account id itself, made ``xml_safe``.

    The store refuses control characters in ids (``graph.model``), so this only changes
    an id in a graph built some other way; two ids that become equal are told apart
    by further U+FFFD, because a repeated node id would merge two accounts in every
    reader.
    """
    out = [xml_safe(a) for a in accounts]
    changed = [i for i, (a, b) in enumerate(zip(accounts, out)) if a != b]
    if changed:
        taken = {b for a, b in zip(accounts, out) if a == b}
        for i in changed:
            while out[i] in taken:
                out[i] += "\ufffd"
            taken.add(out[i])
    return out


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC, milliseconds only when there are any."""
    t = _EPOCH + timedelta(milliseconds=int(ms))
    frac = f".{t.microsecond // 1000:03d}" if t.microsecond else ""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def seconds(ms: int) -> str:
    """Epoch milliseconds as Unix seconds, written exactly (no float rounding)."""
    sign = "-" if ms < 0 else ""
    s, rest = divmod(abs(int(ms)), 1000)
    return f"{sign}{s}" if not rest else f"{sign}{s}.{rest:03d}".rstrip("0")


def meta_items(meta: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``meta`` as (name, text) pairs for a file header: nested values (the parameters)
    as compact JSON, names sorted so that the same facts make the same bytes."""
    out = []
    for k in sorted(meta or {}):
        v = meta[k]
        text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str, separators=(",", ":"))
        out.append((str(k), text))
    return out
