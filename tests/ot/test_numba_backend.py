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


def test_large_iteration_counts_use_numba(monkeypatch):
    """The size rule scales with the outer iterations: long solves of
    mid-sized problems amortise the kernels' loading."""
    monkeypatch.setattr(_fast, "NUMBA_MIN_SIZE", 1 << 21)
    t = torch.zeros(512, 512)
    assert numba_backend(t, iterations=25) is None
    assert numba_backend(t, iterations=1000) is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n,m,w", [(9, 7, 2), (40, 33, 0), (30, 30, 30), (17, 50, 5), (5, 3, 1)])
def test_materialize_dense(dtype, n, m, w, monkeypatch):
    """T = (P u) v in place with its L1 change, and Z = T Cy from the same
    values, for the active problems only."""
    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    nb = numba_backend()
    rng = np.random.default_rng(n + 7 * m + w)
    P = torch.tensor(rng.random((3, n + 1, m + 1)), dtype=dtype)
    u = torch.tensor(rng.random((3, n + 1)) + 0.5, dtype=dtype)
    v = torch.tensor(rng.random((3, m + 1)) + 0.5, dtype=dtype)
    T_old = torch.tensor(rng.random((3, n + 1, m + 1)), dtype=dtype)
    active = torch.tensor([True, False, True])
    plan = P * u[:, :, None] * v[:, None, :]
    rtol = 1e-12 if dtype == torch.float64 else 1e-5

    T = T_old.clone()
    Z = torch.full((3, n, m), -7.0, dtype=dtype)
    change = nb.materialize(P, u, v, T, Z, w, active, with_t=True, with_z=True)
    for k in range(3):
        if active[k]:
            assert torch.allclose(T[k], plan[k], rtol=rtol, atol=0)
            assert change[k].item() == pytest.approx((plan[k] - T_old[k]).abs().sum().item(), rel=1e-5)
            expect = plan[k, :n, :m].double().numpy() @ _dense_complement(m, w)
            assert np.abs(Z[k].double().numpy() - expect).max() <= rtol * np.abs(expect).max()
        else:
            assert torch.equal(T[k], T_old[k]) and change[k] == 0
            assert (Z[k] == -7.0).all()

    # Z alone: the plan is not written.
    T = T_old.clone()
    Z2 = torch.empty((3, n, m), dtype=dtype)
    change = nb.materialize(P, u, v, T, Z2, w, active, with_t=False, with_z=True)
    assert torch.equal(T, T_old) and (change == 0).all()
    assert torch.equal(Z2[0], Z[0]) and torch.equal(Z2[2], Z[2])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_band_kernel_and_band_dot(dtype, monkeypatch):
    """The fused pass writes logK as band_logk does, and the thresholded
    kernel, its row scalings and P^T u as the Sinkhorn rebuild does (its
    vectorised exponential within two eps of torch's); band_dot is
    <Cx Z, T>."""
    from skalign.ot._sinkhorn import kernel_cutoff

    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    nb = numba_backend()
    rng = np.random.default_rng(11)
    n, m, wx = 23, 31, 3
    Z = torch.tensor(rng.random((2, n, m)), dtype=dtype)
    spread = 1000.0 if dtype == torch.float64 else 100.0  # beyond the cutoff
    Cs = torch.tensor(-spread * rng.random((2, n + 1, m + 1)), dtype=dtype)
    beta = torch.tensor(rng.normal(size=(2, m + 1)), dtype=dtype)
    a = torch.tensor(rng.random((2, n + 1)) + 0.1, dtype=dtype)
    c1 = -30.0
    G_ref = nb.band_logk(Z, Cs, c1, wx, torch.empty_like(Cs))
    G = torch.empty_like(Cs)
    P = torch.empty_like(Cs)
    cutoff, tiny = kernel_cutoff(dtype), torch.finfo(dtype).tiny
    mx, u, Ptu = nb.band_kernel(Z, Cs, c1, wx, G, beta, P, a, cutoff, tiny)
    assert torch.equal(G, G_ref)
    E = G_ref + beta[:, None, :]
    assert torch.equal(mx, E.amax(2))
    shifted = E - mx[:, :, None]
    expect = torch.where(shifted > cutoff, shifted, torch.tensor(float("-inf"), dtype=dtype)).exp()
    assert (expect == 0).any()  # the threshold is exercised
    assert torch.equal(P == 0, expect == 0)
    eps = torch.finfo(dtype).eps
    assert ((P - expect).abs() <= 2 * eps * expect).all()
    assert torch.allclose(u, a / P.sum(2), rtol=4 * eps, atol=0)
    ref_ptu = (P.double().numpy() * u.double().numpy()[:, :, None]).sum(1)
    assert np.allclose(Ptu.numpy(), ref_ptu, rtol=1e-12 if dtype == torch.float64 else 1e-6, atol=0)

    T = torch.tensor(rng.random((2, n + 1, m + 1)), dtype=dtype)
    got = nb.band_dot(Z, T, wx)
    for k in range(2):
        ref = (_dense_band(n, wx) @ Z[k].double().numpy() * T[k, :n, :m].double().numpy()).sum()
        assert got[k].item() == pytest.approx(ref, rel=1e-6 if dtype == torch.float32 else 1e-12)


def test_vectorised_exponential():
    """The kernels' exponential against numpy's, over the whole range the
    kernels use, in both precisions; -inf gives exactly 0."""
    from skalign.ot import _numba_kernels as nk

    # The kernels feed it values >= log(tiny) / 2 (about -354) or -inf.
    x = np.concatenate([-np.logspace(-30, np.log10(699), 20001), [0.0, -0.0, -np.inf]])
    # float32 kernels feed values >= log(tiny32) / 2 (about -44) or -inf to
    # the float32 exponential, which is exact to -87.
    x32 = np.concatenate([-np.logspace(-30, np.log10(87), 20001), [0.0, -0.0, -np.inf]])
    for dtype, exp_row, xs in ((np.float64, nk._exp_row, x), (np.float32, nk._exp_row, x),
                               (np.float32, nk._exp_row_f32, x32)):
        v = xs.astype(dtype)
        out = v.copy()
        exp_row(out, np.empty(v.size, dtype=np.int64))
        ref = np.exp(v.astype(np.float64))
        eps = np.finfo(dtype).eps
        if dtype == np.float32:
            ref = ref.astype(np.float32).astype(np.float64)
        keep = ref > np.finfo(dtype).tiny
        assert keep.sum() > 15000
        assert np.all(np.abs(out[keep] - ref[keep]) <= 2 * eps * ref[keep])
        assert out[-1] == 0.0 and out[-3] == 1.0 and out[-2] == 1.0
    out = np.array([-87.5, -100.0, -1e30], dtype=np.float32)
    nk._exp_row_f32(out, np.empty(3, dtype=np.int64))
    assert (out == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinkhorn_block_equals_float64_iterations(dtype, monkeypatch):
    """Sinkhorn steps on a kernel of several hundred rows (so several blocks
    of column sums per thread, then float64 partial sums) give the scalings
    of the same steps taken densely in float64, within float32 rounding."""
    from skalign.ot import _numba_kernels as nk
    from skalign.ot._sinkhorn import kernel_cutoff

    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    rng = np.random.default_rng(8)
    B, n, m, steps = 2, 389, 301, 7
    K = np.exp(-20.0 * rng.random((B, n, m)))
    a = rng.random((B, n)) + 0.5
    a /= a.sum(1, keepdims=True)
    b = np.full((B, m), 1.0 / m)
    logK = torch.tensor(np.log(K), dtype=dtype)
    P = torch.empty_like(logK)
    tiny = torch.finfo(dtype).tiny
    _, u0, Ptu0 = nk.rebuild(logK, torch.zeros((B, m), dtype=dtype), torch.tensor(a, dtype=dtype), P,
                             kernel_cutoff(dtype), tiny)
    K = P.double().numpy()  # the kernel (rows scaled by their maxima) as the solver sees it
    u_ref = a / K.sum(2)
    rtol = 1e-12 if dtype == torch.float64 else 2e-6
    assert np.allclose(u0.double().numpy(), u_ref, rtol=rtol, atol=0)
    assert np.allclose(Ptu0.numpy(), np.einsum("bij,bi->bj", K, u0.double().numpy()), rtol=rtol, atol=0)
    u, v, stats = nk.sinkhorn_block(P, torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype), u0, Ptu0,
                                    steps, tiny)
    for _ in range(steps):
        v_ref = b / np.einsum("bij,bi->bj", K, u_ref)
        u_prev, Kv = u_ref, np.einsum("bij,bj->bi", K, v_ref)
        u_ref = a / Kv
    rtol = 1e-13 if dtype == torch.float64 else 5e-6
    assert np.allclose(v.double().numpy(), v_ref, rtol=rtol, atol=0)
    assert np.allclose(u.double().numpy(), u_ref, rtol=rtol, atol=0)
    assert (stats[:, 0] == 1).all()
    err = np.abs(u_prev * Kv - a).sum(1)
    assert np.allclose(stats[:, 1].numpy(), err, rtol=1e-3 if dtype == torch.float32 else 1e-6, atol=1e-7)


def test_converged_solve_equals_torch_path(monkeypatch):
    """Solving to convergence, the numba path stops at the same iteration
    with the same plan and value as the torch path, per problem of a batch
    whose problems converge at different iterations."""
    rng = np.random.default_rng(5)
    t = np.linspace(0, 1, 40)
    base = np.abs(t[:, None] - t[None, :])
    cost = torch.tensor(np.stack([base, base + 0.3 * rng.random((40, 40)), rng.random((40, 40))]))
    kw = dict(alpha=0.3, radius=0.1, epsilon=0.2, max_iter=400, tol=1e-7, inner_max_iter=3, inner_tol=1e-9)
    monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    ref = structured_fgw(cost, **kw)
    monkeypatch.delenv("SKALIGN_NO_NUMBA")
    got = structured_fgw(cost, **kw)
    assert ref.converged.all() and len(set(ref.n_iter.tolist())) > 1
    assert torch.equal(got.n_iter, ref.n_iter) and torch.equal(got.converged, ref.converged)
    assert (got.plan - ref.plan).abs().max() <= 1e-10 * ref.plan.abs().max()
    assert torch.allclose(got.value, ref.value, rtol=1e-10, atol=0)


def test_short_solve_falls_back_to_the_general_loop(monkeypatch):
    """When the one-block Sinkhorn solve reports a non-finite scaling, the
    solver redoes the block in the general loop (with its repairs): the
    result is then that of the torch path."""
    from skalign.ot import _numba_kernels as nk

    rng = np.random.default_rng(2)
    cost = torch.tensor(rng.random((40, 50)))
    kw = dict(alpha=0.3, radius=0.05, epsilon=0.05, max_iter=12, inner_max_iter=3)
    monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    ref = structured_fgw(cost, **kw)
    monkeypatch.delenv("SKALIGN_NO_NUMBA")
    calls = []
    block = nk.sinkhorn_block

    def failing_block(*args, **kwargs):
        u, v, stats = block(*args, **kwargs)
        calls.append(1)
        stats[:, 0] = 0.0  # as if a scaling had overflowed
        return u, v, stats

    monkeypatch.setattr(nk, "sinkhorn_block", failing_block)
    # The one-call loop hands every iteration back, as on a non-finite block.
    monkeypatch.setattr(nk, "fused_iterations", lambda *args, it, **kwargs: (it, 1))
    got = structured_fgw(cost, **kw)
    assert len(calls) == 12
    assert (got.plan - ref.plan).abs().max() <= 1e-12 * ref.plan.abs().max()


def test_fused_iterations_hand_back_a_non_finite_block_untouched(monkeypatch):
    """The one-call loop returns status 1 at an iteration whose Sinkhorn
    block is not finite, leaving the potentials, Z, the plan and the
    iteration counts as before that iteration."""
    from skalign.ot import _numba_kernels as nk

    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    rng = np.random.default_rng(4)
    B, n, m, w = 2, 30, 26, 2
    Z = torch.tensor(rng.random((B, n, m)) / (n * m))
    Cs = torch.tensor(-5.0 * rng.random((B, n, m)))
    beta = torch.tensor(rng.normal(size=(B, m)))
    a = torch.full((B, n), 1.0 / n)
    a[1, 3] = float("nan")  # problem 1's scalings turn non-finite
    b = torch.full((B, m), 1.0 / m)
    P, T, G = torch.empty(B, n, m), torch.tensor(rng.random((B, n, m))), torch.empty(B, n, m)
    n_iter, change = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.float64)
    before = (beta.clone(), Z.clone(), T.clone())
    out = nk.fused_iterations(Z, Cs, G, -3.0, w, w, beta, a, b, P, T, torch.ones(B, dtype=torch.bool), n_iter,
                              change, it=7, max_iter=20, steps=3, check_every=5, tol=1e-9)
    assert out == (7, 1)
    assert torch.equal(beta, before[0]) and torch.equal(Z, before[1]) and torch.equal(T, before[2])
    assert (n_iter == 0).all()


def test_fused_iterations_stop_at_a_passed_check(monkeypatch):
    """With a tolerance every plan passes, the one-call loop hands back
    after the first check (iteration 4 of 20) with the counts and the
    changes of that check; it pauses after `chunk` iterations; run to the
    end, it hands back after the last."""
    from skalign.ot import _numba_kernels as nk

    monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    rng = np.random.default_rng(6)
    B, n, m = 1, 25, 21
    a, b = torch.full((B, n), 1.0 / n), torch.full((B, m), 1.0 / m)
    T = a[:, :, None] * b[:, None, :]
    Z = nk.complement(T, torch.empty(B, n, m), 2)
    Cs = torch.tensor(-3.0 * rng.random((B, n, m)))
    args = (Z, Cs, torch.empty(B, n, m), -2.0, 2, 2, torch.zeros(B, m), a, b, torch.empty(B, n, m), T,
            torch.ones(B, dtype=torch.bool))
    n_iter, change = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.float64)
    assert nk.fused_iterations(*args, n_iter, change, it=0, max_iter=20, steps=3, check_every=5, tol=1.0) == (5, 2)
    assert n_iter.tolist() == [5] and 0 < change.item() <= 1.0
    np.testing.assert_allclose(T.sum((1, 2)).item(), 1.0, rtol=1e-6)
    # At most `chunk` iterations a call: 5..8, then on to the end.
    assert nk.fused_iterations(*args, n_iter, change, it=5, max_iter=20, steps=3, check_every=5,
                               tol=0.0, chunk=4) == (9, 0)
    assert n_iter.tolist() == [9]
    assert nk.fused_iterations(*args, n_iter, change, it=9, max_iter=20, steps=3, check_every=5,
                               tol=0.0) == (20, 2)
    assert n_iter.tolist() == [20]


def test_general_loop_gets_the_linearised_cost(monkeypatch):
    """The fused pass does not write logK; once some problems of a batch
    have stopped, the Sinkhorn solves take the general loop, which may
    rebuild its kernel from logK: it is written for them first."""
    from skalign.ot import _numba_kernels as nk

    calls = []
    band_logk = nk.band_logk

    def counting(*args, **kwargs):
        calls.append(1)
        return band_logk(*args, **kwargs)

    monkeypatch.setattr(nk, "band_logk", counting)
    rng = np.random.default_rng(5)
    t = np.linspace(0, 1, 40)
    base = np.abs(t[:, None] - t[None, :])
    cost = torch.tensor(np.stack([base, rng.random((40, 40))]))
    kw = dict(alpha=0.3, radius=0.1, epsilon=0.2, max_iter=400, tol=1e-7, inner_max_iter=3, inner_tol=1e-9)
    got = structured_fgw(cost, **kw)
    assert got.n_iter[0] != got.n_iter[1]
    assert len(calls) == abs(int(got.n_iter[0]) - int(got.n_iter[1]))
    monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    ref = structured_fgw(cost, **kw)
    assert torch.equal(got.n_iter, ref.n_iter)
    assert (got.plan - ref.plan).abs().max() <= 1e-10 * ref.plan.abs().max()


@pytest.mark.parametrize("lambdas", [dict(lambda_y=0.5), dict(lambda_x=0.3, lambda_y=0.5)])
def test_unbalanced_vaot_priors_equal_torch(lambdas, monkeypatch):
    """An unbalanced problem with the VAOT priors uses the numba linearised
    cost only, never the balanced fused path: same plan and value as the
    torch path."""
    rng = np.random.default_rng(0)
    cost = torch.tensor(rng.random((40, 50)))
    kw = dict(epsilon=0.1, radius=0.1, max_iter=10, **lambdas)
    monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    ref = structured_fgw(cost, **kw)
    monkeypatch.delenv("SKALIGN_NO_NUMBA")
    got = structured_fgw(cost, **kw)
    assert (got.plan - ref.plan).abs().max() <= 1e-12 * ref.plan.abs().max()
    assert got.value.item() == pytest.approx(ref.value.item(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_padded_vaot_batch_with_the_virtual_frame_matches_torch(dtype, monkeypatch):
    # The virtual frame of a padded problem sits after its padding; the
    # numba Sinkhorn kernels gave a NaN plan for it in float32.
    rng = np.random.default_rng(0)
    cost = rng.uniform(0, 1, (2, 40, 36)).astype(dtype)
    mx = np.ones((2, 40), bool)
    my = np.ones((2, 36), bool)
    mx[1, 25:] = False
    my[1, 20:] = False
    got = _plan(cost, "numba", monkeypatch, epsilon=0.07, mask_x=mx, mask_y=my)
    want = _plan(cost, "torch", monkeypatch, epsilon=0.07, mask_x=mx, mask_y=my)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-6 if dtype == np.float32 else 1e-12)
