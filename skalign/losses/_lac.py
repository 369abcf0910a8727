"""LAC's loss: affine Smith-Waterman local alignment plus a Gaussian-weighted contrastive loss."""

from __future__ import annotations

from typing import Any

import torch

from ..sequence import smith_waterman
from ._common import _positive, pair_inputs, squared_distances

__all__ = ["lac_loss", "inverse_distance_similarity"]


def inverse_distance_similarity(x: torch.Tensor, y: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    r"""LAC's similarity: the inverted squared Euclidean distance.

    .. math:: S_{ij} = \frac{1}{\lVert x_i - y_j \rVert^2 + \epsilon}

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
    y : torch.Tensor of shape (B, M, D)
    eps : float, default=0.1
        Keeps :math:`S` (and its gradient) bounded for identical frames;
        the LAC authors divide by the distance alone.

    Returns
    -------
    similarity : torch.Tensor of shape (B, N, M)

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._lac import inverse_distance_similarity
    >>> x = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    >>> inverse_distance_similarity(x, x, eps=1.0)
    tensor([[[1.0000, 0.5000],
             [0.5000, 1.0000]]])
    """
    eps = _positive(eps, "eps")
    # Row blocks: O(B N M) memory, not O(B N M D) (see squared_distances).
    d = squared_distances(x, y)
    return 1.0 / (d + eps)


def _gaussian_labels(px: torch.Tensor, py: torch.Tensor, my: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.exp(-(px[:, :, None] - py[:, None, :]).pow(2) / (2.0 * sigma**2)) * my[:, None, :]
    return g / g.sum(2, keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)


def _masked_log_softmax(logits: torch.Tensor, my: torch.Tensor) -> torch.Tensor:
    out = torch.log_softmax(logits.masked_fill(~my[:, None, :], float("-inf")), dim=2)
    return out.masked_fill(~my[:, None, :], 0.0)


def lac_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    positions_x: Any = None,
    positions_y: Any = None,
    mask_x: Any = None,
    mask_y: Any = None,
    gap_open: Any = 1.0,
    gap_extend: Any = 1.0,
    gamma: float = 0.8,
    temperature: float = 0.8,
    alpha: float = 0.01,
    beta: float = 1.0,
    sigma: float = 0.1,
    eps: float = 0.1,
) -> torch.Tensor:
    r"""Local-Alignment Contrastive loss (LAC, Eq. 2-8).

    With :math:`S_{12} = S(X, Y)` the inverted squared Euclidean distance
    (:func:`inverse_distance_similarity`) and :math:`S_{21} = S_{12}^\top`,
    the smooth affine Smith-Waterman score
    :math:`L_{sw12} = \mathrm{SW}(S_{12})` (Eq. 2-6,
    :func:`skalign.sequence.smith_waterman`, learnable gap penalties) and its
    primary score matrix :math:`D_{12}`; likewise :math:`L_{sw21}, D_{21}`.
    The Gaussian-weighted targets are
    :math:`y_{ij} = G(s^1_i - s^2_j) / \sum_k G(s^1_i - s^2_k)` with
    :math:`G(d) = e^{-d^2 / 2\sigma^2}` over the relative positions
    :math:`s` of the sampled frames in their videos. Then

    .. math::

        L_c &= -\frac{1}{T} \sum_{i,j} y_{ij}
               \log \operatorname{softmax}_j\big(\cos(z^1_i, z^2_j) / \tau\big)
               && \text{(Eq. 7)} \\
        L_l &= -\frac{1}{T} \sum_{i,j} y_{ij} \log \operatorname{softmax}_j(L_{ij}),
               \quad L = \tilde D_{12} \odot \tilde D_{21}^\top,
               \quad \tilde D = \operatorname{softmax}_j(D / \tau) \\
        L &= L_c + \alpha\big(L_l + \beta (L_{sw12} + L_{sw21})\big)
               && \text{(Eq. 8)}

    with :math:`T` the number of real frames of ``x``; the batch loss is the
    mean over pairs. The gradient flows through every term, into the
    embeddings and into the gap penalties.

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
        Embeddings of the frames of the first videos (gradients flow).
    y : torch.Tensor of shape (B, M, D)
        Embeddings of the frames of the second videos.
    positions_x : torch.Tensor of shape (B, N), default=None
        Relative positions in ``[0, 1)`` of the sampled frames of ``x`` in
        their videos; ``None`` spaces them evenly.
    positions_y : torch.Tensor of shape (B, M), default=None
        Likewise for ``y``.
    mask_x : torch.Tensor of bool of shape (B, N), default=None
        Real frames of ``x`` (a prefix).
    mask_y : torch.Tensor of bool of shape (B, M), default=None
        Real frames of ``y``.
    gap_open : float or torch.Tensor, default=1.0
        Gap-open penalty :math:`g^o`, a scalar or per cell; a tensor with
        ``requires_grad`` is learnt (the authors start at 1).
    gap_extend : float or torch.Tensor, default=1.0
        Gap-extend penalty :math:`g^e`, likewise.
    gamma : float, default=0.8
        Temperature of the smooth maximum of Smith-Waterman (LAC Table 4).
    temperature : float, default=0.8
        Softmax temperature :math:`\tau` (the authors' value).
    alpha : float, default=0.01
        Weight :math:`\alpha` of the local-alignment terms (Eq. 8).
    beta : float, default=1.0
        Weight :math:`\beta` of the Smith-Waterman scores (Eq. 8).
    sigma : float, default=0.1
        Standard deviation of :math:`G` in relative position (the authors'
        variance of 10 sampled steps out of about 32).
    eps : float, default=0.1
        Offset of the inverted distance.

    Returns
    -------
    loss : torch.Tensor
        A scalar, differentiable with respect to ``x``, ``y`` and the gap
        penalties.

    References
    ----------
    .. [1] K. Oei, A. Gomaa, A. M. Feit and J. Belo, "Self-supervised
       contrastive learning for videos using differentiable local
       alignment", 2025, Sec. 3.3-3.4, Eq. 2-8.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._lac import lac_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 12, 8, generator=g), dim=-1)
    >>> y = torch.nn.functional.normalize(torch.randn(2, 10, 8, generator=g), dim=-1)
    >>> gap = torch.tensor(1.0, requires_grad=True)
    >>> loss = lac_loss(x.requires_grad_(), y, gap_open=gap)
    >>> loss.backward()
    >>> bool(torch.isfinite(x.grad).all()), gap.grad is not None
    (True, True)
    """
    for value, name in ((gamma, "gamma"), (temperature, "temperature"), (sigma, "sigma")):
        _positive(value, name)
    alpha = _positive(alpha, "alpha", strict=False)
    beta = _positive(beta, "beta", strict=False)
    with pair_inputs(x, y, mask_x, mask_y) as (xf, yf, mx, my):
        px = _positions(positions_x, mx, "positions_x").to(xf)
        py = _positions(positions_y, my, "positions_y").to(xf)
        labels = _gaussian_labels(px, py, my, float(sigma))
        n_real = mx.sum(1).to(xf.dtype)
        xn = torch.nn.functional.normalize(xf, dim=-1)
        yn = torch.nn.functional.normalize(yf, dim=-1)
        log_p = _masked_log_softmax(xn @ yn.transpose(1, 2) / temperature, my)
        l_c = -(labels * log_p * mx[:, :, None]).sum((1, 2)) / n_real
        s12 = inverse_distance_similarity(xf, yf, eps)
        pair = mx[:, :, None] & my[:, None, :]
        s12 = torch.where(pair, s12, 0.0)
        go, ge = _penalty(gap_open, xf), _penalty(gap_extend, xf)
        sw12 = smith_waterman(s12, go, ge, gamma, mask_x=mx, mask_y=my)
        sw21 = smith_waterman(s12.transpose(1, 2), _t(go), _t(ge), gamma, mask_x=my, mask_y=mx)
        d12 = torch.where(pair, sw12.accumulated, 0.0)
        d21 = torch.where(pair.transpose(1, 2), sw21.accumulated, 0.0)
        dt12 = torch.exp(_masked_log_softmax(d12 / temperature, my)) * my[:, None, :]
        dt21 = torch.exp(_masked_log_softmax(d21 / temperature, mx)) * mx[:, None, :]
        logits = dt12 * dt21.transpose(1, 2)
        log_l = _masked_log_softmax(logits, my)
        l_l = -(labels * log_l * mx[:, :, None]).sum((1, 2)) / n_real
        per_pair = l_c + alpha * (l_l + beta * (sw12.value + sw21.value))
        return per_pair.mean()


def _positions(pos: Any, mask: torch.Tensor, name: str) -> torch.Tensor:
    B, T = mask.shape
    if pos is None:
        n = mask.sum(1, keepdim=True).to(torch.float64)
        return torch.arange(T, device=mask.device, dtype=torch.float64)[None, :] / n
    p = torch.as_tensor(pos, device=mask.device)
    if tuple(p.shape) != (B, T):
        raise ValueError(f"{name} must have shape {(B, T)}, got {tuple(p.shape)}.")
    return p


def _penalty(value: Any, like: torch.Tensor) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    return float(value)


def _t(value: Any) -> Any:
    """Per-cell penalties follow the transposed similarity of the reverse direction."""
    if isinstance(value, torch.Tensor) and value.ndim >= 2:
        return value.transpose(-1, -2)
    return value
