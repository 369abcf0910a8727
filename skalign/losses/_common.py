"""Input checks shared by the losses."""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch

from .._array import prefix_mask


def _positive(value: Any, name: str, *, strict: bool = True) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if not ok or not (value > 0 if strict else value >= 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}.")
    return float(value)


def _check_embeddings(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}.")
        if t.ndim != 3:
            raise ValueError(
                f"{name} must have shape (B, n_frames, embedding_dim), got {tuple(t.shape)}."
            )
        if not torch.is_floating_point(t):
            raise ValueError(f"{name} must be floating point, got {t.dtype}.")
        if t.shape[1] == 0:
            raise ValueError(f"{name} has no frames (shape {tuple(t.shape)}).")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(
            f"x and y must have the same batch size and embedding size, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}."
        )
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}.")
    return x, y


def _check_mask(mask: Any, shape: tuple[int, int], name: str, device: torch.device) -> torch.Tensor:
    """A padding mask: each row marks a non-empty prefix of real frames."""
    return prefix_mask(mask, shape, name, device)
