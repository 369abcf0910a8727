"""Bad input raises ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skalign.sequence import contrastive_cost, dtw, expected_alignment, smith_waterman, smooth_dtw, soft_dtw

FUNCS = {
    "dtw": lambda c, **k: dtw(c, **k),
    "soft_dtw": lambda c, **k: soft_dtw(c, gamma=1.0, **k),
    "smooth_dtw": lambda c, **k: smooth_dtw(c, gamma=0.1, **k),
    "smith_waterman": lambda c, **k: smith_waterman(c, 1.0, 0.5, **k),
}


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_matrix(name, bad):
    c = np.ones((3, 4))
    c[1, 2] = bad
    with pytest.raises(ValueError, match="non-finite"):
        FUNCS[name](c)


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 2, 2), (2, 0, 3)])
def test_empty_sequences(name, shape):
    with pytest.raises(ValueError, match="empty"):
        FUNCS[name](np.ones(shape))


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("shape", [(3,), (1, 2, 3, 4)])
def test_wrong_ndim(name, shape):
    with pytest.raises(ValueError, match=r"shape \(N, M\) or \(B, N, M\)"):
        FUNCS[name](np.ones(shape))


@pytest.mark.parametrize("gamma", [0.0, -1.0, np.nan, np.inf, "1", None])
def test_bad_gamma(gamma):
    c = np.ones((3, 3))
    for f in (soft_dtw, smooth_dtw):
        with pytest.raises(ValueError, match="gamma"):
            f(c, gamma=gamma)
    with pytest.raises(ValueError, match="gamma"):
        smith_waterman(c, 1.0, 1.0, gamma=gamma)
    if gamma is not None:
        with pytest.raises(ValueError, match="gamma"):
            expected_alignment(c, gamma=gamma)


def test_masks():
    c = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match="mask_x must mark a prefix"):
        soft_dtw(c, mask_x=np.array([[True, False, True], [True, True, True]]))
    with pytest.raises(ValueError, match="mask_y marks no valid frame in problem 1"):
        soft_dtw(c, mask_y=np.array([[True] * 4, [False] * 4]))
    with pytest.raises(ValueError, match="mask_x has shape"):
        soft_dtw(c, mask_x=np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="mask_y must be a boolean array"):
        dtw(c, mask_y=np.ones((2, 4)))
    # NaN in padding is fine, NaN in the valid block is not
    c[1, 2, 3] = np.nan
    soft_dtw(c, mask_x=np.array([[True] * 3, [True, True, False]]))
    with pytest.raises(ValueError, match="1 non-finite value.* inside the valid"):
        soft_dtw(c, mask_y=np.array([[True, True, True, False], [True] * 4]))


def test_penalties():
    c = np.ones((3, 4))
    with pytest.raises(ValueError, match="gap_open must be a scalar or broadcast"):
        smith_waterman(c, np.ones((4, 3)), 1.0)
    with pytest.raises(ValueError, match="gap_extend contains non-finite"):
        smith_waterman(c, 1.0, np.nan)
    with pytest.raises(ValueError, match="gap_open must be a number"):
        smith_waterman(c, "big", 1.0)


def test_backend_and_method_names():
    c = np.ones((3, 3))
    with pytest.raises(ValueError, match="backend must be one of"):
        soft_dtw(c, backend="cuda")
    with pytest.raises(ValueError, match="method must be one of"):
        expected_alignment(c, method="sdtw")


def test_contrastive_cost_inputs():
    x, y = np.ones((3, 2)), np.ones((4, 2))
    with pytest.raises(ValueError, match="features per frame"):
        contrastive_cost(x, np.ones((4, 3)))
    with pytest.raises(ValueError, match="both"):
        contrastive_cost(x, y[None])
    with pytest.raises(ValueError, match="sequences; they must match"):
        contrastive_cost(np.ones((2, 3, 2)), np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="empty"):
        contrastive_cost(np.ones((0, 2)), y)
    bad = x.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(frame 1\)"):
        contrastive_cost(bad, y)
    with pytest.raises(ValueError, match="temperature"):
        contrastive_cost(x, y, temperature=0.0)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(50)
    c = rng.uniform(size=(2, 4, 5))
    before = c.copy()
    mask_x = np.array([[True] * 4, [True, True, False, False]])
    soft_dtw(c, mask_x=mask_x)
    smith_waterman(c, 1.0, 0.5, mask_x=mask_x)
    np.testing.assert_array_equal(c, before)
    t = torch.tensor(c)
    tb = t.clone()
    dtw(t, mask_x=mask_x)
    assert torch.equal(t, tb)
