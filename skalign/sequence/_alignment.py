"""The soft alignment matrix: gradient of an alignment value with respect to its matrix."""

from __future__ import annotations

from typing import Any

import torch

from ..utils import small_work_on_one_thread
from ._common import check_gamma, matrix_like, prepare, prepare_penalty, resolve_backend
from ._recursion import OP_MIN, OP_SMOOTHMIN, OP_SOFTMIN, DTWFamily, SmithWaterman

__all__ = ["expected_alignment"]

_OPS = {"dtw": OP_MIN, "soft_dtw": OP_SOFTMIN, "smooth_dtw": OP_SMOOTHMIN}
_DEFAULT_GAMMA = {"soft_dtw": 1.0, "smooth_dtw": 0.1, "smith_waterman": 0.8}


@small_work_on_one_thread
def expected_alignment(
    matrix: Any,
    *,
    method: str = "soft_dtw",
    gamma: float | None = None,
    gap_open: Any = 1.0,
    gap_extend: Any = 1.0,
    mask_x: Any = None,
    mask_y: Any = None,
    backend: str = "auto",
) -> Any:
    r"""Soft alignment matrix: the gradient of the alignment value w.r.t. the matrix.

    For soft-DTW, :math:`E = \nabla_C \operatorname{dtw}_\gamma(C)` is the
    expected alignment matrix of Cuturi and Blondel (Sec. 2.3): entry
    :math:`(i, j)` is the probability that the Gibbs distribution over
    warping paths (at temperature :math:`\gamma`) passes through cell
    :math:`(i, j)`. For ``"dtw"`` it is the 0/1 indicator of the optimal
    path; for ``"smith_waterman"`` the expected number of times each pair is
    matched in a local alignment (LAC Eq. 6 propagated through Eq. 2-4);
    for ``"smooth_dtw"`` the gradient of GTA's loss (Eq. 9), which can be
    negative (see :func:`~skalign.sequence.smooth_dtw`). Used to read an
    alignment off a cost matrix and to plot it.

    Parameters
    ----------
    matrix : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        The cost matrix (DTW family) or similarity matrix
        (``method="smith_waterman"``).
    method : {"soft_dtw", "smooth_dtw", "dtw", "smith_waterman"}, default="soft_dtw"
        Which recursion's value to differentiate.
    gamma : float, default=None
        Temperature; ``None`` takes the method's default (soft-DTW 1.0,
        smoothDTW 0.1, Smith-Waterman 0.8). Ignored by ``"dtw"``.
    gap_open : float, array-like or torch.Tensor, default=1.0
        Gap-open penalty, ``"smith_waterman"`` only.
    gap_extend : float, array-like or torch.Tensor, default=1.0
        Gap-extend penalty, ``"smith_waterman"`` only.
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid rows of each problem (a prefix: padding at the end).
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid columns of each problem.
    backend : {"auto", "numba", "torch"}, default="auto"
        Kernel family, see :func:`~skalign.sequence.dtw`.

    Returns
    -------
    alignment : ndarray or torch.Tensor of shape (N, M) or (B, N, M)
        Same kind, device and dtype as ``matrix``; zero in padding. Not
        differentiable (a detached tensor for torch input).

    Raises
    ------
    ValueError
        When ``method`` is unknown, ``gamma <= 0``, or the inputs are
        invalid for the method.

    References
    ----------
    .. [1] M. Cuturi and M. Blondel, "Soft-DTW: a differentiable loss function
       for time-series", ICML 2017, Sec. 2.3.
    .. [2] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation learning
       via global temporal alignment and cycle-consistency", CVPR 2021,
       Eq. 4-5.
    .. [3] K. Oei, A. Gomaa, A. M. Feit and J. Belo, "Self-supervised
       contrastive learning for videos using differentiable local
       alignment", 2025, Eq. 2-6.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import expected_alignment
    >>> cost = np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 5.0], [5.0, 5.0, 0.0]])
    >>> expected_alignment(cost, method="dtw")
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> np.round(expected_alignment(cost, method="soft_dtw", gamma=2.0), 3)
    array([[1.   , 0.075, 0.   ],
           [0.075, 0.989, 0.075],
           [0.   , 0.075, 1.   ]])
    """
    if method not in _OPS and method != "smith_waterman":
        raise ValueError(
            f"method must be one of 'soft_dtw', 'smooth_dtw', 'dtw', 'smith_waterman', got {method!r}."
        )
    if method == "dtw":
        gamma_f = 1.0
    else:
        gamma_f = check_gamma(_DEFAULT_GAMMA[method] if gamma is None else gamma)
    name = "similarity" if method == "smith_waterman" else "cost"
    problem = prepare(matrix, mask_x, mask_y, name)
    backend = resolve_backend(backend, problem.matrix.device)
    with torch.enable_grad():
        leaf = problem.matrix.detach().requires_grad_(True)
        if method == "smith_waterman":
            go = prepare_penalty(gap_open, problem, "gap_open").detach()
            ge = prepare_penalty(gap_extend, problem, "gap_extend").detach()
            value, _ = SmithWaterman.apply(leaf, go, ge, problem.n, problem.m, gamma_f, backend)
        else:
            value, _ = DTWFamily.apply(leaf, problem.n, problem.m, _OPS[method], gamma_f, backend)
        (grad,) = torch.autograd.grad(value.sum(), leaf)
    return matrix_like(problem, grad.detach())
