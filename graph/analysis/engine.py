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

__all__ = ["Engine", "get_engine", "ENGINES"]

ENGINES = ("fast", "reference")


class Engine(Protocol):
    name: str

    def versions(self) -> dict[str, str]:
        """Library name -> version, for the manifest."""

    def louvain(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                resolution: float = 1.0, seed: int = 0) -> np.ndarray:
        """Louvain (Blondel et al. 2008) on the undirected weighted graph: community id per
        node, ids 0..k-1 numbered by decreasing community size."""

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
                    k: int | None = None, seed: int = 0) -> np.ndarray:
        """Normalised betweenness (Brandes 2001) on the undirected unweighted graph; exact
        when ``k`` is None, else estimated from ``k`` sampled pivots."""

    def constraint(self, n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Burt's constraint per node on the undirected weighted graph (NaN for isolates)."""

    def effective_size(self, n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Burt's effective size per node on the undirected unweighted graph
        (degree - 2 * ties among neighbours / degree; NaN for isolates)."""

    def coreness(self, n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """k-core number per node on the undirected graph."""

    def rewire(self, n: int, src: np.ndarray, dst: np.ndarray, seed: int = 0,
               swaps_per_edge: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """A degree-preserving randomisation (double edge swaps) of the undirected simple
        graph, for null models."""


def get_engine(name: str = "fast") -> Engine:
    if name == "fast":
        from graph.analysis.engines.fast import FastEngine

        return FastEngine()
    if name == "reference":
        from graph.analysis.engines.reference import ReferenceEngine

        return ReferenceEngine()
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
