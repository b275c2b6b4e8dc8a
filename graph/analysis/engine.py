"""The engine interface: the graph algorithms castlegate's metrics are built from.

Two engines stand behind it, selectable per request (``engine=``):

- ``reference``: networkx + python-louvain, exactly as the design card names them; it is
  the oracle the fast engine is tested against;
- ``fast`` (default): compiled libraries (igraph, NetworKit), orders of magnitude faster
  on large graphs.

Every method takes the graph as arrays: ``n`` nodes numbered ``0..n-1`` and edges
``src[i] - dst[i]`` with weight ``w[i]`` (see ``graph.analysis.graph.LayerGraph`` for the
views that produce them). Undirected methods expect each pair once. All randomness comes
from ``seed``: same input, same seed, same answer.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Engine", "NullModel", "get_engine", "ENGINES"]

ENGINES = ("fast", "reference")


class Engine(Protocol):
    name: str
    #: how ``null_model`` draws are sampled (for the manifests' ``null_model``)
    null_sampler: str

    def versions(self) -> dict[str, str]:
        """Library name -> version, for the manifest."""

    def louvain(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                resolution: float = 1.0, seed: int = 0) -> np.ndarray:
        """Louvain (Blondel et al. 2008) on the undirected weighted graph: community id per
        node, ids 0..k-1 numbered by decreasing community size."""

    def leiden(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
               resolution: float = 1.0, seed: int = 0) -> np.ndarray:
        """Leiden (Traag et al. 2019) on modularity, as ``louvain`` numbers it: every
        community connected. Only engines that implement it (``AnalysisParams`` refuses
        the others)."""

    def modularity(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                   membership: np.ndarray, resolution: float = 1.0) -> float:
        """Newman modularity Q of ``membership`` on the undirected weighted graph."""

    def pagerank(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                 damping: float = 0.85) -> np.ndarray:
        """PageRank on the directed weighted graph (edges point at who is endorsed)."""

    def hits(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """HITS (Kleinberg 1999) hub and authority scores on the directed graph, each
        scaled to sum 1."""

    def betweenness(self, n: int, src: np.ndarray, dst: np.ndarray,
                    k: int | None = None, seed: int = 0,
                    part: tuple[int, int] = (0, 1)) -> np.ndarray:
        """Normalised betweenness (Brandes 2001) on the undirected unweighted graph; exact
        when ``k`` is None, else estimated from ``k`` sampled pivots. ``part=(i, parts)``
        gives the ``i``-th of ``parts`` shares whose sum is the whole, so that the shares
        can be computed in different processes."""

    def constraint(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Burt's constraint per node on the undirected weighted graph (NaN for isolates)."""

    def effective_size(self, n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Burt's effective size per node on the undirected unweighted graph
        (degree - 2 * ties among neighbours / degree; NaN for isolates)."""

    def coreness(self, n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """k-core number per node on the undirected graph."""

    def rewire(self, n: int, src: np.ndarray, dst: np.ndarray, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
        """One draw of the degree-preserving null model: a random simple graph with the
        degrees of the undirected simple graph ``src - dst`` (each pair once, sorted)."""

    def null_model(self, n: int, src: np.ndarray, dst: np.ndarray) -> "NullModel":
        """The degree-preserving null model of the undirected simple graph, ready for
        draws (``graph.analysis.nulls`` draws from it)."""


class NullModel(Protocol):
    #: how a draw is sampled (for the manifest's ``null_model``)
    sampler: str

    def draw(self, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
        """One random simple graph with the model's degrees (uniform over such graphs, as
        far as the sampler mixes), and on it: the ties with both ends in each label
        (``labels[v]`` in ``0..L-1``, -1 for none; an array of ``L`` counts), the k-core
        number of every node, and the modularity of a Louvain partition seeded with
        ``seed`` (NaN without edges)."""


def get_engine(name: str = "fast") -> Engine:
    if name == "fast":
        from graph.analysis.engines.fast import FastEngine

        return FastEngine()
    if name == "reference":
        from graph.analysis.engines.reference import ReferenceEngine

        return ReferenceEngine()
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
