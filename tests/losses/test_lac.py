"""Tests of the LAC loss against a plain numpy evaluation of LAC Eq. 2-8."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax, logsumexp, softmax

from skalign.losses._lac import lac_loss


def smax(values, gamma):
    return gamma * logsumexp(np.asarray(values) / gamma)


def np_smith_waterman(S, go, ge, gamma):
    """Eq. 2-4 as printed, score = max^gamma over the cells of D."""
    n, m = S.shape
    D = np.full((n + 1, m + 1), -np.inf)
    Ix, Iy = D.copy(), D.copy()
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i, j] = S[i - 1, j - 1] + smax([0.0, D[i - 1, j - 1], Ix[i - 1, j - 1], Iy[i - 1, j - 1]], gamma)
            Ix[i, j] = smax([D[i, j - 1] - go, Ix[i, j - 1] - ge], gamma)
            Iy[i, j] = smax([D[i - 1, j] - go, Ix[i - 1, j] - go, Iy[i - 1, j] - ge], gamma)
    return smax(D[1:, 1:].ravel(), gamma), D[1:, 1:]


def np_lac(x, y, px, py, go=1.0, ge=1.0, gamma=0.8, tau=0.8, alpha=0.01, beta=1.0, sigma=0.1, eps=0.1):
    G = np.exp(-((px[:, None] - py[None]) ** 2) / (2 * sigma**2))
    labels = G / G.sum(1, keepdims=True)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    T = len(x)
    l_c = -(labels * log_softmax(xn @ yn.T / tau, axis=1)).sum() / T  # Eq. 7
    S = 1.0 / (((x[:, None] - y[None]) ** 2).sum(-1) + eps)
    sw12, D12 = np_smith_waterman(S, go, ge, gamma)
    sw21, D21 = np_smith_waterman(S.T, go, ge, gamma)
    L = softmax(D12 / tau, axis=1) * softmax(D21 / tau, axis=1).T
    l_l = -(labels * log_softmax(L, axis=1)).sum() / T
    return l_c + alpha * (l_l + beta * (sw12 + sw21))  # Eq. 8


@pytest.mark.parametrize("params", [{}, {"gamma": 0.3, "temperature": 0.5, "alpha": 0.5, "beta": 2.0}])
def test_equals_numpy_reference(params):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    px, py = np.sort(rng.random(6)), np.sort(rng.random(5))
    ref = {"temperature": "tau"}
    expected = np_lac(x, y, px, py, **{ref.get(k, k): v for k, v in params.items()})
    got = lac_loss(torch.tensor(x)[None], torch.tensor(y)[None], positions_x=torch.tensor(px)[None],
                   positions_y=torch.tensor(py)[None], **params)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.item(), expected, rtol=1e-8)


def test_masks_batch_mean_and_default_positions():
    rng = np.random.default_rng(1)
    x1, y1 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    x2, y2 = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    X, Y = np.full((2, 5, 3), 0.5), np.full((2, 4, 3), -0.5)
    X[0], Y[0], X[1, :3], Y[1, :2] = x1, y1, x2, y2
    mx = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    my = torch.tensor([[True] * 4, [True] * 2 + [False] * 2])
    got = lac_loss(torch.tensor(X), torch.tensor(Y), mask_x=mx, mask_y=my)
    expected = 0.5 * (
        np_lac(x1, y1, np.arange(5) / 5, np.arange(4) / 4) + np_lac(x2, y2, np.arange(3) / 3, np.arange(2) / 2)
    )
    np.testing.assert_allclose(got.item(), expected, rtol=1e-8)


def test_alpha_zero_is_the_contrastive_loss_only():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    p = np.arange(6) / 6
    G = np.exp(-((p[:, None] - p[None]) ** 2) / (2 * 0.1**2))
    labels = G / G.sum(1, keepdims=True)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    expected = -(labels * log_softmax(xn @ yn.T / 0.8, axis=1)).sum() / 6
    got = lac_loss(torch.tensor(x)[None], torch.tensor(y)[None], alpha=0.0)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-10)


def test_gradients_reach_embeddings_and_learnable_gaps():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    go = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    ge = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    loss = lac_loss(x, y, gap_open=go, gap_extend=ge, alpha=1.0, gamma=0.5)
    loss.backward()
    for t in (x.grad, y.grad, go.grad, ge.grad):
        assert t is not None and bool(torch.isfinite(t).all())
    # The gap gradients match finite differences of the loss.
    h = 1e-6
    for which in ("go", "ge"):
        up = {"gap_open": go.detach(), "gap_extend": ge.detach()}
        down = dict(up)
        key = "gap_open" if which == "go" else "gap_extend"
        up[key] = up[key] + h
        down[key] = down[key] - h
        fd = (lac_loss(x.detach(), y.detach(), alpha=1.0, gamma=0.5, **up)
              - lac_loss(x.detach(), y.detach(), alpha=1.0, gamma=0.5, **down)) / (2 * h)
        grad = go.grad if which == "go" else ge.grad
        np.testing.assert_allclose(grad.item(), fd.item(), rtol=1e-5, atol=1e-8)


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: lac_loss(a, b, alpha=1.0, gamma=0.5), (x, y))


def test_decreases_over_steps():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    go = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x, y, go], lr=0.05)
    values = []
    for _ in range(20):
        opt.zero_grad()
        loss = lac_loss(x, y, gap_open=go)
        loss.backward()
        values.append(loss.item())
        opt.step()
    assert np.isfinite(values).all() and values[-1] < 0.9 * values[0]


def test_invalid_arguments():
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="gamma"):
        lac_loss(x, x, gamma=0.0)
    with pytest.raises(ValueError, match="positions_x"):
        lac_loss(x, x, positions_x=torch.zeros(1, 2))
