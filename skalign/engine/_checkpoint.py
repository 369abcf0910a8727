"""Saving and reading training checkpoints (``torch.save`` / safe ``torch.load``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .._files import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint"]

_FORMAT = "skalign-checkpoint-1"
_REQUIRED = ("format", "epoch", "model", "optimizer", "history", "seed")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (a temporary file, then a rename).

    Parameters
    ----------
    path : str or path-like
        Destination file; its folder is created when missing.
    state : dict
        ``epoch`` (int, epochs completed), ``model`` and ``optimizer``
        (state dicts), ``history`` (list of dicts), ``seed`` (int) and
        optionally ``scaler`` (a gradient-scaler state dict) and ``extra``
        (dict of plain values). Only tensors, numbers, strings, lists and
        dicts: the file loads with ``torch.load(weights_only=True)``.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile, torch
    >>> from skalign.engine import save_checkpoint, load_checkpoint
    >>> m = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.Adam(m.parameters())
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_checkpoint(f"{d}/ckpt.pt", {"epoch": 1, "model": m.state_dict(),
    ...         "optimizer": opt.state_dict(), "history": [{"epoch": 1, "loss": 0.5}], "seed": 0})
    ...     load_checkpoint(p)["epoch"]
    1
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": _FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    The file is read with ``torch.load(..., weights_only=True)``: it may
    hold tensors and plain containers only, never arbitrary objects.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    map_location : str or torch.device, default="cpu"
        Where to put the tensors.

    Returns
    -------
    state : dict
        The dictionary given to :func:`save_checkpoint` (plus ``format``).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When ``path`` is a directory or an empty file, or the file is not a
        skalign checkpoint or cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"checkpoint {str(path)!r} is a directory; give the checkpoint file's path."
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        raise ValueError(
            f"checkpoint {str(path)!r} is empty (0 bytes) and holds no checkpoint; "
            "delete it or name another file."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise ValueError(f"checkpoint {str(path)!r} could not be read: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"{str(path)!r} is not a skalign training checkpoint.")
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks the entries {missing}.")
    return state
