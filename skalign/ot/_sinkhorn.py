"""Entropic optimal transport: stabilised Sinkhorn kernels and ``sinkhorn``.

Every kernel works on plans written in log-potential form,
``T[b, i, j] = exp(logK[b, i, j] + alpha[b, i] + beta[b, j])``, on a padded
batch (masked entries of ``logK`` are ``-inf``, padded marginals are 0). A
problem whose ``active`` flag is False is left untouched, so each problem of a
batch gets the result it gets alone.
"""

from __future__ import annotations

from typing import Any

import torch

from .._numerics import NEG_INF as _NEG_INF
from .._numerics import kernel_cutoff
from ..utils import small_work_on_one_thread
from ._fast import numba_backend
from ._validation import check_int, check_positive, cost_range, finish, flags, marginal, prepare

__all__ = ["sinkhorn"]


def log_sinkhorn(
    logK: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    *,
    kappa_x: float,
    kappa_y: float | torch.Tensor,
    max_iter: int,
    tol: float,
    active: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-domain Sinkhorn with (un)balanced marginals.

    ``kappa`` is 1 for a balanced side, ``lambda / (lambda + epsilon)`` for a
    side with a KL penalty of weight ``lambda`` (Chizat et al., 2018), and 0
    for a free side (no constraint, potential kept at 0). ``kappa_y`` may
    also be a tensor broadcastable to ``b``: one value per column (1 for the
    columns whose mass is fixed). Balanced rows stop on the L1 error of the
    row marginals; otherwise on the largest change of a potential.

    Returns ``alpha, beta, n_iter, converged``.
    """
    if isinstance(kappa_y, torch.Tensor) and bool((kappa_y == 1.0).all()):
        kappa_y = 1.0
    balanced = kappa_x == 1.0 and not isinstance(kappa_y, torch.Tensor) and kappa_y == 1.0
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
        if balanced:
            row = torch.exp(alpha + lse_row)
            err = torch.where(valid_x, (row - a).abs(), torch.zeros_like(a)).sum(1)
            done = act & (err <= tol) & (n_iter > 0)
            converged |= done
            act &= ~done
        new_alpha = kappa_x * (log_a - lse_row) if kappa_x > 0 else torch.zeros_like(alpha)
        new_alpha = torch.where(valid_x, new_alpha, neg_inf)
        lse_col = torch.logsumexp(logK + new_alpha[:, :, None], dim=1)
        if isinstance(kappa_y, torch.Tensor) or kappa_y > 0:
            new_beta = kappa_y * (log_b - lse_col)
        else:
            new_beta = torch.zeros_like(beta)
        new_beta = torch.where(valid_y, new_beta, neg_inf)
        if not balanced:
            da = torch.where(valid_x, (new_alpha - alpha).abs(), torch.zeros_like(a)).amax(1)
            db = torch.where(valid_y, (new_beta - beta).abs(), torch.zeros_like(b)).amax(1)
            done = act & (torch.maximum(da, db) <= tol)
            converged |= done
        alpha = torch.where(act[:, None], new_alpha, alpha)
        beta = torch.where(act[:, None], new_beta, beta)
        n_iter += act.long()
        if not balanced:
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
    check_every: int = 10,
    work: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    backend: Any = "auto",
    lazy: bool = False,
    prepared: tuple | None = None,
    fill_logk: Any = None,
) -> tuple[torch.Tensor, torch.Tensor, Any, torch.Tensor, torch.Tensor]:
    """Balanced Sinkhorn in scaling form with absorption into log potentials.

    One exponential pass builds ``P = exp(logK + beta - rowmax)`` (entries in
    [0, 1]; those below ``exp(log(tiny) / 2)`` become exact zeros, so no
    subnormal numbers slow the products). The iterations are then two
    matrix-vector products and two divisions each. Every ``check_every``
    iterations (and at the end) the row-marginal error is measured and the
    scalings checked: a scaling outside ``[1/bound, bound]`` is absorbed into
    the potentials and ``P`` rebuilt; a non-finite one sends the problem back
    to its last checked state, where one log-domain step restores finite
    potentials. This keeps plans finite at small ``epsilon`` in float32.

    ``work`` and ``out`` are optional buffers shaped like ``logK`` for the
    kernel and the plan (``logK`` itself is never modified). A problem whose
    ``active`` flag is False is left untouched. ``backend`` is the numba
    kernels module to use (or None for torch); ``"auto"`` decides from the
    sizes. With ``lazy=True`` and the numba kernels, the plan is returned as
    its factors ``(P, u, v)``, ``plan = P * u[:, :, None] * v[:, None, :]``,
    for the caller to build in a pass it makes anyway. ``prepared`` (numba
    kernels only) is ``(m, u, Ptu)`` when ``work`` already holds the kernel
    ``exp(logK + beta - m)``, thresholded, with ``u = a / rowsum`` and
    ``Ptu = P^T u``: the caller built them in a pass it made anyway. Then
    ``logK`` may be left unwritten, with ``fill_logk()`` writing it, called
    only if the general loop is needed.

    Returns ``alpha, beta, plan, n_iter, converged``.
    """
    B = logK.shape[0]
    dtype, device = logK.dtype, logK.device
    zero = torch.zeros((), dtype=dtype, device=device)
    neg_inf = torch.tensor(_NEG_INF, dtype=dtype, device=device)
    tiny = torch.finfo(dtype).tiny
    valid_x, valid_y = a > 0, b > 0
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    converged = torch.zeros(B, dtype=torch.bool, device=device)
    act = active.clone()
    cutoff = kernel_cutoff(dtype)

    if work is None or not work.is_contiguous():
        nb = None
    elif backend == "auto":
        nb = numba_backend(logK, a, b, beta)
    else:
        nb = backend
    ptu = None  # P^T u of the current u (numba path), when known

    def rebuild(beta_: torch.Tensor, buf: torch.Tensor | None):
        nonlocal ptu
        if nb is not None and buf is not None:
            mx, u_, ptu = nb.rebuild(logK, beta_, a, buf, cutoff, tiny)
            return mx, buf, u_
        ptu = None
        E = torch.add(logK, beta_[:, None, :], out=buf) if buf is not None else logK + beta_[:, None, :]
        mx = E.amax(dim=2)
        mx = torch.where(torch.isfinite(mx), mx, zero)
        # Entries below exp(cutoff) relative to their row's largest become
        # exact zeros: no subnormal numbers (slow on CPUs) in the products.
        P_ = torch.nn.functional.threshold_(E.sub_(mx[:, :, None]), cutoff, _NEG_INF).exp_()
        u_ = a / P_.sum(2).clamp_min(tiny)
        return mx, P_, u_

    if prepared is not None and nb is not None and lazy and max_iter <= check_every and bool(act.all()):
        # The common case of the FGW solver's inner loop, in two kernel
        # calls: a solve of one block of iterations, after which the general
        # loop below would not absorb (it absorbs only between blocks).
        m, u, ptu = prepared
        u, v, stats = nb.sinkhorn_block(work, a, b, u, ptu, max_iter, tiny)
        if bool((stats[:, 0] > 0).all()):
            alpha = torch.where(valid_x, torch.log(u) - m, neg_inf)
            beta_out = torch.where(valid_y, beta + torch.log(v), neg_inf)
            n_iter = torch.full((B,), max_iter, dtype=torch.long, device=device)
            done = (stats[:, 1] <= tol).to(device)
            return alpha, beta_out, (work, u, v), n_iter, done
        prepared = None  # rebuild from logK and take the general path
    if fill_logk is not None:
        fill_logk()  # the general loop may rebuild the kernel from logK
    if prepared is not None and nb is not None:
        m, u, ptu = prepared
        P = work
    else:
        m, P, u = rebuild(beta, work)
    v = valid_y.to(dtype)
    good = (beta.clone(), u.clone(), v.clone())
    it = 0
    while it < max_iter:
        any_active, all_active = flags(act.any(), act.all())
        if not any_active:
            break
        steps = min(check_every, max_iter - it)
        u_prev = u
        if nb is not None and all_active:
            u, v, u_prev, Pv, ptu = nb.sinkhorn_steps(P, a, b, u, ptu, steps, tiny)
        else:
            ptu = None
        for _ in range(steps if nb is None or not all_active else 0):
            Ptu = torch.bmm(P.transpose(1, 2), u[:, :, None])[:, :, 0]
            v_new = b / Ptu.clamp_min(tiny)
            Pv = torch.bmm(P, v_new[:, :, None])[:, :, 0]
            u_prev = u
            u_new = a / Pv.clamp_min(tiny)
            if all_active:
                u, v = u_new, v_new
            else:
                u = torch.where(act[:, None], u_new, u)
                v = torch.where(act[:, None], v_new, v)
        it += steps
        n_iter += steps * act.long()
        # Check: finite, within bounds, converged (error of the plan
        # u_prev * P * v, whose column marginals are exact).
        su = torch.where(valid_x, u, torch.ones_like(u))
        sv = torch.where(valid_y, v, torch.ones_like(v))
        finite = torch.isfinite(su).all(1) & torch.isfinite(sv).all(1) & (su > 0).all(1) & (sv > 0).all(1)
        bad = act & ~finite
        any_bad = bool(bad.any())
        if any_bad:
            # Back to the last checked state, then one log-domain step.
            beta_g, u_g, v_g = good
            beta_c = torch.where(valid_y, beta_g + torch.log(torch.where(valid_y, v_g, torch.ones_like(v_g))), neg_inf)
            alpha_l = torch.where(valid_x, torch.log(a) - torch.logsumexp(logK + beta_c[:, None, :], dim=2), neg_inf)
            beta_l = torch.log(b) - torch.logsumexp(logK + alpha_l[:, :, None], dim=1)
            beta = torch.where(bad[:, None] & valid_y, beta_l, torch.where(act[:, None], beta, beta))
            u = torch.where(bad[:, None], u_g, u)
            ptu = None
            v = torch.where(bad[:, None], v_g, v)
            drift = bad
        else:
            err = torch.where(valid_x, (u_prev * Pv - a).abs(), zero).sum(1)
            done = act & (err <= tol)
            converged |= done
            act &= ~done
            drift = act & ((su.amax(1) > bound) | (su.amin(1) < 1 / bound) | (sv.amax(1) > bound) | (sv.amin(1) < 1 / bound))
        drift_any, drift_all = flags(drift.any(), drift.all())
        if drift_any and it < max_iter:
            # Absorb the column scalings into beta and rebuild P for these
            # problems; the others keep their kernel and scalings.
            if not any_bad:
                beta = torch.where(drift[:, None] & valid_y, beta + torch.log(sv), beta)
            if drift_all:
                m, P, u = rebuild(beta, P)
                v = valid_y.to(dtype)
            else:
                m2, P2, u2 = rebuild(beta, None)
                ptu = None
                m = torch.where(drift[:, None], m2, m)
                P = torch.where(drift[:, None, None], P2, P)
                u = torch.where(drift[:, None], u2, u)
                v = torch.where(drift[:, None], valid_y.to(dtype), v)
        good = (beta.clone(), u.clone(), v.clone())
    alpha = torch.where(valid_x, torch.log(u) - m, neg_inf)
    beta_out = torch.where(valid_y, beta + torch.log(torch.where(valid_y, v, torch.ones_like(v))), neg_inf)
    if nb is not None and lazy:
        plan = (P, u.contiguous(), v.contiguous())
    elif nb is not None and out is not None and out.is_contiguous():
        plan = nb.scale_plan(P, u, v, out)
    else:
        plan = torch.mul(P, u[:, :, None], out=out) if out is not None else P * u[:, :, None]
        plan.mul_(v[:, None, :])
    return alpha, beta_out, plan, n_iter, converged


@small_work_on_one_thread
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
        ``converged`` (measured on the marginals), ``message`` (why not,
        when a problem did not converge).

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
    message = ""
    if not bool(converged.all()):
        # The flag is measured on the marginals already (rows of the plan
        # of the last check; the columns are exact): say by how much.
        err = ((plan.sum(2) - wa).abs().sum(1) + (plan.sum(1) - wb).abs().sum(1))[~converged]
        lo, hi = cost_range(C)
        message = (f"Sinkhorn did not reach tol={tol:g} in {max_iter} iterations: the marginals of the plan are off "
                   f"by up to {float(err.max()):.3g} (L1). The cost spans {(hi - lo) / epsilon:.3g} times epsilon: the "
                   "iterations "
                   "needed grow with this ratio; raise max_iter or epsilon, or normalise the cost.")
    return finish(problem, plan, value, n_iter, converged, message=message)
