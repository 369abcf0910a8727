"""smooth_dtw against a plain implementation of GTA Eq. 4-5; contrastive_cost against Eq. 7-8."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax, softmax

from skalign.sequence import contrastive_cost, dtw, smooth_dtw


def _smooth_dtw_reference(cost, gamma):
    """GTA Eq. 4 with smoothMin of Eq. 5, one cell at a time."""
    n, m = cost.shape
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r = np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]])
            finite = np.isfinite(r)
            w = softmax(-r[finite] / gamma)
            R[i, j] = cost[i - 1, j - 1] + float(w @ r[finite])
    return R[1:, 1:]


@pytest.mark.parametrize("gamma", [0.05, 0.3, 2.0])
def test_matches_plain_recursion(backend, gamma):
    rng = np.random.default_rng(20)
    cost = rng.uniform(0, 2, size=(6, 8))
    ref = _smooth_dtw_reference(cost, gamma)
    res = smooth_dtw(cost, gamma=gamma, backend=backend)
    np.testing.assert_allclose(res.accumulated, ref, rtol=1e-12, atol=1e-12)
    assert res.value == pytest.approx(ref[-1, -1], rel=1e-12)


def test_hand_computed_accumulated_matrix(backend):
    cost = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0]])
    e = np.exp(-1.0)  # gamma = 1

    def smooth_min(*a):
        w = [np.exp(-v) for v in a]
        return sum(v * wv for v, wv in zip(a, w)) / sum(w)

    r = np.empty((3, 4))
    r[0] = [0.0, 1.0, 3.0, 6.0]
    r[1, 0], r[2, 0] = 1.0, 3.0
    r[1, 1] = 0.0 + 2 * e / (1 + 2 * e)  # smoothMin(0, 1, 1)
    r[1, 2] = 1.0 + smooth_min(1.0, 3.0, r[1, 1])
    r[1, 3] = 2.0 + smooth_min(3.0, 6.0, r[1, 2])
    r[2, 1] = 1.0 + smooth_min(1.0, r[1, 1], 3.0)
    r[2, 2] = 0.0 + smooth_min(r[1, 1], r[1, 2], r[2, 1])
    r[2, 3] = 1.0 + smooth_min(r[1, 2], r[1, 3], r[2, 2])
    res = smooth_dtw(cost, gamma=1.0, backend=backend)
    np.testing.assert_allclose(res.accumulated, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.01, 0.1, 1.0])
def test_upper_bound_of_exact_dtw(backend, gamma):
    """smoothMin >= min (GTA Sec. 3.2), so smoothDTW never undercuts DTW."""
    rng = np.random.default_rng(21)
    cost = rng.uniform(0, 3, size=(4, 7, 9))
    assert np.all(smooth_dtw(cost, gamma=gamma, backend=backend).value >= dtw(cost, backend=backend).value - 1e-12)


@pytest.mark.parametrize("gamma", [1e-2, 1e-3, 1e-5])
def test_gamma_to_zero_gives_exact_dtw(backend, gamma):
    rng = np.random.default_rng(22)
    cost = rng.uniform(0, 5, size=(3, 8, 6))
    exact = dtw(cost, backend=backend).value
    smooth = smooth_dtw(cost, gamma=gamma, backend=backend).value
    # smoothMin - min <= sum_k (a_k - min) e^{-(a_k - min)/gamma} <= 2 gamma / e per cell
    assert np.all(smooth - exact <= (8 + 6 - 1) * 2 * gamma / np.e + 1e-12)
    assert np.all(smooth >= exact - 1e-12)


def test_contrastive_cost_equals_eq_8():
    rng = np.random.default_rng(23)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    expected = -log_softmax(xn @ yn.T / 0.1, axis=1)
    c = contrastive_cost(x, y, temperature=0.1)
    assert isinstance(c, np.ndarray) and c.shape == (5, 7)
    np.testing.assert_allclose(c, expected, rtol=1e-12)
    # each row is a negative log distribution over the frames of y
    np.testing.assert_allclose(np.exp(-c).sum(1), 1.0, rtol=1e-12)
    # not symmetric in x and y
    assert not np.allclose(contrastive_cost(y, x, temperature=0.1), c.T)


def test_contrastive_cost_masks_and_torch():
    rng = np.random.default_rng(24)
    x, y = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 8, 3))
    mask_x = np.array([[True] * 6, [True] * 4 + [False] * 2])
    mask_y = np.array([[True] * 5 + [False] * 3, [True] * 8])
    xt = torch.tensor(x, requires_grad=True)
    c = contrastive_cost(xt, torch.tensor(y), temperature=0.5, mask_x=mask_x, mask_y=mask_y)
    assert isinstance(c, torch.Tensor) and c.requires_grad
    for b, (n, m) in enumerate([(6, 5), (4, 8)]):
        alone = contrastive_cost(x[b, :n], y[b, :m], temperature=0.5)
        np.testing.assert_allclose(c[b, :n, :m].detach().numpy(), alone, rtol=1e-12)
        assert torch.all(c[b, n:] == 0) and torch.all(c[b, :, m:] == 0)


def test_gta_alignment_loss_trains_through_accumulated():
    """GTA's cycle consistency reads R through softmax(-R / alpha): gradients reach x."""
    rng = np.random.default_rng(25)
    x = torch.tensor(rng.normal(size=(6, 4)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(7, 4)))
    res = smooth_dtw(contrastive_cost(x, y), gamma=0.1)
    p = torch.softmax(-res.accumulated, dim=1)
    (res.value + p.diagonal().sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
