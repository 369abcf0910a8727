"""The ASOT self-supervised action-segmentation loss (Xu & Gould, CVPR 2024;
Ali et al., ICCV 2025, Eq. 7)."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F

from ..ot import asot
from ._common import _check_mask, _positive

__all__ = ["asot_loss"]


def _check_inputs(x: Any, actions: Any, mask: Any) -> torch.Tensor:
    """Check the shapes; return the frame mask (B, N) as bool."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, n_frames, embedding_dim), got {tuple(x.shape)}.")
    if not torch.is_floating_point(x):
        raise ValueError(f"x must be floating point, got {x.dtype}.")
    if x.shape[1] == 0:
        raise ValueError(f"x has no frames (shape {tuple(x.shape)}).")
    if not isinstance(actions, torch.Tensor):
        raise ValueError(f"actions must be a torch.Tensor, got {type(actions).__name__}.")
    if actions.ndim != 2 or actions.shape[0] == 0:
        raise ValueError(
            f"actions must have shape (n_actions, embedding_dim) with n_actions >= 1, got "
            f"{tuple(actions.shape)}."
        )
    if not torch.is_floating_point(actions):
        raise ValueError(f"actions must be floating point, got {actions.dtype}.")
    if actions.shape[1] != x.shape[2]:
        raise ValueError(
            f"actions have embeddings of size {actions.shape[1]}, but x has {x.shape[2]}."
        )
    if actions.device != x.device:
        raise ValueError(
            f"x and actions must be on the same device, got {x.device} and {actions.device}."
        )
    return _check_mask(mask, tuple(x.shape[:2]), "mask", x.device)


def asot_pseudo_labels(
    sim: torch.Tensor,
    mask: torch.Tensor,
    *,
    alpha: float,
    radius: float,
    epsilon: float,
    rho: float,
    lambda_actions: float | None,
    max_iter: int,
) -> torch.Tensor:
    """ASOT plan of the cost ``1 - sim`` with rows scaled to sum to one.

    ``sim`` (B, N, K) holds the cosine similarities of frames and actions;
    padded frames (``mask`` False) get all-zero rows. No gradient is
    tracked.
    """
    with torch.no_grad():
        cost = 1.0 - sim.detach()
        padded = not bool(mask.all())
        plan = asot(
            cost, alpha=alpha, radius=radius, epsilon=epsilon, rho=rho,
            lambda_actions=lambda_actions, mask_x=mask if padded else None, max_iter=max_iter,
        ).plan
        rows = plan.sum(2, keepdim=True)
        return torch.where(rows > 0, plan / rows.clamp_min(torch.finfo(plan.dtype).tiny), 0.0)


def _asot_loss(
    x: torch.Tensor,
    actions: torch.Tensor,
    *,
    mask: Any = None,
    alpha: float = 0.3,
    radius: float = 0.04,
    epsilon: float = 0.07,
    rho: float = 0.2,
    lambda_actions: float | None = 0.1,
    temperature: float = 0.1,
    max_iter: int = 25,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss and the number of actions the pseudo-labels use (argmax)."""
    m = _check_inputs(x, actions, mask)
    temperature = _positive(temperature, "temperature")
    if isinstance(max_iter, bool) or not (isinstance(max_iter, Integral) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}.")
    with torch.autocast(device_type=x.device.type, enabled=False):
        xf = x if x.dtype == torch.float64 else x.float()
        af = actions.to(xf.dtype)
        sim = F.normalize(xf, dim=-1) @ F.normalize(af, dim=-1).T          # (B, N, K)
        Q = asot_pseudo_labels(
            sim, m, alpha=alpha, radius=radius, epsilon=epsilon, rho=rho,
            lambda_actions=lambda_actions, max_iter=int(max_iter),
        )
        log_p = torch.log_softmax(sim / temperature, dim=2)
        ce = -(Q * log_p).sum(2)                                            # (B, N)
        loss = (ce * m).sum() / m.sum()
        labels = Q.argmax(2)[m]
        n_used = torch.unique(labels).numel()
    return loss, torch.tensor(float(n_used))


def asot_loss(
    x: torch.Tensor,
    actions: torch.Tensor,
    *,
    mask: Any = None,
    alpha: float = 0.3,
    radius: float = 0.04,
    epsilon: float = 0.07,
    rho: float = 0.2,
    lambda_actions: float | None = 0.1,
    temperature: float = 0.1,
    max_iter: int = 25,
) -> torch.Tensor:
    r"""Self-supervised ASOT loss between frame embeddings and action embeddings.

    For each video, the pseudo-labels :math:`T^*` are the ASOT plan
    (:func:`skalign.ot.asot`) of the cost

    .. math:: C_{ik} = 1 - \cos(x_i, a_k) + \rho R_{ik}, \qquad R_{ik} = |i/N - k/K|,

    computed on *detached* embeddings (no gradient flows through
    :math:`T^*`), with each row scaled to sum to one (the balanced plan's
    rows sum to :math:`1/N`). The prediction is the softmax over actions of
    the cosine similarities divided by the temperature,

    .. math:: P_{ik} = \frac{\exp(\cos(x_i, a_k) / \tau)}{\sum_{l=1}^{K} \exp(\cos(x_i, a_l) / \tau)},

    and the loss is the cross-entropy averaged over the real frames of the
    batch,

    .. math:: L = -\frac{1}{\sum_b N_b} \sum_b \sum_{i=1}^{N_b} \sum_{k=1}^{K} T^*_{ik} \log P_{ik}.

    This is :math:`\mathcal{L}_{xa}` of VASOT's Eq. 7 and the training
    objective of ASOT.

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
        Frame embeddings (gradients flow).
    actions : torch.Tensor of shape (K, D)
        Action embeddings shared by all videos (gradients flow).
    mask : torch.Tensor of bool of shape (B, N), default=None
        Real frames of ``x`` (a prefix of each row); padded frames are left
        out of the solver and of the loss.
    alpha : float, default=0.3
        Weight of the structural (Gromov-Wasserstein) term of ASOT.
    radius : float, default=0.04
        Relative radius of the frame band prior.
    epsilon : float, default=0.07
        Entropic regularisation of the pseudo-label solver.
    rho : float, default=0.2
        Weight of the temporal prior ``R``.
    lambda_actions : float or None, default=0.1
        KL weight of the unbalanced action marginal; None balances actions.
    temperature : float, default=0.1
        Temperature :math:`\tau` of the softmax.
    max_iter : int, default=25
        Mirror-descent iterations of the solver.

    Returns
    -------
    loss : torch.Tensor
        A scalar tensor, differentiable with respect to ``x`` and
        ``actions``: float64 for float64 input, else float32 (also under
        ``torch.autocast``).

    References
    ----------
    .. [1] Xu, Gould, "Temporally Consistent Unbalanced Optimal Transport
       for Unsupervised Action Segmentation", CVPR 2024, Sec. 3-4.
    .. [2] Ali, Mahmood, Saeed, Konin, Zia, Tran, "Joint Self-Supervised
       Video Alignment and Action Segmentation", ICCV 2025, Sec. 3.2, Eq. 7.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._asot import asot_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2, 20, 8, generator=g, requires_grad=True)
    >>> actions = torch.randn(3, 8, generator=g, requires_grad=True)
    >>> loss = asot_loss(x, actions)
    >>> loss.backward()
    >>> loss.ndim, bool(torch.isfinite(x.grad).all()), actions.grad.shape
    (0, True, torch.Size([3, 8]))
    """
    loss, _ = _asot_loss(
        x, actions, mask=mask, alpha=alpha, radius=radius, epsilon=epsilon, rho=rho,
        lambda_actions=lambda_actions, temperature=temperature, max_iter=max_iter,
    )
    return loss
