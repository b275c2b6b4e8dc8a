"""How strongly a network splits in two, read from its non-backtracking spectrum.

Raw modularity and Random Walk Controversy grow as a network gets sparser or smaller,
even when nothing is planted in it (Salloum, Chen & Kivelä 2022): a random graph of mean
degree 2 has a partition of modularity 0.8. The non-backtracking matrix does not: the
eigenvalues of a random graph's stay inside a disc of radius :math:`\\sqrt{\\lambda_1}`,
whatever its size, and a split into two sides puts one real eigenvalue outside it, at
:math:`\\lambda_1 (1 - 2\\mu)` for a share :math:`\\mu` of ties crossing (Krzakala et al.
2013). How far that eigenvalue stands out of the disc is the polarization score.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["SpectralSplit", "spectral_split", "POLARIZED_AT", "MAIN_SHARE", "SPLIT_METHOD"]

#: a score from here up reads ``polarized``: the unsplit graphs of the validation grid
#: (tests/validity/test_polarization_grid.py) score below it but for a few of the sparsest
#: (mean degree 2, 2,000 accounts: up to 0.26)
POLARIZED_AT = 0.2
#: the parts of the 2-core measured: those holding at least this share of its ties (a
#: network split into two parts with no tie between them is measured whole; a stray clique
#: beside the main body is not)
MAIN_SHARE = 0.1
#: power iterations at most, for each of the two eigenvalues
ITERATIONS = 400
#: iterations whose norm growth is averaged (a multiple of the period of the bulk's rotation
#: is not needed: its phases average out over a window this long)
WINDOW = 25
#: relative change of an estimate (of its logarithm, for the growth) that ends an iteration
TOLERANCE = 1e-4

SPLIT_METHOD = (
    "score = (lambda2 - sqrt(lambda1)) / (lambda1 - sqrt(lambda1)), clipped to [0, 1], where "
    "lambda1 >= lambda2 are the two largest real eigenvalues of the non-backtracking matrix of "
    "the main body of the simple undirected graph over the analysed layers: the connected parts "
    f"of its 2-core holding at least {MAIN_SHARE:.0%} of the 2-core's ties (trees carry no "
    "non-backtracking spectrum), and sqrt(lambda1) is the edge of the "
    "disc that holds a random graph's eigenvalues (Krzakala et al. 2013); 0: no split stands out "
    "of what chance gives, 1: two sides with no tie between them. Two sides with a share mu of "
    "ties crossing score (lambda1 (1 - 2 mu) - sqrt(lambda1)) / (lambda1 - sqrt(lambda1)): mu = 0.1 "
    "is 0.74 at mean degree 20, 0.64 at 5 and 0.3 at 2 (sparser graphs hold less evidence). "
    f"polarized: score >= {POLARIZED_AT}."
)


class SpectralSplit(msgspec.Struct, frozen=True, kw_only=True):
    #: in [0, 1]; None when the graph has no cycle to measure (a forest)
    score: float | None
    #: the largest eigenvalue of the non-backtracking matrix (about the mean excess degree)
    leading_eigenvalue: float | None
    #: the second largest real eigenvalue, or the bulk edge when none stands out of the bulk
    split_eigenvalue: float | None
    #: sqrt(leading_eigenvalue): what a random graph's eigenvalues stay under
    bulk_edge: float | None
    #: accounts and ties measured (the main body: the large connected parts of the 2-core)
    core_accounts: int
    core_ties: int


def spectral_split(n: int, src: np.ndarray, dst: np.ndarray, *, coreness: np.ndarray,
                   seed: int = 0) -> SpectralSplit:
    r"""How far the network's strongest two-way split stands out of random structure.

    The non-backtracking matrix :math:`B` of an undirected graph acts on directed edges,
    :math:`B_{(u \to v),(v \to w)} = 1` for :math:`w \ne u`. Its spectrum equals, apart from
    :math:`\pm 1`, that of the :math:`2n \times 2n` matrix
    :math:`\begin{pmatrix} A & I - D \\ I & 0 \end{pmatrix}` (Ihara–Bass), which is what is
    iterated here. With :math:`\lambda_1` its leading eigenvalue and :math:`\lambda_2` its
    second largest real one:

    .. math:: s = \operatorname{clip}\left(\frac{\lambda_2 - \sqrt{\lambda_1}}
              {\lambda_1 - \sqrt{\lambda_1}}, 0, 1\right)

    On a random graph (any degree sequence without extreme hubs) every eigenvalue but
    :math:`\lambda_1` lies in the disc :math:`|\lambda| \le \sqrt{\lambda_1}`, so
    :math:`s \to 0` at every size and density; two sides with a share :math:`\mu` of ties
    between them have :math:`\lambda_2 \approx \lambda_1 (1 - 2\mu)`, and two sides with no
    tie between them :math:`s \approx 1`. Only the main body is measured: the connected
    parts of the 2-core that hold at least ``MAIN_SHARE`` of its ties. Trees hanging off it
    add no eigenvalues, and a clique off to the side (whose own leading eigenvalue would
    stand out of the bulk) is not a split of the network.

    :math:`\lambda_1` is found by power iteration on :math:`M + \bar{d} I` (the shift keeps
    :math:`-\lambda_1` of a bipartite graph from competing); :math:`\lambda_2` by power
    iteration on :math:`M + \lambda_1 I` with :math:`\lambda_1`'s eigenvector deflated
    (left and right), read from the growth of the iterate's norm. That shift maps the disc
    of the bulk inside :math:`|z| \le \lambda_1 + \sqrt{\lambda_1}` and every negative
    eigenvalue under :math:`\lambda_1`, so only a real :math:`\lambda_2 > \sqrt{\lambda_1}`
    can stand above the bulk; when none does the estimate is the bulk's edge and the score 0.

    Parameters
    ----------
    n : int
        Accounts.
    src, dst : arrays of int
        Undirected ties (each once, no self-loops), e.g. ``LayerGraph.undirected(kinds)``.
    coreness : array of int, length ``n``
        k-core numbers of that graph (``engine.coreness``).
    seed : int
        Seeds the start vectors of the iterations.

    Returns
    -------
    SpectralSplit

    Examples
    --------
    Two 6-cliques joined by one tie split cleanly; one 12-clique does not:

    >>> from itertools import combinations
    >>> def ties(groups):
    ...     e = [p for grp in groups for p in combinations(grp, 2)]
    ...     return np.array([a for a, _ in e]), np.array([b for _, b in e])
    >>> s, d = ties([range(6), range(6, 12)])
    >>> s, d = np.append(s, 5), np.append(d, 6)
    >>> core = np.full(12, 5)
    >>> round(spectral_split(12, s, d, coreness=core).score, 2)
    0.8

    With no tie between them the split is complete:

    >>> s, d = ties([range(6), range(6, 12)])
    >>> round(spectral_split(12, s, d, coreness=core).score, 2)
    1.0
    >>> s, d = ties([range(12)])
    >>> spectral_split(12, s, d, coreness=np.full(12, 11)).score
    0.0

    References
    ----------
    Krzakala, Moore, Mossel, Neeman, Sly, Zdeborová & Zhang, "Spectral redemption in
    clustering sparse networks", PNAS 110(52) (2013) 20935-20940. doi:10.1073/pnas.1312486110
    Salloum, Chen & Kivelä, "Separating polarization from noise: comparison and
    normalization of structural polarization measures", Proc. ACM HCI 6 (CSCW1) (2022).
    doi:10.1145/3512962
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    keep = (coreness[src] >= 2) & (coreness[dst] >= 2)
    s, d = src[keep], dst[keep]
    nothing = SpectralSplit(score=None, leading_eigenvalue=None, split_eigenvalue=None,
                            bulk_edge=None, core_accounts=0, core_ties=0)
    if len(s) == 0:
        return nothing
    nodes, local = np.unique(np.concatenate([s, d]), return_inverse=True)
    k = len(nodes)
    a = csr_matrix((np.ones(2 * len(s)), (np.concatenate([local[: len(s)], local[len(s):]]),
                                          np.concatenate([local[len(s):], local[: len(s)]]))),
                   shape=(k, k))
    _, comp = connected_components(a, directed=False)
    deg_all = np.asarray(a.sum(axis=1)).ravel()
    ties_of = np.bincount(comp, weights=deg_all) / 2.0
    main = (ties_of >= MAIN_SHARE * ties_of.sum())[comp]
    a = a[main][:, main].tocsr()
    k = a.shape[0]
    ties = int(a.nnz // 2)
    deg = np.asarray(a.sum(axis=1)).ravel()
    if ties <= k:
        # one cycle (every degree 2): its eigenvalues are the roots of unity, no split to see
        return SpectralSplit(score=0.0, leading_eigenvalue=1.0, split_eigenvalue=1.0, bulk_edge=1.0,
                             core_accounts=k, core_ties=ties)
    rng = np.random.default_rng(seed)
    one_minus_d = 1.0 - deg

    def right(x, y, shift):  # (M + shift I) [x; y]
        return a @ x + one_minus_d * y + shift * x, x + shift * y

    def left(x, y, shift):  # (M^T + shift I) [x; y]
        return a @ x + y + shift * x, one_minus_d * x + shift * y

    shift = float(deg.mean())
    lam, u = _dominant(right, shift, k, rng)
    _, w = _dominant(left, shift, k, rng)
    lam1 = lam - shift
    wu = float(w[0] @ u[0] + w[1] @ u[1])

    def deflated(x, y, shift):
        x, y = right(x, y, shift)
        c = (w[0] @ x + w[1] @ y) / wu
        return x - c * u[0], y - c * u[1]

    rho, _ = _dominant(deflated, lam1, k, rng, growth=True)
    bulk = math.sqrt(lam1)
    lam2 = max(min(rho - lam1, lam1), bulk)
    score = float(np.clip((lam2 - bulk) / (lam1 - bulk), 0.0, 1.0)) if lam1 > 1.0 else 0.0
    return SpectralSplit(score=score, leading_eigenvalue=float(lam1), split_eigenvalue=float(lam2),
                         bulk_edge=float(bulk), core_accounts=int(k), core_ties=ties)


def _dominant(step, shift, k, rng, growth=False):
    """The modulus of the dominant eigenvalue of ``step`` and its vector, by power
    iteration; with ``growth`` the modulus is the geometric mean growth of the iterate over
    a window of iterations once two successive windows agree to ``TOLERANCE`` (one
    eigenvalue dominates), or over the second half of ``ITERATIONS`` when they never do
    (the dominant part of the spectrum is the bulk's continuum)."""
    x, y = rng.standard_normal(k), rng.standard_normal(k)
    nrm = math.sqrt(x @ x + y @ y)
    x, y = x / nrm, y / nrm
    logs, est, last = [], 0.0, None
    for t in range(ITERATIONS):
        x, y = step(x, y, shift)
        nrm = math.sqrt(x @ x + y @ y)
        if nrm == 0.0:
            return 0.0, (x, y)
        x, y = x / nrm, y / nrm
        if not growth:
            if abs(nrm - est) <= 1e-3 * TOLERANCE * nrm:  # the deflation needs the vector sharp
                return nrm, (x, y)
            est = nrm
            continue
        logs.append(math.log(nrm))
        if len(logs) % WINDOW == 0 and len(logs) >= 2 * WINDOW:
            now = float(np.mean(logs[-WINDOW:]))
            if last is not None and abs(now - last) <= TOLERANCE:
                return math.exp(now), (x, y)
            last = now
    if growth:
        # not settled: the bulk's continuum, whose growth wanders from window to window;
        # the long average is its edge
        return math.exp(float(np.mean(logs[len(logs) // 2:]))), (x, y)
    return est, (x, y)
