"""Tests of skalign.losses._asot.asot_loss against a numpy evaluation of its equations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from skalign.losses._asot import asot_loss
from skalign.ot import asot

SOLVER = dict(alpha=0.3, radius=0.1, epsilon=0.07, lambda_actions=0.1, max_iter=25)


def reference_targets(x, actions, *, rho):
    """Pseudo-labels of one video: the ASOT plan of ``1 - cos + rho R``,
    with ``R[i, k] = |i/N - k/K|`` written out here and handed to the solver
    as part of the cost (``rho=0`` inside), each row scaled to one."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(actions, dtype=np.float64)
    n, k = len(x), len(a)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    sim = xn @ an.T
    R = np.abs(np.arange(n)[:, None] / n - np.arange(k)[None, :] / k)
    plan = asot(1.0 - sim + rho * R, rho=0.0, **SOLVER).plan
    return plan / plan.sum(1, keepdims=True), sim


def reference_loss(xs, actions, *, rho=0.2, temperature=0.1):
    """Cross-entropy between the pseudo-labels and the softmax of
    ``cos / temperature``, averaged over all frames of all videos."""
    total, count = 0.0, 0
    for x in xs:
        Q, sim = reference_targets(x, actions, rho=rho)
        log_p = log_softmax(sim / temperature, axis=1)
        total += float(-(Q * log_p).sum())
        count += len(x)
    return total / count


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], [5, 4, 5])
    actions = rng.normal(size=(3, 6))
    x = actions[truth][None] + 0.8 * rng.normal(size=(2, 14, 6))
    return x, actions


@pytest.mark.parametrize("rho", [0.0, 0.5])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_loss_matches_numpy_equations(case, rho, temperature):
    x, actions = case
    got = asot_loss(torch.tensor(x), torch.tensor(actions), rho=rho, temperature=temperature,
                    **SOLVER)
    assert got.dtype == torch.float64
    expected = reference_loss(list(x), actions, rho=rho, temperature=temperature)
    assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_temporal_prior_changes_the_loss(case):
    x, actions = case
    a = asot_loss(torch.tensor(x), torch.tensor(actions), rho=0.0, **SOLVER)
    b = asot_loss(torch.tensor(x), torch.tensor(actions), rho=2.0, **SOLVER)
    assert abs(float(a) - float(b)) > 1e-3


def test_padding_equals_the_truncated_video(case):
    x, actions = case
    mask = np.ones((2, 14), bool)
    mask[1, 9:] = False
    xp = x.copy()
    xp[1, 9:] = 100.0                       # garbage in padded frames
    got = asot_loss(torch.tensor(xp), torch.tensor(actions), mask=torch.tensor(mask), **SOLVER)
    expected = reference_loss([x[0], x[1, :9]], actions)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_gradient_reaches_embeddings_and_actions_but_not_the_plan(case):
    x, actions = case
    xt = torch.tensor(x, requires_grad=True)
    at = torch.tensor(actions, requires_grad=True)
    asot_loss(xt, at, **SOLVER).backward()
    # Reference: the same cross-entropy with the numpy pseudo-labels as constants.
    xr = torch.tensor(x, requires_grad=True)
    ar = torch.tensor(actions, requires_grad=True)
    sim = torch.nn.functional.normalize(xr, dim=-1) @ torch.nn.functional.normalize(ar, dim=-1).T
    Q = torch.tensor(np.stack([reference_targets(v, actions, rho=0.2)[0] for v in x]))
    ref = -(Q * torch.log_softmax(sim / 0.1, dim=2)).sum(2).mean()
    ref.backward()
    assert float(xt.grad.abs().max()) > 1e-4 and float(at.grad.abs().max()) > 1e-4
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(at.grad.numpy(), ar.grad.numpy(), rtol=1e-6, atol=1e-10)


def test_float32_and_autocast_give_float32():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 10, 4, generator=g)
    a = torch.randn(3, 4, generator=g)
    assert asot_loss(x, a).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = asot_loss(x, a)
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(float(asot_loss(x.double(), a.double())), rel=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=np.zeros((1, 4, 3))), "x must be a torch.Tensor"),
        (dict(x=torch.zeros(4, 3)), r"x must have shape \(B, n_frames, embedding_dim\)"),
        (dict(actions=torch.zeros(3, 5)), "actions have embeddings of size 5, but x has 3"),
        (dict(actions=torch.zeros(0, 3)), "n_actions >= 1"),
        (dict(temperature=0.0), "temperature must be a number > 0"),
        (dict(mask=torch.zeros(1, 4, dtype=torch.bool)), "mask marks no valid frame"),
        (dict(mask=torch.ones(1, 5, dtype=torch.bool)), r"mask must have shape \(1, 4\)"),
    ],
)
def test_errors(kwargs, match):
    args = dict(x=torch.randn(1, 4, 3), actions=torch.randn(2, 3))
    args.update(kwargs)
    x, actions = args.pop("x"), args.pop("actions")
    with pytest.raises(ValueError, match=match):
        asot_loss(x, actions, **args)
