"""Fixtures shared by the sequence tests."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

HAS_NUMBA = importlib.util.find_spec("numba") is not None


@pytest.fixture(params=["numba", "torch"])
def backend(request):
    """Each kernel family in turn; the numba one is skipped when numba is absent."""
    if request.param == "numba" and not HAS_NUMBA:
        pytest.skip("numba is not installed")
    return request.param


@pytest.fixture
def sqeuclidean():
    """Squared Euclidean cost matrix between two (n, d) arrays (numpy)."""

    def cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)

    return cost
