"""Soft-DTW: the min^gamma relaxation of dynamic time warping."""

from __future__ import annotations

from typing import Any

from ..utils import small_work_on_one_thread
from ._common import DPResult, check_gamma, finish, prepare, resolve_backend
from ._recursion import OP_SOFTMIN, DTWFamily

__all__ = ["soft_dtw"]


@small_work_on_one_thread
def soft_dtw(
    cost: Any,
    gamma: float = 1.0,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    backend: str = "auto",
) -> DPResult:
    r"""Soft-DTW value and accumulated matrix (Cuturi and Blondel).

    Replaces the minimum of the DTW recursion (GTA Eq. 1) by the soft
    minimum :math:`\min^\gamma` (GTA Eq. 6, LAC Sec. 3.2):

    .. math::

        R(i, j) = c_{i,j} + \min{}^\gamma\big(R(i-1, j-1),\ R(i-1, j),\ R(i, j-1)\big),
        \qquad \min{}^\gamma(a) = -\gamma \log \sum_k e^{-a_k / \gamma},

    with :math:`R(0, 0) = 0` and :math:`R(0, :) = R(:, 0) = +\infty`. The
    value is :math:`R(n, m)`; as :math:`\gamma \to 0` it tends to the exact
    DTW cost from below, within :math:`\gamma (n + m - 1) \log 3`.

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Pairwise costs (for example squared Euclidean distances), float32 or
        float64, finite inside the valid block.
    gamma : float, default=1.0
        Smoothing temperature, > 0.
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid rows of each problem (a prefix: padding at the end).
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid columns of each problem.
    backend : {"auto", "numba", "torch"}, default="auto"
        Kernel family, see :func:`~skalign.sequence.dtw`.

    Returns
    -------
    result : DPResult
        ``value`` (:math:`R(n, m)`, shape ``(B,)`` for a batch) and
        ``accumulated`` (:math:`R`, ``+inf`` in padding); ``path`` is
        ``None``. Both are differentiable for torch input; the gradient of
        the value with respect to ``cost`` is the expected alignment (see
        :func:`~skalign.sequence.expected_alignment`).

    Raises
    ------
    ValueError
        When ``gamma <= 0``, or ``cost`` or a mask is invalid (see
        :func:`~skalign.sequence.dtw`).

    See Also
    --------
    smooth_dtw : GTA's smoothMin relaxation.
    expected_alignment : gradient of the value with respect to the cost.

    Notes
    -----
    The backward pass is the adjoint recursion of Cuturi and Blondel
    (Algorithm 2), extended to take a gradient for every cell of
    :math:`R`: each cell passes its adjoint to its three predecessors with
    the softmin weights :math:`e^{-a_k/\gamma} / \sum_l e^{-a_l/\gamma}`.
    Memory is O(NM). The recursion accumulates in float64 on CPU.

    References
    ----------
    .. [1] M. Cuturi and M. Blondel, "Soft-DTW: a differentiable loss function
       for time-series", ICML 2017, Eq. 1 and Algorithms 1-2.
    .. [2] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation learning
       via global temporal alignment and cycle-consistency", CVPR 2021,
       Eq. 6.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import soft_dtw
    >>> cost = np.array([[0.0, 2.0, 3.0], [2.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    >>> res = soft_dtw(cost, gamma=1.0)
    >>> round(res.value, 4)  # below the DTW cost 0: min^gamma <= min
    -0.5026
    >>> np.round(res.accumulated, 4)
    array([[ 0.    ,  2.    ,  5.    ],
           [ 2.    , -0.2395,  1.6545],
           [ 5.    ,  1.6545, -0.5026]])
    """
    gamma = check_gamma(gamma)
    problem = prepare(cost, mask_x, mask_y, "cost")
    backend = resolve_backend(backend, problem.matrix.device)
    value, acc = DTWFamily.apply(problem.matrix, problem.n, problem.m, OP_SOFTMIN, gamma, backend)
    return finish(problem, value, acc)
