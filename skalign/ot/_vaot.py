"""VAOT: video alignment optimal transport (Ali et al., ICCV 2025, Sec. 3.1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..utils import small_work_on_one_thread
from ._fgw import check_solver_options, fgw_solve
from ._priors import temporal_prior_batch
from ._result import OTResult
from ._validation import Problem, check_lambda, check_positive, finish, prepare

__all__ = ["vaot", "decode_matches", "VIRTUAL_RULES"]

#: How unmatched (background, redundant) frames are found.
VIRTUAL_RULES = ("cost", "threshold")


def _prior_cost_into(problem: Problem, rho: float, out: torch.Tensor) -> torch.Tensor:
    """``out = C + rho R`` on each valid block, 0 on padding, with
    ``R[i, j] = |i / n - j / m|`` from each problem's own lengths (no
    temporaries of the problem's size)."""
    C = problem.cost
    B, N, M = C.shape
    if rho > 0:
        temporal_prior_batch(problem.n, problem.m, N, M, C.dtype, C.device, out=out)
        torch.add(C, out, alpha=rho, out=out)
        if problem.masked:
            out.masked_fill_(~problem.valid, 0.0)
    else:
        out.copy_(C)
    return out


def _with_prior(problem: Problem, rho: float) -> Problem:
    """The problem with cost ``C + rho R``."""
    if rho == 0:
        return problem
    C = _prior_cost_into(problem, rho, torch.empty_like(problem.cost))
    return Problem(C, problem.n, problem.m, problem.mask_x, problem.mask_y, problem.batched, problem.from_numpy)


def _augment(problem: Problem, zeta: float, rho: float) -> Problem:
    """Cost ``C + rho R`` with the virtual frame appended as the last row and
    column, cost ``zeta``."""
    C = problem.cost
    B, N, M = C.shape
    aug = torch.empty((B, N + 1, M + 1), dtype=C.dtype, device=C.device)
    aug[:, N, :] = float(zeta)
    aug[:, :N, M] = float(zeta)
    _prior_cost_into(problem, rho, aug[:, :N, :M])
    true = torch.ones((B, 1), dtype=torch.bool, device=C.device)
    mx = torch.cat([problem.mask_x, true], 1)
    my = torch.cat([problem.mask_y, true], 1)
    return Problem(aug, problem.n + 1, problem.m + 1, mx, my, problem.batched, problem.from_numpy)


def _threshold_plan(T: torch.Tensor, zeta: float) -> torch.Tensor:
    """Augmented plan of the paper's rule: frames whose every assignment
    probability is below ``zeta`` go to the virtual frame with their mass."""
    row_mass = T.sum(2)
    col_mass = T.sum(1)
    tiny = torch.finfo(T.dtype).tiny
    row_prob = T.amax(2) / row_mass.clamp_min(tiny)
    col_prob = T.amax(1) / col_mass.clamp_min(tiny)
    out_x = (row_prob < zeta) & (row_mass > 0)
    out_y = (col_prob < zeta) & (col_mass > 0)
    keep = (~out_x)[:, :, None] & (~out_y)[:, None, :]
    B, N, M = T.shape
    aug = torch.zeros((B, N + 1, M + 1), dtype=T.dtype, device=T.device)
    aug[:, :N, :M] = torch.where(keep, T, torch.zeros((), dtype=T.dtype, device=T.device))
    aug[:, :N, M] = torch.where(out_x, row_mass, torch.zeros_like(row_mass))
    aug[:, N, :M] = torch.where(out_y, col_mass, torch.zeros_like(col_mass))
    return aug


@small_work_on_one_thread
def vaot(
    cost: Any,
    *,
    alpha: float = 0.3,
    radius: float = 0.02,
    epsilon: float,
    rho: float = 0.35,
    zeta: float = 0.5,
    virtual: str | None = "cost",
    lambda_y: float | None = None,
    mask_x: Any = None,
    mask_y: Any = None,
    max_iter: int = 25,
    tol: float = 1e-9,
    inner_max_iter: int = 10,
    inner_tol: float = 1e-6,
    step_size: float | str | None = None,
    convention: str = "paper",
    marginal_tol: float = 1e-4,
) -> OTResult:
    r"""Video alignment optimal transport (VAOT).

    The balanced fused Gromov-Wasserstein problem of VAOT (Eq. 3-4) between
    the frames of two videos, with the temporal prior added to the cost,
    :math:`\tilde C = C + \rho R`, :math:`R_{ij} = |i/N - j/M|` (Sec. 3.1.3),
    the band prior :math:`C^x` on the first video and the complement-of-band
    prior :math:`C^y` on the second, and a virtual frame that takes the
    background and redundant frames (Sec. 3.1.2).

    Two rules for the virtual frame:

    - ``virtual="cost"`` (default; the authors' code): a virtual row and
      column of cost ``zeta`` are appended and the balanced problem is solved
      with uniform marginals over ``N + 1`` and ``M + 1`` frames. The virtual
      frame is outside the structural priors. A frame is unmatched when its
      largest assignment is to the virtual frame.
    - ``virtual="threshold"`` (the paper's wording): the ``N x M`` problem is
      solved; a frame whose assignment probability (its row of the plan
      normalised to sum to one) to every frame of the other video is below
      ``zeta`` is given to the virtual frame, with its mass.
    - ``virtual=None``: no virtual frame; the plain ``(N, M)`` plan.

    ``benchmarks/bench_ot.py`` (last section) measures both rules on
    synthetic videos with background frames. With the cost rule the virtual
    frame holds the mass of one frame only (uniform marginals over N + 1 and
    M + 1), so it takes few frames when plans are sharp; the threshold rule
    depends on how diffuse rows are. Neither recovered much background in
    that benchmark (recall <= 0.02); the cost rule is the default because it
    is what the authors trained with.

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Visual cost, e.g. ``1 - cos(x_i, y_j)`` (VAOT Sec. 3.1.2).
    alpha : float, default=0.3
        Weight of the GW (structural) term.
    radius : float, default=0.02
        Relative radius ``r`` of the priors (Eq. 4).
    epsilon : float
        Entropic regularisation (the papers use 0.07 to train, 0.04 to align).
    rho : float, default=0.35
        Weight of the temporal prior; 0 removes it.
    zeta : float, default=0.5
        Cost of the virtual frame (``"cost"``) or probability threshold
        (``"threshold"``).
    virtual : {"cost", "threshold"} or None, default="cost"
        Rule for the virtual frame, see above.
    lambda_y : float or None, default=None
        None (the paper) keeps the second video's marginal uniform: every
        frame of it receives the same mass. A positive value replaces that
        constraint with the penalty ``lambda_y KL(T^T 1 || b)``
        (semi-relaxed transport; the first video stays balanced, so each of
        its frames is still matched). A phase that lasts longer in the first
        video than in the second then maps onto that phase instead of
        spilling into its neighbours; smaller values relax more. With the
        cost rule the virtual column keeps its mass (that of one frame):
        only the real frames are relaxed. Needs ``step_size=None`` with
        the cost rule.
    mask_x, mask_y : array-like of bool, default=None
        Valid frames of padded videos (a prefix of each row); the radius and
        the temporal prior use each video's own length.
    max_iter, tol, inner_max_iter, inner_tol, step_size, convention
        Solver options, see :func:`structured_fgw`.
    marginal_tol : float, default=1e-4
        Tolerance on the marginals of the returned (augmented) plan, L1
        error of the balanced sides relative to the total mass (absolute
        for the unit mass used here); ``converged`` is True only when they
        hold. See :func:`structured_fgw`. A cost far from zero is shifted
        internally, the virtual frame's ``zeta`` with it (the balanced plan
        does not change); keep ``(1 - alpha) (max C - min C) / epsilon``
        below about 1e3, e.g. ``epsilon >= 2e-3`` for a ``1 - cos`` cost:
        beyond it plans are not reliable, ``converged`` is False and
        ``message`` says why.

    Returns
    -------
    OTResult
        ``plan`` of shape ``(N + 1, M + 1)`` (``(B, N + 1, M + 1)`` for a
        batch) with the virtual frame last, or ``(N, M)`` when
        ``virtual=None``. Decode it with :func:`decode_matches`.
        ``converged`` is False (and ``message`` says why) when the plan
        still changed at ``max_iter`` or its marginals do not hold.

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 3.1, Eq. 3-6.
    .. [2] Liu et al., "Learning to Align Sequential Actions in the Wild",
       CVPR 2022 (temporal prior, virtual frame).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.ot import vaot, decode_matches
    >>> t = np.linspace(0, 1, 20)
    >>> cost = np.abs(t[:, None] - t[None, :])
    >>> res = vaot(cost, epsilon=0.01)
    >>> res.plan.shape
    (21, 21)
    >>> decode_matches(res.plan)[:8]
    array([0, 1, 2, 3, 4, 5, 6, 7])
    """
    problem = prepare(cost, mask_x, mask_y)
    alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol = check_solver_options(
        alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol, step_size, convention
    )
    if not (isinstance(rho, (int, float, np.floating, np.integer)) and np.isfinite(rho) and rho >= 0):
        raise ValueError(f"rho must be a finite number >= 0, got {rho!r}.")
    if not (isinstance(zeta, (int, float, np.floating, np.integer)) and np.isfinite(zeta)):
        raise ValueError(f"zeta must be a finite number, got {zeta!r}.")
    if virtual not in VIRTUAL_RULES and virtual is not None:
        raise ValueError(f"virtual must be one of {VIRTUAL_RULES} or None, got {virtual!r}.")
    lambda_y = check_lambda(lambda_y, "lambda_y")
    marginal_tol = check_positive(marginal_tol, "marginal_tol")
    if lambda_y is not None and virtual == "cost" and step_size is not None:
        raise ValueError("lambda_y with virtual='cost' needs step_size=None (the projected gradient), "
                         f"got step_size={step_size!r}.")
    solve = dict(
        alpha=alpha, radius=radius, epsilon=epsilon, prior_x="band", prior_y="complement_band",
        lambda_x=None, lambda_y=lambda_y, a=None, b=None, max_iter=max_iter, tol=tol,
        inner_max_iter=inner_max_iter, inner_tol=inner_tol, step_size=step_size, convention=convention,
        marginal_tol=marginal_tol, report={},
    )
    if virtual == "cost":
        plan, value, n_iter, converged = fgw_solve(_augment(problem, zeta, float(rho)), virtual=True,
                                                   overwrite_cost=True, **solve)
    else:
        # With rho > 0 the cost C + rho R is a new tensor, ours to overwrite.
        plan, value, n_iter, converged = fgw_solve(_with_prior(problem, float(rho)), overwrite_cost=rho > 0, **solve)
        if virtual == "threshold":
            plan = _threshold_plan(plan, float(zeta))
    return finish(problem, plan, value, n_iter, converged, message=solve["report"].get("message", ""))


def decode_matches(plan: Any, *, virtual: bool = True) -> Any:
    """Decode a plan into matches: for each frame of the first video, the
    index of its frame in the second, or -1 when unmatched.

    ``j* = argmax_j T[i, j]`` (VAOT Sec. 3.1.2). With a virtual frame (the
    last column), a frame whose largest entry is in the virtual column is
    unmatched. Rows without mass (padding) are -1.

    Parameters
    ----------
    plan : array-like or torch.Tensor of shape (N + 1, M + 1) or (B, N + 1, M + 1)
        A plan from :func:`vaot` (or ``(N, M)`` with ``virtual=False``).
    virtual : bool, default=True
        Whether the last row and column are the virtual frame.

    Returns
    -------
    matches : ndarray or torch.Tensor of int64, shape (N,) or (B, N)

    Raises
    ------
    ValueError
        If ``plan`` is not 2-D or 3-D, or has no real frame (e.g. an empty
        plan, or a ``(1, 1)`` plan with ``virtual=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.ot import decode_matches
    >>> plan = np.array([[0.3, 0.0, 0.0], [0.0, 0.0, 0.3], [0.0, 0.3, 0.1]])
    >>> decode_matches(plan)
    array([ 0, -1])
    """
    from_numpy = not isinstance(plan, torch.Tensor)
    t = torch.as_tensor(np.asarray(plan)) if from_numpy else plan
    if t.ndim not in (2, 3):
        raise ValueError(f"plan must have shape (N, M) or (B, N, M), got {tuple(t.shape)}.")
    smallest = 2 if virtual else 1
    if t.shape[-1] < smallest or t.shape[-2] < smallest:
        what = ("at least one real frame and the virtual frame on each side, shape (N + 1, M + 1) "
                "with N, M >= 1" if virtual else "at least one row and one column")
        raise ValueError(f"plan must hold {what}; got shape {tuple(t.shape)}.")
    rows = t[..., :-1, :] if virtual else t
    idx = rows.argmax(-1)
    empty = rows.sum(-1) <= 0
    if virtual:
        empty = empty | (idx == t.shape[-1] - 1)
    idx = torch.where(empty, torch.full_like(idx, -1), idx)
    return idx.cpu().numpy() if from_numpy else idx
