"""Tests of the LAV soft-DTW + IDM loss against a plain numpy evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skalign.losses._sdtw import idm_regularizer, sdtw_loss


def np_soft_dtw(cost, gamma):
    n, m = cost.shape
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a = np.array([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]])
            finite = a[np.isfinite(a)]
            lo = finite.min()
            soft = lo - gamma * np.log(np.exp(-(finite - lo) / gamma).sum())
            R[i, j] = cost[i - 1, j - 1] + soft
    return R[n, m]


def np_idm(x, sigma, margin):
    n = len(x)
    total = 0.0
    for i in range(n):
        for j in range(n):
            d = np.sum((x[i] - x[j]) ** 2)
            w = (i - j) ** 2 + 1
            if abs(i - j) > sigma:
                total += w * max(0.0, margin - d)
            else:
                total += w * d
    return total


def np_loss(x, y, gamma=0.1, idm_weight=0.5, sigma=10.0, margin=2.0):
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    v = np_soft_dtw(cost, gamma)
    return (v + idm_weight * (np_idm(x, sigma, margin) + np_idm(y, sigma, margin))) / len(x)


def unit(rng, *shape):
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.mark.parametrize("sigma,gamma", [(2.0, 0.1), (10.0, 1.0), (0.0, 0.5)])
def test_equals_numpy_reference(sigma, gamma):
    rng = np.random.default_rng(0)
    x, y = unit(rng, 7, 3), unit(rng, 5, 3)
    expected = np_loss(x, y, gamma=gamma, sigma=sigma)
    got = sdtw_loss(torch.tensor(x)[None], torch.tensor(y)[None], gamma=gamma, sigma=sigma)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.item(), expected, rtol=1e-9)


def test_batch_is_mean_of_pairs_and_masks_drop_padding():
    rng = np.random.default_rng(1)
    x1, y1 = unit(rng, 6, 3), unit(rng, 5, 3)
    x2, y2 = unit(rng, 4, 3), unit(rng, 3, 3)
    X = np.zeros((2, 6, 3))
    Y = np.zeros((2, 5, 3))
    X[0], Y[0] = x1, y1
    X[1, :4], Y[1, :3] = x2, y2
    X[1, 4:] = 7.0  # padding: must not matter
    mx = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    my = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    got = sdtw_loss(torch.tensor(X), torch.tensor(Y), mask_x=mx, mask_y=my, sigma=1.0)
    expected = 0.5 * (np_loss(x1, y1, sigma=1.0) + np_loss(x2, y2, sigma=1.0))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-9)


def test_limit_without_regulariser_is_soft_dtw_over_n():
    rng = np.random.default_rng(2)
    x, y = unit(rng, 6, 4), unit(rng, 8, 4)
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    got = sdtw_loss(torch.tensor(x)[None], torch.tensor(y)[None], idm_weight=0.0, gamma=0.3)
    np.testing.assert_allclose(got.item(), np_soft_dtw(cost, 0.3) / 6, rtol=1e-9)


def test_idm_collapsed_and_spread_cases():
    # Collapsed video: only the far pairs count, each w * margin.
    x = torch.zeros(1, 4, 2, dtype=torch.float64)
    far = [(i, j) for i in range(4) for j in range(4) if abs(i - j) > 1]
    expected = sum(((i - j) ** 2 + 1) * 2.0 for i, j in far)
    assert idm_regularizer(x, sigma=1.0, margin=2.0).item() == pytest.approx(expected)


def test_finite_gradients_and_decrease():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x, y], lr=0.02)
    values = []
    for _ in range(15):
        opt.zero_grad()
        loss = sdtw_loss(x, y, sigma=3.0)
        loss.backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
        values.append(loss.item())
        opt.step()
    assert np.isfinite(values).all()
    assert values[-1] < 0.9 * values[0]


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: sdtw_loss(a, b, sigma=1.0, gamma=0.5), (x, y))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"gamma": 0.0}, "gamma"), ({"idm_weight": -1.0}, "idm_weight"), ({"sigma": -1.0}, "sigma")],
)
def test_invalid_arguments(kwargs, match):
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match=match):
        sdtw_loss(x, x, **kwargs)
