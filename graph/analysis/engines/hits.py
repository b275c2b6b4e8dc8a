"""HITS by power iteration: the answer when ARPACK gives none.

Both engines ask ARPACK (scipy's ``svds`` in networkx, igraph's own copy) for the leading
singular vectors of the adjacency matrix. When the leading singular value is shared by
many vectors, as in a graph of many separate single replies (a window holding a few dozen
one-off exchanges), ARPACK stops with "No shifts could be applied" (error 3) and there is
no answer at all. Kleinberg's own algorithm is the power iteration from the all-ones
vector; it always ends, and for a degenerate spectrum it picks the one answer that treats
equal accounts equally (every account that replied once gets the same hub score).

Reference: J. M. Kleinberg, "Authoritative sources in a hyperlinked environment",
J. ACM 46(5), 1999, section 3 (the iterative algorithm).

>>> import numpy as np
>>> hub, auth = hits_by_iteration(4, np.array([0, 2]), np.array([1, 3]), np.ones(2))
>>> hub.tolist(), auth.tolist()
([0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5])
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["hits_by_iteration"]


def hits_by_iteration(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                      tol: float = 1e-12, max_iter: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    """HITS hub and authority scores (each summing to 1) by power iteration from ones.

    Parameters: ``n`` nodes ``0..n-1``, directed edges ``src[i] -> dst[i]`` of weight
    ``w[i]``; the iteration stops when the hub vector moves less than ``tol`` (L1, per
    node summed) or after ``max_iter`` rounds.
    """
    if n == 0:
        return np.zeros(0), np.zeros(0)
    if len(src) == 0:
        u = np.full(n, 1.0 / n)
        return u, u.copy()
    a = sp.csr_array((np.asarray(w, dtype=np.float64), (src, dst)), shape=(n, n))
    at = a.T.tocsr()
    hub = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        auth = at @ hub
        new = a @ auth
        new /= new.sum()
        done = np.abs(new - hub).sum() < tol
        hub = new
        if done:
            break
    auth = at @ hub
    return hub, auth / auth.sum()
