"""Array plumbing shared by the numerical subpackages.

The solvers accept numpy arrays or torch tensors and give back the same kind:
numpy in, numpy out; torch in, torch out on the same device and dtype. These
helpers do that conversion in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["as_float_tensor", "like_input", "check_finite"]


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
    """
    from_numpy = not isinstance(x, torch.Tensor)
    if from_numpy:
        arr = np.asarray(x)
        if arr.dtype == object:
            raise ValueError(f"{name} must be a numeric array, got dtype object.")
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


def like_input(t: torch.Tensor | None, from_numpy: bool) -> Any:
    """Give ``t`` back as numpy when the caller passed numpy."""
    if t is None or not from_numpy:
        return t
    return t.detach().cpu().numpy()


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``t`` holds NaN or inf."""
    if not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or inf); "
            "every entry must be finite."
        )
