"""torch.autograd.gradcheck (float64) of every function, through the value and the accumulated matrix."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from skalign.sequence import contrastive_cost, dtw, smith_waterman, smooth_dtw, soft_dtw


def _rand(*shape, seed=0, low=0.0, high=1.0):
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(*shape, generator=g, dtype=torch.float64)).requires_grad_(True)


@pytest.mark.parametrize("shape", [(5, 6), (2, 4, 3)])
def test_soft_dtw(backend, shape):
    cost = _rand(*shape, seed=1, high=2.0)
    assert gradcheck(lambda c: _fields(soft_dtw(c, gamma=0.7, backend=backend)), (cost,))


def _fields(res):
    return res.value, res.accumulated


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_smooth_dtw(backend, gamma):
    cost = _rand(2, 5, 4, seed=2, high=2.0)
    assert gradcheck(lambda c: _fields(smooth_dtw(c, gamma=gamma, backend=backend)), (cost,))


def test_dtw(backend):
    # continuous random costs: no ties, so DTW is differentiable at this point
    cost = _rand(2, 5, 6, seed=3)
    assert gradcheck(lambda c: _fields(dtw(c, backend=backend)), (cost,), eps=1e-7)


def test_smith_waterman_per_cell_penalties(backend):
    sim = _rand(2, 4, 5, seed=4, low=-1.0, high=1.0)
    go = _rand(2, 4, 5, seed=5, low=0.5, high=1.5)
    ge = _rand(4, 5, seed=6, low=0.1, high=0.5)  # broadcast over the batch
    assert gradcheck(
        lambda s, o, e: _fields(smith_waterman(s, o, e, gamma=0.5, backend=backend)), (sim, go, ge)
    )


def test_smith_waterman_scalar_penalties(backend):
    sim = _rand(5, 4, seed=7, low=-1.0, high=2.0)
    go = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    ge = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda s, o, e: _fields(smith_waterman(s, o, e, gamma=1.0, backend=backend)), (sim, go, ge))


def test_padded_batch(backend):
    cost = _rand(3, 5, 6, seed=8, high=2.0)
    mask_x = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    mask_y = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    valid = mask_x[:, :, None] & mask_y[:, None, :]

    def f(c):
        res = soft_dtw(c, gamma=0.5, mask_x=mask_x, mask_y=mask_y, backend=backend)
        return res.value, torch.where(valid, res.accumulated, 0.0)

    assert gradcheck(f, (cost,))

    def g(s):
        res = smith_waterman(s, 1.0, 0.2, gamma=0.5, mask_x=mask_x, mask_y=mask_y, backend=backend)
        return res.value, torch.where(valid, res.accumulated, 0.0)

    assert gradcheck(g, (cost,))


def test_contrastive_cost():
    x = _rand(2, 4, 3, seed=9, low=-1.0)
    y = _rand(2, 5, 3, seed=10, low=-1.0)
    mask_y = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    assert gradcheck(lambda a, b: contrastive_cost(a, b, temperature=0.3, mask_y=mask_y), (x, y))
