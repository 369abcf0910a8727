"""Input checks shared by the losses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch

from .._array import prefix_mask
from .._validation import check_number


def _positive(value: Any, name: str, *, strict: bool = True) -> float:
    return check_number(value, name, low=0, low_open=strict)


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


class PairInputs(NamedTuple):
    """Checked embeddings of a batch of pairs, in full precision, and their masks."""

    x: torch.Tensor
    y: torch.Tensor
    mask_x: torch.Tensor
    mask_y: torch.Tensor


@contextlib.contextmanager
def pair_inputs(x: Any, y: Any, mask_x: Any, mask_y: Any) -> Iterator[PairInputs]:
    """The prologue of every pair loss, as a context.

    Checks the embeddings ``x`` ``(B, N, D)`` and ``y`` ``(B, M, D)`` and
    their padding masks, turns autocast off inside the block and yields the
    embeddings in float32 (float64 stays float64) with the masks: the OT and
    dynamic-programming recursions of the losses lose too much in half
    precision.
    """
    x, y = _check_embeddings(x, y)
    (B, N, _), M = x.shape, y.shape[1]
    mx = _check_mask(mask_x, (B, N), "mask_x", x.device)
    my = _check_mask(mask_y, (B, M), "mask_y", x.device)
    with torch.autocast(device_type=x.device.type, enabled=False):
        xf = x if x.dtype == torch.float64 else x.float()
        yield PairInputs(xf, y.to(xf.dtype), mx, my)


#: Most elements of the ``(rows, M, D)`` difference tensor held at once by
#: :func:`squared_distances` (2**18 float64 elements: 2 MiB; small blocks also
#: keep the allocator from fragmenting the heap).
_CHUNK_ELEMENTS = 1 << 18


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Squared Euclidean distances :math:`\lVert x_i - y_j \rVert^2` between rows.

    The differences are formed explicitly (no :math:`\lVert x \rVert^2 +
    \lVert y \rVert^2 - 2 x^\top y` expansion, which cancels badly for close
    rows), but a block of rows of ``x`` at a time, so that memory stays
    :math:`O(NM)` (plus a bounded block) instead of :math:`O(NMD)`. The result
    equals ``(x[..., :, None, :] - y[..., None, :, :]).pow(2).sum(-1)``;
    gradients flow through it.

    Parameters
    ----------
    x : torch.Tensor of shape (..., N, D)
    y : torch.Tensor of shape (..., M, D)
        Same leading (batch) shape as ``x``.

    Returns
    -------
    distances : torch.Tensor of shape (..., N, M)

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._common import squared_distances
    >>> squared_distances(torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([[1.],
            [4.]])
    """
    n, m, d = x.shape[-2], y.shape[-2], x.shape[-1]
    batch = 1
    for s in x.shape[:-2]:
        batch *= int(s)
    rows = max(1, _CHUNK_ELEMENTS // max(1, batch * m * d))
    if rows >= n:
        return (x[..., :, None, :] - y[..., None, :, :]).pow(2).sum(-1)
    yb = y[..., None, :, :]
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        return torch.cat(
            [(x[..., i:i + rows, None, :] - yb).pow(2).sum(-1) for i in range(0, n, rows)],
            dim=-2,
        )
    # Without autograd, fill one preallocated result in place: many small
    # results allocated between the large blocks would fragment the heap
    # (the blocks' memory would then not be reused).
    out = torch.empty((*x.shape[:-2], n, m), dtype=torch.result_type(x, y), device=x.device)
    for i in range(0, n, rows):
        diff = x[..., i:i + rows, None, :] - yb
        torch.sum(diff.pow_(2), -1, out=out[..., i:i + rows, :])
    return out
