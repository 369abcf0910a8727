"""Exact DTW against a hand-computed matrix, brute force over all paths, and tslearn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tslearn.metrics import dtw_path_from_metric

from skalign.sequence import dtw


def _all_paths(n, m):
    """Every monotone, continuous path from (0, 0) to (n-1, m-1)."""
    if (n, m) == (1, 1):
        return [[(0, 0)]]
    out = []
    for di, dj in ((1, 1), (1, 0), (0, 1)):
        if n - di >= 1 and m - dj >= 1:
            out += [p + [(n - 1, m - 1)] for p in _all_paths(n - di, m - dj)]
    return out


def test_hand_computed_accumulated_matrix(backend):
    cost = np.array([[1.0, 2.0, 5.0, 4.0], [3.0, 1.0, 1.0, 6.0], [2.0, 4.0, 2.0, 1.0]])
    expected = np.array([[1.0, 3.0, 8.0, 12.0], [4.0, 2.0, 3.0, 9.0], [6.0, 6.0, 4.0, 4.0]])
    res = dtw(cost, backend=backend)
    np.testing.assert_array_equal(res.accumulated, expected)
    assert res.value == 4.0
    assert res.path == [(0, 0), (1, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("shape", [(4, 5), (5, 3), (1, 4), (3, 1), (1, 1)])
def test_value_equals_brute_force_over_paths(backend, shape):
    rng = np.random.default_rng(10)
    cost = rng.uniform(0, 1, size=shape)
    paths = _all_paths(*shape)
    costs = [sum(cost[i, j] for i, j in p) for p in paths]
    res = dtw(cost, backend=backend)
    assert res.value == pytest.approx(min(costs), rel=1e-12)
    assert res.path == paths[int(np.argmin(costs))]


@pytest.mark.parametrize("shape", [(12, 9), (9, 12), (20, 20)])
def test_value_and_path_equal_tslearn(backend, shape):
    rng = np.random.default_rng(11)
    cost = rng.uniform(0, 1, size=shape)
    path, value = dtw_path_from_metric(cost, metric="precomputed")
    res = dtw(cost, backend=backend)
    assert res.value == pytest.approx(value, rel=1e-12)
    assert res.path == [tuple(p) for p in path]
    assert sum(cost[i, j] for i, j in res.path) == pytest.approx(res.value, rel=1e-12)


def test_gradient_is_the_path_indicator(backend):
    rng = np.random.default_rng(12)
    cost = torch.tensor(rng.uniform(size=(7, 6)), requires_grad=True)
    res = dtw(cost, backend=backend)
    res.value.backward()
    indicator = np.zeros((7, 6))
    for i, j in res.path:
        indicator[i, j] = 1.0
    np.testing.assert_array_equal(cost.grad.numpy(), indicator)


def test_batched_paths(backend):
    rng = np.random.default_rng(13)
    cost = rng.uniform(size=(3, 5, 6))
    res = dtw(cost, backend=backend)
    assert isinstance(res.path, list) and len(res.path) == 3
    for b in range(3):
        single = dtw(cost[b], backend=backend)
        assert res.path[b] == single.path
        assert res.value[b] == single.value
