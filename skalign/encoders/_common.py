"""Input conversion shared by the frame encoders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "frames_to_nchw", "l2_normalize", "load_state_dict_file", "load_matching_state", "match_dtype",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _autocast_on(device: torch.device) -> bool:
    try:
        return torch.is_autocast_enabled(device.type)
    except TypeError:  # torch < 2.4 has no device argument
        if device.type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def match_dtype(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Cast ``x`` to the dtype of the parameter ``like`` unless autocast is on.

    Integer input, float64 features and float16 caches all meet float32
    weights; under ``torch.autocast`` the cast is left to autocast.
    """
    if x.dtype == like.dtype:
        return x
    if torch.is_floating_point(x) and _autocast_on(x.device):
        return x
    return x.to(like.dtype)


def frames_to_nchw(
    x: torch.Tensor, name: str = "frames", channels: int = 3
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Flatten channel-last frames ``(..., H, W, C)`` into ``(N, C, H, W)`` floats in [0, 1].

    ``uint8`` frames are divided by 255; floating frames are taken to be in
    ``[0, 1]`` already. Returns the converted tensor and the leading shape.
    """
    if x.ndim < 3 or x.shape[-1] != channels:
        raise ValueError(
            f"{name} must have shape (..., height, width, {channels}) with channels last, "
            f"got {tuple(x.shape)}."
        )
    lead = tuple(x.shape[:-3])
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2)
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)
    elif not torch.is_floating_point(x):
        raise ValueError(f"{name} must be uint8 or floating point, got {x.dtype}.")
    return x.contiguous(memory_format=torch.channels_last), lead


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict with ``torch.load(weights_only=True)``.

    Accepts a plain state dict or one nested under ``"state_dict"`` or
    ``"model"``; a ``"module."`` prefix (DataParallel) is removed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise ValueError(f"weights file {str(path)!r} could not be read as a state dict: {exc}") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise ValueError(f"weights file {str(path)!r} does not hold a state dict.")
    return {
        (k[len("module."):] if k.startswith("module.") else k): v
        for k, v in state.items()
        if isinstance(v, torch.Tensor)
    }


def load_matching_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load every entry of ``module``'s state dict from ``state``.

    Entries of ``state`` that the module lacks (layers it cut off, a
    classifier it does not use) are ignored; entries the module needs but
    ``state`` lacks, or whose shapes differ, raise ``ValueError``.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(
            f"{source} lacks {len(missing)} of the {len(own)} entries the model needs, "
            f"e.g. {missing[:3]}; is it a checkpoint of this architecture?"
        )
    bad = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
           if tuple(state[k].shape) != tuple(v.shape)]
    if bad:
        k, got, want = bad[0]
        raise ValueError(f"{source}: entry {k!r} has shape {got}, the model needs {want}.")
    module.load_state_dict({k: state[k] for k in own}, strict=True)


def l2_normalize(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``F.normalize(z, dim=dim)`` that neither overflows nor underflows.

    Each vector is first divided by its largest absolute entry (a constant
    of the graph, so gradients are those of ``z / ||z||``): the squares
    summed by the norm then lie in ``[0, 1]`` instead of overflowing float32
    (``|z| >= 1.8e19`` would give an infinite norm and an all-zero
    embedding). An all-zero vector stays zero.
    """
    scale = z.detach().abs().amax(dim=dim, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return F.normalize(z / scale, dim=dim)
