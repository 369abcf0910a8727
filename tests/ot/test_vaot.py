import numpy as np
import pytest
import torch

from skalign.ot import decode_matches, prior_matrix, temporal_prior, vaot


def _cost(n=16, m=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, m))


def _dense_augmented(C, *, zeta, rho, radius):
    """The cost-rule problem densely: cost C + rho R with a virtual row and
    column of cost zeta, and the priors on the real frames only."""
    n, m = C.shape
    aug = np.full((n + 1, m + 1), float(zeta))
    aug[:n, :m] = C + rho * temporal_prior(n, m)
    Cx = np.zeros((n + 1, n + 1))
    Cx[:n, :n] = prior_matrix("band", n, radius)
    Cy = np.zeros((m + 1, m + 1))
    Cy[:m, :m] = prior_matrix("complement_band", m, radius)
    return aug, Cx, Cy


def test_cost_rule_equals_dense_oracle(oracle):
    # The augmented problem: cost C + rho R with a virtual row and column of
    # cost zeta, uniform marginals over N+1 and M+1, priors on real frames.
    C = _cost()
    n, m = C.shape
    aug, Cx, Cy = _dense_augmented(C, zeta=0.5, rho=0.35, radius=0.2)
    ref = oracle.fgw_pgd(aug, Cx, Cy, alpha=0.3, epsilon=0.1, n_outer=10)
    res = vaot(C, epsilon=0.1, radius=0.2, max_iter=10, tol=1e-30, inner_max_iter=5000, inner_tol=1e-14)
    assert res.plan.shape == (n + 1, m + 1)
    np.testing.assert_allclose(res.plan, ref, atol=1e-9)
    np.testing.assert_allclose(res.plan.sum(1), 1 / (n + 1), atol=1e-7)
    np.testing.assert_allclose(res.plan.sum(0), 1 / (m + 1), atol=1e-12)


@pytest.mark.filterwarnings("ignore:If reg_type = entropy")
def test_semi_relaxed_without_gw_equals_pot():
    """lambda_y alone (alpha=0): entropic OT with the first marginal exact
    and the second KL-penalised, as POT's unbalanced Sinkhorn with
    reg_m=(inf, lambda_y)."""
    ot = pytest.importorskip("ot")
    C = _cost(14, 11, seed=6)
    n, m = C.shape
    res = vaot(C, epsilon=0.1, alpha=0.0, rho=0.35, virtual=None, lambda_y=0.3, max_iter=1,
               inner_max_iter=5000, inner_tol=1e-14)
    ref = ot.unbalanced.sinkhorn_unbalanced(np.full(n, 1 / n), np.full(m, 1 / m), C + 0.35 * temporal_prior(n, m),
                                            0.1, (float("inf"), 0.3), method="sinkhorn_stabilized",
                                            numItermax=100000, stopThr=1e-15, reg_type="entropy")
    np.testing.assert_allclose(res.plan, ref, atol=1e-10)
    np.testing.assert_allclose(res.plan.sum(1), 1 / n, atol=1e-12)
    assert np.abs(res.plan.sum(0) - 1 / m).max() > 1e-3  # the second side is free


def _semi_relaxed_sinkhorn(grad, a, b, epsilon, kappa, n_iter=20000):
    """Dense log-domain Sinkhorn, rows exact, column j KL-relaxed with
    ``kappa[j] = lambda / (lambda + epsilon)`` (1: its mass is fixed)."""
    from scipy.special import logsumexp

    logK = -grad / epsilon
    f, g = np.zeros(len(a)), np.zeros(len(b))
    for _ in range(n_iter):
        f = np.log(a) - logsumexp(logK + g[None, :], axis=1)
        g_new = kappa * (np.log(b) - logsumexp(logK + f[:, None], axis=0))
        if np.abs(g_new - g).max() < 1e-15:
            g = g_new
            break
        g = g_new
    f = np.log(a) - logsumexp(logK + g[None, :], axis=1)
    return np.exp(logK + f[:, None] + g[None, :])


@pytest.mark.filterwarnings("ignore:If reg_type = entropy")
def test_semi_relaxed_cost_rule_equals_dense_oracle():
    """With the GW term and the virtual frame: each outer iteration is the
    entropic problem of the linearised cost with exact rows, relaxed real
    columns and the virtual column's mass fixed (a dense Sinkhorn, itself
    checked against POT's unbalanced Sinkhorn with reg_m=(inf, lambda)
    when every column is relaxed)."""
    ot = pytest.importorskip("ot")
    C = _cost(12, 15, seed=2)
    n, m = C.shape
    aug, Cx, Cy = _dense_augmented(C, zeta=0.5, rho=0.35, radius=0.2)
    a, b = np.full(n + 1, 1 / (n + 1)), np.full(m + 1, 1 / (m + 1))
    lam, eps = 0.2, 0.1
    free = np.full(m + 1, lam / (lam + eps))
    pot = ot.unbalanced.sinkhorn_unbalanced(a, b, aug, eps, (float("inf"), lam), method="sinkhorn_stabilized",
                                            numItermax=100000, stopThr=1e-15, reg_type="entropy")
    np.testing.assert_allclose(_semi_relaxed_sinkhorn(aug, a, b, eps, free), pot, atol=1e-12)
    kappa = free.copy()
    kappa[-1] = 1.0
    T = np.outer(a, b)
    for _ in range(8):
        T = _semi_relaxed_sinkhorn(0.7 * aug + 2 * 0.3 * Cx @ T @ Cy, a, b, eps, kappa)
    res = vaot(C, epsilon=eps, radius=0.2, lambda_y=lam, max_iter=8, tol=1e-30, inner_max_iter=5000,
               inner_tol=1e-14)
    np.testing.assert_allclose(res.plan, T, atol=1e-9)
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-12)
    assert res.plan[:, -1].sum() == pytest.approx(1 / (m + 1), abs=1e-12)
    assert np.abs(res.plan[:, :-1].sum(0) - 1 / (m + 1)).max() > 1e-3
    # The value: (1 - alpha) <C', T> + alpha <Cx T Cy, T> + lambda KL over the real columns.
    q = res.plan[:, :-1].sum(0)
    kl = (q * np.log(q / b[:-1]) - q + b[:-1]).sum()
    expect = 0.7 * (aug * res.plan).sum() + 0.3 * (Cx @ res.plan @ Cy * res.plan).sum() + lam * kl
    assert float(res.value) == pytest.approx(expect, rel=1e-10)


def test_semi_relaxed_follows_a_longer_phase():
    """Two phases, 10 + 10 frames against 4 + 16, with the temporal prior.
    Balanced, the first phase of the second video takes the mass of 4
    frames, so 6 of the first 10 frames land in the second phase (by hand:
    14 of 20 right). With the second marginal relaxed every frame keeps its
    phase."""
    la = np.repeat([0, 1], [10, 10])
    lb = np.repeat([0, 1], [4, 16])
    C = (la[:, None] != lb[None, :]).astype(float)

    def right(plan):
        return (lb[decode_matches(plan, virtual=False)] == la).mean()

    balanced = vaot(C, epsilon=0.05, virtual=None).plan
    relaxed = vaot(C, epsilon=0.05, virtual=None, lambda_y=0.1).plan
    assert right(balanced) == 0.7
    assert right(relaxed) == 1.0


@pytest.mark.parametrize("virtual", ["cost", None])
def test_value_is_the_objective_of_the_plan(solver_backend, virtual):
    """The reported value is (1 - alpha) <C', T> + alpha <Cx T Cy, T> of the
    returned plan, C' = C + rho R (with the virtual frame's cost zeta),
    computed densely here, on both the torch and the numba paths."""
    C = _cost(30, 24, seed=3)
    n, m = C.shape
    res = vaot(C, epsilon=0.05, radius=0.1, alpha=0.4, rho=0.35, zeta=0.6, virtual=virtual)
    T = res.plan
    real = C + 0.35 * temporal_prior(n, m)
    if virtual == "cost":
        full = np.full((n + 1, m + 1), 0.6)
        full[:n, :m] = real
    else:
        full = real
    Tr = T[:n, :m]
    quad = (prior_matrix("band", n, 0.1) @ Tr @ prior_matrix("complement_band", m, 0.1) * Tr).sum()
    expect = 0.6 * (full * T).sum() + 0.4 * quad
    assert float(res.value) == pytest.approx(expect, rel=1e-12)


def test_extra_frame_goes_to_the_virtual_frame():
    # x is y with one inserted frame unlike anything in y. The virtual frame
    # has the mass of one frame (uniform marginals over N+1, M+1), enough for
    # the inserted one, which its cost zeta makes cheaper than any real match.
    m = 40
    t = np.linspace(0, 1, m)
    tx = np.insert(t, 12, 5.0)
    C = np.minimum(np.abs(tx[:, None] - t[None, :]), 1.5)
    matches = decode_matches(vaot(C, epsilon=0.01, radius=0.05).plan)
    assert matches[12] == -1
    others = np.delete(np.arange(m + 1), 12)
    assert np.abs(matches[others] - np.arange(m)).max() <= 1


def test_threshold_rule_by_hand():
    C = _cost(12, 14, seed=2)
    plain = vaot(C, epsilon=0.05, radius=0.2, virtual=None)
    res = vaot(C, epsilon=0.05, radius=0.2, virtual="threshold", zeta=0.8)
    T = plain.plan
    out_x = T.max(1) / T.sum(1) < 0.8
    out_y = T.max(0) / T.sum(0) < 0.8
    expected = np.zeros((13, 15))
    expected[:12, :14] = T * (~out_x[:, None]) * (~out_y[None, :])
    expected[:12, 14] = np.where(out_x, T.sum(1), 0)
    expected[12, :14] = np.where(out_y, T.sum(0), 0)
    np.testing.assert_allclose(res.plan, expected, atol=1e-15)
    assert out_x.any() and (~out_x).any()
    assert (decode_matches(res.plan)[out_x] == -1).all()


@pytest.mark.parametrize("lambda_y", [None, 0.2])
def test_padded_batch_equals_alone(lambda_y):
    costs = [_cost(16, 20, 3), _cost(9, 20, 4), _cost(16, 11, 5)]
    padded = np.zeros((3, 16, 20))
    mx, my = np.zeros((3, 16), bool), np.zeros((3, 20), bool)
    for k, c in enumerate(costs):
        padded[k, : c.shape[0], : c.shape[1]] = c
        mx[k, : c.shape[0]] = True
        my[k, : c.shape[1]] = True
    res = vaot(padded, epsilon=0.05, radius=0.1, mask_x=mx, mask_y=my, lambda_y=lambda_y)
    for k, c in enumerate(costs):
        alone = vaot(c, epsilon=0.05, radius=0.1, lambda_y=lambda_y)
        assert float(res.value[k]) == pytest.approx(float(alone.value), rel=1e-10)
        n, m = c.shape
        np.testing.assert_allclose(res.plan[k, :n, :m], alone.plan[:n, :m], atol=1e-12)
        np.testing.assert_allclose(res.plan[k, :n, 20], alone.plan[:n, m], atol=1e-12)
        np.testing.assert_allclose(res.plan[k, 16, :m], alone.plan[n, :m], atol=1e-12)
        got = decode_matches(res.plan)[k, :n]
        want = decode_matches(alone.plan)
        assert np.array_equal(np.where(got == 20, -1, got), np.where(want == m, -1, want))


def test_decode_matches_batched_torch():
    plan = torch.zeros(2, 3, 4)
    plan[0, 0, 1] = plan[0, 1, 3] = 1
    plan[1, 0, 2] = plan[1, 1, 0] = 1
    out = decode_matches(plan)
    assert out.tolist() == [[1, -1], [2, 0]]


@pytest.mark.parametrize("kwargs, match", [(dict(rho=-1.0), "rho"), (dict(zeta=np.nan), "zeta"),
                                           (dict(virtual="frame"), "virtual"), (dict(lambda_y=0.0), "lambda_y"),
                                           (dict(lambda_y=0.1, step_size="auto"), "step_size")])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vaot(np.ones((3, 4)), epsilon=0.1, **kwargs)


def test_cost_that_requires_grad_gives_a_constant_plan():
    """The solvers read such a cost detached; the plan is a constant, so
    (plan * cost).sum() has the gradient plan (the losses' gradient)."""
    from skalign.ot import asot, sinkhorn, structured_fgw

    C = torch.rand(20, 25, dtype=torch.float64, requires_grad=True)
    for solve in (lambda c: vaot(c, epsilon=0.1), lambda c: structured_fgw(c, epsilon=0.1),
                  lambda c: sinkhorn(c, epsilon=0.1), lambda c: asot(c, epsilon=0.1, lambda_actions=0.1)):
        plan = solve(C).plan
        assert not plan.requires_grad
        C.grad = None
        real = plan[:20, :25]
        (real * C).sum().backward()
        assert torch.equal(C.grad, real)
