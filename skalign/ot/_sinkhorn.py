"""Entropic optimal transport: stabilised Sinkhorn kernels and ``sinkhorn``.

Every kernel works on plans written in log-potential form,
``T[b, i, j] = exp(logK[b, i, j] + alpha[b, i] + beta[b, j])``, on a padded
batch (masked entries of ``logK`` are ``-inf``, padded marginals are 0). A
problem whose ``active`` flag is False is left untouched, so each problem of a
batch gets the result it gets alone.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._validation import check_int, check_positive, finish, marginal, prepare

__all__ = ["sinkhorn"]

_NEG_INF = float("-inf")


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` with 0 wherever ``num`` is 0 (padding)."""
    return torch.where(num > 0, num / den, torch.zeros((), dtype=num.dtype, device=num.device))




def log_sinkhorn(
    logK: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    *,
    kappa_x: float,
    kappa_y: float,
    max_iter: int,
    tol: float,
    active: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-domain Sinkhorn with (un)balanced marginals.

    ``kappa`` is 1 for a balanced side, ``lambda / (lambda + epsilon)`` for a
    side with a KL penalty of weight ``lambda`` (Chizat et al., 2018), and 0
    for a free side (no constraint, potential kept at 0). Balanced rows stop
    on the L1 error of the row marginals; otherwise on the largest change of
    a potential.

    Returns ``alpha, beta, n_iter, converged``.
    """
    B = logK.shape[0]
    log_a, log_b = torch.log(a), torch.log(b)
    valid_x, valid_y = a > 0, b > 0
    neg_inf = torch.tensor(_NEG_INF, dtype=logK.dtype, device=logK.device)
    n_iter = torch.zeros(B, dtype=torch.long, device=logK.device)
    converged = torch.zeros(B, dtype=torch.bool, device=logK.device)
    act = active.clone()
    for _ in range(max_iter):
        if not bool(act.any()):
            break
        lse_row = torch.logsumexp(logK + beta[:, None, :], dim=2)
        if kappa_x == 1.0 and kappa_y == 1.0:
            row = torch.exp(alpha + lse_row)
            err = torch.where(valid_x, (row - a).abs(), torch.zeros_like(a)).sum(1)
            done = act & (err <= tol) & (n_iter > 0)
            converged |= done
            act &= ~done
        new_alpha = kappa_x * (log_a - lse_row) if kappa_x > 0 else torch.zeros_like(alpha)
        new_alpha = torch.where(valid_x, new_alpha, neg_inf)
        lse_col = torch.logsumexp(logK + new_alpha[:, :, None], dim=1)
        new_beta = kappa_y * (log_b - lse_col) if kappa_y > 0 else torch.zeros_like(beta)
        new_beta = torch.where(valid_y, new_beta, neg_inf)
        if not (kappa_x == 1.0 and kappa_y == 1.0):
            da = torch.where(valid_x, (new_alpha - alpha).abs(), torch.zeros_like(a)).amax(1)
            db = torch.where(valid_y, (new_beta - beta).abs(), torch.zeros_like(b)).amax(1)
            done = act & (torch.maximum(da, db) <= tol)
            converged |= done
        alpha = torch.where(act[:, None], new_alpha, alpha)
        beta = torch.where(act[:, None], new_beta, beta)
        n_iter += act.long()
        if not (kappa_x == 1.0 and kappa_y == 1.0):
            act &= ~done
    return alpha, beta, n_iter, converged


def scaling_sinkhorn(
    logK: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    beta: torch.Tensor,
    *,
    max_iter: int,
    tol: float,
    active: torch.Tensor,
    bound: float = 1e12,
    work: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Balanced Sinkhorn in scaling form with absorption into log potentials.

    One exponential pass builds ``P = exp(logK + beta - rowmax)`` (entries in
    [0, 1]); the iterations are then matrix-vector products on ``P``. When a
    scaling leaves ``[1/bound, bound]`` it is absorbed into the potentials and
    ``P`` is rebuilt; when one overflows, a log-domain step restores finite
    potentials first. This keeps plans finite at small ``epsilon`` in float32
    while costing one exponential per call in the common case.

    ``work`` and ``out`` are optional buffers shaped like ``logK`` for the
    kernel and the plan (``logK`` itself is never modified).

    Returns ``alpha, beta, plan, n_iter, converged``.
    """
    B = logK.shape[0]
    zero = torch.zeros((), dtype=logK.dtype, device=logK.device)
    neg_inf = torch.tensor(_NEG_INF, dtype=logK.dtype, device=logK.device)
    valid_x, valid_y = a > 0, b > 0
    n_iter = torch.zeros(B, dtype=torch.long, device=logK.device)
    converged = torch.zeros(B, dtype=torch.bool, device=logK.device)
    act = active.clone()
    cutoff = 0.5 * math.log(torch.finfo(logK.dtype).tiny)

    def rebuild(beta_: torch.Tensor, buf: torch.Tensor | None = None):
        E = torch.add(logK, beta_[:, None, :], out=buf) if buf is not None else logK + beta_[:, None, :]
        mx = E.amax(dim=2)
        mx = torch.where(torch.isfinite(mx), mx, zero)
        # Entries below exp(cutoff) relative to their row's largest become
        # exact zeros: no subnormal numbers (slow on CPUs) in the products.
        P_ = torch.nn.functional.threshold_(E.sub_(mx[:, :, None]), cutoff, _NEG_INF).exp_()
        u_ = _safe_div(a, P_.sum(2))
        return mx, P_, u_

    m, P, u = rebuild(beta, work)
    v = valid_y.to(logK.dtype)

    def refresh(beta_: torch.Tensor):
        """Rebuild the kernel of the active problems; frozen ones keep theirs."""
        if bool(act.all()):
            m_, P_, u_ = rebuild(beta_, P)
            return m_, P_, u_, valid_y.to(logK.dtype)
        m_, P_, u_ = rebuild(beta_)
        keep = ~act
        return (
            torch.where(keep[:, None], m, m_),
            torch.where(keep[:, None, None], P, P_),
            torch.where(keep[:, None], u, u_),
            torch.where(keep[:, None], v, valid_y.to(logK.dtype)),
        )

    it = 0
    while it < max_iter and bool(act.any()):
        Ptu = torch.bmm(P.transpose(1, 2), u[:, :, None])[:, :, 0]
        v_new = _safe_div(b, Ptu)
        Pv = torch.bmm(P, v_new[:, :, None])[:, :, 0]
        u_next = _safe_div(a, Pv)
        bad = ~(torch.isfinite(v_new).all(1) & torch.isfinite(u_next).all(1))
        if bool((bad & act).any()):
            # Overflow: one log-domain step from the last finite potentials.
            alpha_good = torch.where(valid_x, torch.log(u) - m, neg_inf)
            beta_good = beta + torch.log(torch.where(valid_y, v, torch.ones_like(v)))
            beta_good = torch.where(valid_y, beta_good, neg_inf)
            lse_row = torch.logsumexp(logK + beta_good[:, None, :], dim=2)
            alpha_l = torch.where(valid_x, torch.log(a) - lse_row, neg_inf)
            beta_l = torch.where(valid_y, torch.log(b) - torch.logsumexp(logK + alpha_l[:, :, None], dim=1), neg_inf)
            beta = torch.where(act[:, None], torch.where(valid_y, beta_l, zero), beta)
            m, P, u, v = refresh(beta)
            n_iter += act.long()
            it += 1
            continue
        row = u * Pv
        err = torch.where(valid_x, (row - a).abs(), zero).sum(1)
        done = act & (err <= tol)
        v = torch.where(act[:, None], v_new, v)
        converged |= done
        act &= ~done
        u = torch.where(act[:, None], u_next, u)
        n_iter += (act | done).long()
        it += 1
        big_u = torch.where(valid_x, u, torch.ones_like(u))
        big_v = torch.where(valid_y, v, torch.ones_like(v))
        drift = (big_u.amax(1) > bound) | (big_u.amin(1) < 1 / bound) | (big_v.amax(1) > bound) | (big_v.amin(1) < 1 / bound)
        if bool((drift & act).any()) and it < max_iter:
            beta = torch.where(act[:, None] & valid_y, beta + torch.log(big_v), beta)
            m, P, u, v = refresh(beta)
    alpha = torch.where(valid_x, torch.log(u) - m, neg_inf)
    beta_out = torch.where(valid_y, beta + torch.log(torch.where(valid_y, v, torch.ones_like(v))), neg_inf)
    plan = torch.mul(P, u[:, :, None], out=out) if out is not None else P * u[:, :, None]
    plan.mul_(v[:, None, :])
    return alpha, beta_out, plan, n_iter, converged


def sinkhorn(
    cost: Any,
    a: Any = None,
    b: Any = None,
    *,
    epsilon: float,
    max_iter: int = 1000,
    tol: float = 1e-9,
    mask_x: Any = None,
    mask_y: Any = None,
):
    r"""Entropic optimal transport by stabilised Sinkhorn iterations.

    Solves

    .. math::
        \min_{T \in U(a, b)} \langle C, T \rangle - \epsilon H(T),
        \qquad H(T) = -\sum_{ij} T_{ij} (\log T_{ij} - 1),

    with :math:`U(a, b)` the couplings with marginals ``a`` and ``b``. The
    potentials live in the log domain; the inner iterations run in scaling
    form with absorption, so plans stay finite for small ``epsilon`` in
    float32 (Schmitzer, 2019).

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Ground cost. numpy in gives numpy out; a tensor gives tensors on its
        device and dtype.
    a, b : array-like of shape (N,) / (M,) or (B, N) / (B, M), default=None
        Marginals; uniform over the valid frames when None.
    epsilon : float
        Entropic regularisation, > 0.
    max_iter : int, default=1000
        Maximum number of Sinkhorn iterations.
    tol : float, default=1e-9
        Stop when the L1 error of the row marginals is below ``tol`` (the
        column marginals are exact after each iteration).
    mask_x, mask_y : array-like of bool of shape (B, N) / (B, M), default=None
        Valid frames of padded sequences (a prefix of each row).

    Returns
    -------
    OTResult
        ``plan``, ``value`` = :math:`\langle C, T\rangle`, ``n_iter``,
        ``converged``.

    References
    ----------
    .. [1] Cuturi, "Sinkhorn Distances: Lightspeed Computation of Optimal
       Transport", NeurIPS 2013.
    .. [2] Schmitzer, "Stabilized Sparse Scaling Algorithms for Entropy
       Regularized Transport Problems", SIAM J. Sci. Comput. 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.ot import sinkhorn
    >>> res = sinkhorn(np.array([[0.0, 1.0], [1.0, 0.0]]), epsilon=0.1)
    >>> res.plan.round(4)
    array([[0.5, 0. ],
           [0. , 0.5]])
    >>> bool(res.converged)
    True
    """
    problem = prepare(cost, mask_x, mask_y)
    epsilon = check_positive(epsilon, "epsilon")
    max_iter = check_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    C = problem.cost
    wa = marginal(a, problem.mask_x, problem.n, C, "a")
    wb = marginal(b, problem.mask_y, problem.m, C, "b")
    # Sinkhorn needs equal masses: normalise both to one.
    wa = wa / wa.sum(1, keepdim=True)
    wb = wb / wb.sum(1, keepdim=True)
    valid = problem.valid
    logK = torch.where(valid, -C / epsilon, torch.tensor(_NEG_INF, dtype=C.dtype, device=C.device))
    beta = torch.zeros_like(wb)
    active = torch.ones(C.shape[0], dtype=torch.bool, device=C.device)
    _, _, plan, n_iter, converged = scaling_sinkhorn(logK, wa, wb, beta, max_iter=max_iter, tol=tol, active=active)
    value = (plan * C).sum((1, 2))
    return finish(problem, plan, value, n_iter, converged)
