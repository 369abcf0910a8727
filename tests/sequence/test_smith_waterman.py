"""smith_waterman against plain implementations of LAC Eq. 2-5 (smooth and exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from skalign.sequence import smith_waterman


def _sw_reference(sim, go, ge, gamma):
    """LAC Eq. 2-4 one cell at a time; gamma=None uses the exact max.

    Returns the score (max over D) and D.
    """
    n, m = sim.shape
    go = np.broadcast_to(go, (n, m))
    ge = np.broadcast_to(ge, (n, m))

    def smax(*u):
        u = np.array(u)
        if gamma is None:
            return u.max()
        if np.all(u == -np.inf):
            return -np.inf
        return gamma * logsumexp(u / gamma)

    D = np.full((n + 1, m + 1), -np.inf)
    X = np.full((n + 1, m + 1), -np.inf)
    Y = np.full((n + 1, m + 1), -np.inf)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            o, e = go[i - 1, j - 1], ge[i - 1, j - 1]
            D[i, j] = sim[i - 1, j - 1] + smax(0.0, D[i - 1, j - 1], X[i - 1, j - 1], Y[i - 1, j - 1])
            X[i, j] = smax(D[i, j - 1] - o, X[i, j - 1] - e)
            Y[i, j] = smax(D[i - 1, j] - o, X[i - 1, j] - o, Y[i - 1, j] - e)
    inner = D[1:, 1:]
    score = inner.max() if gamma is None else gamma * logsumexp(inner / gamma)
    return score, inner


@pytest.mark.parametrize("gamma", [0.1, 0.8, 3.0])
def test_matches_plain_smooth_recursion(backend, gamma):
    rng = np.random.default_rng(30)
    sim = rng.normal(size=(6, 8))
    go, ge = rng.uniform(0.5, 2.0, size=(6, 8)), rng.uniform(0.1, 0.5, size=(6, 8))
    score, D = _sw_reference(sim, go, ge, gamma)
    res = smith_waterman(sim, go, ge, gamma=gamma, backend=backend)
    assert res.value == pytest.approx(score, rel=1e-12)
    np.testing.assert_allclose(res.accumulated, D, rtol=1e-12, atol=1e-12)


def test_scalar_penalties_match_plain_recursion(backend):
    rng = np.random.default_rng(31)
    sim = rng.normal(size=(2, 5, 7))
    res = smith_waterman(sim, 1.5, 0.25, gamma=0.5, backend=backend)
    for b in range(2):
        score, D = _sw_reference(sim[b], 1.5, 0.25, 0.5)
        assert res.value[b] == pytest.approx(score, rel=1e-12)
        np.testing.assert_allclose(res.accumulated[b], D, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gamma_to_zero_gives_exact_smith_waterman(backend, seed):
    rng = np.random.default_rng(seed)
    n, m = 7, 8
    # integer similarities with a planted diagonal segment and gaps make ties and gap use likely
    sim = rng.integers(-3, 2, size=(n, m)).astype(float)
    sim[np.arange(2, 6), np.arange(3, 7)] = 3.0
    go, ge = rng.uniform(0.5, 2.0, size=(n, m)), rng.uniform(0.1, 0.6, size=(n, m))
    exact, D_exact = _sw_reference(sim, go, ge, None)
    gamma = 1e-4
    res = smith_waterman(sim, go, ge, gamma=gamma, backend=backend)
    # every max^gamma lies in [max, max + gamma log k]; errors add up along the longest chain
    bound = gamma * (math.log(4) * (n + m) + math.log(n * m))
    assert exact - 1e-12 <= res.value <= exact + bound
    assert np.all(res.accumulated >= D_exact - 1e-12)
    assert np.all(res.accumulated <= D_exact + bound)


def test_exact_limit_uses_gaps():
    """A case where the best local alignment needs a gap, checked by hand."""
    sim = np.array([[2.0, -5.0, -5.0], [-5.0, -5.0, 2.0]])
    # match (0, 0), skip column 1, match (1, 2); in Eq. 2-3 (1-based):
    # X(1, 2) = D(1, 1) - g_o = 2 - 0.5 and D(2, 3) = S(2, 3) + X(1, 2) = 2 + 1.5
    res = smith_waterman(sim, 0.5, 0.25, gamma=1e-5)
    assert res.value == pytest.approx(2.0 + 2.0 - 0.5, abs=1e-3)
    score, _ = _sw_reference(sim, 0.5, 0.25, None)
    assert score == pytest.approx(3.5)


def test_learned_penalties_receive_gradients(backend):
    rng = np.random.default_rng(32)
    sim = torch.tensor(rng.normal(size=(5, 6)), requires_grad=True)
    go = torch.full((5, 6), 1.0, dtype=torch.float64, requires_grad=True)
    ge_scalar = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    res = smith_waterman(sim, go, ge_scalar, gamma=0.8, backend=backend)
    res.value.backward()
    assert go.grad.shape == (5, 6) and torch.all(go.grad <= 0)
    # a scalar penalty gets the sum of the per-cell gradients
    go2 = go.detach().clone().requires_grad_(True)
    ge_cells = torch.full((5, 6), 0.5, dtype=torch.float64, requires_grad=True)
    smith_waterman(sim.detach(), go2, ge_cells, gamma=0.8, backend=backend).value.backward()
    assert float(ge_scalar.grad) == pytest.approx(float(ge_cells.grad.sum()), rel=1e-12)
    torch.testing.assert_close(go.grad, go2.grad, rtol=1e-12, atol=1e-14)
