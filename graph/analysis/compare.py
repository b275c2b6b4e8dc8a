"""Comparing two partitions of the same nodes (stability across seeds, agreement with a
ground truth)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["nmi"]


def nmi(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    r"""Normalised mutual information between two labelings of the same nodes.

    .. math::

        \mathrm{NMI}(A, B) = \frac{2\, I(A; B)}{H(A) + H(B)}, \qquad
        I(A; B) = \sum_{a, b} p_{ab} \ln \frac{p_{ab}}{p_a\, p_b}

    with :math:`p_{ab}` the share of nodes labelled ``a`` in A and ``b`` in B (arithmetic
    normalisation, the default of scikit-learn's ``normalized_mutual_info_score``).
    Labels are arbitrary hashable integers; only the grouping matters.

    Parameters
    ----------
    a, b : sequences of int of equal length
        Community label per node.

    Returns
    -------
    float
        In [0, 1]; 1 when the two partitions are identical up to renaming. Two
        single-group partitions count as identical (1.0).

    Examples
    --------
    >>> nmi([0, 0, 1, 1], [5, 5, 7, 7])
    1.0
    >>> round(nmi([0, 0, 1, 1], [0, 1, 0, 1]), 6)
    0.0

    References
    ----------
    Danon, Díaz-Guilera, Duch & Arenas, "Comparing community structure identification",
    J. Stat. Mech. (2005) P09008. doi:10.1088/1742-5468/2005/09/P09008
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"labelings differ in length: {a.shape} vs {b.shape}")
    n = len(a)
    if n == 0:
        return 1.0
    ia = np.unique(a, return_inverse=True)[1].ravel()
    ib = np.unique(b, return_inverse=True)[1].ravel()
    # joint counts via one integer key per (a, b) pair: no dense contingency table
    key = ia.astype(np.int64) * (int(ib.max()) + 1) + ib
    _, joint = np.unique(key, return_counts=True)
    pa = np.bincount(ia) / n
    pb = np.bincount(ib) / n
    ha = -float(np.sum(pa * np.log(pa)))
    hb = -float(np.sum(pb * np.log(pb)))
    if ha + hb == 0.0:
        return 1.0
    pj = joint / n
    keys = np.unique(key)
    ka, kb = keys // (int(ib.max()) + 1), keys % (int(ib.max()) + 1)
    mi = float(np.sum(pj * np.log(pj / (pa[ka] * pb[kb]))))
    return float(min(1.0, max(0.0, 2.0 * mi / (ha + hb))))
