import numpy as np
import ot
import pytest
import torch

from skalign.ot import prior_matrix, structured_fgw


def _problem(n=18, m=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, m))


@pytest.mark.parametrize("radius", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("prior_y", ["complement_band", "off_diagonal"])
def test_equals_dense_oracle(oracle, radius, prior_y):
    C = _problem()
    n, m = C.shape
    Cx, Cy = prior_matrix("band", n, radius), prior_matrix(prior_y, m, radius)
    ref = oracle.fgw_pgd(C, Cx, Cy, alpha=0.3, epsilon=0.1, n_outer=12)
    res = structured_fgw(C, alpha=0.3, radius=radius, epsilon=0.1, prior_y=prior_y,
                         max_iter=12, tol=1e-30, inner_max_iter=5000, inner_tol=1e-14)
    np.testing.assert_allclose(res.plan, ref, atol=1e-8, rtol=0)
    value = 0.7 * (C * ref).sum() + 0.3 * ((Cx @ ref @ Cy) * ref).sum()
    assert res.value == pytest.approx(value, rel=1e-8)


def test_authors_convention_halves_the_gw_gradient(oracle):
    C = _problem(seed=3)
    n, m = C.shape
    Cx, Cy = prior_matrix("band", n, 0.2), prior_matrix("complement_band", m, 0.2)
    ref = oracle.fgw_pgd(C, Cx, Cy, alpha=0.4, epsilon=0.1, n_outer=8, g=1.0)
    res = structured_fgw(C, alpha=0.4, radius=0.2, epsilon=0.1, max_iter=8, tol=1e-30,
                         inner_max_iter=5000, inner_tol=1e-14, convention="authors")
    np.testing.assert_allclose(res.plan, ref, atol=1e-8)


def test_matches_pot_entropic_fgw_at_convergence():
    # POT's square_loss on (Cx, -Cy/2) is a^2 + b^2/4 + ab: the extra terms are
    # constant on the coupling set, so it is the L(a, b) = ab problem.
    C = _problem(30, 36, seed=1)
    n, m = C.shape
    Cx, Cy = prior_matrix("band", n, 0.1), prior_matrix("complement_band", m, 0.1)
    p, q = np.full(n, 1 / n), np.full(m, 1 / m)
    T_pot = ot.gromov.entropic_fused_gromov_wasserstein(
        C, Cx, -Cy / 2, p, q, loss_fun="square_loss", epsilon=0.05, alpha=0.3,
        max_iter=1000, tol=1e-13, stopThr=1e-13, numItermax=100000)
    # Exact inner solves (warm-started) follow POT's path on this non-convex
    # problem; truncated ones may reach another stationary point.
    res = structured_fgw(C, alpha=0.3, radius=0.1, epsilon=0.05, max_iter=2000, tol=1e-10,
                         inner_max_iter=1000, inner_tol=1e-13)
    assert res.converged
    value_pot = 0.7 * (C * T_pot).sum() + 0.3 * ((Cx @ T_pot @ Cy) * T_pot).sum()
    assert res.value == pytest.approx(value_pot, rel=1e-4)
    np.testing.assert_allclose(res.plan, T_pot, atol=1e-8)


def test_unbalanced_side_equals_pot_unbalanced_sinkhorn_without_gw():
    C = _problem(12, 9, seed=4)
    a, b = np.full(12, 1 / 12), np.full(9, 1 / 9)
    res = structured_fgw(C, alpha=0.0, epsilon=0.1, lambda_x=0.5, lambda_y=0.3, max_iter=1,
                         inner_max_iter=5000, inner_tol=1e-14)
    ref = ot.unbalanced.sinkhorn_unbalanced(a, b, C, 0.1, (0.5, 0.3), method="sinkhorn_stabilized",
                                            numItermax=100000, stopThr=1e-15, reg_type="entropy")
    np.testing.assert_allclose(res.plan, ref, atol=1e-9)


def test_time_reversal_gives_flipped_plan():
    # A sequence against its reversal: the visual cost says frame i matches
    # frame n-1-i; with the prior radius small the plan is the flipped identity.
    n = 20
    t = np.linspace(0, 1, n)
    C = np.abs(t[:, None] - t[::-1][None, :])
    res = structured_fgw(C, alpha=0.3, radius=0.05, epsilon=0.005, max_iter=100)
    assert (res.plan.argmax(1) == np.arange(n)[::-1]).all()
    np.testing.assert_allclose(res.plan, res.plan[::-1, ::-1], atol=1e-6)


def test_batch_and_padding_equal_one_by_one():
    rng = np.random.default_rng(5)
    sizes = [(16, 20), (11, 20), (16, 9)]
    costs = [rng.random(s) for s in sizes]
    padded = np.zeros((3, 16, 20))
    mx, my = np.zeros((3, 16), bool), np.zeros((3, 20), bool)
    for k, c in enumerate(costs):
        padded[k, : c.shape[0], : c.shape[1]] = c
        mx[k, : c.shape[0]] = True
        my[k, : c.shape[1]] = True
    kw = dict(alpha=0.3, radius=0.2, epsilon=0.05, max_iter=40, tol=1e-7)
    res = structured_fgw(padded, mask_x=mx, mask_y=my, **kw)
    for k, c in enumerate(costs):
        alone = structured_fgw(c, **kw)
        np.testing.assert_allclose(res.plan[k, : c.shape[0], : c.shape[1]], alone.plan, atol=1e-12)
        assert res.n_iter[k] == alone.n_iter
        assert res.value[k] == pytest.approx(alone.value, rel=1e-10)


def test_float32_close_to_float64():
    C = torch.from_numpy(_problem(40, 50, seed=6))
    r64 = structured_fgw(C, epsilon=0.05, radius=0.1)
    r32 = structured_fgw(C.float(), epsilon=0.05, radius=0.1)
    assert r32.plan.dtype == torch.float32
    np.testing.assert_allclose(r32.plan.double().numpy(), r64.plan.numpy(), atol=2e-6)


def test_mirror_descent_step_has_the_same_fixed_point():
    C = _problem(14, 15, seed=7)
    kw = dict(alpha=0.3, radius=0.2, epsilon=0.1, tol=1e-12, inner_tol=1e-13, inner_max_iter=1000)
    pgd = structured_fgw(C, max_iter=2000, **kw)
    md = structured_fgw(C, max_iter=5000, step_size=2.0, **kw)
    np.testing.assert_allclose(md.plan, pgd.plan, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(radius=0.0), "radius"),
        (dict(radius=1.5), "radius"),
        (dict(alpha=1.2), "alpha"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(prior_x="diagonal"), "prior_x"),
        (dict(lambda_y=-1.0), "lambda_y"),
        (dict(convention="mine"), "convention"),
        (dict(max_iter=0), "max_iter"),
    ],
)
def test_bad_options(kwargs, match):
    opts = dict(epsilon=0.1)
    opts.update(kwargs)
    with pytest.raises(ValueError, match=match):
        structured_fgw(np.ones((4, 5)), **opts)


def test_inf_cost_names_cost():
    C = np.ones((4, 5))
    C[1, 2] = np.inf
    with pytest.raises(ValueError, match="cost contains 1 non-finite"):
        structured_fgw(C, epsilon=0.1)


def test_finiteness_check_survives_an_overflowing_sum():
    """The check sums the cost once; a sum that overflows on finite entries
    falls back to the entry-wise test instead of rejecting the cost."""
    from skalign.ot._validation import prepare

    big = torch.full((3, 4), 3e38, dtype=torch.float32)
    assert torch.isinf(big.sum())
    prepare(big)  # finite entries: no error
    big[2, 1] = float("nan")
    with pytest.raises(ValueError, match="cost contains 1 non-finite"):
        prepare(big)
    masked = torch.ones(2, 3, 4)
    masked[1, 2, 3] = float("inf")  # in the padding: allowed
    prepare(masked, mask_y=torch.tensor([[True] * 4, [True] * 3 + [False]]))


@pytest.mark.slow
def test_8192_frames_small_epsilon_float32_finite():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(8192, 16, generator=g), dim=1)
    y = torch.nn.functional.normalize(torch.randn(8192, 16, generator=g), dim=1)
    res = structured_fgw(1 - x @ y.T, epsilon=0.01, max_iter=2, inner_max_iter=3)
    assert torch.isfinite(res.plan).all()
    assert res.plan.sum().item() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    C = torch.from_numpy(_problem(60, 70, seed=8))
    cpu = structured_fgw(C, epsilon=0.05, radius=0.1)
    gpu = structured_fgw(C.cuda(), epsilon=0.05, radius=0.1)
    np.testing.assert_allclose(gpu.plan.cpu().numpy(), cpu.plan.numpy(), atol=1e-9)
