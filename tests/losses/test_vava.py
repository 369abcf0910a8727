"""Tests of the VAVA loss against POT and a plain numpy evaluation of VAVA Eq. 4-17."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from skalign.losses._vava import vava_loss, vava_plan, vava_psi


def np_priors(D, psi, sigma):
    """Eq. 4-11 for the real block, 1-based indices."""
    N, M = D.shape
    scale = np.sqrt(1 / N**2 + 1 / M**2)
    P = np.zeros((N, M))
    S = np.zeros((N, M))
    for i in range(1, N + 1):
        for j in range(1, M + 1):
            jo = np.argmin(D[i - 1]) + 1
            io = np.argmin(D[:, j - 1]) + 1
            lc = abs(i / N - j / M) / scale
            lo = (abs(i - io) / N + abs(j - jo) / M) / (2 * scale)
            pc = np.exp(-lc**2 / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
            po = np.exp(-lo**2 / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
            P[i - 1, j - 1] = psi * pc + (1 - psi) * po
            sc = 1 / ((i / (N + 1) - j / (M + 1)) ** 2 + 1)
            do = ((i - io) / (N + 1)) ** 2 + ((j - jo) / (M + 1)) ** 2
            so = 1 / (do / 2 + 1)
            S[i - 1, j - 1] = psi * sc + (1 - psi) * so
    return P, S


def augment(D, P, S, zeta):
    N, M = D.shape
    Da = np.full((N + 1, M + 1), zeta)
    Da[:N, :M] = D
    Pa = np.full((N + 1, M + 1), P.mean())
    Pa[:N, :M] = P
    Sa = np.zeros((N + 1, M + 1))
    Sa[:N, :M] = S
    return Da, Pa / Pa.sum(), Sa


def np_vava(x, y, psi=1.0, sigma=2.0, zeta=0.5, l1=1.0, l2=0.1, gamma=0.5, delta=15.0, margin=2.0):
    D = ((x[:, None] - y[None]) ** 2).sum(-1)
    P, S = np_priors(D, psi, sigma)
    Da, Pa, Sa = augment(D, P, S, zeta)
    # Minimiser of Eq. 13: entropic OT with cost D - l1 S - l2 log P and regularisation l2.
    a = np.full(len(Da), 1 / len(Da))
    b = np.full(Da.shape[1], 1 / Da.shape[1])
    T = ot.sinkhorn(a, b, Da - l1 * Sa - l2 * np.log(Pa), l2, method="sinkhorn_log",
                    numItermax=20000, stopThr=1e-14)
    value = (T * Da).sum() - l1 * (T * Sa).sum() + l2 * (T * np.log(T / Pa)).sum()

    def intra(z):
        n = len(z)
        tot = 0.0
        for i in range(n):
            for j in range(n):
                d = np.linalg.norm(z[i] - z[j])
                w = (i - j) ** 2 + 1
                tot += w * max(0, margin - d) if abs(i - j) > delta else w * d
        return tot / n**2

    N, M = D.shape
    Tr = T[:N, :M]
    E = np.sqrt(D)
    inter = np.mean([E[i, Tr[i].argmax()] - E[i, Tr[i].argmin()] for i in range(N)])
    inter += np.mean([E[Tr[:, j].argmax(), j] - E[Tr[:, j].argmin(), j] for j in range(M)])
    return value + gamma * (intra(x) + intra(y) + inter), T


def series(rng, n, m, dim=3):
    s, t = np.linspace(0, 1, n)[:, None], np.linspace(0, 1, m)[:, None]
    x = np.hstack([np.cos(2 * s), np.sin(2 * s), np.zeros_like(s)]) + 0.1 * rng.standard_normal((n, dim))
    y = np.hstack([np.cos(2 * t), np.sin(2 * t), np.zeros_like(t)]) + 0.1 * rng.standard_normal((m, dim))
    return x, y


@pytest.mark.parametrize("psi", [1.0, 0.3, 0.0])
def test_equals_numpy_reference(psi):
    rng = np.random.default_rng(0)
    x, y = series(rng, 7, 6)
    expected, T = np_vava(x, y, psi=psi, delta=2.0)
    got = vava_loss(torch.tensor(x)[None], torch.tensor(y)[None], psi=psi, delta=2.0, max_iter=3000)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6)
    plan = vava_plan(torch.tensor(((x[:, None] - y[None]) ** 2).sum(-1)), psi=psi, max_iter=3000)
    np.testing.assert_allclose(plan.numpy(), T, atol=1e-9)


def test_without_priors_is_plain_entropic_ot():
    rng = np.random.default_rng(1)
    D = rng.random((6, 8))
    for virtual in (False, True):
        Da = D if not virtual else np.pad(D, ((0, 1), (0, 1)), constant_values=0.5)
        a, b = np.full(len(Da), 1 / len(Da)), np.full(Da.shape[1], 1 / Da.shape[1])
        expected = ot.sinkhorn(a, b, Da, 0.1, method="sinkhorn_log", numItermax=20000, stopThr=1e-14)
        got = vava_plan(torch.tensor(D), priors=False, virtual=virtual, max_iter=3000)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    # The loss is then <T, D> + lambda2 KL(T || uniform), nothing else (gamma = 0).
    x, y = series(rng, 5, 4)
    D = ((x[:, None] - y[None]) ** 2).sum(-1)
    a, b = np.full(5, 0.2), np.full(4, 0.25)
    T = ot.sinkhorn(a, b, D, 0.1, method="sinkhorn_log", numItermax=20000, stopThr=1e-14)
    expected = (T * D).sum() + 0.1 * (T * np.log(T * 20)).sum()
    got = vava_loss(torch.tensor(x)[None], torch.tensor(y)[None], priors=False, virtual=False,
                    contrastive_weight=0.0, max_iter=3000)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-8)


def test_psi_one_is_the_consistency_prior_only():
    # With lambda1 = 0 and psi = 1 the plan is entropic OT of D - lambda2 log Pc (Eq. 4-5):
    # the optimality prior (which depends on the best matches) plays no part.
    rng = np.random.default_rng(2)
    D = rng.random((5, 7))
    N, M = D.shape
    i, j = np.arange(1, N + 1)[:, None], np.arange(1, M + 1)[None]
    lc = np.abs(i / N - j / M) / np.sqrt(1 / N**2 + 1 / M**2)
    Pc = np.exp(-lc**2 / 8)
    a, b = np.full(N, 1 / N), np.full(M, 1 / M)
    expected = ot.sinkhorn(a, b, D - 0.1 * np.log(Pc), 0.1, method="sinkhorn_log",
                           numItermax=20000, stopThr=1e-14)
    got = vava_plan(torch.tensor(D), psi=1.0, lambda1=0.0, virtual=False, max_iter=3000)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    shuffled = vava_plan(torch.tensor(D[:, ::-1].copy()), psi=1.0, lambda1=0.0, virtual=False, max_iter=3000)
    assert not np.allclose(shuffled.numpy(), expected[:, ::-1], atol=1e-3)


def test_masks_and_batch_mean():
    rng = np.random.default_rng(3)
    x1, y1 = series(rng, 6, 5)
    x2, y2 = series(rng, 4, 5)
    X = np.zeros((2, 6, 3))
    X[0], X[1, :4] = x1, x2
    X[1, 4:] = 9.0
    Y = np.stack([y1, y2])
    mx = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    got = vava_loss(torch.tensor(X), torch.tensor(Y), mask_x=mx, psi=0.5, delta=2.0, max_iter=3000)
    expected = 0.5 * (np_vava(x1, y1, psi=0.5, delta=2.0)[0] + np_vava(x2, y2, psi=0.5, delta=2.0)[0])
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6)


def test_psi_schedule():
    assert vava_psi(0) == 0.999
    assert vava_psi(99) == pytest.approx(0.999**10)
    assert vava_psi(10**12) == 0.001
    with pytest.raises(ValueError, match="step"):
        vava_psi(-1)


def test_finite_gradients_and_decrease():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x, y], lr=0.05)
    values = []
    for step in range(20):
        opt.zero_grad()
        loss = vava_loss(x, y, psi=vava_psi(step * 1000), delta=3.0)
        loss.backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
        values.append(loss.item())
        opt.step()
    assert values[-1] < values[0] - 0.1 * abs(values[0])


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    # contrastive_weight=0: the argmax/argmin picks of Eq. 15 are piecewise constant.
    assert torch.autograd.gradcheck(
        lambda a, b: vava_loss(a, b, psi=0.4, lambda2=0.5, contrastive_weight=0.0), (x, y)
    )


def test_invalid_arguments():
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="psi"):
        vava_loss(x, x, psi=1.5)
    with pytest.raises(ValueError, match="lambda2"):
        vava_loss(x, x, lambda2=0.0)
