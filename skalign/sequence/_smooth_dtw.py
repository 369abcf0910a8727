"""smoothDTW (GTA's smoothMin relaxation) and GTA's contrastive cost."""

from __future__ import annotations

from typing import Any

import torch

from .._array import as_float_tensor, like_input, prefix_mask
from ..utils import small_work_on_one_thread
from ._common import DPResult, check_gamma, finish, prepare, resolve_backend
from ._recursion import OP_SMOOTHMIN, DTWFamily

__all__ = ["smooth_dtw", "contrastive_cost"]


@small_work_on_one_thread
def smooth_dtw(
    cost: Any,
    gamma: float = 0.1,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    backend: str = "auto",
) -> DPResult:
    r"""smoothDTW: DTW with GTA's smoothMin, value and accumulated matrix.

    Solves GTA Eq. 4 with :math:`s` the smoothMin of Eq. 5,

    .. math::

        R(i, j) = c_{i,j} + \operatorname{smoothMin}(\mathbf r_{i,j}; \gamma),
        \qquad
        \operatorname{smoothMin}(\mathbf a; \gamma)
        = \frac{\sum_k a_k e^{-a_k/\gamma}}{\sum_l e^{-a_l/\gamma}},

    where :math:`\mathbf r_{i,j} = [R(i-1, j-1), R(i-1, j), R(i, j-1)]`
    (Eq. 2), :math:`R(0, 0) = 0` and :math:`R(0, :) = R(:, 0) = +\infty`.
    The value is :math:`R(n, m)` (the alignment loss of Eq. 9). smoothMin
    is the expected value under the softmin distribution, so it is never
    below the minimum: the value is an upper bound of the exact DTW cost
    (the penalty :math:`d(\mathbf r) \ge 0` of Eq. 3) and tends to it as
    :math:`\gamma \to 0`.

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Pairwise costs, for GTA the contrastive cost of
        :func:`contrastive_cost`; float32 or float64, finite inside the
        valid block.
    gamma : float, default=0.1
        Temperature of smoothMin, > 0 (GTA Sec. 3.5 uses 0.1).
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid rows of each problem (a prefix: padding at the end).
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid columns of each problem.
    backend : {"auto", "numba", "torch"}, default="auto"
        Kernel family, see :func:`~skalign.sequence.dtw`.

    Returns
    -------
    result : DPResult
        ``value`` (:math:`R(n, m)`) and ``accumulated`` (:math:`R`, ``+inf``
        in padding; GTA's global cycle consistency, Eq. 10-13, reads it
        through ``softmax(-R / alpha)``); both differentiable for torch input.

    Raises
    ------
    ValueError
        When ``gamma <= 0``, or ``cost`` or a mask is invalid.

    Notes
    -----
    The derivative of smoothMin used by the backward pass is
    :math:`\partial s / \partial a_k = w_k\,(1 - (a_k - s)/\gamma)` with
    :math:`w = \operatorname{softmax}(-\mathbf a/\gamma)`; unlike soft-DTW's
    weights these can be negative, so the "expected alignment" of smoothDTW
    is a signed matrix. The recursion accumulates in float64 on CPU.

    References
    ----------
    .. [1] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation learning
       via global temporal alignment and cycle-consistency", CVPR 2021,
       Eq. 2-5 and 9.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import smooth_dtw
    >>> cost = np.array([[0.0, 2.0, 3.0], [2.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    >>> res = smooth_dtw(cost, gamma=1.0)
    >>> round(res.value, 4)  # above the DTW cost 0: smoothMin >= min
    0.8092
    """
    gamma = check_gamma(gamma)
    problem = prepare(cost, mask_x, mask_y, "cost")
    backend = resolve_backend(backend, problem.matrix.device)
    value, acc = DTWFamily.apply(problem.matrix, problem.n, problem.m, OP_SMOOTHMIN, gamma, backend)
    return finish(problem, value, acc)


def contrastive_cost(
    x: Any,
    y: Any,
    temperature: float = 0.1,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
) -> Any:
    r"""GTA's contrastive matching cost: negative log softmax of cosine similarities.

    GTA Eq. 7-8:

    .. math::

        c(i, j) = -\log \frac{\exp(\tilde{\mathbf x}_i^\top \tilde{\mathbf y}_j / \beta)}
                             {\sum_{k} \exp(\tilde{\mathbf x}_i^\top \tilde{\mathbf y}_k / \beta)},

    with :math:`\tilde{\mathbf x} = \mathbf x / \lVert \mathbf x \rVert_2`
    and the sum over the valid frames :math:`k` of ``y``. Each row is the
    cost of matching frame :math:`i` of ``x`` to each frame of ``y`` given
    that one of them must match; it is not symmetric in ``x`` and ``y``.

    Parameters
    ----------
    x : array-like or torch.Tensor of shape (N, D) or (B, N, D)
        Embeddings of the first sequence(s).
    y : array-like or torch.Tensor of shape (M, D) or (B, M, D)
        Embeddings of the second sequence(s), batched like ``x``.
    temperature : float, default=0.1
        The softmax temperature :math:`\beta`, > 0 (GTA Sec. 3.5 uses 0.1).
    mask_x : array-like or torch.Tensor of bool, shape (N,) or (B, N), default=None
        Valid frames of ``x`` (a prefix); padded rows of the result are 0.
    mask_y : array-like or torch.Tensor of bool, shape (M,) or (B, M), default=None
        Valid frames of ``y`` (a prefix); padded frames take no part in the
        softmax and their columns of the result are 0.

    Returns
    -------
    cost : ndarray or torch.Tensor of shape (N, M) or (B, N, M)
        Non-negative costs; numpy for numpy input, a differentiable tensor
        on the input's device and dtype for torch input. A zero embedding
        vector has cosine similarity 0 with everything.

    Raises
    ------
    ValueError
        When shapes disagree, a sequence is empty, an embedding holds NaN or
        inf, or ``temperature <= 0``.

    References
    ----------
    .. [1] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation learning
       via global temporal alignment and cycle-consistency", CVPR 2021,
       Eq. 7-8.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.sequence import contrastive_cost
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> c = contrastive_cost(x, x, temperature=1.0)
    >>> np.round(c, 4)
    array([[0.3133, 1.3133],
           [1.3133, 0.3133]])
    """
    temperature = check_gamma(temperature, "temperature")
    xt, from_numpy = as_float_tensor(x, "x")
    yt, _ = as_float_tensor(y, "y")
    if xt.ndim not in (2, 3) or yt.ndim != xt.ndim:
        raise ValueError(
            "x and y must both have shape (n_frames, n_features) or both "
            f"(B, n_frames, n_features), got {tuple(xt.shape)} and {tuple(yt.shape)}."
        )
    batched = xt.ndim == 3
    if not batched:
        xt, yt = xt[None], yt[None]
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(f"x and y hold {xt.shape[0]} and {yt.shape[0]} sequences; they must match.")
    if xt.shape[-1] != yt.shape[-1]:
        raise ValueError(f"x has {xt.shape[-1]} features per frame and y has {yt.shape[-1]}; they must match.")
    for t, name in ((xt, "x"), (yt, "y")):
        if t.shape[0] == 0 or t.shape[1] == 0 or t.shape[2] == 0:
            raise ValueError(f"{name} has an empty dimension: shape {tuple(t.shape)}.")
    yt = yt.to(device=xt.device)
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    xt, yt = xt.to(dtype), yt.to(dtype)
    B, N, _ = xt.shape
    M = yt.shape[1]
    mx = prefix_mask(mask_x, (B, N), "mask_x", xt.device, require_bool=True)
    my = prefix_mask(mask_y, (B, M), "mask_y", xt.device, require_bool=True)
    for t, mask, name in ((xt, mx, "x"), (yt, my, "y")):
        bad = ~torch.isfinite(t.detach()).all(-1) & mask
        if bool(bad.any()):
            b, i = (int(v) for v in torch.nonzero(bad)[0])
            where = f"sequence {b}, frame {i}" if batched else f"frame {i}"
            raise ValueError(f"{name} contains NaN or inf ({where}); embeddings must be finite.")
    xt = torch.where(mx[..., None], xt, 0.0)
    yt = torch.where(my[..., None], yt, 0.0)
    xn = torch.nn.functional.normalize(xt, dim=-1)
    yn = torch.nn.functional.normalize(yt, dim=-1)
    logits = xn @ yn.transpose(-1, -2) / temperature
    logits = logits.masked_fill(~my[:, None, :], float("-inf"))
    cost = -torch.log_softmax(logits, dim=-1)
    cost = torch.where(mx[:, :, None] & my[:, None, :], cost, 0.0)
    if not batched:
        cost = cost[0]
    return like_input(cost, from_numpy)
