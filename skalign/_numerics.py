"""Numerical constants shared by the solvers.

A leaf module: it imports no other skalign module, so that solver modules
and their compiled kernels can both depend on it without forming a cycle.
"""

from __future__ import annotations

import math

import torch

__all__ = ["NEG_INF", "kernel_cutoff"]

#: Log-domain zero: the log potential / log kernel entry of a masked cell.
NEG_INF = float("-inf")


def kernel_cutoff(dtype: torch.dtype) -> float:
    """Log of the smallest kernel entry kept, relative to its row's largest:
    ``log(tiny) / 2``. Smaller entries become exact zeros, so that no
    subnormal numbers (slow on CPUs) enter the products."""
    return 0.5 * math.log(torch.finfo(dtype).tiny)
