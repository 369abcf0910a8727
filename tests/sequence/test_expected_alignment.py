"""expected_alignment against tslearn's soft-DTW alignment, the DTW path and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tslearn.metrics import soft_dtw_alignment

from skalign.sequence import dtw, expected_alignment, smith_waterman, smooth_dtw


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_soft_dtw_alignment_equals_tslearn(backend, sqeuclidean, gamma):
    rng = np.random.default_rng(70)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(9, 2))
    a_ref, _ = soft_dtw_alignment(x, y, gamma=gamma)
    a = expected_alignment(sqeuclidean(x, y), method="soft_dtw", gamma=gamma, backend=backend)
    np.testing.assert_allclose(a, a_ref, rtol=1e-9, atol=1e-12)
    # a probability per cell: the path always visits the two corners
    assert a[0, 0] == pytest.approx(1.0) and a[-1, -1] == pytest.approx(1.0)
    assert np.all(a >= 0) and np.all(a <= 1 + 1e-12)


def test_dtw_alignment_is_the_path(backend):
    rng = np.random.default_rng(71)
    cost = rng.uniform(size=(2, 7, 5))
    a = expected_alignment(cost, method="dtw", backend=backend)
    paths = dtw(cost, backend=backend).path
    for b in range(2):
        indicator = np.zeros((7, 5))
        indicator[tuple(np.array(paths[b]).T)] = 1.0
        np.testing.assert_array_equal(a[b], indicator)


@pytest.mark.parametrize("method", ["smooth_dtw", "smith_waterman"])
def test_alignment_equals_finite_differences(backend, method):
    rng = np.random.default_rng(72)
    matrix = rng.uniform(-1, 1, size=(4, 5))

    def value(m):
        if method == "smooth_dtw":
            return smooth_dtw(m, gamma=0.3, backend=backend).value
        return smith_waterman(m, 0.7, 0.2, gamma=0.3, backend=backend).value

    kwargs = {"gap_open": 0.7, "gap_extend": 0.2} if method == "smith_waterman" else {}
    a = expected_alignment(matrix, method=method, gamma=0.3, backend=backend, **kwargs)
    h = 1e-6
    fd = np.zeros_like(matrix)
    for i in range(4):
        for j in range(5):
            up, down = matrix.copy(), matrix.copy()
            up[i, j] += h
            down[i, j] -= h
            fd[i, j] = (value(up) - value(down)) / (2 * h)
    np.testing.assert_allclose(a, fd, atol=1e-7)


def test_default_gammas_and_types(backend):
    rng = np.random.default_rng(73)
    cost = rng.uniform(size=(5, 6))
    np.testing.assert_array_equal(
        expected_alignment(cost, method="smooth_dtw", backend=backend),
        expected_alignment(cost, method="smooth_dtw", gamma=0.1, backend=backend),
    )
    t = torch.tensor(cost, dtype=torch.float32, requires_grad=True)
    a = expected_alignment(t, backend=backend)
    assert isinstance(a, torch.Tensor) and a.dtype == torch.float32 and not a.requires_grad
    np.testing.assert_allclose(a.numpy(), expected_alignment(cost.astype(np.float32), backend=backend), rtol=0)
