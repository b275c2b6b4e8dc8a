"""Comparing two partitions of the same nodes (stability across seeds, agreement with a
ground truth): ``nmi``, ``ari``, ``label_agreement`` (a partition against a known label of
the accounts, e.g. their party) and ``community_stability`` (how often a community's
members stay together when the detection runs again with other seeds)."""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

import numpy as np

__all__ = ["nmi", "ari", "label_agreement", "community_stability"]


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


def ari(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    r"""Adjusted Rand index between two labelings of the same nodes (Hubert & Arabie 1985).

    .. math::

        \mathrm{ARI} = \frac{\sum_{ij} \binom{n_{ij}}{2} - E}{\tfrac12 \big[\sum_i
        \binom{a_i}{2} + \sum_j \binom{b_j}{2}\big] - E}, \qquad
        E = \frac{\sum_i \binom{a_i}{2} \sum_j \binom{b_j}{2}}{\binom{n}{2}}

    with :math:`n_{ij}` the nodes labelled ``i`` in A and ``j`` in B, :math:`a_i, b_j` the
    group sizes: the share of agreeing pairs, corrected for chance (0 for random
    labelings, 1 for identical ones up to renaming; may be negative).

    Examples
    --------
    >>> ari([0, 0, 1, 1], [5, 5, 7, 7])
    1.0
    >>> round(ari([0, 0, 1, 1], [0, 1, 0, 1]), 12)
    -0.5

    References
    ----------
    Hubert & Arabie, "Comparing partitions", J. Classification 2 (1985) 193-218.
    doi:10.1007/BF01908075
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"labelings differ in length: {a.shape} vs {b.shape}")
    n = len(a)
    if n < 2:
        return 1.0
    ia = np.unique(a, return_inverse=True)[1].ravel().astype(np.int64)
    ib = np.unique(b, return_inverse=True)[1].ravel().astype(np.int64)
    _, joint = np.unique(ia * (int(ib.max()) + 1) + ib, return_counts=True)

    def pairs(counts: np.ndarray) -> float:
        c = counts.astype(np.float64)
        return float(np.sum(c * (c - 1) / 2))

    index, sa, sb = pairs(joint), pairs(np.bincount(ia)), pairs(np.bincount(ib))
    expected = sa * sb / (n * (n - 1) / 2)
    top = (sa + sb) / 2
    if top == expected:  # both labelings a single group, or both all singletons
        return 1.0
    return float((index - expected) / (top - expected))


def label_agreement(membership: Sequence[int], labels: Sequence[str | None]) -> dict:
    r"""How well a partition matches a label the accounts carry (e.g. their party).

    Over the accounts that are in the partition (membership >= 0) and carry a label:
    purity :math:`\frac1N \sum_c \max_l n_{cl}` (the share of accounts whose community's
    majority label is theirs; Manning et al. 2008, ch. 16.3), NMI and ARI between
    communities and labels, and per community its label mix and purity.

    Parameters
    ----------
    membership : sequence of int
        Community per account; -1 = not in the partition.
    labels : sequence of str or None
        The label per account, None when it has none.

    Returns
    -------
    dict
        ``labelled``, ``unlabelled``, ``labels`` (count per label), ``purity``, ``nmi``,
        ``ari`` (None without labelled accounts) and ``communities``: per community id,
        ``size``, ``labelled``, ``mix`` (label -> count), ``majority`` and ``purity``.

    Examples
    --------
    >>> out = label_agreement([0, 0, 0, 1, 1, -1], ["l", "l", "r", "r", None, "l"])
    >>> out["labelled"], out["unlabelled"], round(out["purity"], 3)
    (4, 1, 0.75)
    >>> out["communities"][0]["mix"], out["communities"][0]["majority"]
    ({'l': 2, 'r': 1}, 'l')
    """
    membership = np.asarray(membership)
    inside = membership >= 0
    mix: dict[int, Counter] = {int(c): Counter() for c in np.unique(membership[inside])}
    size = Counter(int(c) for c in membership[inside])
    keep_c, keep_l = [], []
    unlabelled = 0
    for c, label in zip(membership.tolist(), labels):
        if c < 0:
            continue
        if label is None:
            unlabelled += 1
            continue
        mix[c][label] += 1
        keep_c.append(c)
        keep_l.append(label)
    n = len(keep_c)
    per = []
    for c in sorted(mix):
        m = mix[c]
        labelled = sum(m.values())
        top = max(sorted(m), key=lambda k: m[k]) if m else None
        per.append({"id": c, "size": size[c], "labelled": labelled, "mix": dict(sorted(m.items())),
                    "majority": top, "purity": (m[top] / labelled) if labelled else None})
    codes = np.unique(np.asarray(keep_l, dtype=object).astype(str), return_inverse=True)[1] if n else []
    return {
        "labelled": n, "unlabelled": unlabelled, "labels": dict(sorted(Counter(keep_l).items())),
        "purity": (sum(max(m.values()) for m in mix.values() if m) / n) if n else None,
        "nmi": nmi(keep_c, codes) if n else None,
        "ari": ari(keep_c, codes) if n else None,
        "communities": per,
    }


def community_stability(membership: Sequence[int], rerun: Callable[[int], Sequence[int]],
                        seeds: Sequence[int]) -> dict[int, float]:
    r"""How often each community's members stay together when the detection runs again.

    For a community :math:`C` and another run's partition :math:`P`, the share of
    :math:`C`'s member pairs that :math:`P` also puts together,
    :math:`\sum_{p \in P} \binom{|C \cap p|}{2} / \binom{|C|}{2}`; averaged over the
    runs. 1 = every run keeps it whole; near 0 = it falls apart with another seed (a
    community Louvain found by chance). A one-member community is 1.

    Parameters
    ----------
    membership : sequence of int
        The partition reported (community per node, -1 = not in it).
    rerun : callable
        ``rerun(seed) -> membership`` of the same nodes with another seed.
    seeds : sequence of int
        The seeds of the other runs.

    Examples
    --------
    >>> runs = {1: [0, 0, 1, 1], 2: [0, 0, 0, 1]}
    >>> community_stability([0, 0, 1, 1], runs.__getitem__, [1, 2])
    {0: 1.0, 1: 0.5}
    """
    membership = np.asarray(membership, dtype=np.int64)
    inside = membership >= 0
    ids = np.unique(membership[inside])
    size = np.bincount(membership[inside], minlength=int(ids.max()) + 1 if len(ids) else 0).astype(np.float64)
    possible = size * (size - 1) / 2
    total = np.zeros(len(size))
    for seed in seeds:
        other = np.asarray(rerun(seed), dtype=np.int64)
        both = inside & (other >= 0)
        k = int(other[both].max()) + 1 if both.any() else 1
        _, counts = np.unique(membership[both] * k + other[both], return_counts=True)
        keys = np.unique(membership[both] * k + other[both])
        together = np.bincount(keys // k, weights=counts * (counts - 1) / 2.0, minlength=len(size))
        total += np.divide(together, possible, out=np.ones(len(size)), where=possible > 0)
    runs = max(len(seeds), 1)
    return {int(c): float(total[c] / runs) if len(seeds) else 1.0 for c in ids}
