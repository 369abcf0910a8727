import numpy as np
import pytest

from skalign.metrics import mof
from skalign.ot import asot, prior_matrix


def test_equals_dense_mirror_descent_oracle(oracle):
    rng = np.random.default_rng(0)
    C = rng.random((60, 5))
    ref = oracle.asot_md(C, prior_matrix("band", 60, 0.1), prior_matrix("off_diagonal", 5), alpha=0.6,
                         epsilon=0.02, lam_actions=0.05, n_iter=25)
    res = asot(C, alpha=0.6, radius=0.1, epsilon=0.02, lambda_actions=0.05)
    np.testing.assert_allclose(res.plan, ref, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.plan.sum(1), 1 / 60, atol=1e-14)


def test_temporal_prior_is_added_to_the_cost():
    rng = np.random.default_rng(1)
    C = rng.random((30, 4))
    R = np.abs(np.arange(30)[:, None] / 30 - np.arange(4)[None, :] / 4)
    a = asot(C, rho=0.2, radius=0.1)
    b = asot(C + 0.2 * R, rho=0.0, radius=0.1)
    np.testing.assert_allclose(a.plan, b.plan, atol=1e-14)


# Settings of the ASOT authors' example (shared/data/asot-examples/README).
CASES = [
    ("P36_webcam01_P36_salat", "salat", dict(alpha=0.6, radius=0.04, epsilon=0.01, lambda_actions=0.06), 0.739),
    ("2020-04-19_14-03-25", "da", dict(alpha=0.6, radius=0.02, epsilon=0.01, lambda_actions=0.09), 0.771),
]


@pytest.mark.parametrize("video, mapping, settings, expected", CASES)
def test_reproduces_authors_mof(shared_data, video, mapping, settings, expected):
    root = shared_data("asot-examples")
    affinity = np.load(root / "affinity" / f"{video}.npy")
    ids = {}
    for line in (root / "gt" / f"mapping_{mapping}.txt").read_text().splitlines():
        if line.strip():
            i, name = line.split()
            ids[name] = int(i)
    gt = np.array([ids[x] for x in (root / "gt" / video).read_text().split()])
    plan = asot(1.0 - affinity, **settings).plan
    assert mof([plan.argmax(1)], [gt]) == pytest.approx(expected, abs=0.005)


def test_auto_step_is_capped_at_one_over_epsilon():
    # Small costs and a large epsilon make 4 / |max grad| exceed 1/epsilon;
    # the step is capped there, where one mirror step is one exact Sinkhorn
    # solve: with alpha = 0 and both sides balanced the plan is Sinkhorn's.
    from skalign.ot import sinkhorn

    C = np.random.default_rng(3).random((26, 3)) * 0.3
    res = asot(C, alpha=0.0, epsilon=0.5, lambda_actions=None, inner_max_iter=1000, inner_tol=1e-13)
    ref = sinkhorn(C, epsilon=0.5, tol=1e-13)
    np.testing.assert_allclose(res.plan, ref.plan, atol=1e-12)


@pytest.mark.parametrize("step_size", ["auto", None, 0.5])
def test_value_is_the_objective_at_the_plan(step_size):
    # alpha=0: the objective is <C, T> + lambda_actions KL(T'1 | 1/K), with the
    # generalised KL sum m log(m / p) - m + p, computed here by hand.
    rng = np.random.default_rng(0)
    cost = rng.uniform(0.0, 1.0, (30, 4))
    res = asot(cost, alpha=0.0, lambda_actions=0.1, step_size=step_size)
    T = np.asarray(res.plan, dtype=np.float64)
    m, p = T.sum(0), np.full(4, 1 / 4)
    want = (cost * T).sum() + 0.1 * (m * np.log(m / p) - m + p).sum()
    assert float(res.value) == pytest.approx(want, rel=1e-5, abs=1e-7)
