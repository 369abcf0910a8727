"""Input checks and batching shared by the solvers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._array import as_float_tensor, prefix_mask
from .._validation import check_number
from ._result import OTResult


@dataclass
class Problem:
    """A validated batch of cost matrices with its per-problem lengths."""

    cost: torch.Tensor  # (B, N, M), zero outside the valid block
    n: torch.Tensor  # (B,) long, valid rows
    m: torch.Tensor  # (B,) long, valid columns
    mask_x: torch.Tensor  # (B, N) bool
    mask_y: torch.Tensor  # (B, M) bool
    batched: bool
    from_numpy: bool

    @property
    def valid(self) -> torch.Tensor:
        """(B, N, M) bool: entries inside each problem's valid block."""
        return self.mask_x[:, :, None] & self.mask_y[:, None, :]

    @property
    def masked(self) -> bool:
        """Whether some problem is padded (not every frame valid)."""
        return not (bool(self.mask_x.all()) and bool(self.mask_y.all()))


def prepare(cost: Any, mask_x: Any = None, mask_y: Any = None, *, name: str = "cost") -> Problem:
    """Validate ``cost`` (N, M) or (B, N, M) and the optional prefix masks."""
    t, from_numpy = as_float_tensor(cost, name)
    # The solvers are not differentiated through: a plan is a constant of
    # the cost, as in the VAOT and ASOT losses (envelope theorem).
    t = t.detach()
    if t.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (N, M) or (B, N, M), got {tuple(t.shape)}.")
    batched = t.ndim == 3
    if not batched:
        t = t[None]
    B, N, M = t.shape
    if N == 0 or M == 0 or B == 0:
        raise ValueError(f"{name} has an empty dimension: shape {tuple(t.shape)}.")
    mx = prefix_mask(mask_x, (B, N), "mask_x", t.device)
    my = prefix_mask(mask_y, (B, M), "mask_y", t.device)
    if mask_x is not None or mask_y is not None:
        # Padding is zeroed first, so only the valid block is checked.
        t = torch.where(mx[:, :, None] & my[:, None, :], t, torch.zeros((), dtype=t.dtype, device=t.device))
    if not _all_finite(t):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or inf) inside the "
            "valid (unmasked) block; every entry must be finite."
        )
    return Problem(t, mx.sum(1), my.sum(1), mx, my, batched, from_numpy)


def flags(*conditions: torch.Tensor) -> list[bool]:
    """Several boolean scalars read in one transfer: on CUDA each ``bool()``
    of a device tensor is a synchronisation of its own."""
    return [bool(v) for v in torch.stack(conditions).tolist()]


def cost_range(C: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest entry of ``C`` (padding holds zeros, which can
    only widen the range)."""
    lo, hi = torch.aminmax(C)
    return float(lo), float(hi)


def _all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of ``t`` is finite, in one reading pass and no
    temporary: a NaN or an infinity makes the sum non-finite; only a sum
    that overflows (entries near the largest float) needs the entry-wise
    test."""
    total = t.sum()
    if bool(torch.isfinite(total)):
        return True
    return bool(torch.isfinite(t).all())


def check_positive(value: float, name: str) -> float:
    return check_number(value, name, low=0, low_open=True)


def check_radius(radius: float) -> float:
    return check_number(radius, "radius", low=0, high=1, low_open=True)


def check_alpha(alpha: float) -> float:
    return check_number(alpha, "alpha", low=0, high=1)


def check_lambda(lam: float | None, name: str) -> float | None:
    return None if lam is None else check_positive(lam, name)


def check_int(value: int, name: str, minimum: int = 1) -> int:
    return check_number(value, name, low=minimum, integer=True)


def marginal(weights: Any, mask: torch.Tensor, lengths: torch.Tensor, like: torch.Tensor, name: str) -> torch.Tensor:
    """Uniform weights over the valid frames, or the user's, checked."""
    B, N = mask.shape
    if weights is None:
        w = mask.to(like.dtype) / lengths[:, None].to(like.dtype)
        return w
    w, _ = as_float_tensor(weights, name, dtype=like.dtype, device=like.device)
    if w.ndim == 1:
        w = w[None].expand(B, -1)
    if tuple(w.shape) != (B, N):
        raise ValueError(f"{name} must have shape ({N},) or ({B}, {N}), got {tuple(w.shape)}.")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"{name} must hold finite non-negative weights.")
    w = torch.where(mask, w, torch.zeros((), dtype=w.dtype, device=w.device))
    if bool((w.sum(1) <= 0).any()):
        raise ValueError(f"{name} must put positive mass on the valid frames of every problem.")
    return w


def finish(problem: Problem, plan: torch.Tensor, value: torch.Tensor, n_iter: torch.Tensor, converged: torch.Tensor,
           message: str = "") -> OTResult:
    """Undo batching and give numpy back to numpy callers."""
    if not problem.batched:
        plan, value = plan[0], value[0]
        n_iter_out: Any = int(n_iter[0])
        conv_out: Any = bool(converged[0])
        value_out: Any = value if not problem.from_numpy else float(value)
    else:
        n_iter_out = n_iter.cpu().numpy() if problem.from_numpy else n_iter
        conv_out = converged.cpu().numpy() if problem.from_numpy else converged
        value_out = value.detach().cpu().numpy() if problem.from_numpy else value
    if problem.from_numpy:
        plan = plan.detach().cpu().numpy()
    return OTResult(plan=plan, value=value_out, n_iter=n_iter_out, converged=conv_out, message=message)
