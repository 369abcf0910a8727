"""The result object every skalign solver returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OTResult"]


@dataclass(frozen=True)
class OTResult:
    """Result of an optimal-transport solver.

    Attributes
    ----------
    plan : ndarray or torch.Tensor of shape (N, M) or (B, N, M)
        The transport plan (coupling). numpy when the cost was numpy, a
        tensor on the cost's device and dtype otherwise. Padded rows and
        columns of a masked batch are zero.
    value : float, ndarray of shape (B,) or torch.Tensor
        The objective at ``plan`` without the entropy term (see each
        solver's docstring for the exact expression).
    n_iter : int or ndarray of shape (B,)
        Iterations run (outer iterations for the fused Gromov-Wasserstein
        solvers). For a batch, per problem: a problem that converges early is
        frozen, so each problem gets the plan it would get alone.
    converged : bool or ndarray of shape (B,)
        Whether the stopping tolerance was reached (per problem for a
        batch). For the transport solvers this includes the marginals of
        the returned plan holding to ``marginal_tol`` (measured on the plan).
    message : str
        Empty when every problem converged; otherwise why not and what to
        change (e.g. the range of ``cost / epsilon`` that works).
    """

    plan: Any
    value: Any
    n_iter: Any
    converged: Any
    message: str = ""
