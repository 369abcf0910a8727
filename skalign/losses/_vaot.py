"""The VAOT self-supervised alignment loss (Ali et al., ICCV 2025, Eq. 5-6)."""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch
import torch.nn.functional as F

from ..ot import VIRTUAL_RULES, decode_matches, vaot
from ._common import pair_inputs

__all__ = ["vaot_loss", "VAOT_TARGETS"]

#: How the pseudo-labels are normalised, see :func:`vaot_loss`.
VAOT_TARGETS = ("paper", "authors")


def _pseudo_labels(
    x: torch.Tensor,
    y: torch.Tensor,
    mask_x: torch.Tensor,
    mask_y: torch.Tensor,
    solver: dict[str, Any],
    virtual: str | None,
    targets: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets ``Q`` (B, N, M), the rows that enter the loss (B, N) and the
    real frames of ``x`` not matched to the virtual frame (B, N)."""
    N, M = x.shape[1], y.shape[1]
    xd = F.normalize(x.detach(), dim=-1)
    yd = F.normalize(y.detach(), dim=-1)
    cost = 1.0 - xd @ yd.transpose(1, 2)
    padded = not (bool(mask_x.all()) and bool(mask_y.all()))
    plan = vaot(
        cost,
        mask_x=mask_x if padded else None,
        mask_y=mask_y if padded else None,
        virtual=virtual,
        **solver,
    ).plan
    if virtual is None:
        T = plan
        keep_x = mask_x & (T.sum(2) > 0)
        keep_y = mask_y
    else:
        T = plan[:, :N, :M]
        keep_x = mask_x & (decode_matches(plan) >= 0)
        keep_y = mask_y & (decode_matches(plan.transpose(1, 2)) >= 0)
    if targets == "authors":
        # Every row of the solved problem carries 1 / (its number of rows):
        # n + 1 with the virtual row appended ("cost"), else n. Scale rows
        # to one, keep the mass on real frames, drop nothing.
        n_rows = mask_x.sum(1).to(T.dtype) + (1.0 if virtual == "cost" else 0.0)
        return T * n_rows[:, None, None], mask_x, keep_x
    T = T * keep_x[:, :, None] * keep_y[:, None, :]
    mass = T.sum(2, keepdim=True)
    rows = keep_x & (mass[..., 0] > 0)
    return T / mass.clamp_min(torch.finfo(T.dtype).tiny), rows, keep_x


def _vaot_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    alpha: float = 0.3,
    radius: float = 0.02,
    epsilon: float = 0.07,
    rho: float = 0.35,
    zeta: float = 0.5,
    temperature: float = 0.1,
    virtual: str | None = "cost",
    max_iter: int = 25,
    targets: str = "paper",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss and the share of real frames of ``x`` not matched to the virtual frame."""
    if isinstance(temperature, bool) or not (isinstance(temperature, Real) and temperature > 0):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.")
    if virtual is not None and virtual not in VIRTUAL_RULES:
        raise ValueError(f"virtual must be one of {VIRTUAL_RULES} or None, got {virtual!r}.")
    if targets not in VAOT_TARGETS:
        raise ValueError(f"targets must be one of {VAOT_TARGETS}, got {targets!r}.")
    solver = dict(alpha=alpha, radius=radius, epsilon=epsilon, rho=rho, zeta=zeta, max_iter=max_iter)
    with pair_inputs(x, y, mask_x, mask_y) as (xf, yf, mx, my):
        with torch.no_grad():
            Q, keep, matched = _pseudo_labels(xf, yf, mx, my, solver, virtual, targets)
        logits = (xf @ yf.transpose(1, 2)) / float(temperature)
        cols = my[:, None, :]
        log_p = torch.log_softmax(logits.masked_fill(~cols, float("-inf")), dim=2)
        ce = -(Q * log_p.masked_fill(~cols, 0.0)).sum(2)              # (B, N)
        n_keep = keep.sum(1)
        per_pair = (ce * keep).sum(1) / n_keep.clamp_min(1)
        used = n_keep > 0
        if bool(used.any()):
            loss = per_pair[used].mean()
        else:
            loss = (logits * 0.0).sum()
        share = matched.sum().float() / mx.sum().float()
    return loss, share


def vaot_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    mask_x: Any = None,
    mask_y: Any = None,
    alpha: float = 0.3,
    radius: float = 0.02,
    epsilon: float = 0.07,
    rho: float = 0.35,
    zeta: float = 0.5,
    temperature: float = 0.1,
    virtual: str | None = "cost",
    max_iter: int = 25,
    targets: str = "paper",
) -> torch.Tensor:
    r"""Self-supervised VAOT loss between the frame embeddings of video pairs.

    For each pair, pseudo-labels :math:`T^*` are the VAOT plan
    (:func:`skalign.ot.vaot`) of the *detached* embeddings, with visual cost
    :math:`C_{ij} = 1 - \cos(x_i, y_j)` and the temporal prior
    :math:`\rho R` added inside the solver; no gradient flows through
    :math:`T^*`. The prediction is the row softmax of the similarities
    (Eq. 5),

    .. math:: P_{ij} = \frac{\exp(x_i \cdot y_j / \tau)}{\sum_{l=1}^{M} \exp(x_i \cdot y_l / \tau)},

    over the real (unpadded) frames of ``y``, and the loss is the
    cross-entropy (Eq. 6)

    .. math:: L = -\sum_{i=1}^{N} \sum_{j=1}^{M} T^*_{ij} \log P_{ij}.

    With ``targets="paper"`` (default) the frames matched to the virtual
    frame are left out, as the paper says: a row ``i`` whose largest entry
    in the augmented plan is in the virtual column, and a column ``j`` whose
    largest entry is in the virtual row, are removed from :math:`T^*`
    (padded frames too), and the virtual row and column are dropped. Each
    remaining row is scaled to sum to one; the loss of a pair is the mean
    over its remaining rows, i.e. Eq. 6 with the rows of :math:`T^*`
    summing to :math:`1/N'` over the :math:`N'` kept frames, as the paper's
    balanced plan has rows summing to :math:`1/N`. The batch loss is the
    mean over the pairs that keep at least one frame.

    ``targets="authors"`` reproduces the authors' training code instead:
    the real block of the plan scaled by the number of rows of the solved
    problem (``N + 1`` with ``virtual="cost"``, so each row of the augmented
    plan sums to one; ``N`` otherwise), every real frame of
    ``x`` kept with the mass it sends to real frames of ``y`` (what it sends
    to the virtual frame is dropped, nothing is left out), averaged over the
    real frames of ``x`` (the authors average over the padded length).

    Both use the direction ``x -> y`` only, as Eq. 5-6 and the authors' code
    do; pairs are drawn in both orders during training.

    Parameters
    ----------
    x : torch.Tensor of shape (B, N, D)
        Embeddings of the frames of the first videos (gradients flow).
    y : torch.Tensor of shape (B, M, D)
        Embeddings of the frames of the second videos (gradients flow).
    mask_x : torch.Tensor of bool of shape (B, N), default=None
        Real frames of ``x`` (a prefix of each row); padded frames are left
        out of the solver and of the loss.
    mask_y : torch.Tensor of bool of shape (B, M), default=None
        Real frames of ``y``, likewise.
    alpha : float, default=0.3
        Weight of the structural (Gromov-Wasserstein) term of VAOT.
    radius : float, default=0.02
        Relative radius of the structural priors (Eq. 4).
    epsilon : float, default=0.07
        Entropic regularisation of the pseudo-label solver (training value
        of the paper).
    rho : float, default=0.35
        Weight of the temporal prior ``R_ij = |i/N - j/M|``.
    zeta : float, default=0.5
        Cost of (``virtual="cost"``) or threshold for (``"threshold"``) the
        virtual frame; see :func:`skalign.ot.vaot`.
    temperature : float, default=0.1
        Temperature :math:`\tau` of the softmax in Eq. 5.
    virtual : {"cost", "threshold"} or None, default="cost"
        Rule of the virtual frame; ``None`` keeps every frame.
    max_iter : int, default=25
        Outer iterations of the solver.
    targets : {"paper", "authors"}, default="paper"
        Normalisation of the pseudo-labels and handling of unmatched frames,
        see above.

    Returns
    -------
    loss : torch.Tensor
        A scalar tensor, differentiable with respect to ``x`` and ``y``:
        float64 for float64 input, else float32 (also under
        ``torch.autocast``).

    Notes
    -----
    Eq. 5 uses the dot product :math:`X Y^\top`; it equals the cosine
    similarity of the visual cost for L2-normalised embeddings, which every
    skalign encoder outputs by default.

    References
    ----------
    .. [1] Ali, Mahmood, Saeed, Konin, Zia, Tran, "Joint Self-Supervised
       Video Alignment and Action Segmentation", ICCV 2025, Sec. 3.1.2
       (virtual frame) and Sec. 3.1.3, Eq. 5-6.

    Examples
    --------
    >>> import torch
    >>> from skalign.losses import vaot_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 12, 8, generator=g), dim=-1)
    >>> y = torch.nn.functional.normalize(torch.randn(2, 10, 8, generator=g), dim=-1)
    >>> _ = x.requires_grad_()
    >>> loss = vaot_loss(x, y)
    >>> loss.backward()
    >>> loss.ndim, bool(torch.isfinite(x.grad).all())
    (0, True)
    """
    loss, _ = _vaot_loss(
        x, y, mask_x=mask_x, mask_y=mask_y, alpha=alpha, radius=radius, epsilon=epsilon,
        rho=rho, zeta=zeta, temperature=temperature, virtual=virtual, max_iter=max_iter,
        targets=targets,
    )
    return loss
