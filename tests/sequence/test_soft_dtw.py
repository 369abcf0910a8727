"""soft_dtw against tslearn, finite differences, a hand-computed matrix and the gamma -> 0 limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tslearn.metrics import SoftDTW, soft_dtw as tslearn_soft_dtw

from skalign.sequence import dtw, soft_dtw


@pytest.mark.parametrize("gamma", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("shape", [(7, 9), (9, 7), (1, 5), (6, 1)])
def test_value_and_matrix_equal_tslearn(backend, sqeuclidean, gamma, shape):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(shape[0], 3)), rng.normal(size=(shape[1], 3))
    res = soft_dtw(sqeuclidean(x, y), gamma=gamma, backend=backend)
    expected = tslearn_soft_dtw(x, y, gamma=gamma)
    assert isinstance(res.value, float)
    assert abs(res.value - expected) <= 1e-8 * max(1.0, abs(expected))
    ref = SoftDTW(sqeuclidean(x, y), gamma=gamma)
    ref.compute()
    np.testing.assert_allclose(res.accumulated, ref.R_[1 : shape[0] + 1, 1 : shape[1] + 1], rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_gradient_equals_tslearn(backend, sqeuclidean, gamma):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(8, 2))
    cost = torch.tensor(sqeuclidean(x, y), requires_grad=True)
    soft_dtw(cost, gamma=gamma, backend=backend).value.backward()
    ref = SoftDTW(sqeuclidean(x, y), gamma=gamma)
    ref.compute()
    np.testing.assert_allclose(cost.grad.numpy(), ref.grad(), rtol=1e-9, atol=1e-10)


def test_gradient_equals_central_differences(backend):
    rng = np.random.default_rng(2)
    cost = rng.uniform(0, 3, size=(5, 6))
    t = torch.tensor(cost, requires_grad=True)
    soft_dtw(t, gamma=0.5, backend=backend).value.backward()
    h = 1e-6
    fd = np.zeros_like(cost)
    for i in range(cost.shape[0]):
        for j in range(cost.shape[1]):
            up, down = cost.copy(), cost.copy()
            up[i, j] += h
            down[i, j] -= h
            fd[i, j] = (
                soft_dtw(up, gamma=0.5, backend=backend).value - soft_dtw(down, gamma=0.5, backend=backend).value
            ) / (2 * h)
    np.testing.assert_allclose(t.grad.numpy(), fd, atol=1e-7)


def test_gradient_through_embeddings_equals_tslearn(backend):
    """The chain through a squared-Euclidean cost matches tslearn's jacobian product."""
    from tslearn.metrics import SquaredEuclidean

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    xt = torch.tensor(x, requires_grad=True)
    cost = ((xt[:, None, :] - torch.tensor(y)[None, :, :]) ** 2).sum(-1)
    soft_dtw(cost, gamma=1.0, backend=backend).value.backward()
    d = SquaredEuclidean(x, y)
    sdtw = SoftDTW(d, gamma=1.0)
    sdtw.compute()
    np.testing.assert_allclose(xt.grad.numpy(), d.jacobian_product(sdtw.grad()), rtol=1e-9, atol=1e-10)


def test_hand_computed_accumulated_matrix(backend):
    cost = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0]])
    g = 1.0

    def smin(*a):
        return -g * math.log(sum(math.exp(-v / g) for v in a))

    r = np.empty((3, 4))
    # first row and column: a single finite predecessor, so plain cumulative sums
    r[0] = [0.0, 1.0, 3.0, 6.0]
    r[1, 0], r[2, 0] = 1.0, 3.0
    r[1, 1] = 0.0 + smin(0.0, 1.0, 1.0)
    r[1, 2] = 1.0 + smin(1.0, 3.0, r[1, 1])
    r[1, 3] = 2.0 + smin(3.0, 6.0, r[1, 2])
    r[2, 1] = 1.0 + smin(1.0, r[1, 1], 3.0)
    r[2, 2] = 0.0 + smin(r[1, 1], r[1, 2], r[2, 1])
    r[2, 3] = 1.0 + smin(r[1, 2], r[1, 3], r[2, 2])
    res = soft_dtw(cost, gamma=g, backend=backend)
    np.testing.assert_allclose(res.accumulated, r, rtol=1e-12, atol=1e-12)
    assert res.value == pytest.approx(r[2, 3], rel=1e-12)
    assert res.path is None


@pytest.mark.parametrize("gamma", [1e-2, 1e-3, 1e-5])
def test_gamma_to_zero_gives_exact_dtw(backend, gamma):
    rng = np.random.default_rng(4)
    cost = rng.uniform(0, 5, size=(3, 8, 6))
    exact = dtw(cost, backend=backend).value
    soft = soft_dtw(cost, gamma=gamma, backend=backend).value
    bound = gamma * math.log(3) * (8 + 6 - 1)
    assert np.all(soft <= exact + 1e-12)
    assert np.all(exact - soft <= bound)


def test_types_follow_the_input(backend):
    rng = np.random.default_rng(5)
    cost = rng.uniform(size=(4, 5))
    for dtype in (np.float32, np.float64):
        res = soft_dtw(cost.astype(dtype), backend=backend)
        assert isinstance(res.value, float)
        assert isinstance(res.accumulated, np.ndarray) and res.accumulated.dtype == dtype
    ref = soft_dtw(cost, backend=backend)
    for dtype in (torch.float32, torch.float64):
        t = torch.tensor(cost, dtype=dtype)
        res = soft_dtw(t, backend=backend)
        assert isinstance(res.value, torch.Tensor) and res.value.dtype == dtype and res.value.ndim == 0
        assert res.accumulated.dtype == dtype and res.accumulated.shape == (4, 5)
        tol = 1e-6 if dtype == torch.float32 else 1e-12
        assert float(res.value) == pytest.approx(ref.value, rel=tol)
    batch = soft_dtw(np.stack([cost, 2 * cost]), backend=backend)
    assert isinstance(batch.value, np.ndarray) and batch.value.shape == (2,)


def test_float32_input_accumulates_in_float64(backend):
    """Long sequences: the float32 answer is the float64 answer rounded once."""
    rng = np.random.default_rng(6)
    cost = rng.uniform(5, 15, size=(300, 300)).astype(np.float32)
    v32 = soft_dtw(torch.from_numpy(cost), backend=backend).value
    v64 = soft_dtw(cost.astype(np.float64), backend=backend).value
    assert v64 > 1000
    assert float(v32) == np.float32(v64)


def test_custom_backward_node(backend):
    cost = torch.rand(4, 5, dtype=torch.float64, requires_grad=True)
    res = soft_dtw(cost, backend=backend)
    # one node for the whole recursion: no autograd graph over cells
    node = res.value.grad_fn
    while node is not None and "DTWFamily" not in type(node).__name__:
        node = node.next_functions[0][0]
    assert node is not None
