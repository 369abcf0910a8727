"""Device and numerical-precision resolution."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["resolve_device", "resolve_precision", "Precision"]

_PRECISIONS = ("auto", "32", "bf16", "fp16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device specification into a ``torch.device``.

    Parameters
    ----------
    device : str or torch.device, default="auto"
        ``"auto"`` picks the current CUDA device when CUDA is available and
        the CPU otherwise; ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... are taken
        as given after checking that they exist.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        When ``device`` is not a device name or names a CUDA device that is
        not present.

    Examples
    --------
    >>> from skalign.engine import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>', got {device!r}."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={str(device)!r} was requested but CUDA is not available; "
                "use device='auto' or 'cpu'."
            )
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) present."
            )
        dev = torch.device("cuda", index)
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"device type {dev.type!r} is not supported; use 'auto', 'cpu' or 'cuda'.")
    return dev


@dataclass(frozen=True)
class Precision:
    """How a training step handles floating-point precision.

    Attributes
    ----------
    name : str
        ``"32"``, ``"bf16"`` or ``"fp16"``.
    autocast_dtype : torch.dtype or None
        The dtype of ``torch.autocast`` around the forward pass, ``None`` for
        full float32.
    use_grad_scaler : bool
        Whether gradients go through a ``torch.amp.GradScaler`` (float16 only).
    """

    name: str
    autocast_dtype: torch.dtype | None
    use_grad_scaler: bool


def resolve_precision(precision: str, device: torch.device) -> Precision:
    """Choose the training precision for ``device``.

    Mixed precision runs on CUDA only; on the CPU everything is float32.

    Parameters
    ----------
    precision : {"auto", "32", "bf16", "fp16"}
        ``"auto"`` is bfloat16 autocast on a CUDA device that supports it,
        float16 autocast with a gradient scaler on older CUDA devices, and
        float32 elsewhere. ``"bf16"`` and ``"fp16"`` force the mode and need
        a CUDA device.
    device : torch.device
        The training device.

    Returns
    -------
    precision : Precision

    Raises
    ------
    ValueError
        For an unknown name, or mixed precision asked for off CUDA.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import resolve_precision
    >>> resolve_precision("auto", torch.device("cpu"))
    Precision(name='32', autocast_dtype=None, use_grad_scaler=False)
    """
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}.")
    full = Precision("32", None, False)
    if precision == "32":
        return full
    if device.type != "cuda":
        if precision == "auto":
            return full
        raise ValueError(
            f"precision={precision!r} (mixed precision) needs a CUDA device, but the "
            f"training device is {device}; use precision='auto' or '32'."
        )
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "bf16":
        return Precision("bf16", torch.bfloat16, False)
    return Precision("fp16", torch.float16, True)
