"""Tests of skalign.losses.vaot_loss against a plain numpy evaluation of Eq. 5-6."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from skalign.losses import vaot_loss
from skalign.ot import vaot

SOLVER = dict(alpha=0.3, radius=0.2, epsilon=0.07, rho=0.35, zeta=0.5, max_iter=25)


def reference_loss(x, y, *, temperature=0.1, targets="paper", virtual="cost", **solver):
    """Eq. 5-6 for one pair, written out in numpy (float64).

    T* is the VAOT plan of the cosine cost; with ``targets="paper"`` rows of
    ``x`` and columns of ``y`` whose largest plan entry is the virtual frame
    are dropped and each kept row is scaled to one; ``"authors"`` scales the
    real block by the number of rows of the solved problem.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    plan = vaot(1.0 - xn @ yn.T, virtual=virtual, **{**SOLVER, **solver}).plan
    log_p = log_softmax(x @ y.T / temperature, axis=1)
    if virtual is None:
        T, keep_x, keep_y = plan, np.ones(n, bool), np.ones(m, bool)
    else:
        T = plan[:n, :m]
        keep_x = plan[:n].argmax(1) != m
        keep_y = plan[:, :m].argmax(0) != n
    if targets == "authors":
        scale = n + 1 if virtual == "cost" else n
        return float(np.mean(-(scale * T * log_p).sum(1))), keep_x, keep_y
    rows = []
    for i in range(n):
        t = T[i] * keep_y
        if keep_x[i] and t.sum() > 0:
            rows.append(-(t / t.sum()) @ log_p[i])
    return float(np.mean(rows)), keep_x, keep_y


def unit(rng, *shape):
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def pair_with_background(rng, n=9, m=8, dim=4):
    """Two videos along one path in a plane, plus one frame of each off it.

    ``x[4]`` and ``y[2]`` are orthogonal to the path and to each other: cost
    about 1 > zeta to everything, so both go to the virtual frame.
    """
    t = np.linspace(0, 1, n)[:, None]
    s = np.linspace(0, 1, m)[:, None]
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0].T
    x = np.cos(t * 1.5) * basis[0] + np.sin(t * 1.5) * basis[1] + 0.05 * rng.standard_normal((n, dim))
    y = np.cos(s * 1.5) * basis[0] + np.sin(s * 1.5) * basis[1] + 0.05 * rng.standard_normal((m, dim))
    x[4] = basis[2]
    y[2] = basis[3]
    return x, y


@pytest.mark.parametrize("targets", ["paper", "authors"])
def test_equals_hand_computed_value(targets):
    rng = np.random.default_rng(0)
    x, y = pair_with_background(rng)
    expected, keep_x, keep_y = reference_loss(x, y, targets=targets)
    # The case exercises the exclusion: the off-path frames go to the virtual frame.
    assert list(np.flatnonzero(~keep_x)) == [4] and list(np.flatnonzero(~keep_y)) == [2]
    got = vaot_loss(torch.tensor(x)[None], torch.tensor(y)[None], targets=targets, **SOLVER)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.item(), expected, rtol=1e-10)


@pytest.mark.parametrize("targets", ["paper", "authors"])
@pytest.mark.parametrize("virtual", [None, "threshold"])
def test_other_virtual_rules_match_reference(virtual, targets):
    rng = np.random.default_rng(1)
    x, y = unit(rng, 7, 5), unit(rng, 6, 5)
    expected, _, _ = reference_loss(x, y, virtual=virtual, temperature=0.2, targets=targets)
    got = vaot_loss(torch.tensor(x)[None], torch.tensor(y)[None], virtual=virtual,
                    temperature=0.2, targets=targets, **SOLVER)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-10)


def test_gradient_reaches_x_and_y_but_not_through_pseudo_labels():
    rng = np.random.default_rng(2)
    x0, y0 = pair_with_background(rng)
    x = torch.tensor(x0[None], requires_grad=True)
    y = torch.tensor(y0[None], requires_grad=True)
    vaot_loss(x, y, **SOLVER).backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0

    # The same loss with T* frozen as a constant gives the same gradient.
    n, m = len(x0), len(y0)
    xn = x0 / np.linalg.norm(x0, axis=1, keepdims=True)
    yn = y0 / np.linalg.norm(y0, axis=1, keepdims=True)
    plan = vaot(1.0 - xn @ yn.T, **SOLVER).plan
    keep_x = plan[:n].argmax(1) != m
    keep_y = plan[:, :m].argmax(0) != n
    T = plan[:n, :m] * keep_x[:, None] * keep_y[None, :]
    q = torch.tensor(T / np.maximum(T.sum(1, keepdims=True), 1e-300))
    xr = torch.tensor(x0, requires_grad=True)
    yr = torch.tensor(y0, requires_grad=True)
    log_p = torch.log_softmax(xr @ yr.T / 0.1, dim=1)
    (-(q * log_p).sum(1)[torch.tensor(keep_x)].mean()).backward()
    torch.testing.assert_close(x.grad[0], xr.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(y.grad[0], yr.grad, rtol=1e-9, atol=1e-12)


def test_frames_matched_to_the_virtual_frame_contribute_nothing():
    rng = np.random.default_rng(3)
    x0, y0 = pair_with_background(rng)
    _, keep_x, _ = reference_loss(x0, y0)
    assert not keep_x[4]
    x = torch.tensor(x0[None], requires_grad=True)
    vaot_loss(x, torch.tensor(y0[None]), **SOLVER).backward()
    # The row of an unmatched frame is not in the loss: no gradient reaches it.
    assert torch.equal(x.grad[0, ~torch.tensor(keep_x)], torch.zeros(int((~keep_x).sum()), 4, dtype=x.dtype))
    assert x.grad[0, torch.tensor(keep_x)].abs().sum() > 0
    # The authors' normalisation keeps it, with the mass it sends to real frames.
    x.grad = None
    vaot_loss(x, torch.tensor(y0[None]), targets="authors", **SOLVER).backward()
    assert x.grad[0, 4].abs().sum() > 0


def test_padded_batch_equals_each_pair_alone():
    rng = np.random.default_rng(4)
    lengths = [(9, 6), (6, 8), (7, 7)]
    N, M, D = 9, 8, 5
    x = torch.tensor(rng.standard_normal((3, N, D)) * 10)  # padding holds large junk
    y = torch.tensor(rng.standard_normal((3, M, D)) * 10)
    mx = torch.zeros(3, N, dtype=torch.bool)
    my = torch.zeros(3, M, dtype=torch.bool)
    for b, (n, m) in enumerate(lengths):
        x[b, :n] = torch.tensor(unit(rng, n, D))
        y[b, :m] = torch.tensor(unit(rng, m, D))
        mx[b, :n] = True
        my[b, :m] = True
    x.requires_grad_(True)
    y.requires_grad_(True)
    batch = vaot_loss(x, y, mask_x=mx, mask_y=my, **SOLVER)
    alone = [vaot_loss(x[b:b + 1, :n], y[b:b + 1, :m], **SOLVER) for b, (n, m) in enumerate(lengths)]
    torch.testing.assert_close(batch, torch.stack(alone).mean(), rtol=1e-10, atol=1e-12)
    for b, (n, m) in enumerate(lengths):
        ref, _, _ = reference_loss(x[b, :n].detach().numpy(), y[b, :m].detach().numpy())
        np.testing.assert_allclose(alone[b].item(), ref, rtol=1e-10)
    batch.backward()
    assert torch.equal(x.grad[~mx], torch.zeros_like(x.grad[~mx]))
    assert torch.equal(y.grad[~my], torch.zeros_like(y.grad[~my]))


def test_finite_values_and_gradients_in_hard_cases():
    rng = np.random.default_rng(5)
    same = torch.tensor(unit(rng, 1, 6)).repeat(2, 10, 1)       # every frame identical
    cases = [
        (same, same.clone()),
        (torch.tensor(unit(rng, 2, 12, 6)) * 30.0, torch.tensor(unit(rng, 2, 3, 6))),  # large logits
        (torch.tensor(unit(rng, 2, 2, 6)), torch.tensor(unit(rng, 2, 40, 6))),
    ]
    for x, y in cases:
        x = x.float().requires_grad_(True)
        y = y.float().requires_grad_(True)
        loss = vaot_loss(x, y, temperature=0.01)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_decreases_when_optimising_embeddings():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 1, 16)
    code = torch.stack([torch.cos(3 * t), torch.sin(3 * t)], 1)
    mix = torch.randn(2, 8, generator=g)
    x_in = code @ mix + 0.3 * torch.randn(4, 16, 8, generator=g)
    y_in = code @ mix + 0.3 * torch.randn(4, 16, 8, generator=g)
    enc = torch.nn.Linear(8, 8)
    with torch.no_grad():
        enc.weight.copy_(torch.randn(8, 8, generator=g))
        enc.bias.zero_()
    opt = torch.optim.Adam(enc.parameters(), lr=0.1)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        zx = torch.nn.functional.normalize(enc(x_in), dim=-1)
        zy = torch.nn.functional.normalize(enc(y_in), dim=-1)
        loss = vaot_loss(zx, zy)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # From about 1.69 to 1.46 (the floor is the entropy of the targets).
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def test_float32_under_autocast_and_float16_input():
    rng = np.random.default_rng(6)
    x = torch.tensor(unit(rng, 1, 8, 4), dtype=torch.bfloat16)
    y = torch.tensor(unit(rng, 1, 7, 4), dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = vaot_loss(x, y, **SOLVER)
    assert loss.dtype == torch.float32
    ref, _, _ = reference_loss(x[0].float().numpy(), y[0].float().numpy())
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=torch.zeros(4, 3)), "x must have shape"),
        (dict(y=torch.zeros(1, 4, 2)), "same batch size and embedding size"),
        (dict(temperature=0.0), "temperature"),
        (dict(targets="mine"), "targets"),
        (dict(virtual="never"), "virtual"),
        (dict(mask_x=torch.zeros(1, 4, dtype=torch.bool)), "mask_x marks no valid frame"),
        (dict(mask_y=torch.ones(1, 3, dtype=torch.bool)), "mask_y must have shape"),
        (dict(x=np.ones((1, 4, 3))), "x must be a torch.Tensor"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(x=torch.ones(1, 4, 3), y=torch.ones(1, 5, 3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        vaot_loss(args.pop("x"), args.pop("y"), **args)


def test_share_of_matched_frames_is_reported():
    from skalign.losses._vaot import _vaot_loss

    x, y = pair_with_background(np.random.default_rng(0))
    for targets in ("paper", "authors"):
        _, share = _vaot_loss(torch.tensor(x)[None], torch.tensor(y)[None], targets=targets, **SOLVER)
        assert share.item() == pytest.approx(8 / 9)   # x[4] goes to the virtual frame
