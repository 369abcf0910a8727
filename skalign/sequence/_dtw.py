"""Exact dynamic time warping."""

from __future__ import annotations

from typing import Any

from ..utils import small_work_on_one_thread
from ._common import DPResult, finish, prepare, resolve_backend
from ._recursion import OP_MIN, DTWFamily, dtw_paths

__all__ = ["dtw"]


@small_work_on_one_thread
def dtw(cost: Any, *, mask_x: Any = None, mask_y: Any = None, backend: str = "auto") -> DPResult:
    r"""Exact dynamic time warping: optimal value, accumulated matrix and path.

    Solves the recursion of GTA Eq. 1 (LAC Eq. 1)

    .. math::

        R(i, j) = c_{i,j} + \min\big(R(i-1, j-1),\ R(i-1, j),\ R(i, j-1)\big),

    with :math:`R(0, 0) = 0` and :math:`R(0, :) = R(:, 0) = +\infty`
    (1-based indices in the equation, 0-based in the returned arrays). The
    value is :math:`R(n, m)`, the smallest total cost of a monotone,
    continuous path from the first to the last cell.

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Pairwise costs, float32 or float64, finite inside the valid block.
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid rows of each problem (a prefix: padding at the end). ``None``
        means all rows are valid.
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid columns of each problem, as ``mask_x``.
    backend : {"auto", "numba", "torch"}, default="auto"
        ``"numba"``: compiled CPU loops (needs the optional numba package);
        ``"torch"``: vectorised anti-diagonal recursion, any device;
        ``"auto"``: numba for CPU tensors when installed and
        ``SKALIGN_NO_NUMBA`` is unset, torch otherwise (the policy shared
        with :mod:`skalign.ot`, see ``skalign._backend``).

    Returns
    -------
    result : DPResult
        ``value`` (DTW cost), ``accumulated`` (:math:`R` without its border
        row and column; ``+inf`` in padding) and ``path`` (list of 0-based
        ``(i, j)`` from ``(0, 0)`` to ``(n-1, m-1)``; a list per problem for
        a batch; ties prefer the diagonal, then the row step). For torch
        input ``value`` and ``accumulated`` are differentiable: the gradient
        of the value with respect to ``cost`` is the indicator of the path.

    Raises
    ------
    ValueError
        When ``cost`` is not 2-D or 3-D, is empty, holds NaN or inf, or a
        mask is not a non-empty prefix mask.

    See Also
    --------
    soft_dtw : the min^gamma relaxation.
    smooth_dtw : GTA's smoothMin relaxation.

    Notes
    -----
    The recursion accumulates in float64 on CPU (float32 input is cast and
    the results are cast back) and in the input precision (at least float32)
    on other devices.

    References
    ----------
    .. [1] H. Sakoe and S. Chiba, "Dynamic programming algorithm optimization
       for spoken word recognition", IEEE TASSP, 1978.
    .. [2] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation learning
       via global temporal alignment and cycle-consistency", CVPR 2021,
       Eq. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import dtw
    >>> cost = np.array([[0.0, 2.0, 3.0, 4.0],
    ...                  [1.0, 0.0, 0.0, 2.0],
    ...                  [3.0, 2.0, 1.0, 0.0]])
    >>> res = dtw(cost)
    >>> res.value
    0.0
    >>> res.path
    [(0, 0), (1, 1), (1, 2), (2, 3)]
    """
    problem = prepare(cost, mask_x, mask_y, "cost")
    backend = resolve_backend(backend, problem.matrix.device)
    value, acc = DTWFamily.apply(problem.matrix, problem.n, problem.m, OP_MIN, 1.0, backend)
    paths = dtw_paths(acc, problem.n, problem.m, backend)
    return finish(problem, value, acc, paths)
