"""Entropic optimal transport: stabilised Sinkhorn kernels and ``sinkhorn``.

Every kernel works on plans written in log-potential form,
``T[b, i, j] = exp(logK[b, i, j] + alpha[b, i] + beta[b, j])``, on a padded
batch (masked entries of ``logK`` are ``-inf``, padded marginals are 0). A
problem whose ``active`` flag is False is left untouched, so each problem of a
batch gets the result it gets alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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


class ScalingResult(NamedTuple):
    """Result of a scaling-form Sinkhorn solve: log potentials, the plan
    (a tensor, or :class:`FactoredPlan` from :func:`scaling_sinkhorn_factors`),
    iterations and convergence flags per problem."""

    alpha: torch.Tensor
    beta: torch.Tensor
    plan: Any
    n_iter: torch.Tensor
    converged: torch.Tensor


class FactoredPlan(NamedTuple):
    """A plan kept as its factors: ``plan = P * u[:, :, None] * v[:, None, :]``."""

    P: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor


class _ScalingState:
    """Kernel ``P = exp(logK + beta - m)`` of a scaling-form Sinkhorn solve
    with its scalings ``u``, ``v``; ``kernels`` is the numba kernels module or
    None for torch. ``ptu`` caches ``P^T u`` of the current ``u`` (numba)."""

    def __init__(self, logK, a, b, beta, kernels):
        self.logK, self.a, self.b, self.beta, self.kernels = logK, a, b, beta, kernels
        self.dtype, self.device = logK.dtype, logK.device
        self.zero = torch.zeros((), dtype=self.dtype, device=self.device)
        self.neg_inf = torch.tensor(_NEG_INF, dtype=self.dtype, device=self.device)
        self.tiny = torch.finfo(self.dtype).tiny
        self.cutoff = kernel_cutoff(self.dtype)
        self.valid_x, self.valid_y = a > 0, b > 0
        self.ptu = None

    def kernel(self, beta: torch.Tensor, buf: torch.Tensor | None):
        """``(m, P, u)``: the kernel for ``beta`` (into ``buf`` when given), its
        row maxima ``m`` and first row scaling ``u = a / rowsum(P)``. Entries
        below ``exp(cutoff)`` relative to their row's largest become exact
        zeros: no subnormal numbers (slow on CPUs) in the products."""
        if self.kernels is not None and buf is not None:
            mx, u, self.ptu = self.kernels.rebuild(self.logK, beta, self.a, buf, self.cutoff, self.tiny)
            return mx, buf, u
        self.ptu = None
        logK = self.logK
        E = torch.add(logK, beta[:, None, :], out=buf) if buf is not None else logK + beta[:, None, :]
        mx = E.amax(dim=2)
        mx = torch.where(torch.isfinite(mx), mx, self.zero)
        P = torch.nn.functional.threshold_(E.sub_(mx[:, :, None]), self.cutoff, _NEG_INF).exp_()
        return mx, P, self.a / P.sum(2).clamp_min(self.tiny)

    def start(self, work, prepared) -> None:
        """The kernel and scalings to iterate from: ``prepared`` ``(m, u,
        P^T u)`` with the kernel in ``work`` (numba), or built here."""
        if prepared is not None and self.kernels is not None:
            self.m, self.u, self.ptu = prepared
            self.P = work
        else:
            self.m, self.P, self.u = self.kernel(self.beta, work)
        self.v = self.valid_y.to(self.dtype)
        self.save()

    def save(self) -> None:
        """Remember the state of a passed check, to return to on overflow."""
        self.good = (self.beta.clone(), self.u.clone(), self.v.clone())

    def iterate(self, steps: int, act: torch.Tensor, all_active: bool):
        """``steps`` iterations ``v = b / P^T u``, ``u = a / P v`` on the
        active problems. Returns ``(u_prev, Pv)`` of the last iteration."""
        if self.kernels is not None and all_active:
            self.u, self.v, u_prev, Pv, self.ptu = self.kernels.sinkhorn_steps(self.P, self.a, self.b, self.u,
                                                                           self.ptu, steps, self.tiny)
            return u_prev, Pv
        self.ptu = None
        u_prev, Pv, P, u, v = self.u, None, self.P, self.u, self.v
        for _ in range(steps):
            Ptu = torch.bmm(P.transpose(1, 2), u[:, :, None])[:, :, 0]
            v_new = self.b / Ptu.clamp_min(self.tiny)
            Pv = torch.bmm(P, v_new[:, :, None])[:, :, 0]
            u_prev = u
            u_new = self.a / Pv.clamp_min(self.tiny)
            if all_active:
                u, v = u_new, v_new
            else:
                u = torch.where(act[:, None], u_new, u)
                v = torch.where(act[:, None], v_new, v)
        self.u, self.v = u, v
        return u_prev, Pv

    def scalings(self):
        """``u`` and ``v`` with 1 on the empty rows and columns."""
        su = torch.where(self.valid_x, self.u, torch.ones_like(self.u))
        sv = torch.where(self.valid_y, self.v, torch.ones_like(self.v))
        return su, sv

    def restore(self, bad: torch.Tensor, act: torch.Tensor) -> None:
        """Send the ``bad`` problems back to the last checked state, then one
        log-domain step, which restores finite potentials."""
        beta_g, u_g, v_g = self.good
        a, b, logK, valid_x, valid_y = self.a, self.b, self.logK, self.valid_x, self.valid_y
        beta_c = torch.where(valid_y, beta_g + torch.log(torch.where(valid_y, v_g, torch.ones_like(v_g))),
                             self.neg_inf)
        alpha_l = torch.where(valid_x, torch.log(a) - torch.logsumexp(logK + beta_c[:, None, :], dim=2), self.neg_inf)
        beta_l = torch.log(b) - torch.logsumexp(logK + alpha_l[:, :, None], dim=1)
        self.beta = torch.where(bad[:, None] & valid_y, beta_l, torch.where(act[:, None], self.beta, self.beta))
        self.u = torch.where(bad[:, None], u_g, self.u)
        self.ptu = None
        self.v = torch.where(bad[:, None], v_g, self.v)

    def absorb(self, drift: torch.Tensor, all_drift: bool, sv: torch.Tensor | None) -> None:
        """Absorb the column scalings ``sv`` (when given) of the ``drift``
        problems into ``beta`` and rebuild their kernel; the others keep
        their kernel and scalings."""
        valid_y = self.valid_y
        if sv is not None:
            self.beta = torch.where(drift[:, None] & valid_y, self.beta + torch.log(sv), self.beta)
        if all_drift:
            self.m, self.P, self.u = self.kernel(self.beta, self.P)
            self.v = valid_y.to(self.dtype)
            return
        m2, P2, u2 = self.kernel(self.beta, None)
        self.ptu = None
        self.m = torch.where(drift[:, None], m2, self.m)
        self.P = torch.where(drift[:, None, None], P2, self.P)
        self.u = torch.where(drift[:, None], u2, self.u)
        self.v = torch.where(drift[:, None], valid_y.to(self.dtype), self.v)

    def potentials(self):
        """``(alpha, beta)``: the log potentials of the current plan."""
        alpha = torch.where(self.valid_x, torch.log(self.u) - self.m, self.neg_inf)
        v = torch.where(self.valid_y, self.v, torch.ones_like(self.v))
        return alpha, torch.where(self.valid_y, self.beta + torch.log(v), self.neg_inf)


def _scaling_loop(state: _ScalingState, *, max_iter: int, tol: float, active: torch.Tensor, bound: float,
                  check_every: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The iterations of :func:`scaling_sinkhorn` in blocks of
    ``check_every``, each followed by a check: scalings finite (else back
    to the last checked state), within ``[1/bound, bound]`` (else absorbed),
    converged (the row error of the plan ``u_prev P v``, whose column
    marginals are exact). Returns ``n_iter, converged``."""
    B = state.logK.shape[0]
    n_iter = torch.zeros(B, dtype=torch.long, device=state.device)
    converged = torch.zeros(B, dtype=torch.bool, device=state.device)
    act = active.clone()
    it = 0
    while it < max_iter:
        any_active, all_active = flags(act.any(), act.all())
        if not any_active:
            break
        steps = min(check_every, max_iter - it)
        u_prev, Pv = state.iterate(steps, act, all_active)
        it += steps
        n_iter += steps * act.long()
        su, sv = state.scalings()
        finite = torch.isfinite(su).all(1) & torch.isfinite(sv).all(1) & (su > 0).all(1) & (sv > 0).all(1)
        bad = act & ~finite
        any_bad = bool(bad.any())
        if any_bad:
            state.restore(bad, act)
            drift = bad
        else:
            err = torch.where(state.valid_x, (u_prev * Pv - state.a).abs(), state.zero).sum(1)
            done = act & (err <= tol)
            converged |= done
            act &= ~done
            drift = act & ((su.amax(1) > bound) | (su.amin(1) < 1 / bound)
                           | (sv.amax(1) > bound) | (sv.amin(1) < 1 / bound))
        drift_any, drift_all = flags(drift.any(), drift.all())
        if drift_any and it < max_iter:
            state.absorb(drift, drift_all, None if any_bad else sv)
        state.save()
    return n_iter, converged


def _kernels_for(logK, a, b, beta, work, backend):
    """The numba kernels module for a solve, or None: none without a
    contiguous ``work`` buffer; ``"auto"`` decides from the sizes."""
    if work is None or not work.is_contiguous():
        return None
    if backend == "auto":
        return numba_backend(logK, a, b, beta)
    return backend


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
) -> ScalingResult:
    """Balanced Sinkhorn in scaling form with absorption into log potentials.

    One exponential pass builds ``P = exp(logK + beta - rowmax)`` (entries in
    [0, 1]; those below ``exp(log(tiny) / 2)`` become exact zeros, so no
    subnormal numbers slow the products). The iterations are then two
    matrix-vector products and two divisions each. Every ``check_every``
    iterations (and at the end) the row-marginal error is measured and the
    scalings checked: a scaling outside ``[1/bound, bound]`` is absorbed into
    the potentials and ``P`` rebuilt; a non-finite one sends the problem back
    to its last checked state, where one log-domain step restores finite
    potentials. This keeps plans finite at small ``epsilon`` in float32
    (Schmitzer, 2019).

    ``work`` and ``out`` are optional buffers shaped like ``logK`` for the
    kernel and the plan (``logK`` itself is never modified). A problem whose
    ``active`` flag is False is left untouched. ``backend`` is the numba
    kernels module to use (or None for torch); ``"auto"`` decides from the
    sizes (numba needs ``work``).

    Returns a :class:`ScalingResult` ``(alpha, beta, plan, n_iter,
    converged)``, the plan a tensor.
    """
    kernels = _kernels_for(logK, a, b, beta, work, backend)
    state = _ScalingState(logK, a, b, beta, kernels)
    state.start(work, None)
    n_iter, converged = _scaling_loop(state, max_iter=max_iter, tol=tol, active=active, bound=bound,
                                      check_every=check_every)
    alpha, beta_out = state.potentials()
    P, u, v = state.P, state.u, state.v
    if kernels is not None and out is not None and out.is_contiguous():
        plan = kernels.scale_plan(P, u, v, out)
    else:
        plan = torch.mul(P, u[:, :, None], out=out) if out is not None else P * u[:, :, None]
        plan.mul_(v[:, None, :])
    return ScalingResult(alpha, beta_out, plan, n_iter, converged)


def scaling_sinkhorn_factors(
    logK: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    beta: torch.Tensor,
    *,
    max_iter: int,
    tol: float,
    active: torch.Tensor,
    work: torch.Tensor,
    backend: Any,
    prepared: tuple | None = None,
    fill_logk: Callable[[], Any] | None = None,
    bound: float = 1e12,
    check_every: int = 10,
) -> ScalingResult:
    """:func:`scaling_sinkhorn` returning the plan as its factors
    (:class:`FactoredPlan`), for the caller to build it in a pass it makes
    anyway.

    ``prepared`` (numba kernels only) is ``(m, u, Ptu)`` when ``work``
    already holds the kernel ``exp(logK + beta - m)``, thresholded, with
    ``u = a / rowsum`` and ``Ptu = P^T u``: the caller built them in a pass
    it made anyway. Then ``logK`` may be left unwritten, with
    ``fill_logk()`` writing it, called only if the general loop is needed.
    A solve of one block of iterations on every problem (the common case of
    the FGW solver's inner loop) runs in two kernel calls
    (:func:`_one_block`).
    """
    kernels = _kernels_for(logK, a, b, beta, work, backend)
    if prepared is not None and kernels is not None and max_iter <= check_every and bool(active.all()):
        result = _one_block(kernels, work, a, b, beta, prepared, max_iter, tol)
        if result is not None:
            return result
        prepared = None  # rebuild from logK and take the general path
    if fill_logk is not None:
        fill_logk()  # the general loop may rebuild the kernel from logK
    state = _ScalingState(logK, a, b, beta, kernels)
    state.start(work, prepared)
    n_iter, converged = _scaling_loop(state, max_iter=max_iter, tol=tol, active=active, bound=bound,
                                      check_every=check_every)
    alpha, beta_out = state.potentials()
    plan = FactoredPlan(state.P, state.u.contiguous(), state.v.contiguous())
    return ScalingResult(alpha, beta_out, plan, n_iter, converged)


def _one_block(kernels, work, a, b, beta, prepared, steps, tol) -> ScalingResult | None:
    """``steps`` iterations on every problem from the ``prepared`` kernel in
    ``work``, in two kernel calls, after which the general loop would not
    absorb (it absorbs only between blocks). None when a scaling is not
    finite (the caller then takes the general loop)."""
    B, device = work.shape[0], work.device
    m, u, ptu = prepared
    u, v, stats = kernels.sinkhorn_block(work, a, b, u, ptu, steps, torch.finfo(work.dtype).tiny)
    if not bool((stats[:, 0] > 0).all()):
        return None
    neg_inf = torch.tensor(_NEG_INF, dtype=work.dtype, device=device)
    alpha = torch.where(a > 0, torch.log(u) - m, neg_inf)
    beta_out = torch.where(b > 0, beta + torch.log(v), neg_inf)
    n_iter = torch.full((B,), steps, dtype=torch.long, device=device)
    done = (stats[:, 1] <= tol).to(device)
    return ScalingResult(alpha, beta_out, FactoredPlan(work, u, v), n_iter, done)


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
