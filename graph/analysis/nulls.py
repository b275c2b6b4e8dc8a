"""Draws of the degree-preserving null model, shared by every score compared with it.

Castles' closure z-scores and polarization's modularity z-score ask the same question of
the same graph: is this more than a random graph with the same degrees would show? So
one set of draws serves both: each draw is made once, and everything either score needs
is read off it (ties inside each community, k-core depth, Louvain's modularity) before
the next. Draws are independent, so they run on several cores (``graph.analysis.parallel``),
each seeded by its number: the same seed gives the same draws on any number of cores.
"""

from __future__ import annotations

import math
import uuid
from typing import Sequence

import msgspec
import numpy as np

from graph.analysis import parallel
from graph.analysis.engine import Engine, get_engine
from graph.analysis.graph import LayerGraph

__all__ = ["NullDraws", "degree_preserving_draws", "draw_seed", "z_standard_error"]


class NullDraws(msgspec.Struct, frozen=True, kw_only=True):
    """What each draw of the null model showed, draw by draw."""

    kinds: list[str]
    engine: str
    sampler: str
    seed: int
    samples: int
    #: ``internal[i][c]``: ties with both ends in community ``c`` (an id of the
    #: membership) in draw ``i``
    internal: list[list[int]]
    #: ``depth[i][c]``: mean k-core number of community ``c``'s members over the largest
    #: k-core number in draw ``i`` (NaN: no members, or no ties at all)
    depth: list[list[float]]
    #: Louvain's modularity on draw ``i`` (NaN without ties)
    modularity: list[float]


def draw_seed(seed: int, i: int) -> int:
    """The seed of draw ``i`` of an analysis seeded ``seed``: independent streams per
    draw (numpy ``SeedSequence``), whatever process makes the draw."""
    return int(np.random.SeedSequence((seed, 0, i)).generate_state(1)[0])


def degree_preserving_draws(
    g: LayerGraph,
    kinds: Sequence[str],
    membership: Sequence[int] | np.ndarray,
    *,
    engine: Engine,
    samples: int = 20,
    seed: int = 0,
) -> NullDraws:
    r"""Draws ``samples`` random simple graphs with the degrees of the undirected,
    unweighted graph over ``kinds``, and measures each against ``membership``.

    The null model is the configuration model restricted to simple graphs (no loops, no
    multi-edges): every simple graph with the observed degree sequence equally likely
    (Maslov & Sneppen 2002). The engine samples it by a Markov chain
    (``engine.null_model``): double edge swaps in the reference engine, global curveball
    trades in the fast one; both have this distribution as their stationary
    distribution, and bench/results/mixing.md shows the chains run long enough. Draw
    ``i`` is seeded with :func:`draw_seed` ``(seed, i)``, which also seeds its Louvain run.

    Per draw: the ties inside each community (its degree sum :math:`D_c` is fixed by the
    model, so its ties leaving are :math:`D_c - 2 I_c`), each community's k-core depth
    (mean core number of its members over the draw's largest), and the modularity of a
    Louvain partition of the draw.

    Parameters
    ----------
    g : LayerGraph
    kinds : sequence of str
        The kinds forming the undirected graph.
    membership : sequence of int, length ``g.n``
        Community per node (-1: none).
    engine : Engine
    samples : int
        Draws.
    seed : int

    Returns
    -------
    NullDraws

    Examples
    --------
    >>> from itertools import combinations
    >>> rows = [(a, b, "reply", 1, 0, 0) for side in ("abcde", "vwxyz")
    ...         for a, b in combinations(side, 2)] + [("e", "v", "reply", 1, 0, 0)]
    >>> g = LayerGraph.from_rows(rows)
    >>> d = degree_preserving_draws(g, ["reply"], [0] * 5 + [1] * 5,
    ...                             engine=get_engine("fast"), samples=3)
    >>> [sum(i) <= 21 for i in d.internal], d.samples
    ([True, True, True], 3)

    References
    ----------
    Maslov & Sneppen, "Specificity and stability in topology of protein networks",
    Science 296(5569) (2002) 910-913. doi:10.1126/science.1065103
    Carstens, Hamann, Meyer, Penschuck, Tran & Wagner, "Parallel and I/O-efficient
    randomisation of massive networks using global curveball trades", ESA 2018.
    doi:10.4230/LIPIcs.ESA.2018.11
    """
    if samples < 1:
        raise ValueError("samples must be >= 1")
    kinds = list(kinds)
    memb = np.asarray(membership, dtype=np.int64)
    if memb.shape != (g.n,):
        raise ValueError(f"membership has {len(memb)} entries for {g.n} accounts")
    src, dst, _ = g.undirected(kinds)
    token = uuid.uuid4().hex
    pieces = [(engine.name, token, g.n, src, dst, memb, draw_seed(seed, i)) for i in range(samples)]
    try:
        drawn = parallel.map_pieces(_draw, pieces, work=float(len(src)) * samples)
    finally:
        parallel.forget(token)
    return NullDraws(
        kinds=kinds, engine=engine.name, sampler=engine.null_sampler,
        seed=int(seed), samples=int(samples),
        internal=[d[0] for d in drawn], depth=[d[1] for d in drawn], modularity=[d[2] for d in drawn],
    )


def z_standard_error(z: float | None, samples: int) -> float | None:
    r"""The standard error of a z-score :math:`(x - \bar{y}) / s_y` estimated from
    ``samples`` draws of a normal null: :math:`\sqrt{1/k + z^2 / (2(k-1))}` (the mean's
    error, plus the sample standard deviation's relative error
    :math:`1/\sqrt{2(k-1)}` times :math:`|z|`).

    >>> round(z_standard_error(-10.0, 20), 2), round(z_standard_error(-10.0, 80), 2)
    (1.64, 0.8)
    """
    if z is None or samples < 2:
        return None
    return math.sqrt(1.0 / samples + z * z / (2.0 * (samples - 1)))


def _draw(engine_name: str, token: str, n: int, src, dst, memb, seed: int):
    model = parallel.kept(token, "null model", lambda: get_engine(engine_name).null_model(n, src, dst))
    internal, core, q = model.draw(memb, seed)
    L = len(internal)
    members = memb >= 0
    top = core.max() if len(core) else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.bincount(memb[members], minlength=L)[:L]
        total = np.bincount(memb[members], weights=core[members].astype(np.float64), minlength=L)[:L]
        depth = total / size / top if top > 0 else np.full(L, np.nan)
    return np.asarray(internal, dtype=np.int64).tolist(), depth.tolist(), float(q)
