import numpy as np
import ot
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from skalign.ot import OTResult, sinkhorn


def test_equals_pot_sinkhorn_log():
    rng = np.random.default_rng(0)
    C = rng.random((23, 31))
    a = rng.random(23) + 0.1
    b = rng.random(31) + 0.1
    a, b = a / a.sum(), b / b.sum()
    res = sinkhorn(C, a, b, epsilon=0.05, tol=1e-12, max_iter=10000)
    ref = ot.sinkhorn(a, b, C, 0.05, method="sinkhorn_log", stopThr=1e-13, numItermax=100000)
    assert isinstance(res, OTResult)
    np.testing.assert_allclose(res.plan, ref, atol=1e-10)
    assert res.value == pytest.approx(float((ref * C).sum()), rel=1e-9)
    assert res.converged
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-11)
    np.testing.assert_allclose(res.plan.sum(0), b, atol=1e-12)


def test_small_epsilon_approaches_assignment():
    rng = np.random.default_rng(1)
    C = rng.random((12, 12))
    rows, cols = linear_sum_assignment(C)
    res = sinkhorn(C, epsilon=1e-3, tol=1e-10, max_iter=20000)
    assert (res.plan.argmax(1) == cols).all()
    assert res.value == pytest.approx(C[rows, cols].mean(), abs=2e-3)


def test_small_epsilon_float32_stays_finite():
    g = torch.Generator().manual_seed(0)
    C = torch.rand(300, 280, generator=g) * 3
    res = sinkhorn(C, epsilon=1e-3, max_iter=200)
    assert res.plan.dtype == torch.float32
    assert torch.isfinite(res.plan).all()
    assert res.plan.sum().item() == pytest.approx(1.0, abs=1e-4)


def test_batch_and_padding_equal_one_by_one():
    rng = np.random.default_rng(2)
    sizes = [(10, 14), (7, 14), (10, 5)]
    costs = [rng.random(s) for s in sizes]
    padded = np.full((3, 10, 14), 123.0)
    mx = np.zeros((3, 10), bool)
    my = np.zeros((3, 14), bool)
    for k, c in enumerate(costs):
        padded[k, : c.shape[0], : c.shape[1]] = c
        mx[k, : c.shape[0]] = True
        my[k, : c.shape[1]] = True
    res = sinkhorn(padded, epsilon=0.1, mask_x=mx, mask_y=my, tol=1e-11)
    for k, c in enumerate(costs):
        alone = sinkhorn(c, epsilon=0.1, tol=1e-11)
        np.testing.assert_allclose(res.plan[k, : c.shape[0], : c.shape[1]], alone.plan, atol=1e-12)
        assert res.plan[k].sum() == pytest.approx(1.0)
        assert res.n_iter[k] == alone.n_iter
    assert res.plan[1, 7:].sum() == 0 and res.plan[2, :, 5:].sum() == 0


def test_torch_in_torch_out_dtype():
    C = torch.rand(5, 6, dtype=torch.float64)
    res = sinkhorn(C, epsilon=0.1)
    assert isinstance(res.plan, torch.Tensor) and res.plan.dtype == torch.float64
    res32 = sinkhorn(C.float(), epsilon=0.1)
    assert res32.plan.dtype == torch.float32
    np.testing.assert_allclose(res32.plan.numpy(), res.plan.numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cost=np.array([[np.nan, 1.0]]), epsilon=0.1), "cost"),
        (dict(cost=np.ones((0, 3)), epsilon=0.1), "empty"),
        (dict(cost=np.ones((2, 3)), epsilon=0.0), "epsilon"),
        (dict(cost=np.ones((2, 3)), epsilon=-1.0), "epsilon"),
        (dict(cost=np.ones((2, 3, 4, 5)), epsilon=0.1), "shape"),
        (dict(cost=np.ones((2, 3, 4)), epsilon=0.1, mask_x=np.ones((2, 4), bool)), "mask_x"),
        (dict(cost=np.ones((1, 3, 4)), epsilon=0.1, mask_x=np.array([[True, False, True]])), "prefix"),
        (dict(cost=np.ones((2, 3)), a=np.array([1.0, -1.0]), epsilon=0.1), "a must"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sinkhorn(**kwargs)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    C = torch.rand(40, 50, dtype=torch.float64)
    cpu = sinkhorn(C, epsilon=0.05)
    gpu = sinkhorn(C.cuda(), epsilon=0.05)
    assert gpu.plan.is_cuda
    np.testing.assert_allclose(gpu.plan.cpu().numpy(), cpu.plan.numpy(), atol=1e-10)
