"""GTA's loss: smoothDTW over the contrastive cost plus global cycle consistency."""

from __future__ import annotations

from typing import Any

import torch

from ..sequence import contrastive_cost, smooth_dtw
from ._common import _check_mask, _positive, pair_inputs

__all__ = ["gta_loss", "global_cycle_consistency"]


def _cycle_terms(
    r_xy: torch.Tensor, r_yx: torch.Tensor, mx: torch.Tensor, my: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Eq. 10-13 per pair from the accumulated matrices (B, N, M) and (B, M, N)."""
    neg_inf = torch.finfo(r_xy.dtype).min
    a_xy = torch.softmax((-r_xy / alpha).masked_fill(~my[:, None, :], neg_inf), dim=2)
    a_yx = torch.softmax((-r_yx / alpha).masked_fill(~mx[:, None, :], neg_inf), dim=2)
    a_xy = a_xy * (mx[:, :, None] & my[:, None, :])
    a_yx = a_yx * (my[:, :, None] & mx[:, None, :])
    back = torch.einsum("bik,bki->bi", a_xy, a_yx)
    tiny = torch.finfo(back.dtype).tiny
    return -(torch.log(back.clamp_min(tiny)) * mx).sum(1)


def global_cycle_consistency(
    r_xy: torch.Tensor,
    r_yx: torch.Tensor,
    *,
    alpha: float = 1.0,
    mask_x: Any = None,
    mask_y: Any = None,
) -> torch.Tensor:
    r"""GTA's global cycle-consistency loss from two accumulated cost matrices.

    With :math:`p_{X,Y}(j \mid i) = \operatorname{softmax}_j(-R_{X,Y}(i, j) / \alpha)`
    (Eq. 10-11) and likewise :math:`p_{Y,X}`, the cycle
    :math:`p_{X,Y,X}(j \mid i) = \sum_k p_{Y,X}(j \mid k)\, p_{X,Y}(k \mid i)`
    (Eq. 12) should return to its start:

    .. math:: L_{GCC} = -\sum_i \log p_{X,Y,X}(i \mid i) \qquad \text{(Eq. 13)}.

    Parameters
    ----------
    r_xy : torch.Tensor of shape (B, N, M)
        Accumulated smoothDTW matrix of matching ``X`` to ``Y``.
    r_yx : torch.Tensor of shape (B, M, N)
        Accumulated matrix of matching ``Y`` to ``X``.
    alpha : float, default=1.0
        Temperature :math:`\alpha` of Eq. 10 (GTA's value).
    mask_x : torch.Tensor of bool of shape (B, N), default=None
        Real frames of ``X``; padded entries of the matrices are ignored.
    mask_y : torch.Tensor of bool of shape (B, M), default=None
        Real frames of ``Y``.

    Returns
    -------
    loss : torch.Tensor of shape (B,)
        :math:`L_{GCC}` of each pair.

    References
    ----------
    .. [1] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation
       learning via global temporal alignment and cycle-consistency", CVPR
       2021, Eq. 10-13.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._gta import global_cycle_consistency
    >>> r = torch.zeros(1, 2, 2)          # uniform: each cycle returns with 1/2
    >>> global_cycle_consistency(r, r)    # 2 log 2
    tensor([1.3863])
    """
    alpha = _positive(alpha, "alpha")
    B, N, M = r_xy.shape
    if tuple(r_yx.shape) != (B, M, N):
        raise ValueError(f"r_yx must have shape {(B, M, N)}, got {tuple(r_yx.shape)}.")
    mx = _check_mask(mask_x, (B, N), "mask_x", r_xy.device)
    my = _check_mask(mask_y, (B, M), "mask_y", r_xy.device)
    return _cycle_terms(r_xy, r_yx, mx, my, alpha)


def gta_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    gamma: float = 0.1,
    temperature: float = 0.1,
    alpha: float = 1.0,
    lambda_g: float = 1.0,
    lambda_s: float = 0.1,
) -> torch.Tensor:
    r"""GTA's self-supervised loss: smoothDTW both ways plus global cycle consistency.

    For each pair, the contrastive cost
    :math:`c_{XY}(i, j) = -\log \operatorname{softmax}_j(\tilde x_i^\top \tilde y_j / \beta)`
    (Eq. 7-8, :func:`skalign.sequence.contrastive_cost`) enters smoothDTW
    (Eq. 4-5, :func:`skalign.sequence.smooth_dtw`) whose value
    :math:`R_{XY}(N, M)` is the alignment loss (Eq. 9); its accumulated
    matrix feeds the global cycle consistency (Eq. 10-13,
    :func:`global_cycle_consistency`). The loss (Eq. 14) is

    .. math::

        L(X, Y) = \lambda_g L_{GCC}(X, Y)
                  + \lambda_s \big(L_{smoothDTW}(X, Y) + L_{smoothDTW}(Y, X)\big),

    averaged over the pairs of the batch.

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
        Embeddings of the frames of the first videos (gradients flow).
    y : torch.Tensor of shape (B, M, D)
        Embeddings of the frames of the second videos.
    mask_x : torch.Tensor of bool of shape (B, N), default=None
        Real frames of ``x`` (a prefix).
    mask_y : torch.Tensor of bool of shape (B, M), default=None
        Real frames of ``y``.
    gamma : float, default=0.1
        smoothMin temperature :math:`\gamma` (Eq. 5).
    temperature : float, default=0.1
        Softmax temperature :math:`\beta` of the contrastive cost (Eq. 8).
    alpha : float, default=1.0
        Temperature :math:`\alpha` of the cycle distributions (Eq. 10).
    lambda_g : float, default=1.0
        Weight of the cycle-consistency loss.
    lambda_s : float, default=0.1
        Weight of the alignment losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, differentiable with respect to ``x`` and ``y``.

    References
    ----------
    .. [1] I. Hadji, K. G. Derpanis and A. D. Jepson, "Representation
       learning via global temporal alignment and cycle-consistency", CVPR
       2021, Eq. 4-14 and Sec. 3.5 (values of the parameters).

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._gta import gta_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 12, 8, generator=g), dim=-1)
    >>> y = torch.nn.functional.normalize(torch.randn(2, 10, 8, generator=g), dim=-1)
    >>> _ = x.requires_grad_()
    >>> loss = gta_loss(x, y)
    >>> loss.backward()
    >>> loss.ndim, bool(torch.isfinite(x.grad).all())
    (0, True)
    """
    gamma = _positive(gamma, "gamma")
    temperature = _positive(temperature, "temperature")
    alpha = _positive(alpha, "alpha")
    lambda_g = _positive(lambda_g, "lambda_g", strict=False)
    lambda_s = _positive(lambda_s, "lambda_s", strict=False)
    with pair_inputs(x, y, mask_x, mask_y) as (xf, yf, mx, my):
        c_xy = contrastive_cost(xf, yf, temperature, mask_x=mx, mask_y=my)
        c_yx = contrastive_cost(yf, xf, temperature, mask_x=my, mask_y=mx)
        s_xy = smooth_dtw(c_xy, gamma, mask_x=mx, mask_y=my)
        s_yx = smooth_dtw(c_yx, gamma, mask_x=my, mask_y=mx)
        r_xy = torch.where(mx[:, :, None] & my[:, None, :], s_xy.accumulated, 0.0)
        r_yx = torch.where(my[:, :, None] & mx[:, None, :], s_yx.accumulated, 0.0)
        gcc = _cycle_terms(r_xy, r_yx, mx, my, alpha)
        per_pair = lambda_g * gcc + lambda_s * (s_xy.value + s_yx.value)
        return per_pair.mean()
