"""Tests of GTA's loss against a plain numpy evaluation of Eq. 4-14."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax, softmax

from skalign.losses._gta import global_cycle_consistency, gta_loss


def np_contrastive(x, y, beta):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    return -log_softmax(xn @ yn.T / beta, axis=1)  # Eq. 8


def np_smooth_dtw(cost, gamma):
    """Eq. 4-5: R(i,j) = c + smoothMin(r), smoothMin = sum a e^{-a/g} / sum e^{-a/g}."""
    n, m = cost.shape
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a = np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]])
            a = a[np.isfinite(a)]
            w = np.exp(-(a - a.min()) / gamma)
            R[i, j] = cost[i - 1, j - 1] + (a * w).sum() / w.sum()
    return R[1:, 1:]


def np_gcc(r_xy, r_yx, alpha):
    p_xy = softmax(-r_xy / alpha, axis=1)  # p_XY(k | i), Eq. 10
    p_yx = softmax(-r_yx / alpha, axis=1)
    cycle = p_xy @ p_yx  # Eq. 12, rows i, columns j
    return -np.log(np.diag(cycle)).sum()  # Eq. 13


def np_gta(x, y, gamma=0.1, beta=0.1, alpha=1.0, lg=1.0, ls=0.1):
    r_xy = np_smooth_dtw(np_contrastive(x, y, beta), gamma)
    r_yx = np_smooth_dtw(np_contrastive(y, x, beta), gamma)
    return lg * np_gcc(r_xy, r_yx, alpha) + ls * (r_xy[-1, -1] + r_yx[-1, -1])  # Eq. 14


@pytest.mark.parametrize("params", [{}, {"gamma": 1.0, "temperature": 0.5, "alpha": 2.0}])
def test_equals_numpy_reference(params):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    names = {"gamma": "gamma", "temperature": "beta", "alpha": "alpha"}
    expected = np_gta(x, y, **{names[k]: v for k, v in params.items()})
    got = gta_loss(torch.tensor(x)[None], torch.tensor(y)[None], **params)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.item(), expected, rtol=1e-9)


def test_masks_and_batch_mean():
    rng = np.random.default_rng(1)
    x1, y1 = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    x2, y2 = rng.standard_normal((3, 3)), rng.standard_normal((4, 3))
    X, Y = np.full((2, 6, 3), 3.0), np.full((2, 5, 3), -2.0)
    X[0], Y[0], X[1, :3], Y[1, :4] = x1, y1, x2, y2
    mx = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    my = torch.tensor([[True] * 5, [True] * 4 + [False]])
    got = gta_loss(torch.tensor(X), torch.tensor(Y), mask_x=mx, mask_y=my)
    expected = 0.5 * (np_gta(x1, y1) + np_gta(x2, y2))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-9)


def test_limit_cases():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((7, 3))
    tx, ty = torch.tensor(x)[None], torch.tensor(y)[None]
    # lambda_g = 0: only the two smoothDTW values (Eq. 9) remain.
    r_xy = np_smooth_dtw(np_contrastive(x, y, 0.1), 0.1)
    r_yx = np_smooth_dtw(np_contrastive(y, x, 0.1), 0.1)
    only_dtw = gta_loss(tx, ty, lambda_g=0.0, lambda_s=1.0).item()
    np.testing.assert_allclose(only_dtw, r_xy[-1, -1] + r_yx[-1, -1], rtol=1e-9)
    # Uniform accumulated matrices: every cycle returns with probability 1/N.
    r = torch.zeros(1, 4, 6, dtype=torch.float64)
    gcc = global_cycle_consistency(r, r.transpose(1, 2))
    np.testing.assert_allclose(gcc.item(), 4 * np.log(4), rtol=1e-12)


def test_finite_gradients_and_decrease():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x, y], lr=0.05)
    values = []
    for _ in range(20):
        opt.zero_grad()
        loss = gta_loss(x, y)
        loss.backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
        values.append(loss.item())
        opt.step()
    assert values[-1] < 0.8 * values[0]


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: gta_loss(a, b, gamma=0.5, temperature=0.5), (x, y))


def test_invalid_arguments():
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="temperature"):
        gta_loss(x, x, temperature=0.0)
    with pytest.raises(ValueError, match="r_yx"):
        global_cycle_consistency(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))
