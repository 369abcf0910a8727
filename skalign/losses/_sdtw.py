"""The soft-DTW alignment loss with the IDM regulariser (LAV, Haresh et al., CVPR 2021)."""

from __future__ import annotations

from typing import Any

import torch

from ..sequence import soft_dtw
from ._common import _check_mask, _positive, pair_inputs, squared_distances

__all__ = ["sdtw_loss", "idm_regularizer"]


def idm_regularizer(
    x: torch.Tensor,
    *,
    mask: Any = None,
    sigma: float = 10.0,
    margin: float = 2.0,
) -> torch.Tensor:
    r"""Contrastive inverse-difference-moment regulariser of one video (LAV).

    With :math:`D_{ij} = \lVert x_i - x_j \rVert^2` the squared distances
    between the frames of one video and :math:`W_{ij} = (i - j)^2 + 1`,

    .. math::

        I(X) = \sum_{i,j} y_{ij}\, W_{ij} \max(0, \lambda - D_{ij})
               + (1 - y_{ij})\, W_{ij}\, D_{ij},
        \qquad y_{ij} = [\, |i - j| > \sigma \,],

    frames further apart in time than the window :math:`\sigma` are pushed
    at least :math:`\lambda` apart, frames within it are pulled together,
    both weighted by :math:`W`, as in the LAV authors' implementation. It
    keeps the embeddings from collapsing onto a point, which soft-DTW alone
    would reward.

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
        Frame embeddings in temporal order (gradients flow).
    mask : torch.Tensor of bool of shape (B, N), default=None
        Real frames of each video (a prefix); pairs with a padded frame are
        left out.
    sigma : float, default=10.0
        Window :math:`\sigma`, in frames of the sequence (LAV's value for 20
        sampled frames).
    margin : float, default=2.0
        Margin :math:`\lambda` of the hinge.

    Returns
    -------
    idm : torch.Tensor of shape (B,)
        :math:`I(X)` of each video.

    References
    ----------
    .. [1] S. Haresh, S. Kumar, H. Coskun, S. N. Syed, A. Konin, M. Z. Zia,
       Q.-H. Tran, "Learning by Aligning Videos in Time", CVPR 2021, Sec. 3.2
       (contrastive inverse difference moment).

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._sdtw import idm_regularizer
    >>> x = torch.zeros(1, 3, 2)                # collapsed: every pair at distance 0
    >>> idm_regularizer(x, sigma=1.0, margin=2.0)   # only (0, 2), (2, 0): 2 * 5 * 2
    tensor([20.])
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"x must be a torch.Tensor of shape (B, N, D), got {getattr(x, 'shape', type(x))}.")
    sigma = _positive(sigma, "sigma", strict=False)
    margin = _positive(margin, "margin", strict=False)
    B, N, _ = x.shape
    m = _check_mask(mask, (B, N), "mask", x.device)
    d = squared_distances(x, x)
    idx = torch.arange(N, device=x.device, dtype=x.dtype)
    gap = idx[:, None] - idx[None, :]
    w = gap.pow(2) + 1.0
    far = gap.abs() > sigma
    term = torch.where(far, w * torch.relu(margin - d), w * d)
    valid = m[:, :, None] & m[:, None, :]
    return (term * valid).sum((1, 2))


def sdtw_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    gamma: float = 0.1,
    idm_weight: float = 0.5,
    sigma: float = 10.0,
    margin: float = 2.0,
) -> torch.Tensor:
    r"""LAV's alignment loss: soft-DTW between two videos plus the IDM regulariser.

    For each pair, with the squared-distance cost
    :math:`C_{ij} = \lVert x_i - y_j \rVert^2`,

    .. math::

        L(X, Y) = \frac{1}{N}\Big(\mathrm{dtw}^\gamma(C)
                  + \alpha \big(I(X) + I(Y)\big)\Big),

    where :math:`\mathrm{dtw}^\gamma` is soft-DTW
    (:func:`skalign.sequence.soft_dtw`), :math:`I` the contrastive inverse
    difference moment of each video (:func:`idm_regularizer`) and
    :math:`N` the number of (real) frames of ``x``, as the LAV authors
    normalise. The batch loss is the mean over pairs.

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
        Soft-DTW temperature (LAV's value).
    idm_weight : float, default=0.5
        Weight :math:`\alpha` of the regulariser (LAV's value).
    sigma : float, default=10.0
        IDM window, in frames.
    margin : float, default=2.0
        IDM margin :math:`\lambda`.

    Returns
    -------
    loss : torch.Tensor
        A scalar, differentiable with respect to ``x`` and ``y``.

    References
    ----------
    .. [1] S. Haresh et al., "Learning by Aligning Videos in Time", CVPR
       2021, Sec. 3.1-3.3.
    .. [2] M. Cuturi and M. Blondel, "Soft-DTW: a differentiable loss
       function for time-series", ICML 2017, Eq. 1.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._sdtw import sdtw_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 12, 8, generator=g), dim=-1)
    >>> y = torch.nn.functional.normalize(torch.randn(2, 10, 8, generator=g), dim=-1)
    >>> _ = x.requires_grad_()
    >>> loss = sdtw_loss(x, y)
    >>> loss.backward()
    >>> loss.ndim, bool(torch.isfinite(x.grad).all())
    (0, True)
    """
    gamma = _positive(gamma, "gamma")
    idm_weight = _positive(idm_weight, "idm_weight", strict=False)
    with pair_inputs(x, y, mask_x, mask_y) as (xf, yf, mx, my):
        cost = squared_distances(xf, yf)
        cost = torch.where(mx[:, :, None] & my[:, None, :], cost, 0.0)
        value = soft_dtw(cost, gamma, mask_x=mx, mask_y=my).value
        idm = idm_regularizer(xf, mask=mx, sigma=sigma, margin=margin)
        idm = idm + idm_regularizer(yf, mask=my, sigma=sigma, margin=margin)
        per_pair = (value + idm_weight * idm) / mx.sum(1).to(xf.dtype)
        return per_pair.mean()
