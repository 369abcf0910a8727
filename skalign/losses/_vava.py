"""The VAVA loss (Liu et al., CVPR 2022): OT with temporal priors and a virtual frame."""

from __future__ import annotations

import math
from typing import Any

import torch

from ._common import _positive, pair_inputs, squared_distances

__all__ = ["vava_loss", "vava_plan", "vava_psi"]


def vava_psi(step: int, decay: float = 0.999) -> float:
    r"""The mixture weight :math:`\psi` of VAVA's priors after ``step`` training steps.

    :math:`\psi` starts at (almost) one and decays as
    :math:`\psi = \mathrm{decay}^{\lfloor\sqrt{\mathrm{step} + 1}\rfloor}`,
    clipped to ``[0.001, 0.999]``, as in the VAVA authors' code: the
    optimality prior, built from the learnt alignment, gains weight as
    training goes on (VAVA Eq. 8).

    Parameters
    ----------
    step : int
        Training steps done so far (>= 0).
    decay : float, default=0.999
        Base of the decay, in (0, 1].

    Returns
    -------
    psi : float

    Examples
    --------
    >>> from skalign.losses._vava import vava_psi
    >>> vava_psi(0), round(vava_psi(9999), 4)
    (0.999, 0.9048)
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step!r}.")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay!r}.")
    return float(min(0.999, max(0.001, decay ** int(math.sqrt(step + 1.0)))))


def _priors(cost: torch.Tensor, psi: float, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Log prior ``log P`` (Eq. 4-8) and IDM weights ``S`` (Eq. 9-11) of the real block (N, M)."""
    N, M = cost.shape
    dt = cost.dtype
    i = torch.arange(1, N + 1, dtype=dt, device=cost.device)[:, None]
    j = torch.arange(1, M + 1, dtype=dt, device=cost.device)[None, :]
    c = cost.detach()
    jo = (c.argmin(1).to(dt) + 1)[:, None]        # best column of each row
    io = (c.argmin(0).to(dt) + 1)[None, :]        # best row of each column
    scale = math.sqrt(1.0 / N**2 + 1.0 / M**2)
    l_c = (i / N - j / M).abs() / scale                                    # Eq. 5
    l_o = ((i - io).abs() / N + (j - jo).abs() / M) / (2.0 * scale)         # Eq. 7
    norm = -math.log(sigma * math.sqrt(2.0 * math.pi))
    log_pc = norm - l_c**2 / (2.0 * sigma**2)                              # Eq. 4
    log_po = norm - l_o**2 / (2.0 * sigma**2)                              # Eq. 6
    if psi >= 1.0:
        log_p = log_pc
    elif psi <= 0.0:
        log_p = log_po
    else:
        log_p = torch.logaddexp(math.log(psi) + log_pc, math.log1p(-psi) + log_po)  # Eq. 8
    s_c = 1.0 / ((i / (N + 1) - j / (M + 1)) ** 2 + 1.0)                   # Eq. 9
    d_o = ((i - io) / (N + 1)) ** 2 + ((j - jo) / (M + 1)) ** 2
    s_o = 1.0 / (0.5 * d_o + 1.0)                                          # Eq. 10
    return log_p, psi * s_c + (1.0 - psi) * s_o                            # Eq. 8, 11


def _augmented(
    cost: torch.Tensor, psi: float, sigma: float, zeta: float, virtual: bool, priors: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cost, log prior (normalised to sum one) and IDM weights, with the virtual row and column."""
    N, M = cost.shape
    if priors:
        log_p, s = _priors(cost, psi, sigma)
    else:
        log_p, s = torch.zeros_like(cost), torch.zeros_like(cost)
    if virtual:
        # The virtual frame costs zeta and follows no temporal prior: a flat
        # prior at the mean of the real block, no IDM weight.
        flat = torch.logsumexp(log_p.reshape(-1), 0) - math.log(N * M)
        c = cost.new_full((N + 1, M + 1), float(zeta))
        c[:N, :M] = cost
        lp = flat.expand(N + 1, M + 1).clone()
        lp[:N, :M] = log_p
        sv = s.new_zeros((N + 1, M + 1))
        sv[:N, :M] = s
        cost, log_p, s = c, lp, sv
    log_p = log_p - torch.logsumexp(log_p.reshape(-1), 0)
    return cost, log_p, s


def _sinkhorn_log(log_k: torch.Tensor, max_iter: int) -> torch.Tensor:
    """Plan ``diag(u) K diag(v)`` with uniform marginals, log domain, unrolled (differentiable)."""
    n, m = log_k.shape
    log_a = torch.full((n,), -math.log(n), dtype=log_k.dtype, device=log_k.device)
    log_b = torch.full((m,), -math.log(m), dtype=log_k.dtype, device=log_k.device)
    f = torch.zeros_like(log_a)
    g = torch.zeros_like(log_b)
    for _ in range(max_iter):
        f = log_a - torch.logsumexp(log_k + g[None, :], 1)
        g = log_b - torch.logsumexp(log_k + f[:, None], 0)
    return torch.exp(f[:, None] + log_k + g[None, :])


def _pair_terms(
    cost: torch.Tensor, *, psi: float, sigma: float, zeta: float, lambda1: float, lambda2: float,
    virtual: bool, priors: bool, max_iter: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 13 at the optimal plan, and the plan (augmented when ``virtual``)."""
    c, log_p, s = _augmented(cost, psi, sigma, zeta, virtual, priors)
    lam1 = lambda1 if priors else 0.0
    plan = _sinkhorn_log(log_p + (lam1 * s - c) / lambda2, max_iter)
    tiny = torch.finfo(plan.dtype).tiny
    kl = (plan * (torch.log(plan.clamp_min(tiny)) - log_p)).sum()           # Eq. 12
    value = (plan * c).sum() - lam1 * (plan * s).sum() + lambda2 * kl        # Eq. 13
    return value, plan


def vava_plan(
    cost: torch.Tensor,
    *,
    psi: float = 1.0,
    sigma: float = 2.0,
    zeta: float = 0.5,
    lambda1: float = 1.0,
    lambda2: float = 0.1,
    virtual: bool = True,
    priors: bool = True,
    max_iter: int = 20,
) -> torch.Tensor:
    r"""VAVA's transport plan between two videos (Eq. 3-13), virtual frame last.

    Minimises Eq. 13 over the couplings :math:`\hat T` with uniform
    marginals of the cost augmented by a virtual row and column of cost
    :math:`\zeta`:

    .. math::

        \min_{\hat T} \langle \hat T, \hat D \rangle - \lambda_1 I(\hat T)
        + \lambda_2 \mathrm{KL}(\hat T \,\|\, \hat P),

    with :math:`I(\hat T) = \sum_{ij} t_{ij} S_{ij}` the mixture (Eq. 11) of
    the inverse difference moments of the consistency (Eq. 9) and
    optimality (Eq. 10) priors and :math:`\hat P` the Gaussian mixture of
    the two priors (Eq. 4-8), normalised to sum to one. The objective is
    linear plus a KL term, so the optimum is the Sinkhorn scaling of the
    kernel :math:`\hat P \odot \exp((\lambda_1 S - \hat D) / \lambda_2)`.
    The optimality prior centres on the best match of each row and column
    under the cost (the authors' choice); the virtual entries follow no
    prior (a flat one, at the mean of the real block) and have
    :math:`S = 0`.

    Parameters
    ----------
    cost : torch.Tensor of shape (N, M)
        Frame distances :math:`D`.
    psi : float, default=1.0
        Weight :math:`\psi` of the consistency prior (Eq. 8, 11); ``1``
        gives the consistency prior only.
    sigma : float, default=2.0
        Standard deviation of the Gaussian priors (the authors' ``delta``).
    zeta : float, default=0.5
        Cost of the virtual frame (the authors' value).
    lambda1 : float, default=1.0
        Weight of the IDM term.
    lambda2 : float, default=0.1
        Weight of the KL term (the entropic regularisation).
    virtual : bool, default=True
        Append the virtual frame.
    priors : bool, default=True
        ``False`` drops both priors (uniform :math:`\hat P`, no IDM): plain
        entropic OT with regularisation :math:`\lambda_2`.
    max_iter : int, default=20
        Sinkhorn iterations (the authors' value).

    Returns
    -------
    plan : torch.Tensor of shape (N + 1, M + 1) or (N, M)
        The coupling (sums to one), differentiable with respect to ``cost``.

    References
    ----------
    .. [1] W. Liu, B. Tekin, H. Coskun, V. Vineet, P. Fua, M. Pollefeys,
       "Learning to Align Sequential Actions in the Wild", CVPR 2022,
       Sec. 3.2-3.4, Eq. 3-13.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._vava import vava_plan
    >>> t = torch.linspace(0, 1, 6)
    >>> cost = (t[:, None] - t[None, :]) ** 2
    >>> plan = vava_plan(cost, lambda2=0.01, max_iter=200)
    >>> plan.shape, plan[:6, :6].argmax(1).tolist()
    (torch.Size([7, 7]), [0, 1, 2, 3, 4, 5])
    """
    _check_vava(psi, sigma, lambda1, lambda2, max_iter)
    if not isinstance(cost, torch.Tensor) or cost.ndim != 2:
        raise ValueError(f"cost must be a torch.Tensor of shape (N, M), got {getattr(cost, 'shape', type(cost))}.")
    return _pair_terms(
        cost, psi=float(psi), sigma=float(sigma), zeta=float(zeta), lambda1=float(lambda1),
        lambda2=float(lambda2), virtual=bool(virtual), priors=bool(priors), max_iter=int(max_iter),
    )[1]


def _check_vava(psi: Any, sigma: Any, lambda1: Any, lambda2: Any, max_iter: Any) -> None:
    if not (isinstance(psi, (int, float)) and 0.0 <= psi <= 1.0):
        raise ValueError(f"psi must be a number in [0, 1], got {psi!r}.")
    _positive(sigma, "sigma")
    _positive(lambda1, "lambda1", strict=False)
    _positive(lambda2, "lambda2")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}.")


def _intra(x: torch.Tensor, delta: float, margin: float) -> torch.Tensor:
    """Eq. 14, averaged over the pairs of frames."""
    n = x.shape[0]
    d = torch.sqrt(squared_distances(x, x) + 1e-12)
    idx = torch.arange(n, dtype=x.dtype, device=x.device)
    gap = idx[:, None] - idx[None, :]
    w = gap.pow(2) + 1.0
    far = gap.abs() > delta
    return torch.where(far, w * torch.relu(margin - d), w * d).mean()


def _inter(x: torch.Tensor, y: torch.Tensor, plan: torch.Tensor) -> torch.Tensor:
    """Eq. 15 on the real block of the plan, averaged over rows and columns."""
    n, m = x.shape[0], y.shape[0]
    t = plan[:n, :m].detach()
    d = torch.sqrt(squared_distances(x, y) + 1e-12)
    rows = torch.arange(n, device=x.device)
    cols = torch.arange(m, device=x.device)
    by_row = d[rows, t.argmax(1)] - d[rows, t.argmin(1)]
    by_col = d[t.argmax(0), cols] - d[t.argmin(0), cols]
    return by_row.mean() + by_col.mean()


def vava_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    psi: float = 1.0,
    sigma: float = 2.0,
    zeta: float = 0.5,
    lambda1: float = 1.0,
    lambda2: float = 0.1,
    contrastive_weight: float = 0.5,
    delta: float = 15.0,
    margin: float = 2.0,
    virtual: bool = True,
    priors: bool = True,
    max_iter: int = 20,
) -> torch.Tensor:
    r"""Variation-aware video alignment loss (VAVA, Eq. 3-17).

    For each pair, with :math:`D_{ij} = \lVert x_i - y_j \rVert^2` and the
    optimal plan :math:`\hat T` of :func:`vava_plan` (virtual frame, priors
    mixed with weight :math:`\psi`),

    .. math::

        L_{vava} &= \langle \hat T, \hat D \rangle - \lambda_1 I(\hat T)
                    + \lambda_2 \mathrm{KL}(\hat T \,\|\, \hat P)
                    && \text{(Eq. 13)} \\
        L_{cr} &= C(X) + C(Y) + C(X, Y) && \text{(Eq. 16)} \\
        L_{all} &= L_{vava} + \gamma L_{cr} && \text{(Eq. 17)}

    where :math:`C(X)` is the intra-video contrastive term (Eq. 14; window
    :math:`\delta`, margin :math:`\lambda_3`, Euclidean distances, averaged
    over the pairs of frames) and :math:`C(X, Y)` the inter-video term
    (Eq. 15): for each row and each column of the plan, the distance of the
    pair with the largest entry minus that of the pair with the smallest,
    averaged. The gradient flows through the unrolled Sinkhorn iterations
    into :math:`L_{vava}`; the pairs of Eq. 15 are picked on the detached
    plan. The batch loss is the mean over pairs (padded frames are dropped).

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
    psi : float, default=1.0
        Weight of the consistency prior; it decays during training
        (:func:`vava_psi`).
    sigma : float, default=2.0
        Standard deviation of the priors (Eq. 4, 6).
    zeta : float, default=0.5
        Cost of the virtual frame.
    lambda1 : float, default=1.0
        Weight :math:`\lambda_1` of the IDM term.
    lambda2 : float, default=0.1
        Weight :math:`\lambda_2` of the KL term.
    contrastive_weight : float, default=0.5
        Weight :math:`\gamma` of the contrastive regularisation (Eq. 17;
        the authors weigh the intra-video terms by 0.5).
    delta : float, default=15.0
        Window :math:`\delta` of Eq. 14, in frames.
    margin : float, default=2.0
        Margin :math:`\lambda_3` of Eq. 14.
    virtual : bool, default=True
        Use the virtual frame.
    priors : bool, default=True
        Use the temporal priors (``False``: plain entropic OT).
    max_iter : int, default=20
        Sinkhorn iterations.

    Returns
    -------
    loss : torch.Tensor
        A scalar, differentiable with respect to ``x`` and ``y``.

    Notes
    -----
    The paper gives no values for its weights; the defaults are those of
    the authors' code where it has them (``lambda1``, ``lambda2``,
    ``zeta``, ``sigma``, ``delta``, ``margin``, ``max_iter``), without its
    rescaling of the weights by the sequence lengths.

    References
    ----------
    .. [1] W. Liu, B. Tekin, H. Coskun, V. Vineet, P. Fua, M. Pollefeys,
       "Learning to Align Sequential Actions in the Wild", CVPR 2022,
       Sec. 3.2-3.4, Eq. 3-17.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses._vava import vava_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 12, 8, generator=g), dim=-1)
    >>> y = torch.nn.functional.normalize(torch.randn(2, 10, 8, generator=g), dim=-1)
    >>> _ = x.requires_grad_()
    >>> loss = vava_loss(x, y, psi=0.5)
    >>> loss.backward()
    >>> loss.ndim, bool(torch.isfinite(x.grad).all())
    (0, True)
    """
    _check_vava(psi, sigma, lambda1, lambda2, max_iter)
    gamma = _positive(contrastive_weight, "contrastive_weight", strict=False)
    delta = _positive(delta, "delta", strict=False)
    margin = _positive(margin, "margin", strict=False)
    with pair_inputs(x, y, mask_x, mask_y) as (xf, yf, mx, my):
        B = xf.shape[0]
        total = xf.new_zeros(())
        for b in range(B):
            xb, yb = xf[b, : int(mx[b].sum())], yf[b, : int(my[b].sum())]
            cost = squared_distances(xb, yb)
            value, plan = _pair_terms(
                cost, psi=float(psi), sigma=float(sigma), zeta=float(zeta), lambda1=float(lambda1),
                lambda2=float(lambda2), virtual=bool(virtual), priors=bool(priors),
                max_iter=int(max_iter),
            )
            reg = _intra(xb, delta, margin) + _intra(yb, delta, margin) + _inter(xb, yb, plan)
            total = total + value + gamma * reg
        return total / B
