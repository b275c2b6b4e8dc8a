"""bench/polarization_limit.py's likelihood ratio is the exact one, where the exact one can
be summed: on graphs of 12 accounts, over all 4,096 ways to split them, straight from the
model's tie probabilities. The bench's bound on the polarization grid (the most any test
can reach in its sparsest cells) rests on this number."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.polarization_limit import log_likelihood_ratios
from tests.validity.test_polarization_grid import MU, ties


def exact_log_lr(pairs: np.ndarray, n: int, c: float) -> float:
    """log of the mean, over every sigma in {-1, +1}^n, of P(G | sigma) / P0(G), each pair
    of accounts a tie or not independently, p_in within a side, p_out across, p0 without
    sides, with the expected ties of the grid's generator."""
    m, h = int(c * n / 2), n // 2
    p_in = ((1 - MU) * m / 2) / (h * (h - 1) / 2)
    p_out = MU * m / (h * (n - h))
    p0 = m / (n * (n - 1) / 2)
    tie = np.zeros((n, n), dtype=bool)
    tie[pairs[0], pairs[1]] = tie[pairs[1], pairs[0]] = True
    upper = np.triu_indices(n, 1)
    a = tie[upper]
    null = np.sum(np.where(a, np.log(p0), np.log1p(-p0)))
    logs = []
    for sigma in itertools.product((-1, 1), repeat=n):
        s = np.asarray(sigma)
        p = np.where(s[upper[0]] == s[upper[1]], p_in, p_out)
        logs.append(np.sum(np.where(a, np.log(p), np.log1p(-p))) - null)
    logs = np.asarray(logs)
    return float(logs.max() + np.log(np.mean(np.exp(logs - logs.max()))))


@pytest.mark.parametrize("planted", [True, False])
def test_the_bench_likelihood_ratio_is_the_exact_one_on_small_graphs(planted):
    n, c = 12, 3
    graphs = [ties(n, c, "poisson", planted, seed) for seed in range(3)]
    exact = [exact_log_lr(g, n, c) for g in graphs]
    estimated = log_likelihood_ratios(graphs, n, c, steps=40, burn=100, measure=1_500, seed=1)
    # the three graphs' ratios differ by more than the tolerance: a wrong sum would show
    assert np.ptp(exact) > 0.3, exact
    np.testing.assert_allclose(estimated, exact, atol=0.1)
