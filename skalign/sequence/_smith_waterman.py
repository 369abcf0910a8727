"""Differentiable affine Smith-Waterman local alignment (LAC)."""

from __future__ import annotations

from typing import Any

from ..utils import small_work_on_one_thread
from ._common import DPResult, check_gamma, finish, prepare, prepare_penalty, resolve_backend
from ._recursion import SmithWaterman

__all__ = ["smith_waterman"]


@small_work_on_one_thread
def smith_waterman(
    similarity: Any,
    gap_open: Any = 1.0,
    gap_extend: Any = 1.0,
    gamma: float = 0.8,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    backend: str = "auto",
) -> DPResult:
    r"""Smooth affine Smith-Waterman local alignment score (LAC Eq. 2-5).

    With similarity :math:`S`, gap-open and gap-extend penalties
    :math:`g^o, g^e` (scalars or per cell) and the smooth maximum
    :math:`\max^\gamma(\mathbf u) = \gamma \log \sum_k e^{u_k/\gamma}`
    (Eq. 5), the recursions are

    .. math::

        D_{i,j} &= S_{i,j} + \max{}^\gamma\big(0,\ D_{i-1,j-1},\ I^x_{i-1,j-1},\ I^y_{i-1,j-1}\big)
        && \text{(Eq. 2)} \\
        I^x_{i,j} &= \max{}^\gamma\big(D_{i,j-1} - g^o_{i,j},\ I^x_{i,j-1} - g^e_{i,j}\big)
        && \text{(Eq. 3)} \\
        I^y_{i,j} &= \max{}^\gamma\big(D_{i-1,j} - g^o_{i,j},\ I^x_{i-1,j} - g^o_{i,j},\
                      I^y_{i-1,j} - g^e_{i,j}\big)
        && \text{(Eq. 4)}

    with :math:`D, I^x, I^y = -\infty` on row 0 and column 0. The local
    alignment score is the smooth maximum of :math:`D` over all valid cells,
    :math:`\max^\gamma_{i,j} D_{i,j}` (the Smith-Waterman score is the
    largest entry of :math:`D`; the paper's loss is this score,
    :math:`\mathcal L_{sw} = \mathrm{SW}(S)`). As :math:`\gamma \to 0`
    every :math:`\max^\gamma` becomes a max and the score tends to the exact
    affine Smith-Waterman score. Eq. 4 is followed as printed, including
    the :math:`I^x \to I^y` transition charged :math:`g^o`.

    Parameters
    ----------
    similarity : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Pairwise similarities (higher = more alike), finite inside the valid
        block.
    gap_open : float, array-like or torch.Tensor, default=1.0
        Gap-open penalty :math:`g^o`: a scalar or an array broadcastable to
        the shape of ``similarity`` (per cell). A tensor with
        ``requires_grad`` receives gradients (learned penalties; the LAC
        authors' code starts per-cell penalties at 1).
    gap_extend : float, array-like or torch.Tensor, default=1.0
        Gap-extend penalty :math:`g^e`, as ``gap_open``.
    gamma : float, default=0.8
        Temperature of :math:`\max^\gamma`, > 0 (LAC Table 4 picks 0.8).
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid rows of each problem (a prefix: padding at the end).
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid columns of each problem.
    backend : {"auto", "numba", "torch"}, default="auto"
        Kernel family, see :func:`~skalign.sequence.dtw`.

    Returns
    -------
    result : DPResult
        ``value`` (the smooth local alignment score, higher is better) and
        ``accumulated`` (the primary score matrix :math:`D`, ``-inf`` in
        padding; LAC's :math:`\tilde D` is a softmax of it); both
        differentiable for torch input with respect to ``similarity``,
        ``gap_open`` and ``gap_extend``.

    Raises
    ------
    ValueError
        When ``gamma <= 0``, a penalty has a shape that does not broadcast or
        holds NaN/inf, or ``similarity`` or a mask is invalid.

    Notes
    -----
    The backward pass is the adjoint of the three coupled recursions: each
    cell passes the adjoints of :math:`D`, :math:`I^x`, :math:`I^y` to its
    predecessors with the softmax weights of Eq. 6, and the penalties
    collect the adjoint flowing through the terms they enter. O(NM) memory
    (the three matrices and their adjoints). The recursion accumulates in
    float64 on CPU.

    References
    ----------
    .. [1] T. F. Smith and M. S. Waterman, "Identification of common molecular
       subsequences", J. Mol. Biol., 1981.
    .. [2] K. Oei, A. Gomaa, A. M. Feit and J. Belo, "Self-supervised
       contrastive learning for videos using differentiable local
       alignment", 2025, Sec. 3.3, Eq. 2-6, Table 4.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import smith_waterman
    >>> sim = np.array([[1.0, -1.0, -1.0],
    ...                 [-1.0, 1.0, -1.0],
    ...                 [-1.0, -1.0, 1.0]])
    >>> res = smith_waterman(sim, gap_open=1.0, gap_extend=0.5, gamma=0.01)
    >>> round(res.value, 3)
    3.0
    """
    gamma = check_gamma(gamma)
    problem = prepare(similarity, mask_x, mask_y, "similarity")
    go = prepare_penalty(gap_open, problem, "gap_open")
    ge = prepare_penalty(gap_extend, problem, "gap_extend")
    backend = resolve_backend(backend, problem.matrix.device)
    value, acc = SmithWaterman.apply(problem.matrix, go, ge, problem.n, problem.m, gamma, backend)
    return finish(problem, value, acc)
