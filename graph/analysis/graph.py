"""The in-memory graph every analysis runs on: accounts numbered 0..n-1 and, per interaction
kind, the directed pairs with how often and when they interacted.

Built once per (graph version, window, layers) from the store's aggregated edge rows, then
handed to pure functions. Arrays, not Python objects, so that a million edges fit in tens of
megabytes and hand over to igraph / NetworKit without copying them edge by edge.

Example
-------
>>> g = LayerGraph.from_rows([("a", "b", "reply", 2, 0, 10), ("b", "a", "reply", 1, 5, 5),
...                           ("c", "a", "repost", 4, 1, 9)])
>>> g.n, sorted(g.kinds)
(3, ['reply', 'repost'])
>>> src, dst, w = g.undirected(["reply", "repost"])
>>> sorted(zip(src.tolist(), dst.tolist(), w.tolist()))
[(0, 1, 3.0), (0, 2, 4.0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = ["EdgeSet", "LayerGraph"]


@dataclass(frozen=True)
class EdgeSet:
    """Directed pairs of one kind: ``src[i]`` acted on ``dst[i]`` ``count[i]`` times between
    ``first[i]`` and ``last[i]`` (epoch milliseconds). Self-loops are kept here and dropped
    by the views below."""

    src: np.ndarray  # int32
    dst: np.ndarray  # int32
    count: np.ndarray  # int64
    first: np.ndarray  # int64
    last: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class LayerGraph:
    nodes: list[str]
    kinds: dict[str, EdgeSet]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {name: i for i, name in enumerate(self.nodes)}

    @property
    def n(self) -> int:
        return len(self.nodes)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, str, int, int, int]],
        nodes: Sequence[str] = (),
    ) -> "LayerGraph":
        """Builds from ``(source, target, kind, count, first_ms, last_ms)`` rows, one per
        directed pair and kind (what ``GraphStore.edges`` yields). ``nodes`` adds accounts
        without edges (so that, say, an account that only follows still has an index)."""
        index: dict[str, int] = {}
        for name in nodes:
            index.setdefault(name, len(index))
        cols: dict[str, tuple[list, list, list, list, list]] = {}
        for s, t, kind, count, first, last in rows:
            i = index.get(s)
            if i is None:
                i = index[s] = len(index)
            j = index.get(t)
            if j is None:
                j = index[t] = len(index)
            c = cols.get(kind)
            if c is None:
                c = cols[kind] = ([], [], [], [], [])
            c[0].append(i)
            c[1].append(j)
            c[2].append(count)
            c[3].append(first)
            c[4].append(last)
        kinds = {
            k: EdgeSet(
                np.asarray(c[0], dtype=np.int32),
                np.asarray(c[1], dtype=np.int32),
                np.asarray(c[2], dtype=np.int64),
                np.asarray(c[3], dtype=np.int64),
                np.asarray(c[4], dtype=np.int64),
            )
            for k, c in cols.items()
        }
        return cls(nodes=list(index), kinds=kinds, index=index)

    @classmethod
    def from_table(cls, table) -> "LayerGraph":
        """Builds from a store's ``EdgeTable`` (single interactions as columns), aggregating
        per directed pair and kind with numpy."""
        n = max(len(table.nodes), 1)
        kinds = {}
        for kind, (src, dst, at) in table.kinds.items():
            if len(src) == 0:
                continue
            key = src.astype(np.int64) * n + dst
            order = np.lexsort((at, key))
            key, at = key[order], at[order]
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            ends = np.r_[starts[1:], len(key)]
            pair = key[starts]
            kinds[kind] = EdgeSet(
                (pair // n).astype(np.int32),
                (pair % n).astype(np.int32),
                (ends - starts).astype(np.int64),
                at[starts],
                at[ends - 1],
            )
        return cls(nodes=list(table.nodes), kinds=kinds)

    # views -------------------------------------------------------------------------------
    def directed(self, kinds: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directed pairs over ``kinds``, self-loops dropped, weight = interactions summed
        over the kinds. Returns ``(src, dst, weight)`` with one row per distinct pair."""
        src, dst, w = self._concat(kinds)
        return _sum_pairs(src, dst, w, self.n)

    def undirected(self, kinds: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Undirected pairs (``src < dst``) over ``kinds``, self-loops dropped, weight =
        interactions in both directions summed."""
        src, dst, w = self._concat(kinds)
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        return _sum_pairs(lo, hi, w, self.n)

    def reciprocated(self, kinds: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Undirected pairs (``src < dst``) where each side acted on the other (e.g. replied
        both ways); weight = the smaller of the two directions' counts, the number of
        exchanges that were answered."""
        src, dst, w = self.directed(kinds)
        n = np.int64(self.n)
        key = src.astype(np.int64) * n + dst
        rkey = dst.astype(np.int64) * n + src
        order = np.argsort(key)
        pos = np.searchsorted(key[order], rkey)
        pos = np.minimum(pos, len(key) - 1) if len(key) else pos
        found = (key[order][pos] == rkey) if len(key) else np.zeros(0, bool)
        keep = found & (src < dst)
        back = w[order][pos]
        return src[keep], dst[keep], np.minimum(w[keep], back[keep])

    def _concat(self, kinds: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sets = [self.kinds[k] for k in kinds if k in self.kinds]
        if not sets:
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty, np.zeros(0, dtype=np.float64)
        src = np.concatenate([e.src for e in sets])
        dst = np.concatenate([e.dst for e in sets])
        w = np.concatenate([e.count for e in sets]).astype(np.float64)
        keep = src != dst
        return src[keep], dst[keep], w[keep]


def _sum_pairs(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int):
    if len(src) == 0:
        return src, dst, w
    key = src.astype(np.int64) * np.int64(max(n, 1)) + dst
    uniq, inverse = np.unique(key, return_inverse=True)
    weight = np.bincount(inverse, weights=w, minlength=len(uniq))
    return (uniq // n).astype(np.int32), (uniq % n).astype(np.int32), weight
