"""Entropic fused Gromov-Wasserstein with structural priors (VAOT, ASOT).

The GW term uses ``L(a, b) = a b``, so ``F_GW(T) = <Cx T Cy, T>`` and its
gradient is ``2 Cx T Cy`` for the symmetric priors used here (Peyre et al.,
2016, Prop. 1). With band, complement-of-band and off-diagonal priors the
product ``Cx T Cy`` costs O(N M) with prefix sums (``_fast.apply_prior_into``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from ..utils import small_work_on_one_thread
from ._fast import apply_prior_into, numba_backend
from ._priors import PRIORS, band_width
from ._result import OTResult
from ._sinkhorn import kernel_cutoff, log_sinkhorn, scaling_sinkhorn, scaling_sinkhorn_factors
from ._validation import (
    Problem,
    check_alpha,
    check_int,
    check_lambda,
    check_positive,
    check_radius,
    cost_range,
    finish,
    flags,
    marginal,
    prepare,
)

__all__ = ["structured_fgw"]

_CONVENTIONS = {"paper": 2.0, "authors": 1.0}
_CHECK_EVERY = 5
# Inner solves of at most this many Sinkhorn iterations are one block of
# scaling_sinkhorn (its check_every), the case the fused kernels cover.
_LEAN_SINKHORN = 10
#: Range of the linear cost over epsilon (``(1 - alpha) (max C - min C) /
#: epsilon``) beyond which plans are not reliable (the message of a solve
#: that did not converge says so).
_RELIABLE_RATIO = 1e3


def _check_prior(kind: Any, name: str) -> str | None:
    if kind is not None and kind not in PRIORS:
        raise ValueError(f"{name} must be one of {PRIORS} or None, got {kind!r}.")
    return kind


class _Structure:
    """Applies ``Cx T Cy`` on the real block of a (possibly augmented) plan.

    Buffers are allocated once per solve; ``product_into`` writes the product
    into a full-size buffer (zeros on the virtual row and column).
    """

    def __init__(self, prior_x, prior_y, radius, n, m, virtual, shape, dtype, device):
        self.prior_x, self.prior_y, self.radius = prior_x, prior_y, radius
        self.wx = band_width(n, radius).tolist()
        self.wy = band_width(m, radius).tolist()
        self.virtual = virtual
        self.active = prior_x is not None and prior_y is not None
        B, N, M = shape
        self.real = (N - 1, M - 1) if virtual else (N, M)
        if self.active:
            self.z1 = torch.empty((B,) + self.real, dtype=dtype, device=device)
            self.scratch = torch.empty_like(self.z1)
        self.uniform = len(set(self.wx)) == 1 and len(set(self.wy)) == 1
        # The band's 1/radius is left to the caller, which folds it into the
        # constant that multiplies the product (one pass fewer).
        self.scale = 1.0 / radius if prior_x == "band" else 1.0

    def product_into(self, T: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return out.zero_()
        Nr, Mr = self.real
        Tr, outr = T[:, :Nr, :Mr], out[:, :Nr, :Mr]
        groups = [slice(None)] if self.uniform else [slice(b, b + 1) for b in range(T.shape[0])]
        for g in groups:
            k = 0 if g == slice(None) else g.start
            apply_prior_into(self.prior_y, Tr[g], self.wy[k], self.radius, 2, self.z1[g], self.scratch[g])
            apply_prior_into(self.prior_x, self.z1[g], self.wx[k], self.radius, 1, outr[g], self.scratch[g], raw_band=True)
        if self.virtual:
            out[:, Nr, :].zero_()
            out[:, :, Mr].zero_()
        return out


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``sum_ij x[b, i, j] y[b, i, j]`` per problem, without a temporary."""
    B = x.shape[0]
    return torch.bmm(x.reshape(B, 1, -1), y.reshape(B, -1, 1))[:, 0, 0]


def _kl(mass: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Generalised KL divergence ``sum m log(m / p) - m + p`` per problem."""
    ratio = torch.where(mass > 0, mass * torch.log(mass / torch.where(ref > 0, ref, torch.ones_like(ref))), torch.zeros_like(mass))
    return (ratio - mass + ref).sum(1)


#: Sinkhorn iterations at most of the polishing step (:func:`_polish`).
POLISH_MAX_ITER = 1000


def _marginal_error(T: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor, row_fixed: Any, col_fixed: Any) -> torch.Tensor:
    """L1 error of the constrained marginals of ``T``, relative to the mass
    of ``wa``: ``(|T 1 - a|_1 + |T^T 1 - b|_1) / sum(a)`` over the balanced
    sides (``row_fixed`` / ``col_fixed`` a bool, or a per-column mask for
    the columns whose mass is fixed). Sums in float64."""
    err = torch.zeros(T.shape[0], dtype=torch.float64, device=T.device)
    if row_fixed is True:
        err = err + (T.sum(2, dtype=torch.float64) - wa.double()).abs().sum(1)
    if isinstance(col_fixed, torch.Tensor) or col_fixed is True:
        dev = (T.sum(1, dtype=torch.float64) - wb.double()).abs()
        if isinstance(col_fixed, torch.Tensor):
            dev = dev * col_fixed.to(dev.dtype)
        err = err + dev.sum(1)
    return (err / wa.double().sum(1)).to(T.dtype)


def _polish(logK, wa, wb, beta, kappa_x, kappa_y, active, tol):
    """Sinkhorn iterations (at most :data:`POLISH_MAX_ITER`) on the kernel
    ``logK`` for the ``active`` problems, until the marginals hold to
    ``tol``: the scaling form with absorption first (balanced), then the
    log domain for the problems it leaves off (small ``epsilon``, kernels
    whose entries underflow). Returns the plan."""
    dtype, device = logK.dtype, logK.device
    neg_inf = torch.tensor(float("-inf"), dtype=dtype, device=device)
    zero = torch.zeros((), dtype=dtype, device=device)
    if beta is not None:
        _, _, T, _, _ = scaling_sinkhorn(logK, wa, wb, beta, max_iter=POLISH_MAX_ITER, tol=0.5 * tol,
                                         active=active)
        todo = active & (_marginal_error(T, wa, wb, True, True) > tol)
        if not bool(todo.any()):
            return T
    else:
        T, todo = None, active
    a0 = torch.where(wa > 0, zero, neg_inf)
    b0 = torch.where(wb > 0, zero, neg_inf)
    pa, pb, _, _ = log_sinkhorn(logK, wa, wb, a0, b0, kappa_x=kappa_x, kappa_y=kappa_y,
                                max_iter=POLISH_MAX_ITER, tol=0.5 * tol, active=todo)
    T_log = torch.exp(logK + pa[:, :, None] + pb[:, None, :])
    return T_log if T is None else torch.where(todo[:, None, None], T_log, T)


def _range_message(err, converged, marginal_tol, cost_ratio, epsilon) -> str:
    """Why a problem did not converge, with the range of costs that works."""
    if bool(converged.all()):
        return ""
    finite = err[~converged & torch.isfinite(err)]
    if finite.numel() == 0:
        return ("The outer iterations did not converge (the plan still changed by more than tol "
                "at max_iter): raise max_iter or epsilon.")
    worst = float(finite.max())
    return (f"The marginals of the plan are off by {worst:.3g} (L1, relative to the mass; "
            f"marginal_tol={marginal_tol:g}). The linear cost spans {cost_ratio:.3g} times epsilon={epsilon:g}; "
            f"the Sinkhorn iterations needed grow with this ratio and beyond about {_RELIABLE_RATIO:g} "
            f"(e.g. a 1 - cos cost in [0, 2] with epsilon < {2.0 / _RELIABLE_RATIO:g}) plans are not reliable: "
            "raise epsilon or normalise the cost.")


@dataclass(frozen=True)
class _Options:
    """The validated options of one solve (see :func:`structured_fgw`)."""

    alpha: float
    radius: float
    epsilon: float
    prior_x: str | None
    prior_y: str | None
    lambda_x: float | None
    lambda_y: float | None
    max_iter: int
    tol: float
    inner_max_iter: int
    inner_tol: float
    step_size: Any
    convention: str
    virtual: bool
    marginal_tol: float

    @property
    def balanced(self) -> bool:
        """Both marginals are hard constraints (no KL penalty)."""
        return self.lambda_x is None and self.lambda_y is None

    @property
    def gw_factor(self) -> float:
        """The factor of ``alpha Cx T Cy`` in the gradient: 2 ("paper") or 1 ("authors")."""
        return _CONVENTIONS[self.convention]


@dataclass
class _Setup:
    """Everything an outer loop needs, built once per solve by :func:`_setup`."""

    opts: _Options
    problem: Problem
    cost: torch.Tensor  # C, shifted by ``shift``; overwritten by ``scaled_cost`` when owned
    shift: float
    cost_ratio: float
    cost_owned: bool  # the solver may write into ``cost``
    wa: torch.Tensor
    wb: torch.Tensor
    kappa_x: float
    kappa_y: Any  # float, or a (1, M) tensor with the virtual column fixed
    structure: _Structure
    valid: torch.Tensor | None
    invalid: torch.Tensor | None
    grad_buf: torch.Tensor  # G: the gradient, or the linearised log kernel
    scaled_cost: torch.Tensor | None  # -(1 - alpha) C / epsilon (projected gradient only)
    gw_coef: float | None  # multiplies Cx T Cy in the linearised log kernel

    @cached_property
    def zero(self) -> torch.Tensor:
        return torch.zeros((), dtype=self.cost.dtype, device=self.cost.device)

    @cached_property
    def neg_inf(self) -> torch.Tensor:
        return torch.tensor(float("-inf"), dtype=self.cost.dtype, device=self.cost.device)

    def warm_start(self, beta_warm: torch.Tensor) -> torch.Tensor:
        """Column potentials to start a Sinkhorn solve from (0 on empty columns)."""
        return torch.where(self.wb > 0, beta_warm, self.zero)

    def gradient(self, T: torch.Tensor) -> torch.Tensor:
        """Gradient of ``(1 - alpha) <C, T> + (g / 2) alpha <Cx T Cy, T>``, into ``grad_buf``."""
        alpha, G = self.opts.alpha, self.grad_buf
        if alpha == 0.0 or not self.structure.active:
            return G.copy_(self.cost).mul_(1.0 - alpha) if alpha > 0 else G.copy_(self.cost)
        self.structure.product_into(T, G)
        return G.mul_(self.opts.gw_factor * alpha * self.structure.scale).add_(self.cost, alpha=1.0 - alpha)


class _Progress:
    """The plan of an outer loop with its per-problem flags and counts.

    ``spare`` is a second plan-sized buffer: a step that writes its plan
    there has it swapped in without a copy (:meth:`accept`); ``work`` is
    the Sinkhorn kernel's buffer.
    """

    def __init__(self, T: torch.Tensor) -> None:
        B, device = T.shape[0], T.device
        self.T = T
        self.spare = torch.empty_like(T)
        self.work = torch.empty_like(T)
        self.active = torch.ones(B, dtype=torch.bool, device=device)
        self.converged = torch.zeros(B, dtype=torch.bool, device=device)
        self.n_iter = torch.zeros(B, dtype=torch.long, device=device)

    def flags(self) -> list[bool]:
        """Whether any problem, and whether every problem, is still iterating."""
        return flags(self.active.any(), self.active.all())

    def stop_where(self, change: torch.Tensor, tol: float) -> None:
        """The active problems whose plan changed by at most ``tol`` converge."""
        done = self.active & (change <= tol)
        self.converged |= done
        self.active &= ~done

    def accept(self, T_new: torch.Tensor, *, check: bool, all_active: bool, tol: float) -> None:
        """Take the plans of the active problems; at a check, measure the L1
        change of each plan (three passes, so only every few iterations) and
        stop the problems that moved less than ``tol``."""
        if all_active and T_new is self.spare:
            if check:
                self.T.sub_(T_new)
                change = self.T.abs_().sum((1, 2))
            self.T, self.spare = T_new, self.T
        else:
            if check:
                change = (T_new - self.T).abs().sum((1, 2))
            self.T = torch.where(self.active[:, None, None], T_new, self.T)
        self.n_iter += self.active.long()
        if check:
            self.stop_where(change, tol)


def _is_check(it: int, max_iter: int) -> bool:
    """Whether outer iteration ``it`` ends with a convergence check."""
    return it % _CHECK_EVERY == _CHECK_EVERY - 1 or it == max_iter - 1


def _precedes_check(it: int, max_iter: int) -> bool:
    """Whether iteration ``it + 1`` checks (the plan of ``it`` is then needed)."""
    last = it == max_iter - 1
    return not last and (it % _CHECK_EVERY == _CHECK_EVERY - 2 or it == max_iter - 2)


def _shift_far_cost(problem: Problem, opts: _Options, owned: bool, cmin: float,
                    cmax: float) -> tuple[Problem, float, bool]:
    """Balanced transport (at least one side balanced fixes the total mass)
    is invariant to a constant added to the cost: a cost far from zero
    (e.g. ``C + 1e4``) is shifted by its smallest valid entry, the virtual
    frame's cost included, so that float32 keeps its differences. Returns
    the problem, the shift and whether the solver owns its cost
    (``cmin``, ``cmax``: the range of the cost)."""
    if not (opts.lambda_x is None or opts.lambda_y is None) or abs(cmin) <= max(cmax - cmin, 1.0):
        return problem, 0.0, owned
    C = problem.cost.sub_(cmin) if owned else problem.cost - cmin
    if problem.masked:
        C.masked_fill_(~problem.valid, 0.0)
    shifted = Problem(C, problem.n, problem.m, problem.mask_x, problem.mask_y, problem.batched, problem.from_numpy)
    return shifted, cmin, True


def _relaxation(opts: _Options, C: torch.Tensor) -> tuple[float, Any]:
    """``kappa = lambda / (lambda + epsilon)`` per side (1 when balanced);
    with a virtual column, that column keeps its mass (that of one frame):
    only the real frames of the second video are relaxed."""
    eps = opts.epsilon
    kappa_x = 1.0 if opts.lambda_x is None else opts.lambda_x / (opts.lambda_x + eps)
    kappa_y = 1.0 if opts.lambda_y is None else opts.lambda_y / (opts.lambda_y + eps)
    if opts.virtual and opts.lambda_y is not None:
        kappa_y = torch.full((1, C.shape[2]), kappa_y, dtype=C.dtype, device=C.device)
        kappa_y[:, -1] = 1.0
    return kappa_x, kappa_y


def _setup(problem: Problem, opts: _Options, owned: bool, a: Any, b: Any) -> _Setup:
    """Shift the cost, build the marginals, the priors' structure and the
    buffers of a solve. With ``owned`` the cost may be overwritten."""
    cmin, cmax = cost_range(problem.cost)
    problem, shift, owned = _shift_far_cost(problem, opts, owned, cmin, cmax)
    C = problem.cost
    wa = marginal(a, problem.mask_x, problem.n, C, "a")
    wb = marginal(b, problem.mask_y, problem.m, C, "b")
    if opts.balanced:
        wa = wa / wa.sum(1, keepdim=True)
        wb = wb / wb.sum(1, keepdim=True)
    masked = problem.masked
    valid = problem.valid if masked or opts.step_size is not None else None
    n_struct = problem.n - 1 if opts.virtual else problem.n
    m_struct = problem.m - 1 if opts.virtual else problem.m
    structure = _Structure(opts.prior_x, opts.prior_y, opts.radius, n_struct, m_struct, opts.virtual, C.shape,
                           C.dtype, C.device)
    kappa_x, kappa_y = _relaxation(opts, C)
    grad_buf = torch.empty_like(C)
    scaled_cost = gw_coef = None
    if opts.step_size is None:
        # logK = -grad / epsilon = C' + gw_coef (Cx T Cy), C' computed once;
        # an owned cost (built by vaot) is scaled in place: one buffer fewer.
        factor = -(1.0 - opts.alpha) / opts.epsilon
        scaled_cost = C.mul_(factor) if owned and opts.alpha < 1.0 else C * factor
        gw_coef = -opts.gw_factor * opts.alpha * structure.scale / opts.epsilon
    return _Setup(opts, problem, C, shift, (1.0 - opts.alpha) * (cmax - cmin) / opts.epsilon, owned, wa, wb,
                  kappa_x, kappa_y, structure, valid, ~valid if masked else None, grad_buf, scaled_cost, gw_coef)


def _numba_kernels(setup: _Setup, T: torch.Tensor) -> tuple[Any, Any]:
    """One numba decision for the whole solve: ``(logk_kernels,
    fused_kernels)``. The first serve the VAOT priors' linearised cost on
    unpadded problems (projected gradient); the second, the fused loop of
    balanced problems (:func:`_fused_loop`). Either is None on torch."""
    o, st = setup.opts, setup.structure
    vaot_priors = (not setup.problem.masked and st.active and st.uniform
                   and o.prior_x == "band" and o.prior_y == "complement_band")
    if o.step_size is not None or not vaot_priors:
        return None, None
    logk = numba_backend(T, setup.scaled_cost, setup.grad_buf, iterations=o.max_iter)
    return logk, (logk if o.balanced and o.alpha > 0 else None)


def _fused_loop(setup: _Setup, kernels: Any, progress: _Progress) -> torch.Tensor:
    """Projected gradient for balanced problems on the numba kernels.

    The plan stays factored as ``(P, u, v)`` between outer iterations: one
    pass over ``P`` gives ``Z = T Cy`` for the next linearised cost, and the
    plan is written out only around convergence checks and at the end.
    While every problem is active the iterations run in calls of up to 100
    (no Python between them, :func:`fused_iterations`); a call hands back
    where a problem stops, at the end, or for an iteration whose Sinkhorn
    block needs the general loop (``blocked``), done here one at a time
    (:func:`_fused_step`). Returns the warm column potentials.
    """
    o, st = setup.opts, setup.structure
    Z = kernels.complement(progress.T, st.z1, st.wy[0])
    beta_warm = torch.zeros_like(setup.wb)
    change = torch.zeros(progress.T.shape[0], dtype=torch.float64)
    resume, blocked = 0, -1
    for it in range(o.max_iter):
        if it < resume:
            continue
        any_active, all_active = progress.flags()
        if not any_active:
            break
        if it != blocked and o.inner_max_iter <= _LEAN_SINKHORN and all_active:
            resume, status = kernels.fused_iterations(
                Z, setup.scaled_cost, setup.grad_buf, setup.gw_coef, st.wx[0], st.wy[0], beta_warm, setup.wa, setup.wb,
                progress.work, progress.T, progress.active, progress.n_iter, change, it=it,
                max_iter=o.max_iter, steps=o.inner_max_iter, check_every=_CHECK_EVERY, tol=o.tol)
            if status == 2:
                progress.stop_where(change, o.tol)
            elif status == 1:
                blocked = resume
            if resume > it:
                continue
        beta_warm, change = _fused_step(setup, kernels, progress, Z, beta_warm, it)
    return beta_warm


def _fused_step(setup: _Setup, kernels: Any, progress: _Progress, Z: torch.Tensor, beta_warm: torch.Tensor,
                it: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One iteration of :func:`_fused_loop` from Python: the Sinkhorn kernel
    and its first scaling in one pass (``logK`` itself is written only if
    the Sinkhorn solve needs it), the solve, then the plan (before and at a
    check: the check measures the change of one iteration) and ``Z``.
    Returns the warm potentials and the plan change."""
    o, st, active, P_buf = setup.opts, setup.structure, progress.active, progress.work
    dtype = setup.cost.dtype
    beta0 = setup.warm_start(beta_warm)
    prepared = kernels.band_kernel(Z, setup.scaled_cost, setup.gw_coef, st.wx[0], setup.grad_buf, beta0, P_buf,
                                   setup.wa, kernel_cutoff(dtype), torch.finfo(dtype).tiny, write_g=False)
    _, beta_new, (P, u, v), _, _ = scaling_sinkhorn_factors(
        setup.grad_buf, setup.wa, setup.wb, beta0, max_iter=o.inner_max_iter, tol=o.inner_tol,
        active=active, work=P_buf, backend=kernels, prepared=prepared,
        fill_logk=lambda: kernels.band_logk(Z, setup.scaled_cost, setup.gw_coef, st.wx[0], setup.grad_buf),
    )
    beta_warm = torch.where(active[:, None] & (setup.wb > 0), beta_new, beta_warm)
    check = _is_check(it, o.max_iter)
    change = kernels.materialize(P, u, v, progress.T, Z, st.wy[0], active,
                            with_t=check or _precedes_check(it, o.max_iter), with_z=True)
    progress.n_iter += active.long()
    if check:
        progress.stop_where(change, o.tol)
    return beta_warm, change


def _projected_gradient_loop(setup: _Setup, logk_kernels: Any, progress: _Progress) -> torch.Tensor:
    """Projected gradient with step ``1/epsilon`` (Peyre et al., 2016): each
    outer iteration is an entropic OT problem with the linearised cost
    (:func:`_linearised_log_kernel`), solved from the previous dual
    potentials (scaling form when balanced, log domain with KL marginals
    otherwise). Returns the warm column potentials."""
    o = setup.opts
    alpha_pot = torch.where(setup.wa > 0, setup.zero, setup.neg_inf)
    beta_pot = torch.where(setup.wb > 0, setup.zero, setup.neg_inf)
    beta_warm = torch.zeros_like(setup.wb)
    # The numba Sinkhorn kernels take the real frames of a padded problem to
    # be a prefix; a padded VAOT problem has its virtual frame after the
    # padding (last), where they gave NaN plans in float32: torch then.
    sinkhorn_backend = None if (o.virtual and setup.problem.masked) else "auto"
    for it in range(o.max_iter):
        any_active, all_active = progress.flags()
        if not any_active:
            break
        active = progress.active
        logK = _linearised_log_kernel(setup, logk_kernels, progress.T)
        if o.balanced:
            _, beta_new, T_new, _, _ = scaling_sinkhorn(
                logK, setup.wa, setup.wb, setup.warm_start(beta_warm), max_iter=o.inner_max_iter, tol=o.inner_tol,
                active=active, work=progress.work, out=progress.spare, backend=sinkhorn_backend,
            )
            beta_warm = torch.where(active[:, None] & (setup.wb > 0), beta_new, beta_warm)
        else:
            alpha_pot, beta_pot, _, _ = log_sinkhorn(
                logK, setup.wa, setup.wb, alpha_pot, beta_pot, kappa_x=setup.kappa_x, kappa_y=setup.kappa_y,
                max_iter=o.inner_max_iter, tol=o.inner_tol, active=active,
            )
            T_new = torch.exp(logK + alpha_pot[:, :, None] + beta_pot[:, None, :])
        progress.accept(T_new, check=_is_check(it, o.max_iter), all_active=all_active, tol=o.tol)
    return beta_warm
def _linearised_log_kernel(setup: _Setup, logk_kernels: Any, T: torch.Tensor) -> torch.Tensor:
    """``logK = -grad / epsilon = C' + gw_coef (Cx T Cy)`` at the plan ``T``,
    into ``grad_buf`` (``-inf`` on padding)."""
    if setup.opts.alpha > 0 and setup.structure.active:
        st = setup.structure
        if logk_kernels is not None:
            logK = logk_kernels.fgw_logk(T, setup.scaled_cost, setup.gw_coef, st.wx[0], st.wy[0], st.z1,
                                         setup.grad_buf)
        else:
            st.product_into(T, setup.grad_buf)
            logK = torch.add(setup.scaled_cost, setup.grad_buf, alpha=setup.gw_coef, out=setup.grad_buf)
    else:
        logK = setup.grad_buf.copy_(setup.scaled_cost)
    if setup.invalid is not None:
        logK.masked_fill_(setup.invalid, float("-inf"))
    return logK


def _mirror_gradient(setup: _Setup, T: torch.Tensor) -> torch.Tensor:
    """The gradient with the KL penalties of the unbalanced sides."""
    o, wa, wb = setup.opts, setup.wa, setup.wb
    full = setup.gradient(T)
    if o.lambda_x is not None:
        full = full + o.lambda_x * torch.log(T.sum(2) / torch.where(wa > 0, wa, torch.ones_like(wa)))[:, :, None]
    if o.lambda_y is not None:
        full = full + o.lambda_y * torch.log(T.sum(1) / torch.where(wb > 0, wb, torch.ones_like(wb)))[:, None, :]
    return full


def _mirror_step_size(setup: _Setup, full: torch.Tensor, logT: torch.Tensor) -> torch.Tensor:
    """Per-problem step of the first iteration: ``4 / max(grad)`` for
    ``"auto"`` (as the ASOT code, whose KL gradient ``log(m/p) + 1`` carries
    a constant +1 per unbalanced side), capped at ``1/epsilon``, the
    projected-gradient step: beyond it ``T^(1 - s epsilon)`` would raise
    the plan to a negative power. A float is used as it is."""
    o = setup.opts
    if o.step_size != "auto":
        return torch.full((full.shape[0],), float(o.step_size), dtype=full.dtype, device=full.device)
    kl_shift = (o.lambda_x or 0.0) + (o.lambda_y or 0.0)
    probe = torch.where(setup.valid, full + o.epsilon * logT + kl_shift, setup.neg_inf)
    step = 4.0 / probe.amax((1, 2)).abs().clamp_min(torch.finfo(full.dtype).tiny)
    return step.clamp_max(1.0 / o.epsilon)


def _project_log_plan(setup: _Setup, logK: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """``log proj(exp(logK))``: the KL projection onto the balanced
    marginals (a Sinkhorn solve when both are, one scaling when one is)."""
    o = setup.opts
    if o.balanced:
        _, _, T_new, _, _ = scaling_sinkhorn(
            logK, setup.wa, setup.wb, torch.zeros_like(setup.wb), max_iter=o.inner_max_iter, tol=o.inner_tol,
            active=active,
        )
        logT_new = torch.where(T_new > 0, torch.log(T_new), setup.neg_inf)
    elif o.lambda_x is None:
        logT_new = logK + (torch.log(setup.wa) - torch.logsumexp(logK, dim=2))[:, :, None]
    elif o.lambda_y is None:
        logT_new = logK + (torch.log(setup.wb) - torch.logsumexp(logK, dim=1))[:, None, :]
    else:
        logT_new = logK
    return torch.where(setup.valid, logT_new, setup.neg_inf)


def _mirror_descent_loop(setup: _Setup, progress: _Progress) -> torch.Tensor:
    """Explicit mirror descent on the entropic objective (the scheme of the
    ASOT authors): ``T <- proj(T exp(-s grad))``, with the KL penalties of
    unbalanced sides in the gradient. Returns the warm column potentials
    (zeros: the projections start cold)."""
    o = setup.opts
    T = progress.T
    logT = torch.where(T > 0, torch.log(T), setup.neg_inf)
    step = None
    for it in range(o.max_iter):
        any_active, all_active = progress.flags()
        if not any_active:
            break
        full = _mirror_gradient(setup, progress.T)
        if step is None:
            step = _mirror_step_size(setup, full, logT)
        sz = step[:, None, None]
        logK = torch.where(setup.valid, (1.0 - sz * o.epsilon) * logT - sz * full, setup.neg_inf)
        logT_new = _project_log_plan(setup, logK, progress.active)
        logT = torch.where(progress.active[:, None, None], logT_new, logT)
        progress.accept(torch.exp(logT_new), check=_is_check(it, o.max_iter), all_active=all_active, tol=o.tol)
    return torch.zeros_like(setup.wb)


def _fixed_sides(setup: _Setup) -> tuple[bool, Any]:
    """The balanced sides, for :func:`_marginal_error`; with a virtual
    column, that column keeps its mass when the columns are relaxed."""
    row_fixed, col_fixed = setup.opts.lambda_x is None, setup.opts.lambda_y is None
    if setup.opts.virtual and setup.opts.lambda_y is not None:
        col_fixed = torch.zeros(setup.cost.shape[2], dtype=torch.bool, device=setup.cost.device)
        col_fixed[-1] = True
    return row_fixed, col_fixed


def _log_kernel_at(setup: _Setup, T: torch.Tensor) -> torch.Tensor:
    """The linearised log kernel ``-grad / epsilon`` at the returned plan, for :func:`_polish`."""
    if setup.opts.step_size is None:
        if setup.opts.alpha > 0 and setup.structure.active:
            setup.structure.product_into(T, setup.grad_buf)
            logK = setup.grad_buf.mul_(setup.gw_coef).add_(setup.scaled_cost)
        else:
            logK = setup.grad_buf.copy_(setup.scaled_cost)
    else:
        logK = setup.gradient(T).mul_(-1.0 / setup.opts.epsilon)
    if setup.invalid is not None:
        logK.masked_fill_(setup.invalid, float("-inf"))
    return logK


def _check_marginals(setup: _Setup, progress: _Progress, beta_warm: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Marginal errors of the returned plan, measured only for the problems
    that stopped on the plan change (the others are not converged anyway,
    and the normal path pays two reductions at most); those whose marginals
    do not hold to ``marginal_tol`` are polished (:func:`_polish`) and
    measured again. Updates ``progress.T`` and ``progress.converged``;
    returns the errors and whether some plan was polished."""
    tol = setup.opts.marginal_tol
    row_fixed, col_fixed = _fixed_sides(setup)
    err = torch.full((setup.cost.shape[0],), float("inf"), dtype=setup.cost.dtype, device=setup.cost.device)
    polished = False
    converged = progress.converged
    if not bool(converged.any()):
        return err, polished
    T = progress.T
    err = torch.where(converged, _marginal_error(T, setup.wa, setup.wb, row_fixed, col_fixed), err)
    bad = converged & (err > tol)
    if bool(bad.any()):
        logK = _log_kernel_at(setup, T)
        start = setup.warm_start(beta_warm) if setup.opts.balanced else None
        T_pol = _polish(logK, setup.wa, setup.wb, start, setup.kappa_x, setup.kappa_y, bad, tol)
        T = progress.T = torch.where(bad[:, None, None], T_pol, T)
        polished = True
        err = torch.where(bad, _marginal_error(T, setup.wa, setup.wb, row_fixed, col_fixed), err)
    progress.converged = converged & (err <= tol)
    return err, polished


def _objective(setup: _Setup, T: torch.Tensor, z_of_plan: Any) -> torch.Tensor:
    """The objective without entropy at the plan ``T``, in the caller's
    cost (the shift added back). ``z_of_plan``: the numba kernels when
    ``structure.z1`` holds ``Z = T Cy`` of this very plan, else None."""
    o, st = setup.opts, setup.structure
    if setup.cost_owned and o.alpha < 1.0 and o.step_size is None:
        value = -o.epsilon * _dot(setup.scaled_cost, T)  # scaled_cost = -(1 - alpha) C / epsilon
    else:
        value = (1.0 - o.alpha) * _dot(setup.cost, T)
    if setup.shift != 0.0:
        value = value + (1.0 - o.alpha) * setup.shift * T.sum((1, 2))
    if o.alpha > 0 and st.active:
        if z_of_plan is not None:
            quad = z_of_plan.band_dot(st.z1, T, st.wx[0]).to(T.dtype)
        else:
            quad = _dot(st.product_into(T, setup.grad_buf), T)
        value = value + (0.5 * o.gw_factor * o.alpha * st.scale) * quad
    if o.lambda_x is not None:
        value = value + o.lambda_x * _kl(T.sum(2), setup.wa)
    if o.lambda_y is not None:
        last = -1 if o.virtual else None  # the virtual column's mass is fixed
        value = value + o.lambda_y * _kl(T.sum(1)[:, :last], setup.wb[:, :last])
    return value


def fgw_solve(
    problem: Problem,
    *,
    alpha: float,
    radius: float,
    epsilon: float,
    prior_x: str | None,
    prior_y: str | None,
    lambda_x: float | None,
    lambda_y: float | None,
    a: Any,
    b: Any,
    max_iter: int,
    tol: float,
    inner_max_iter: int,
    inner_tol: float,
    step_size: Any,
    convention: str,
    virtual: bool = False,
    overwrite_cost: bool = False,
    marginal_tol: float = 1e-4,
    report: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Core solver on a validated problem. Returns plan, value, n_iter, converged.

    Dispatches to one outer loop per algorithm: the fused numba loop
    (:func:`_fused_loop`, balanced VAOT priors on large CPU problems),
    projected gradient (:func:`_projected_gradient_loop`, ``step_size=None``)
    or mirror descent (:func:`_mirror_descent_loop`). With
    ``overwrite_cost=True`` the solver may overwrite ``problem.cost``. A
    problem is converged when the L1 change of its plan fell below ``tol``
    *and* the returned plan satisfies its balanced marginals to
    ``marginal_tol`` (:func:`_marginal_error`). A problem that stopped on the
    plan change but whose marginals do not hold gets further Sinkhorn
    iterations on the linearised kernel at its plan (:func:`_polish`).
    ``report``, when given, receives ``marginal_error`` (per problem),
    ``cost_ratio`` (the range of the linear cost over ``epsilon``) and
    ``message``.
    """
    opts = _Options(alpha, radius, epsilon, prior_x, prior_y, lambda_x, lambda_y, max_iter, tol, inner_max_iter,
                    inner_tol, step_size, convention, virtual, marginal_tol)
    setup = _setup(problem, opts, overwrite_cost, a, b)
    progress = _Progress(setup.wa[:, :, None] * setup.wb[:, None, :])
    logk_kernels, fused = _numba_kernels(setup, progress.T)
    if fused is not None:
        beta_warm = _fused_loop(setup, fused, progress)
    elif step_size is None:
        beta_warm = _projected_gradient_loop(setup, logk_kernels, progress)
    else:
        beta_warm = _mirror_descent_loop(setup, progress)
    err, polished = _check_marginals(setup, progress, beta_warm)
    if report is not None:
        report["marginal_error"] = err
        report["cost_ratio"] = setup.cost_ratio
        report["message"] = _range_message(err, progress.converged, marginal_tol, setup.cost_ratio, epsilon)
    # After a polish, z1 no longer holds T Cy of the returned plan.
    value = _objective(setup, progress.T, fused if not polished else None)
    return progress.T, value, progress.n_iter, progress.converged


def check_solver_options(alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol, step_size, convention):
    alpha = check_alpha(alpha)
    radius = check_radius(radius)
    epsilon = check_positive(epsilon, "epsilon")
    max_iter = check_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    inner_max_iter = check_int(inner_max_iter, "inner_max_iter")
    inner_tol = check_positive(inner_tol, "inner_tol")
    if step_size is not None and step_size != "auto":
        check_positive(step_size, "step_size")
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be 'paper' or 'authors', got {convention!r}.")
    return alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol


@small_work_on_one_thread
def structured_fgw(
    cost: Any,
    *,
    alpha: float = 0.3,
    radius: float = 0.02,
    epsilon: float,
    prior_x: str | None = "band",
    prior_y: str | None = "complement_band",
    lambda_x: float | None = None,
    lambda_y: float | None = None,
    a: Any = None,
    b: Any = None,
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
    r"""Entropic fused Gromov-Wasserstein transport with structural priors.

    Solves (VAOT Eq. 3-4, with an entropy term and optional KL marginals)

    .. math::
        \min_T \; (1-\alpha) \langle C, T \rangle
        + \alpha \langle C^x T C^y, T \rangle - \epsilon H(T)
        + \lambda_x \mathrm{KL}(T 1 \| a) + \lambda_y \mathrm{KL}(T^\top 1 \| b),

    the GW term being :math:`\sum L(C^x_{ik}, C^y_{jl}) T_{ij} T_{kl}` with
    :math:`L(a, b) = ab`. A side whose ``lambda`` is None is balanced (its
    marginal is a hard constraint). The products :math:`C^x T C^y` are
    computed with cumulative sums in O(NM) time and memory for any radius:
    no N x N matrix is ever built.

    Parameters
    ----------
    cost : array-like or torch.Tensor of shape (N, M) or (B, N, M)
        Ground cost ``C``. numpy in gives numpy out; a tensor gives tensors on
        its device and dtype (float32 or float64).
    alpha : float, default=0.3
        Weight of the GW term, in [0, 1].
    radius : float, default=0.02
        Relative radius ``r`` in (0, 1] of the band priors: frames within
        ``floor(N r)`` of each other are neighbours (per problem, from its own
        length).
    epsilon : float
        Entropic regularisation, > 0.
    prior_x, prior_y : {"band", "complement_band", "off_diagonal"} or None
        Structural priors of the two sides (see :func:`prior_matrix`).
        VAOT uses ``"band"`` / ``"complement_band"``; ASOT uses ``"band"`` /
        ``"off_diagonal"``. None on either side removes the GW term.
    lambda_x, lambda_y : float or None, default=None
        KL penalty weights of unbalanced sides; None keeps a side balanced.
    a, b : array-like, default=None
        Marginals; uniform over the valid frames when None.
    mask_x, mask_y : array-like of bool of shape (B, N) / (B, M), default=None
        Valid frames of padded sequences (a prefix of each row). Each problem
        gets the plan it gets alone.
    max_iter : int, default=25
        Outer (mirror-descent) iterations.
    tol : float, default=1e-9
        Stop a problem when the L1 change of its plan is below ``tol``.
    inner_max_iter : int, default=10
        Sinkhorn iterations per outer iteration at most (warm-started from the
        previous dual potentials, so few are needed after the first).
    inner_tol : float, default=1e-6
        Tolerance of the inner Sinkhorn (L1 marginal error).
    step_size : None, "auto" or float, default=None
        None: projected gradient with step ``1/epsilon`` (Peyre et al., 2016;
        the scheme of POT), each outer iteration an exact entropic OT problem
        with the linearised cost. ``"auto"`` or a float: explicit mirror
        descent ``T <- proj(T * exp(-s grad))``, the scheme of the ASOT
        authors' code, ``"auto"`` giving ``s = 4 / max(grad)`` at the first
        iteration, per problem, capped at ``1/epsilon`` (beyond it the
        entropy term would raise the plan to a negative power). Both have the
        same fixed points.
    convention : {"paper", "authors"}, default="paper"
        ``"paper"`` minimises the objective above (GW gradient
        ``2 alpha Cx T Cy``). ``"authors"`` follows the VAOT and ASOT
        authors' code, whose gradient is ``alpha Cx T Cy``: it minimises
        ``(1-alpha) <C,T> + (alpha/2) <Cx T Cy, T>``.
    marginal_tol : float, default=1e-4
        Tolerance on the marginals of the returned plan: the L1 error of its
        row and column sums against ``a`` and ``b``, over the balanced sides
        only (a side with a KL penalty is not constrained), divided by the
        total mass of ``a`` (so absolute for the default unit mass). A
        problem is ``converged`` only when the plan change fell below
        ``tol`` *and* this error is at most ``marginal_tol``. When the plan
        change stops the outer loop but the marginals do not hold (small
        ``epsilon``, costs of large range), up to 1000 further Sinkhorn
        iterations are run on the linearised kernel at the returned plan
        (scaling form, then log domain), and the error measured again. A
        problem that reaches ``max_iter`` is not converged and its plan is
        returned as it is (no extra work on the timed path).

    Returns
    -------
    OTResult
        ``plan``; ``value``: the objective above without the entropy term
        (with ``alpha/2`` for ``convention="authors"``); ``n_iter``;
        ``converged``; ``message``: why a problem did not converge, with the
        range of ``cost / epsilon`` that works.

    Notes
    -----
    With at least one balanced side the objective changes by a constant
    when a constant is added to the cost, so a cost far from zero is
    shifted internally by its smallest entry (``value`` is that of the
    original cost). Scaling is not free (``epsilon`` is absolute): the
    Sinkhorn iterations needed grow with ``(1 - alpha) (max C - min C) /
    epsilon``; beyond about 1e3 (e.g. a ``1 - cos`` cost in [0, 2] with
    ``epsilon < 2e-3``) plans may violate their marginals, which
    ``converged=False`` and ``message`` then report.

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Eq. 3-4.
    .. [2] Peyre, Cuturi, Solomon, "Gromov-Wasserstein Averaging of Kernel
       and Distance Matrices", ICML 2016.
    .. [3] Xu, Gould, "Temporally Consistent Unbalanced Optimal Transport for
       Unsupervised Action Segmentation", CVPR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.ot import structured_fgw
    >>> cost = np.abs(np.linspace(0, 1, 6)[:, None] - np.linspace(0, 1, 6)[None, :])
    >>> res = structured_fgw(cost, alpha=0.3, radius=0.2, epsilon=0.01, max_iter=100)
    >>> res.plan.argmax(1)
    array([0, 1, 2, 3, 4, 5])
    """
    problem = prepare(cost, mask_x, mask_y)
    alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol = check_solver_options(
        alpha, radius, epsilon, max_iter, tol, inner_max_iter, inner_tol, step_size, convention
    )
    prior_x = _check_prior(prior_x, "prior_x")
    prior_y = _check_prior(prior_y, "prior_y")
    lambda_x = check_lambda(lambda_x, "lambda_x")
    lambda_y = check_lambda(lambda_y, "lambda_y")
    marginal_tol = check_positive(marginal_tol, "marginal_tol")
    report: dict = {}
    plan, value, n_iter, converged = fgw_solve(
        problem, alpha=alpha, radius=radius, epsilon=epsilon, prior_x=prior_x, prior_y=prior_y,
        lambda_x=lambda_x, lambda_y=lambda_y, a=a, b=b, max_iter=max_iter, tol=tol,
        inner_max_iter=inner_max_iter, inner_tol=inner_tol, step_size=step_size, convention=convention,
        marginal_tol=marginal_tol, report=report,
    )
    return finish(problem, plan, value, n_iter, converged, message=report["message"])
