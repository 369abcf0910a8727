import numpy as np
import pytest
import torch

from skalign.ot import prior_matrix, temporal_prior
from skalign.ot._fast import apply_prior_into, prefix_rows, prefix_rows_transposed
from skalign.ot._priors import band_width


def test_prior_matrices_by_hand():
    # n = 6, radius 1/3 -> half-width 2 (VAOT Eq. 4)
    d = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :])
    band = prior_matrix("band", 6, 1 / 3)
    assert np.array_equal(band, np.where((d >= 1) & (d <= 2), 3.0, 0.0))
    comp = prior_matrix("complement_band", 6, 1 / 3)
    assert np.array_equal(comp, np.where((d >= 1) & (d <= 2), 0.0, 1.0))
    assert np.array_equal(prior_matrix("off_diagonal", 4), 1 - np.eye(4))
    assert int(band_width(torch.tensor([50]), 0.02)[0]) == 1


@pytest.mark.parametrize("kind", ["band", "complement_band", "off_diagonal"])
@pytest.mark.parametrize("radius", [0.02, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("n", [1, 7, 40, 101])
def test_cumulative_sum_products_equal_dense(kind, radius, n):
    rng = np.random.default_rng(n)
    x = torch.from_numpy(rng.random((2, n, 37)))
    y = torch.from_numpy(rng.random((2, 23, n)))
    dense = torch.from_numpy(prior_matrix(kind, n, radius))
    w = int(band_width(torch.tensor([n]), radius)[0])
    out, scratch = torch.empty_like(x), torch.empty_like(x)
    got = apply_prior_into(kind, x, w, radius, 1, out, scratch)
    torch.testing.assert_close(got, dense @ x, rtol=1e-12, atol=1e-12)
    out, scratch = torch.empty_like(y), torch.empty_like(y)
    got = apply_prior_into(kind, y, w, radius, 2, out, scratch)
    torch.testing.assert_close(got, y @ dense, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [5, 32, 33, 64, 97])
def test_blocked_prefix_sum(n):
    x = torch.rand(3, n, 11, dtype=torch.float64)
    torch.testing.assert_close(prefix_rows(x, torch.empty_like(x)), torch.cumsum(x, 1))


def test_transposed_prefix_sum_of_a_strided_view():
    # The CUDA path, run on the CPU: a view into a larger plan, as the solver passes.
    big = torch.rand(2, 41, 30, dtype=torch.float64)
    view = big[:, :40, :29]
    out = torch.full((2, 40, 29), float("nan"), dtype=torch.float64)
    got = prefix_rows_transposed(view, out)
    assert got.data_ptr() == out.data_ptr()
    torch.testing.assert_close(got, torch.cumsum(view, 1), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(got[:, -1], view.sum(1), rtol=1e-13, atol=1e-13)


def test_temporal_prior_by_hand():
    assert np.allclose(temporal_prior(2, 4), [[0, 0.25, 0.5, 0.75], [0.5, 0.25, 0, 0.25]])
