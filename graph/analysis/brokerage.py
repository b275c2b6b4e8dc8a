"""Gould–Fernandez brokerage roles: who stands between whom, and across which borders."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["BROKERAGE_ROLES", "gould_fernandez"]

#: Column order of :func:`gould_fernandez`'s result.
BROKERAGE_ROLES = ("coordinator", "itinerant", "gatekeeper", "representative", "liaison")

# candidates (2-paths) checked per vectorised batch: ~100 MB of temporaries at most
_CHUNK = 1 << 22


def gould_fernandez(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    membership: Sequence[int] | np.ndarray,
    *,
    max_work: float = 5e6,
    samples: int = 100_000,
    seed: int = 0,
    return_approximate: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Gould–Fernandez brokerage counts per node of a directed graph with groups.

    Node :math:`v` brokers the ordered pair :math:`(a, b)` when :math:`a \to v \to b`,
    :math:`a \ne b` and there is no edge :math:`a \to b`. Each brokered pair is classified
    by the groups :math:`g(\cdot)` of the three nodes:

    ==============  ==================================  =====================
    role            groups                              condition
    ==============  ==================================  =====================
    coordinator     (A, A, A)                           g(a) = g(v) = g(b)
    itinerant       (A, B, A)                           g(a) = g(b) ≠ g(v)
    gatekeeper      (A, B, B)                           g(a) ≠ g(v) = g(b)
    representative  (A, A, B)                           g(a) = g(v) ≠ g(b)
    liaison         (A, B, C)                           all three different
    ==============  ==================================  =====================

    A gatekeeper brings an outside contact into its own group; a representative carries
    its group's contact outwards.

    Counted without enumerating pairs: for each broker, the number of (in-neighbour,
    out-neighbour) pairs of each class follows from its in- and out-neighbours' group
    histograms; then the pairs with :math:`a = b` (reciprocated ties) and the *connected*
    pairs (transitive triads :math:`a \to v \to b, a \to b`) are subtracted. The
    transitive triads are listed from each edge :math:`a \to v` by scanning the
    out-neighbours of whichever of :math:`a, v` has fewer and looking the third edge up in
    the sorted edge keys, so the cost is :math:`\sum_{a \to v} \min(d^+_a, d^+_v)`, not
    :math:`\sum_v d^-_v d^+_v`.

    Approximation: a broker whose triad-listing work exceeds ``max_work`` (a hub on a
    huge graph) gets its connected pairs *estimated* from ``samples`` uniformly drawn
    (in-neighbour, out-neighbour) pairs, seeded by ``seed``; its pair totals stay exact.
    Such brokers are flagged (see ``return_approximate``). On graphs with fewer than
    ``max_work`` edges no broker is ever approximated, since a broker's work is at most
    the number of edges.

    Parameters
    ----------
    n : int
        Number of nodes ``0..n-1``.
    src, dst : array of int
        Directed edges ``src[i] -> dst[i]`` (unweighted; duplicates and self-loops are
        ignored).
    membership : sequence of int, length n
        Group per node. ``-1`` means "in no group": each such node is its own singleton
        group.
    max_work : float
        Triad-listing budget per broker before sampling.
    samples : int
        Pairs drawn for a broker over budget.
    seed : int
        Seed for that sampling.
    return_approximate : bool
        Also return a boolean array marking the brokers whose counts are estimates.

    Returns
    -------
    counts : ndarray of int64, shape (n, 5)
        Columns in :data:`BROKERAGE_ROLES` order: coordinator, itinerant, gatekeeper,
        representative, liaison.
    approximate : ndarray of bool, shape (n,)
        Only with ``return_approximate=True``.

    Examples
    --------
    ``0 -> 1 -> 2`` where 0 is in group 0 and 1, 2 in group 1: node 1 is a gatekeeper.

    >>> import numpy as np
    >>> gould_fernandez(3, np.array([0, 1]), np.array([1, 2]), [0, 1, 1]).tolist()
    [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]

    References
    ----------
    Gould & Fernandez, "Structures of mediation: A formal approach to brokerage in
    transaction networks", Sociological Methodology 19 (1989) 89-126. doi:10.2307/270949
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    groups = np.asarray(membership, dtype=np.int64).copy()
    if groups.shape != (n,):
        raise ValueError(f"membership must have one entry per node ({n}), got {groups.shape}")
    loose = groups < 0
    if loose.any():
        groups[loose] = max(int(groups.max()), -1) + 1 + np.arange(int(loose.sum()))
    counts = np.zeros((n, 5), dtype=np.float64)
    approximate = np.zeros(n, dtype=bool)

    keep = src != dst
    keys = np.unique(src[keep] * n + dst[keep])
    if len(keys) == 0:
        out = counts.astype(np.int64)
        return (out, approximate) if return_approximate else out
    src, dst = keys // n, keys % n
    indeg = np.bincount(dst, minlength=n).astype(np.float64)
    outdeg = np.bincount(src, minlength=n).astype(np.float64)

    # all (in-neighbour, out-neighbour) pairs per class, from group histograms
    same = groups[src] == groups[dst]
    in_same = np.bincount(dst, weights=same, minlength=n)
    out_same = np.bincount(src, weights=same, minlength=n)
    k = int(groups.max()) + 1
    in_keys, in_counts = np.unique(dst[~same] * k + groups[src[~same]], return_counts=True)
    out_keys, out_counts = np.unique(src[~same] * k + groups[dst[~same]], return_counts=True)
    both, i_in, i_out = np.intersect1d(in_keys, out_keys, assume_unique=True, return_indices=True)
    other_same = np.bincount(both // k, weights=in_counts[i_in] * out_counts[i_out], minlength=n)
    counts[:, 0] = in_same * out_same
    counts[:, 1] = other_same
    counts[:, 2] = (indeg - in_same) * out_same
    counts[:, 3] = in_same * (outdeg - out_same)
    counts[:, 4] = (indeg - in_same) * (outdeg - out_same) - other_same

    # a == b: v -> a and a -> v; (a, v, a) is a coordinator or an itinerant triple
    rkeys = dst * n + src
    pos = np.minimum(np.searchsorted(keys, rkeys), len(keys) - 1)
    mutual = keys[pos] == rkeys
    counts[:, 0] -= np.bincount(src, weights=mutual & same, minlength=n)
    counts[:, 1] -= np.bincount(src, weights=mutual & ~same, minlength=n)

    # connected pairs: transitive triads a -> v -> b with a -> b, v in the middle
    out_ptr = np.concatenate([[0], np.cumsum(outdeg, dtype=np.int64)])
    out_nbr = dst  # keys are sorted by src, so dst is already grouped by source
    work = np.minimum(outdeg[src], outdeg[dst])
    broker_work = np.bincount(dst, weights=work, minlength=n)
    capped = broker_work > max_work
    exact = ~capped[dst] & (work > 0)
    a_e, v_e = src[exact], dst[exact]
    scan_v = outdeg[v_e] <= outdeg[a_e]
    scan = np.where(scan_v, v_e, a_e)
    look = np.where(scan_v, a_e, v_e)
    lens = outdeg[scan].astype(np.int64)
    cum = np.cumsum(lens)
    start = 0
    while start < len(lens):
        base = int(cum[start - 1]) if start else 0
        stop = max(int(np.searchsorted(cum, base + _CHUNK, side="right")), start + 1)
        sl = slice(start, stop)
        start = stop
        ln = lens[sl]
        total = int(ln.sum())
        if total == 0:
            continue
        edge = np.repeat(np.arange(len(ln)), ln)
        offset = np.arange(total) - np.repeat(np.cumsum(ln) - ln, ln)
        b = out_nbr[out_ptr[scan[sl]][edge] + offset]
        want = look[sl][edge] * n + b
        p = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        hit = keys[p] == want
        a, v, b = a_e[sl][edge[hit]], v_e[sl][edge[hit]], b[hit]
        cls = _role(groups[a], groups[v], groups[b])
        counts -= np.bincount(v * 5 + cls, minlength=5 * n).reshape(n, 5)

    if capped.any():
        in_order = np.argsort(dst, kind="stable")
        in_nbr = src[in_order]
        in_ptr = np.concatenate([[0], np.cumsum(indeg, dtype=np.int64)])
        rng = np.random.default_rng(seed)
        for v in np.flatnonzero(capped):
            ins = in_nbr[in_ptr[v]:in_ptr[v + 1]]
            outs = out_nbr[out_ptr[v]:out_ptr[v + 1]]
            a = ins[rng.integers(len(ins), size=samples)]
            b = outs[rng.integers(len(outs), size=samples)]
            want = a * n + b
            p = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
            hit = (keys[p] == want) & (a != b)
            cls = _role(groups[a[hit]], groups[v], groups[b[hit]])
            counts[v] -= np.bincount(cls, minlength=5) * (len(ins) * len(outs) / samples)
        approximate = capped

    out = np.maximum(np.rint(counts), 0).astype(np.int64)
    return (out, approximate) if return_approximate else out


def _role(ga, gv, gb) -> np.ndarray:
    """Column of BROKERAGE_ROLES for each (a, v, b) given their groups."""
    sa, sb = ga == gv, gb == gv
    return np.where(sa & sb, 0, np.where(sb, 2, np.where(sa, 3, np.where(ga == gb, 1, 4))))
