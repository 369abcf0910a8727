"""Input checks, backend choice and the result object shared by the recursions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._array import as_float_tensor, prefix_mask
from .._backend import SEQUENCE_KERNELS, load_kernels
from .._backend import resolve_backend as _resolve


def numba_kernels() -> Any:
    """The numba kernels module, or ``None`` when numba is not installed.

    numba is optional and imported on first use only, so that importing
    skalign does not pay for it (:func:`skalign._backend.load_kernels`).
    """
    return load_kernels(SEQUENCE_KERNELS)


__all__ = ["DPResult"]


@dataclass(frozen=True)
class DPResult:
    """Result of a dynamic-programming alignment.

    Attributes
    ----------
    value : float, ndarray of shape (B,) or torch.Tensor
        The alignment value: ``R[n-1, m-1]`` for the DTW family (a cost, lower
        is better), the smooth maximum of the score matrix for
        Smith-Waterman (a score, higher is better). A Python float for a
        single numpy problem, an ndarray of shape ``(B,)`` for a numpy batch,
        a tensor (0-d or ``(B,)``) for torch input. Differentiable for torch
        input.
    accumulated : ndarray or torch.Tensor of shape (N, M) or (B, N, M)
        The accumulated matrix: ``R`` for the DTW family (``R[i, j]`` is the
        (smoothed) cost of the best path from ``(0, 0)`` to ``(i, j)``), the
        primary score matrix ``D`` for Smith-Waterman. Differentiable for
        torch input. Cells outside a problem's valid block (padding) hold
        ``+inf`` (DTW family) or ``-inf`` (Smith-Waterman).
    path : list of (int, int), list of such lists, or None
        The optimal warping path from ``(0, 0)`` to ``(n-1, m-1)``, 0-based,
        for :func:`~skalign.sequence.dtw` (one list per problem for a batch);
        ``None`` for the smoothed recursions.
    """

    value: Any
    accumulated: Any
    path: Any = None


@dataclass
class Problem:
    """A validated batch of matrices with the per-problem valid sizes."""

    matrix: torch.Tensor  # (B, N, M) in the compute dtype, zero outside the valid block
    n: torch.Tensor  # (B,) int64, valid rows
    m: torch.Tensor  # (B,) int64, valid columns
    valid: torch.Tensor | None  # (B, N, M) bool, None when nothing is padded
    batched: bool
    from_numpy: bool
    dtype: torch.dtype  # dtype of the caller's matrix

    @property
    def shape(self) -> tuple[int, int, int]:
        B, N, M = self.matrix.shape
        return B, N, M


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype the recursions run in: float64 on CPU, at least float32 elsewhere."""
    if t.device.type == "cpu" or t.dtype == torch.float64:
        return torch.float64
    return torch.float32


def check_gamma(gamma: Any, name: str = "gamma") -> float:
    """Return ``gamma`` as a float, or raise ``ValueError`` unless finite and > 0."""
    if isinstance(gamma, torch.Tensor) and gamma.numel() == 1 and not gamma.requires_grad:
        gamma = gamma.item()
    if (
        isinstance(gamma, bool)
        or not isinstance(gamma, (int, float, np.integer, np.floating))
        or not np.isfinite(gamma)
        or gamma <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {gamma!r}.")
    return float(gamma)


def resolve_backend(backend: str, device: torch.device) -> str:
    """Pick the kernel family: compiled numba on CPU when available, else torch
    (the shared policy of :func:`skalign._backend.resolve_backend`)."""
    return _resolve(backend, device, SEQUENCE_KERNELS)


def prepare(matrix: Any, mask_x: Any, mask_y: Any, name: str) -> Problem:
    """Validate ``matrix`` of shape (N, M) or (B, N, M) and its prefix masks.

    Returns the matrix batched, cast (differentiably) to the compute dtype and
    zeroed outside each problem's valid block.
    """
    t, from_numpy = as_float_tensor(matrix, name)
    if t.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (N, M) or (B, N, M), got {tuple(t.shape)}.")
    batched = t.ndim == 3
    if not batched:
        t = t[None]
    B, N, M = t.shape
    if B == 0 or N == 0 or M == 0:
        raise ValueError(f"{name} has an empty dimension: shape {tuple(t.shape)}; sequences must not be empty.")
    dtype = t.dtype
    mx = prefix_mask(mask_x, (B, N), "mask_x", t.device, require_bool=True)
    my = prefix_mask(mask_y, (B, M), "mask_y", t.device, require_bool=True)
    n, m = mx.sum(1), my.sum(1)
    padded = bool((n < N).any()) or bool((m < M).any())
    valid = (mx[:, :, None] & my[:, None, :]) if padded else None
    finite = torch.isfinite(t.detach())
    if valid is not None:
        finite = finite | ~valid
    if not bool(finite.all()):
        n_bad = int((~finite).sum())
        where = " inside the valid (unmasked) block" if valid is not None else ""
        raise ValueError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or inf){where}; every entry must be finite."
        )
    t = t.to(compute_dtype(t))
    if valid is not None:
        t = torch.where(valid, t, torch.zeros((), dtype=t.dtype, device=t.device))
    return Problem(t, n.to(torch.int64), m.to(torch.int64), valid, batched, from_numpy, dtype)


def prepare_penalty(penalty: Any, problem: Problem, name: str) -> torch.Tensor:
    """A gap penalty (scalar or per-cell array) as a (B, N, M) tensor in the compute dtype."""
    B, N, M = problem.shape
    like = problem.matrix
    if isinstance(penalty, torch.Tensor):
        t = penalty
        if not torch.is_floating_point(t):
            t = t.to(like.dtype)
        t = t.to(device=like.device, dtype=like.dtype)
    else:
        arr = np.asarray(penalty)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ) or arr.dtype == bool:
            raise ValueError(f"{name} must be a number or a numeric array, got {penalty!r}.")
        t = torch.as_tensor(arr.astype(np.float64), dtype=like.dtype, device=like.device)
    target = (B, N, M) if problem.batched else (N, M)
    try:
        shape = torch.broadcast_shapes(tuple(t.shape), target)
    except RuntimeError:
        shape = None
    if shape != target:
        raise ValueError(
            f"{name} must be a scalar or broadcast to the matrix shape {target}, got shape {tuple(t.shape)}."
        )
    t = t.expand(target)
    if not problem.batched:
        t = t[None]
    finite = torch.isfinite(t.detach())
    if problem.valid is not None:
        finite = finite | ~problem.valid
    if not bool(finite.all()):
        raise ValueError(f"{name} contains non-finite value(s) (NaN or inf); every entry must be finite.")
    if problem.valid is not None:
        t = torch.where(problem.valid, t, torch.zeros((), dtype=t.dtype, device=t.device))
    return t


def finish(problem: Problem, value: torch.Tensor, accumulated: torch.Tensor, path: Any = None) -> DPResult:
    """Cast back to the caller's dtype, undo batching, give numpy to numpy callers."""
    value = value.to(problem.dtype)
    accumulated = accumulated.to(problem.dtype)
    if not problem.batched:
        value, accumulated = value[0], accumulated[0]
        path = None if path is None else path[0]
    if problem.from_numpy:
        accumulated = accumulated.detach().cpu().numpy()
        value = float(value) if not problem.batched else value.detach().cpu().numpy()
    return DPResult(value=value, accumulated=accumulated, path=path)


def matrix_like(problem: Problem, t: torch.Tensor) -> Any:
    """A (B, N, M) tensor back in the caller's dtype, shape and array kind."""
    t = t.to(problem.dtype)
    if not problem.batched:
        t = t[0]
    if problem.from_numpy:
        return t.detach().cpu().numpy()
    return t
