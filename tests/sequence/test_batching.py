"""Batched problems equal the same problems one by one; padded equals unpadded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skalign.sequence import dtw, expected_alignment, smith_waterman, smooth_dtw, soft_dtw

METHODS = ["dtw", "soft_dtw", "smooth_dtw", "smith_waterman"]
LENGTHS = [(6, 7), (3, 7), (6, 2), (1, 1), (4, 5)]


def _run(method, matrix, backend, go=None, ge=None, **masks):
    if method == "dtw":
        return dtw(matrix, backend=backend, **masks)
    if method == "soft_dtw":
        return soft_dtw(matrix, gamma=0.7, backend=backend, **masks)
    if method == "smooth_dtw":
        return smooth_dtw(matrix, gamma=0.3, backend=backend, **masks)
    return smith_waterman(matrix, go, ge, gamma=0.5, backend=backend, **masks)


def _problem(seed=40):
    rng = np.random.default_rng(seed)
    B, N, M = len(LENGTHS), 6, 7
    matrix = rng.uniform(0, 2, size=(B, N, M))
    go = rng.uniform(0.5, 1.5, size=(B, N, M))
    ge = rng.uniform(0.1, 0.4, size=(B, N, M))
    mask_x = np.arange(N)[None, :] < np.array([n for n, _ in LENGTHS])[:, None]
    mask_y = np.arange(M)[None, :] < np.array([m for _, m in LENGTHS])[:, None]
    # padding holds garbage that must be ignored
    valid = mask_x[:, :, None] & mask_y[:, None, :]
    matrix = np.where(valid, matrix, 1e6)
    return matrix, go, ge, mask_x, mask_y


@pytest.mark.parametrize("method", METHODS)
def test_batched_equals_one_by_one(backend, method):
    matrix, go, ge, _, _ = _problem()
    res = _run(method, matrix, backend, go, ge)
    for b in range(matrix.shape[0]):
        one = _run(method, matrix[b], backend, go[b], ge[b])
        assert res.value[b] == pytest.approx(one.value, rel=1e-13)
        np.testing.assert_allclose(res.accumulated[b], one.accumulated, rtol=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_padded_equals_unpadded(backend, method):
    matrix, go, ge, mask_x, mask_y = _problem()
    t = torch.tensor(matrix, requires_grad=True)
    got = torch.tensor(go, requires_grad=True)
    res = _run(method, t, backend, got, torch.tensor(ge), mask_x=mask_x, mask_y=mask_y)
    # gradient of the values and of a function of the valid block of the accumulated matrices
    weights = torch.tensor(np.random.default_rng(41).normal(size=matrix.shape))
    valid = torch.tensor(mask_x[:, :, None] & mask_y[:, None, :])
    acc_term = torch.where(valid, res.accumulated * weights, 0.0).sum()
    (res.value.sum() + acc_term).backward()
    fill = -np.inf if method == "smith_waterman" else np.inf
    for b, (n, m) in enumerate(LENGTHS):
        tb = torch.tensor(matrix[b, :n, :m], requires_grad=True)
        gob = torch.tensor(go[b, :n, :m], requires_grad=True)
        one = _run(method, tb, backend, gob, torch.tensor(ge[b, :n, :m]))
        (one.value + (one.accumulated * weights[b, :n, :m]).sum()).backward()
        assert res.value[b].item() == pytest.approx(one.value.item(), rel=1e-13)
        torch.testing.assert_close(res.accumulated[b, :n, :m], one.accumulated, rtol=1e-13, atol=1e-13)
        assert torch.all(res.accumulated[b][~valid[b]] == fill)
        torch.testing.assert_close(t.grad[b, :n, :m], tb.grad, rtol=1e-12, atol=1e-13)
        assert torch.all(t.grad[b][~valid[b]] == 0)
        if method == "smith_waterman":
            torch.testing.assert_close(got.grad[b, :n, :m], gob.grad, rtol=1e-12, atol=1e-13)
            assert torch.all(got.grad[b][~valid[b]] == 0)
        if method == "dtw":
            assert res.path[b] == one.path


@pytest.mark.parametrize("method", METHODS)
def test_expected_alignment_padded_equals_unpadded(backend, method):
    matrix, go, ge, mask_x, mask_y = _problem(42)
    kwargs = {"gap_open": go, "gap_extend": ge} if method == "smith_waterman" else {}
    e = expected_alignment(matrix, method=method, mask_x=mask_x, mask_y=mask_y, backend=backend, **kwargs)
    for b, (n, m) in enumerate(LENGTHS):
        kw = {"gap_open": go[b, :n, :m], "gap_extend": ge[b, :n, :m]} if method == "smith_waterman" else {}
        one = expected_alignment(matrix[b, :n, :m], method=method, backend=backend, **kw)
        np.testing.assert_allclose(e[b, :n, :m], one, rtol=1e-12, atol=1e-14)
        assert np.all(e[b, n:] == 0) and np.all(e[b, :, m:] == 0)


@pytest.mark.parametrize("method", METHODS)
def test_batch_split_over_threads_equals_one_by_one(monkeypatch, method):
    """The numba kernels release the GIL and a large batch is split over threads."""
    pytest.importorskip("numba")
    from skalign.sequence import _recursion

    monkeypatch.setattr(_recursion, "_MIN_CELLS_PER_THREAD", 8)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    matrix, go, ge, mask_x, mask_y = _problem(43)
    t = torch.tensor(matrix, requires_grad=True)
    res = _run(method, t, "numba", go, ge, mask_x=mask_x, mask_y=mask_y)
    res.value.sum().backward()
    for b, (n, m) in enumerate(LENGTHS):
        tb = torch.tensor(matrix[b, :n, :m], requires_grad=True)
        one = _run(method, tb, "numba", go[b, :n, :m], ge[b, :n, :m])
        one.value.backward()
        assert res.value[b].item() == pytest.approx(one.value.item(), rel=1e-13)
        torch.testing.assert_close(t.grad[b, :n, :m], tb.grad, rtol=1e-12, atol=1e-13)
