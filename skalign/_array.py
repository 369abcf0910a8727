"""Array plumbing shared by the numerical subpackages.

The solvers accept numpy arrays or torch tensors and give back the same kind:
numpy in, numpy out; torch in, torch out on the same device and dtype. These
helpers do that conversion in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["as_float_tensor", "like_input", "prefix_mask"]


def as_float_tensor(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, bool]:
    """Convert ``x`` to a floating-point tensor without copying when possible.

    Parameters
    ----------
    x : array-like or torch.Tensor
        The input. Integer and boolean input is promoted to float64 (numpy)
        or the default torch dtype (torch).
    name : str
        The argument's name, used in error messages.
    dtype, device : optional
        Cast to this dtype and move to this device when given.

    Returns
    -------
    tensor : torch.Tensor
        A floating-point tensor.
    from_numpy : bool
        Whether the input was not a torch tensor (the result should then be
        given back as numpy).

    Raises
    ------
    ValueError
        When ``x`` is a string, or an array of strings, objects or another
        non-numeric dtype; the message names ``name`` and what was given.
    """
    from_numpy = not isinstance(x, torch.Tensor)
    if from_numpy:
        if isinstance(x, (str, bytes)):
            raise ValueError(
                f"{name} must be a numeric array (numpy array or torch tensor of "
                f"numbers), got the {type(x).__name__} {_short(x)}."
            )
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{name} must be a numeric array (numpy array or torch tensor of "
                f"numbers), got a {type(x).__name__} that is not one ({err})."
            ) from None
        if arr.dtype == object:
            raise ValueError(
                f"{name} must be a numeric array, got dtype object (a ragged or mixed "
                f"{type(x).__name__}); pass a float array."
            )
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"{name} must be a numeric array (numpy array or torch tensor of "
                f"numbers), got a {type(x).__name__} of dtype {arr.dtype}"
                + (f" (first value {_short(arr.flat[0])})" if arr.size else "") + "."
            )
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        t = x
        if not torch.is_floating_point(t):
            t = t.to(torch.get_default_dtype())
    if dtype is not None or device is not None:
        t = t.to(dtype=dtype or t.dtype, device=device or t.device)
    return t, from_numpy


def _short(value: Any, limit: int = 40) -> str:
    """``repr`` of ``value``, cut to ``limit`` characters for error messages."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def like_input(t: torch.Tensor | None, from_numpy: bool) -> Any:
    """Give ``t`` back as numpy when the caller passed numpy."""
    if t is None or not from_numpy:
        return t
    return t.detach().cpu().numpy()


def prefix_mask(
    mask: Any,
    shape: tuple[int, int],
    name: str,
    device: torch.device | str,
    *,
    require_bool: bool = False,
) -> torch.Tensor:
    """Check a padding mask of shape ``(B, n)``: each row marks a non-empty
    prefix of its sequence as valid (True for the first frames, then False).

    ``None`` gives an all-True mask. A 1-D mask is taken as one row when
    ``B == 1``. With ``require_bool`` a mask of another dtype is refused;
    otherwise it is cast to bool. Errors name ``name``.
    """
    B, size = shape
    if mask is None:
        return torch.ones((B, size), dtype=torch.bool, device=device)
    t = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
    t = t.to(device=device)
    if t.dtype != torch.bool:
        if require_bool:
            raise ValueError(f"{name} must be a boolean array, got dtype {t.dtype}.")
        t = t.bool()
    if t.ndim == 1 and B == 1:
        t = t[None]
    if tuple(t.shape) != (B, size):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}: {name} must have shape {(B, size)} "
            "(one row of booleans per problem, one entry per frame)."
        )
    lengths = t.sum(1)
    prefix = torch.arange(size, device=t.device)[None, :] < lengths[:, None]
    if not bool((prefix == t).all()):
        raise ValueError(
            f"{name} must mark a prefix of each sequence as valid (padding at the "
            "end): True for the first frames, then False."
        )
    if bool((lengths == 0).any()):
        bad = int(torch.nonzero(lengths == 0)[0, 0])
        raise ValueError(f"{name} marks no valid frame in problem {bad}: sequences must not be empty.")
    return t
