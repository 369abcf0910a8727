"""The one policy for skalign's optional numba kernels.

Both kernel families, those of the optimal-transport solvers
(``skalign.ot._numba_kernels``) and those of the sequence recursions
(``skalign.sequence._kernels_numba``), are chosen here:

- numba is optional and imported on first use only (importing skalign does
  not pay for it); a kernel module that cannot be imported is remembered as
  missing (:func:`load_kernels`);
- ``SKALIGN_NO_NUMBA=1`` (any value but empty or ``"0"``) turns the kernels
  off wherever skalign decides by itself: the solvers of ``skalign.ot`` and
  ``backend="auto"`` of ``skalign.sequence`` then run on torch
  (:func:`numba_disabled`); an explicit ``backend="numba"`` still gets them;
- ``backend="auto" | "numba" | "torch"`` resolves for a device by
  :func:`resolve_backend`: the compiled kernels on CPU tensors when they can
  be loaded, torch otherwise.

This module imports no other skalign module at import time.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import torch

__all__ = [
    "BACKENDS",
    "NO_NUMBA_ENV",
    "OT_KERNELS",
    "SEQUENCE_KERNELS",
    "load_kernels",
    "numba_disabled",
    "resolve_backend",
]

#: The values of the ``backend=`` argument.
BACKENDS = ("auto", "numba", "torch")

#: The environment variable that turns the numba kernels off.
NO_NUMBA_ENV = "SKALIGN_NO_NUMBA"

#: The kernel modules, by absolute name.
OT_KERNELS = "skalign.ot._numba_kernels"
SEQUENCE_KERNELS = "skalign.sequence._kernels_numba"

# Loaded kernel modules by name; None where the import failed.
_loaded: dict[str, ModuleType | None] = {}


def numba_disabled() -> bool:
    """True when ``SKALIGN_NO_NUMBA`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(NO_NUMBA_ENV, "") not in ("", "0")


def load_kernels(module: str) -> ModuleType | None:
    """The kernel module ``module`` (absolute name), imported on first use,
    or None when it cannot be imported (numba missing). Ignores
    ``SKALIGN_NO_NUMBA``: callers that decide by themselves check
    :func:`numba_disabled` first. After a first successful import the numba
    thread pool follows the thread limit in force
    (:func:`skalign.utils.follow_limit`)."""
    if module not in _loaded:
        try:
            kernels = importlib.import_module(module)
        except ImportError:
            kernels = None
        else:
            from .utils import follow_limit

            follow_limit()
        _loaded[module] = kernels
    return _loaded[module]


def resolve_backend(backend: str, device: torch.device, module: str) -> str:
    """``"numba"`` or ``"torch"``: the kernel family that serves ``backend``
    for tensors on ``device``, with ``module`` the numba kernels.

    ``"auto"`` gives the compiled kernels on CPU when they can be loaded and
    ``SKALIGN_NO_NUMBA`` is unset, else torch; ``"numba"`` raises
    ``ImportError`` without numba and ``ValueError`` off the CPU; ``"torch"``
    is always served.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if backend == "auto":
        usable = device.type == "cpu" and not numba_disabled() and load_kernels(module) is not None
        return "numba" if usable else "torch"
    if backend == "numba":
        if load_kernels(module) is None:
            raise ImportError(
                "backend='numba' needs the optional dependency numba "
                "(pip install numba); use backend='torch' or 'auto' without it."
            )
        if device.type != "cpu":
            raise ValueError(
                f"backend='numba' runs on CPU tensors only, got a tensor on {device}; "
                "use backend='torch' or 'auto'."
            )
    return backend
