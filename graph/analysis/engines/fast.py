"""The fast engine: igraph and NetworKit (compiled C/C++), the default for real graphs.

Choices, measured against the reference engine (networkx + python-louvain) on karate club,
a weighted G(300, 1500), a planted partition, LFR (n=1000), polblogs and G(5000, 25000):

- Louvain: NetworKit PLM, sequential with randomised node order (``par="none randomized"``,
  no refinement), seeded with ``networkit.setSeed(seed, False)``. Same seed, same
  partition. Mean modularity relative to python-louvain over the same seeds: karate
  (200 seeds) -0.04%, weighted G(300, 1500) (30) +0.15%, planted partition (30) 0.00%,
  LFR n=1000 (20) +0.12%, polblogs (20) +0.02%, G(5000, 25000) (10) +0.42%. Single runs
  of either differ by up to 6% on karate: both are randomised heuristics. 0.9 s on a
  250k-edge graph, where igraph's ``community_multilevel`` (also reproducible, also
  within 1%) needs 5 s and python-louvain 110 s. PLM with refinement finds up to 11%
  *higher* modularity on random graphs: better, but no longer comparable with the
  reference, so it is off.
- PageRank: igraph (PRPACK), agrees with networkx to ~1e-12.
- HITS: igraph ``hub_score``/``authority_score`` (weighted, like ``networkx.hits``),
  rescaled to sum 1 as networkx does.
- Betweenness: igraph, rescaled to networkx's normalisation. Sampled betweenness draws the
  *same* pivots as networkx (``random.Random(seed).sample(range(n), k)``) and runs igraph's
  subset betweenness from them, so the two engines agree exactly, not just in expectation.
- Burt constraint: igraph ``constraint(weights=)``; on undirected weighted graphs it uses
  the same mutual weights p_ij = (w_ij + w_ji) / sum_k (w_ik + w_ki) as networkx, and the
  two agree to 1e-15.
- Effective size: from degree and triangle counts (igraph local transitivity), Burt's
  unweighted simplification deg - 2 t / deg, the formula networkx uses.
- Coreness: igraph ``coreness()``.
- Null model (``rewire``, ``null_model``): uniformly random simple graphs with the
  observed degrees, as the reference's double edge swaps draw them, but sampled by
  NetworKit's global curveball trades (Carstens et al. 2018), ``CURVEBALL_TRADES`` per
  draw: each trade lets every node exchange its non-shared neighbours with a partner
  at once, so a draw of a 1M-edge graph takes about 2 s where ten double edge swaps
  per edge take 11-12 s (igraph or NetworKit alike). How many trades are enough was
  measured, not assumed: bench/results/mixing.md compares community E-I indexes, k-core
  depth and the null's Louvain modularity with far longer chains of either kind.
  A draw's statistics (internal ties per community, coreness, Louvain modularity) are
  computed on NetworKit's graph without copying it back to arrays.

igraph draws random numbers from a process-wide generator; it is swapped for a seeded
``random.Random`` under a module lock and restored afterwards, so concurrent requests in
this module do not consume each other's numbers.

Example
-------
>>> import numpy as np
>>> eng = FastEngine()
>>> src, dst = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 4])
>>> eng.louvain(5, src, dst, np.ones(4)).tolist()
[0, 0, 0, 1, 1]
>>> eng.coreness(5, src, dst).tolist()
[2, 2, 2, 1, 1]
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

import igraph
import networkit as nk
import numpy as np

from graph.analysis.engines.hits import hits_by_iteration
from graph.analysis.engines.reference import _renumber

__all__ = ["FastEngine"]

#: igraph's random number generator and NetworKit's seed are global: one seeded run at a time
_LOCK = threading.RLock()
#: the igraph graph kept for the role metrics (``_ig``); not ``_LOCK``, which a null draw
#: holds through its run: betweenness beside it would wait for every draw
_IG_LOCK = threading.Lock()
#: held while igraph's process-wide random generator is swapped for a seeded one
_RNG_LOCK = threading.Lock()

#: global curveball trades per null-model draw (bench/results/mixing.md)
CURVEBALL_TRADES = 20


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with _LOCK:
        igraph.set_random_number_generator(random.Random(seed))
        nk.setSeed(int(seed), False)
        try:
            yield
        finally:
            igraph.set_random_number_generator(random)


def _ig(n: int, src, dst, directed: bool = False) -> igraph.Graph:
    """The igraph graph of these arrays, for reading only. The last one of each kind is
    kept: the role metrics ask for the same graph five times, and building one of 1M
    edges takes 0.6 s. It is found by the arrays' identity (they are kept alive with it,
    so an id cannot be reused meanwhile)."""
    with _IG_LOCK:
        hit = _last_ig.get(directed)
        if hit is not None and hit[0] == int(n) and hit[1] is src and hit[2] is dst:
            return hit[3]
    # a list of int tuples converts 6x faster than an (m, 2) array or a list of lists
    # (0.07 s vs 0.4 s for 250k edges)
    edges = list(zip(np.asarray(src).tolist(), np.asarray(dst).tolist()))
    g = igraph.Graph(n=int(n), edges=edges, directed=directed)
    with _IG_LOCK:
        _last_ig[directed] = (int(n), src, dst, g)
    return g


_last_ig: dict[bool, tuple] = {}


def _weights(w) -> list[float]:
    return np.asarray(w, dtype=np.float64).tolist()


def _nk(n: int, src, dst, w) -> "nk.Graph":
    src = np.asarray(src, dtype=np.uint64)
    dst = np.asarray(dst, dtype=np.uint64)
    return nk.GraphFromCoo(
        (np.asarray(w, dtype=np.float64), (src, dst)), n=int(n), weighted=True, directed=False
    )


class FastEngine:
    """igraph + NetworKit implementation of ``graph.analysis.engine.Engine``.

    Values match the reference engine (networkx) to numerical precision except Louvain,
    where both are randomised heuristics: same seed, same partition within an engine, and
    comparable modularity across engines (see the module notes).

    References
    ----------
    Csárdi & Nepusz, "The igraph software package for complex network research",
    InterJournal Complex Systems 1695 (2006).
    Staudt, Sazonovs & Meyerhenke, "NetworKit: A tool suite for large-scale complex
    network analysis", Network Science 4(4) (2016). doi:10.1017/nws.2016.20
    """

    name = "fast"
    null_sampler = (f"global curveball trades (NetworKit GlobalCurveball, Carstens et al. 2018), "
                    f"{CURVEBALL_TRADES} per draw")

    def versions(self) -> dict[str, str]:
        return {"igraph": igraph.__version__, "networkit": nk.__version__, "numpy": np.__version__}

    def louvain(self, n, src, dst, w, resolution=1.0, seed=0):
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        g = _nk(n, src, dst, w)
        # PLM is sequential here, but with several OpenMP threads its helper loops pay
        # ~0.1 s of thread wake-ups per call even on a 34-node graph
        with _seeded(seed), _one_thread():
            plm = nk.community.PLM(g, refine=False, gamma=float(resolution),
                                   par="none randomized", turbo=True)
            plm.run()
            labels = np.asarray(plm.getPartition().getVector(), dtype=np.int64)
        return _renumber(labels)

    def leiden(self, n, src, dst, w, resolution=1.0, seed=0):
        """Leiden (igraph's ``community_leiden`` on modularity, run until an iteration
        no longer improves it), seeded: igraph draws from one process-wide generator,
        swapped for a seeded one under the engine's lock."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        g = _ig(n, src, dst)
        with _RNG_LOCK:
            igraph.set_random_number_generator(random.Random(seed))
            try:
                part = g.community_leiden(objective_function="modularity", weights=_weights(w),
                                          resolution=float(resolution), n_iterations=-1)
            finally:
                igraph.set_random_number_generator(random)
        return _renumber(np.asarray(part.membership, dtype=np.int64))

    def modularity(self, n, src, dst, w, membership, resolution=1.0):
        if len(src) == 0 or float(np.sum(w)) == 0.0:
            return math.nan
        labels = np.unique(np.asarray(membership), return_inverse=True)[1]
        g = _ig(n, src, dst)
        return float(g.modularity(labels.tolist(), weights=_weights(w),
                                  resolution=resolution, directed=False))

    def pagerank(self, n, src, dst, w, damping=0.85):
        if n == 0:
            return np.zeros(0)
        g = _ig(n, src, dst, directed=True)
        return np.asarray(g.pagerank(weights=_weights(w), damping=damping, directed=True))

    def hits(self, n, src, dst, w):
        if n == 0:
            return np.zeros(0), np.zeros(0)
        if len(src) == 0:
            u = np.full(n, 1.0 / n)
            return u, u.copy()
        g = _ig(n, src, dst, directed=True)
        ww = _weights(w)
        # ARPACK starts from a random vector of igraph's generator: seeded, so the last
        # digits do not depend on what ran before in this process
        with warnings.catch_warnings(), _seeded(0):
            # igraph warns when many scores are 0 (nodes with no in- or out-links): expected
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                hub = np.asarray(g.hub_score(weights=ww), dtype=np.float64)
                auth = np.asarray(g.authority_score(weights=ww), dtype=np.float64)
            except igraph.InternalError:
                hub = auth = np.zeros(n)
        if not (hub.sum() > 0 and auth.sum() > 0):
            # ARPACK gave up (a leading singular value shared by many vectors) or returned
            # nothing usable: Kleinberg's iteration decides
            return hits_by_iteration(n, src, dst, w)
        return hub / hub.sum(), auth / auth.sum()

    def betweenness(self, n, src, dst, k=None, seed=0, part=(0, 1)):
        i, parts = part
        if n <= 2:
            return np.zeros(n)
        if k is None or k >= n:
            if i > 0:
                return np.zeros(n)
            # igraph counts each unordered pair once; networkx normalises ordered pairs by
            # (n-1)(n-2)
            return np.asarray(_ig(n, src, dst).betweenness(directed=False)) * (2.0 / ((n - 1) * (n - 2)))
        # networkx's pivots, drawn the same way, so the estimate equals the reference's
        pivots = random.Random(seed).sample(range(n), k)
        # networkx (endpoints=False) rescales pivots and other nodes differently: a pivot
        # cannot lie on paths from itself
        scale = np.full(n, 1.0 / (k * (n - 2)))
        scale[pivots] = 1.0 / ((k - 1) * (n - 2)) if k > 1 else math.nan
        # the pivots' shortest-path trees are independent: a slice of them is a share of
        # the estimate, and the shares sum to it
        mine = pivots[i * k // parts:(i + 1) * k // parts]
        if not mine:
            return np.zeros(n)
        return 2.0 * np.asarray(_ig(n, src, dst).betweenness(sources=mine, directed=False)) * scale

    def constraint(self, n, src, dst, w):
        if n == 0:
            return np.zeros(0)
        g = _ig(n, src, dst)
        return np.asarray(g.constraint(weights=_weights(w)), dtype=np.float64)

    def effective_size(self, n, src, dst):
        if n == 0:
            return np.zeros(0)
        g = _ig(n, src, dst).copy()
        g.simplify()
        deg = np.asarray(g.degree(), dtype=np.float64)
        local = np.asarray(g.transitivity_local_undirected(mode="zero"), dtype=np.float64)
        triangles = np.rint(local * deg * (deg - 1) / 2.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = deg - 2.0 * triangles / deg
        eff[deg == 0] = np.nan
        return eff

    def coreness(self, n, src, dst):
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(_ig(n, src, dst).coreness(), dtype=np.int64)

    def rewire(self, n, src, dst, seed=0):
        null = _CurveballNull(n, src, dst)
        h = null.draw_graph(seed)
        e = np.asarray(list(h.iterEdges()), dtype=np.int64).reshape(-1, 2)
        e = np.sort(e, axis=1)
        order = np.lexsort((e[:, 1], e[:, 0]))
        return e[order, 0].astype(np.int32), e[order, 1].astype(np.int32)

    def null_model(self, n, src, dst):
        return _CurveballNull(n, src, dst)



class _CurveballNull:
    sampler = FastEngine.null_sampler

    def __init__(self, n, src, dst):
        self.n = int(n)
        src = np.asarray(src, dtype=np.uint64)
        self.m = len(src)
        self.g = nk.GraphFromCoo((np.ones(self.m), (src, np.asarray(dst, dtype=np.uint64))),
                                 n=self.n, weighted=False, directed=False)
        self._part: tuple[bytes, "nk.Partition"] | None = None

    def draw_graph(self, seed: int) -> "nk.Graph":
        if self.n < 4 or self.m < 2:
            return nk.Graph(self.g)
        with _seeded(seed), _one_thread():
            trades = nk.randomization.GlobalCurveball(self.g, CURVEBALL_TRADES)
            trades.run()
            return trades.getGraph()

    def _partition(self, labels: np.ndarray, L: int) -> "nk.Partition":
        # the same labels for every draw of an analysis: filled once (a Python call per node)
        key = hashlib.blake2b(labels.tobytes(), digest_size=16).digest()
        if self._part is None or self._part[0] != key:
            part = nk.Partition(self.n)
            part.setUpperBound(L + 1)
            for v, x in enumerate(np.where(labels >= 0, labels, L).tolist()):
                part[v] = x
            self._part = (key, part)
        return self._part[1]

    def draw(self, labels, seed):
        labels = np.asarray(labels, dtype=np.int64)
        L = int(labels.max()) + 1 if len(labels) else 0
        h = self.draw_graph(seed)
        with _seeded(seed), _one_thread():
            internal = np.zeros(L, dtype=np.int64)
            if L and self.m:
                # coarsening by the labels: a label's self-loop weight is its internal ties
                coarse = nk.coarsening.ParallelPartitionCoarsening(h, self._partition(labels, L))
                coarse.run()
                cg, fine_to_coarse = coarse.getCoarseGraph(), coarse.getFineToCoarseNodeMapping()
                member = np.full(L, -1, dtype=np.int64)
                present = labels >= 0
                member[labels[present]] = np.flatnonzero(present)  # any one will do
                for x in np.flatnonzero(member >= 0).tolist():
                    c = fine_to_coarse[int(member[x])]
                    internal[x] = int(round(cg.weight(c, c)))
            cores = nk.centrality.CoreDecomposition(h)
            cores.run()
            core = np.rint(np.asarray(cores.scores(), dtype=np.float64)).astype(np.int64)
            q = math.nan
            if self.m:
                plm = nk.community.PLM(h, refine=False, gamma=1.0, par="none randomized", turbo=True)
                plm.run()
                q = float(nk.community.Modularity().getQuality(plm.getPartition(), h))
        return internal, core, q


@contextmanager
def _one_thread() -> Iterator[None]:
    # sequential runs are what the seed reproduces, and several threads' wake-ups cost
    # more than they save on these loops
    threads = nk.getMaxNumberOfThreads()
    nk.setNumberOfThreads(1)
    try:
        yield
    finally:
        nk.setNumberOfThreads(threads)
