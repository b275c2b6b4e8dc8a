"""The reference engine: networkx and python-louvain, exactly as the design card names them.

Louvain is python-louvain's ``best_partition`` at the default resolution 1; at any other
resolution it is networkx's ``louvain_communities``, because python-louvain 0.16 handles
the resolution inconsistently (see ``ReferenceEngine.louvain``).

It is slow on large graphs (pure Python) but it is the oracle: the fast engine is tested
against it, and any disagreement between the two is a bug in the fast engine until shown
otherwise.

Example
-------
>>> import numpy as np
>>> eng = ReferenceEngine()
>>> src, dst = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 4])
>>> eng.louvain(5, src, dst, np.ones(4)).tolist()
[0, 0, 0, 1, 1]
>>> eng.coreness(5, src, dst).tolist()
[2, 2, 2, 1, 1]
"""

from __future__ import annotations

import math
import random
from importlib import metadata

import networkx as nx
import networkx.algorithms.centrality.betweenness as _nx_betweenness
import numpy as np
from scipy.sparse.linalg import ArpackError

from graph.analysis.engines.hits import hits_by_iteration

__all__ = ["ReferenceEngine"]

#: double edge swaps per edge in one null-model draw (Maslov & Sneppen 2002; networkx
#: counts successful swaps): more than the mixing check needs (bench/results/mixing.md)
SWAPS_PER_EDGE = 10


#: largest graph on which ``nx.effective_size`` (dense n x n internally) is used as is
_DENSE_MAX_NODES = 5000


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Community ids 0..k-1 by decreasing size, ties by smallest member index, so that two
    engines (or two runs) that find the same partition also print the same ids."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inv = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inv)
    first = np.full(len(uniq), len(labels), dtype=np.int64)
    np.minimum.at(first, inv, np.arange(len(labels)))
    order = np.lexsort((first, -sizes))
    new = np.empty(len(uniq), dtype=np.int64)
    new[order] = np.arange(len(uniq))
    return new[inv]


def _undirected(n: int, src, dst, w=None) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    if w is None:
        g.add_edges_from(zip(np.asarray(src).tolist(), np.asarray(dst).tolist()))
    else:
        g.add_weighted_edges_from(
            zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), np.asarray(w, float).tolist())
        )
    return g


def _directed(n: int, src, dst, w) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(
        zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), np.asarray(w, float).tolist())
    )
    return g


def _array(values: dict, n: int, dtype=float) -> np.ndarray:
    return np.array([values[i] for i in range(n)], dtype=dtype)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


class ReferenceEngine:
    """networkx 3 + python-louvain implementation of ``graph.analysis.engine.Engine``.

    Every method takes ``n`` nodes ``0..n-1`` and edge arrays; see the protocol for the
    contract. Values are what networkx returns, turned into numpy arrays indexed by node.

    References
    ----------
    Hagberg, Schult & Swart, "Exploring network structure, dynamics, and function using
    NetworkX", Proc. SciPy 2008. doi:10.25080/TCWV9851
    """

    name = "reference"
    null_sampler = f"double edge swaps (networkx double_edge_swap), {SWAPS_PER_EDGE} per edge per draw"

    def versions(self) -> dict[str, str]:
        return {
            "networkx": nx.__version__,
            "python-louvain": _version("python-louvain"),
            "numpy": np.__version__,
        }

    def louvain(self, n, src, dst, w, resolution=1.0, seed=0):
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        g = _undirected(n, src, dst, w)
        if resolution == 1.0:
            import community as community_louvain

            part = community_louvain.best_partition(g, weight="weight", random_state=seed)
            return _renumber(_array(part, n, dtype=np.int64))
        # python-louvain 0.16 moves nodes with the resolution on the null-model term but
        # stops levels by a modularity with it on the internal term
        # (taynaud/python-louvain#94): below 1 it stops after the first level (92
        # communities instead of 1 on a G(300, 1500) at 0.3). networkx's Louvain is
        # the same algorithm with a consistent resolution.
        found = nx.community.louvain_communities(g, weight="weight", resolution=resolution,
                                                 seed=seed)
        labels = np.empty(n, dtype=np.int64)
        for c, members in enumerate(found):
            labels[list(members)] = c
        return _renumber(labels)

    def modularity(self, n, src, dst, w, membership, resolution=1.0):
        if len(src) == 0 or float(np.sum(w)) == 0.0:
            return math.nan
        g = _undirected(n, src, dst, w)
        groups: dict[int, set[int]] = {}
        for node, c in enumerate(np.asarray(membership).tolist()):
            groups.setdefault(c, set()).add(node)
        q = nx.community.modularity(g, list(groups.values()), weight="weight",
                                    resolution=resolution)
        return float(q)

    def pagerank(self, n, src, dst, w, damping=0.85):
        if n == 0:
            return np.zeros(0)
        # tol is per node in networkx (stop when L1 change < n * tol): tight enough that
        # the answer agrees with PRPACK's direct solve to ~1e-10
        pr = nx.pagerank(_directed(n, src, dst, w), alpha=damping, weight="weight",
                         tol=1e-13, max_iter=10000)
        return _array(pr, n)

    def hits(self, n, src, dst, w):
        if n == 0:
            return np.zeros(0), np.zeros(0)
        if len(src) == 0:
            # no link, no eigenvector: every node is equally (un)important
            u = np.full(n, 1.0 / n)
            return u, u.copy()
        try:
            hubs, auth = nx.hits(_directed(n, src, dst, w), max_iter=10000, tol=1e-12)
        except ArpackError:
            # a leading singular value shared by many vectors: Kleinberg's iteration decides
            return hits_by_iteration(n, src, dst, w)
        return _array(hubs, n), _array(auth, n)

    def betweenness(self, n, src, dst, k=None, seed=0, part=(0, 1)):
        i, parts = part
        g = _undirected(n, src, dst)
        if k is None or k >= n:
            # exact: all in the first share
            return _array(nx.betweenness_centrality(g, normalized=True), n) if i == 0 else np.zeros(n)
        # sampled: networkx's own steps (nx.betweenness_centrality with k), over this
        # share's slice of its pivots, rescaled as for all of them, so that the shares sum
        # to networkx's estimate and each one is the fast engine's share
        pivots = random.Random(seed).sample(list(g.nodes()), k)
        b = dict.fromkeys(g, 0.0)
        for s in pivots[i * k // parts:(i + 1) * k // parts]:
            S, P, sigma, _ = _nx_betweenness._single_source_shortest_path_basic(g, s)
            b, _ = _nx_betweenness._accumulate_basic(b, S, P, sigma, s)
        b = _nx_betweenness._rescale(b, n, normalized=True, directed=False, endpoints=False,
                                     sampled_nodes=pivots)
        return _array(b, n)

    def constraint(self, n, src, dst, w):
        if n == 0:  # networkx: "Graph has no nodes or edges"
            return np.zeros(0)
        return _array(nx.constraint(_undirected(n, src, dst, w), weight="weight"), n)

    def effective_size(self, n, src, dst):
        g = _undirected(n, src, dst)
        if n == 0:
            return np.zeros(0)
        if n <= _DENSE_MAX_NODES:
            return _array(nx.effective_size(g), n)
        # networkx 3.6 cannot do large graphs: for all nodes it ends in a dense n x n
        # array (20 GB at n = 50 000), per node its ego_graph copies the whole graph each
        # call (5 min at n = 4 000). Borgatti's formula, which networkx uses for
        # unweighted undirected graphs, from networkx's triangle counts instead:
        # degree - 2 * (ties among neighbours) / degree
        tri = _array(nx.triangles(g), n)
        deg = _array(dict(g.degree()), n)
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = deg - 2.0 * tri / deg
        eff[deg == 0] = np.nan
        return eff

    def coreness(self, n, src, dst):
        return _array(nx.core_number(_undirected(n, src, dst)), n, dtype=np.int64)

    def rewire(self, n, src, dst, seed=0):
        g = _undirected(n, src, dst)
        m = g.number_of_edges()
        nswap = SWAPS_PER_EDGE * m
        if n >= 4 and m >= 2 and nswap > 0:
            try:
                nx.double_edge_swap(g, nswap=nswap, max_tries=100 * nswap + 1000, seed=seed)
            except (nx.NetworkXAlgorithmError, nx.NetworkXError):
                # too few valid swaps (a near-complete graph): keep the swaps made so far
                pass
        e = np.array([(min(a, b), max(a, b)) for a, b in g.edges()], dtype=np.int64).reshape(-1, 2)
        order = np.lexsort((e[:, 1], e[:, 0]))
        return e[order, 0].astype(np.int32), e[order, 1].astype(np.int32)

    def null_model(self, n, src, dst):
        return _SwapNull(self, n, src, dst)



class _SwapNull:
    sampler = ReferenceEngine.null_sampler

    def __init__(self, engine: "ReferenceEngine", n, src, dst):
        self.engine, self.n = engine, int(n)
        self.src, self.dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)

    def draw(self, labels, seed):
        labels = np.asarray(labels, dtype=np.int64)
        L = int(labels.max()) + 1 if len(labels) else 0
        rs, rd = self.engine.rewire(self.n, self.src, self.dst, seed=seed)
        rs, rd = np.asarray(rs, dtype=np.int64), np.asarray(rd, dtype=np.int64)
        ls, ld = labels[rs], labels[rd]
        same = (ls >= 0) & (ls == ld)
        internal = np.bincount(ls[same], minlength=L)[:L].astype(np.int64)
        core = np.asarray(self.engine.coreness(self.n, rs, rd), dtype=np.int64)
        ones = np.ones(len(rs))
        q = math.nan
        if len(rs):
            part = self.engine.louvain(self.n, rs, rd, ones, seed=seed)
            q = self.engine.modularity(self.n, rs, rd, ones, part)
        return internal, core, q
