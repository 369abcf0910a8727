"""The optional numba kernels against dense references and the torch path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("numba")

from skalign.ot import prior_matrix, structured_fgw, vaot  # noqa: E402
from skalign.ot import _fast  # noqa: E402
from skalign.ot._fast import numba_backend  # noqa: E402


@pytest.fixture(autouse=True)
def _numba_for_small_problems(monkeypatch):
    """The kernels serve only large problems by default; test them small."""
    monkeypatch.setattr(_fast, "NUMBA_MIN_SIZE", 0)


def test_small_problems_stay_on_torch(monkeypatch):
    monkeypatch.setattr(_fast, "NUMBA_MIN_SIZE", 1 << 21)
    assert numba_backend(torch.zeros(100, 100)) is None
    assert numba_backend(torch.zeros(1500, 1500)) is not None


def _dense_band(n, w):
    """Band prior without its 1/radius factor: 1 where 0 < |i - k| <= w."""
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return ((d <= w) & (d > 0)).astype(float)


def _dense_complement(m, w):
    """Complement of the band: 1 where |j - l| > w or j == l."""
    d = np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])
    return ((d > w) | (d == 0)).astype(float)


def _plan(cost, backend, monkeypatch, **kw):
    if backend == "torch":
        monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    else:
        monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    return vaot(cost, **kw).plan


def test_switch(monkeypatch):
    t = torch.zeros(2, 3)
    monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    assert numba_backend(t) is None
    monkeypatch.delenv("SKALIGN_NO_NUMBA")
    assert numba_backend(t) is not None
    # Not covered: integer, non-contiguous, mixed dtypes.
    assert numba_backend(torch.zeros(2, 3, dtype=torch.long)) is None
    assert numba_backend(torch.zeros(3, 2).t()) is None
    assert numba_backend(t, t.double()) is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n,m,w", [(9, 7, 2), (40, 33, 0), (30, 30, 30), (17, 50, 5)])
def test_fgw_logk_dense(dtype, n, m, w, monkeypatch):
    """G = C' + c1 Cx T Cy on the real block, C' on the virtual row/column."""
    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    nb = numba_backend()
    rng = np.random.default_rng(n * m + w)
    T = rng.random((2, n + 1, m + 1))
    Cs = rng.normal(size=(2, n + 1, m + 1))
    c1 = -3.7
    wx, wy = w, max(w - 1, 0)
    Z = torch.empty((2, n, m), dtype=dtype)
    G = torch.empty((2, n + 1, m + 1), dtype=dtype)
    nb.fgw_logk(torch.tensor(T, dtype=dtype), torch.tensor(Cs, dtype=dtype), c1, wx, wy, Z, G)
    expect = Cs.copy()
    for k in range(2):
        expect[k, :n, :m] += c1 * _dense_band(n, wx) @ T[k, :n, :m] @ _dense_complement(m, wy)
    rtol = 1e-12 if dtype == torch.float64 else 1e-5
    scale = np.abs(expect).max()
    assert np.abs(G.numpy() - expect).max() <= rtol * scale


@pytest.mark.parametrize("n,m,radius", [(60, 45, 0.02), (97, 120, 0.1), (80, 80, 1.0), (150, 131, 0.3)])
def test_vaot_float64_equals_torch(n, m, radius, monkeypatch):
    rng = np.random.default_rng(n + m)
    cost = torch.tensor(rng.random((n, m)))
    ref = _plan(cost, "torch", monkeypatch, epsilon=0.07, radius=radius)
    got = _plan(cost, "numba", monkeypatch, epsilon=0.07, radius=radius)
    assert got.shape == (n + 1, m + 1)
    assert (got - ref).abs().max() <= 1e-12 * ref.abs().max()


@pytest.mark.parametrize("n,m,radius", [(60, 45, 0.02), (97, 120, 0.1), (80, 80, 1.0), (150, 131, 0.3)])
def test_vaot_float32_as_accurate_as_torch(n, m, radius, monkeypatch):
    """float32 plans differ from the torch path by rounding only: both are
    compared with the float64 plan, and with each other."""
    rng = np.random.default_rng(n * m)
    cost64 = torch.tensor(rng.random((n, m)))
    truth = _plan(cost64, "torch", monkeypatch, epsilon=0.07, radius=radius)
    ref = _plan(cost64.float(), "torch", monkeypatch, epsilon=0.07, radius=radius).double()
    got = _plan(cost64.float(), "numba", monkeypatch, epsilon=0.07, radius=radius).double()
    scale = truth.abs().max()
    err_torch = (ref - truth).abs().max() / scale
    err_numba = (got - truth).abs().max() / scale
    assert err_numba <= max(2 * err_torch, 1e-6)
    assert (got - ref).abs().max() / scale <= 2e-5


def test_batch_and_no_virtual_equal_torch(monkeypatch):
    rng = np.random.default_rng(3)
    cost = torch.tensor(rng.random((3, 50, 64)))
    ref = _plan(cost, "torch", monkeypatch, epsilon=0.05, virtual=None)
    got = _plan(cost, "numba", monkeypatch, epsilon=0.05, virtual=None)
    # c1 = -2 alpha / (radius epsilon) = -600 amplifies rounding differences.
    assert (got - ref).abs().max() <= 1e-11 * ref.abs().max()
    ref = _plan(cost, "torch", monkeypatch, epsilon=0.05)
    got = _plan(cost, "numba", monkeypatch, epsilon=0.05)
    assert (got - ref).abs().max() <= 1e-11 * ref.abs().max()


def test_solver_matches_dense_pgd(oracle, monkeypatch):
    """Balanced FGW with exact inner Sinkhorn against the dense projected
    gradient with dense prior matrices."""
    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    rng = np.random.default_rng(7)
    n, m, radius, alpha, eps = 24, 30, 0.15, 0.4, 0.3
    C = rng.random((n, m))
    Cx = prior_matrix("band", n, radius)
    Cy = prior_matrix("complement_band", m, radius)
    expect = oracle.fgw_pgd(C, Cx, Cy, alpha, eps, n_outer=15)
    res = structured_fgw(C, alpha=alpha, radius=radius, epsilon=eps, max_iter=15, tol=1e-300,
                         inner_max_iter=3000, inner_tol=1e-13)
    assert np.abs(res.plan - expect).max() <= 1e-9
