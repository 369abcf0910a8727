"""Entropic fused Gromov-Wasserstein with structural priors (VAOT, ASOT).

The GW term uses ``L(a, b) = a b``, so ``F_GW(T) = <Cx T Cy, T>`` and its
gradient is ``2 Cx T Cy`` for the symmetric priors used here (Peyre et al.,
2016, Prop. 1). With band, complement-of-band and off-diagonal priors the
product ``Cx T Cy`` costs O(N M) with prefix sums (``_fast.apply_prior_into``).
"""

from __future__ import annotations

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
    owned: bool = False,
    marginal_tol: float = 1e-4,
    report: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Core solver on a validated problem. Returns plan, value, n_iter, converged.

    With ``owned=True`` the solver may overwrite ``problem.cost``. A problem
    is converged when the L1 change of its plan fell below ``tol`` *and* the
    returned plan satisfies its balanced marginals to ``marginal_tol``
    (:func:`_marginal_error`). A problem that stopped on the plan change but
    whose marginals do not hold gets further Sinkhorn iterations on the
    linearised kernel at its plan (:func:`_polish`). ``report``, when given,
    receives ``marginal_error`` (per problem), ``cost_ratio`` (the range of
    the linear cost over ``epsilon``) and ``message``.
    """
    C = problem.cost
    dtype, device = C.dtype, C.device
    # Balanced transport (at least one side balanced fixes the total mass)
    # is invariant to a constant added to the cost: a cost far from zero
    # (e.g. C + 1e4) is shifted by its smallest valid entry, the virtual
    # frame's cost included, so that float32 keeps its differences.
    cmin, cmax = cost_range(C)
    shift = 0.0
    if (lambda_x is None or lambda_y is None) and abs(cmin) > max(cmax - cmin, 1.0):
        shift = cmin
        C = C.sub_(shift) if owned else C - shift
        owned = True
        if problem.masked:
            C.masked_fill_(~problem.valid, 0.0)
        problem = Problem(C, problem.n, problem.m, problem.mask_x, problem.mask_y, problem.batched, problem.from_numpy)
    cost_ratio = (1.0 - alpha) * (cmax - cmin) / epsilon
    B = C.shape[0]
    zero = torch.zeros((), dtype=dtype, device=device)
    neg_inf = torch.tensor(float("-inf"), dtype=dtype, device=device)
    g = _CONVENTIONS[convention]
    wa = marginal(a, problem.mask_x, problem.n, C, "a")
    wb = marginal(b, problem.mask_y, problem.m, C, "b")
    if lambda_x is None and lambda_y is None:
        wa = wa / wa.sum(1, keepdim=True)
        wb = wb / wb.sum(1, keepdim=True)
    masked = problem.masked
    valid = problem.valid if masked or step_size is not None else None
    n_struct = problem.n - 1 if virtual else problem.n
    m_struct = problem.m - 1 if virtual else problem.m
    structure = _Structure(prior_x, prior_y, radius, n_struct, m_struct, virtual, C.shape, dtype, device)

    balanced = lambda_x is None and lambda_y is None
    kappa_x = 1.0 if lambda_x is None else lambda_x / (lambda_x + epsilon)
    kappa_y = 1.0 if lambda_y is None else lambda_y / (lambda_y + epsilon)
    if virtual and lambda_y is not None:
        # The virtual column keeps its mass (that of one frame); only the
        # real frames of the second video are relaxed.
        kappa_y = torch.full((1, C.shape[2]), kappa_y, dtype=dtype, device=device)
        kappa_y[:, -1] = 1.0

    G = torch.empty_like(C)

    def gradient(T: torch.Tensor) -> torch.Tensor:
        """Gradient of (1 - alpha) <C, T> + (g / 2) alpha <Cx T Cy, T>, into G."""
        if alpha == 0.0 or not structure.active:
            return G.copy_(C).mul_(1.0 - alpha) if alpha > 0 else G.copy_(C)
        structure.product_into(T, G)
        return G.mul_(g * alpha * structure.scale).add_(C, alpha=1.0 - alpha)

    # Mode "projected gradient": logK = -grad / epsilon = C' + c1 * (Cx T Cy)
    # with C' = -(1 - alpha) C / epsilon computed once.
    if step_size is None:
        # A cost the caller owns (built by vaot) is scaled in place: one
        # buffer of the problem's size fewer; the value then comes from it.
        C_scaled = C.mul_(-(1.0 - alpha) / epsilon) if owned and alpha < 1.0 else C * (-(1.0 - alpha) / epsilon)
        c1 = -g * alpha * structure.scale / epsilon
    invalid = ~valid if masked else None
    # The numba kernels cover the VAOT priors on unpadded problems.
    fused_ok = (not masked and structure.active and structure.uniform
                and prior_x == "band" and prior_y == "complement_band")

    T = wa[:, :, None] * wb[:, None, :]
    logT = torch.where(T > 0, torch.log(T), neg_inf) if step_size is not None else None
    T_next = torch.empty_like(T)
    P_buf = torch.empty_like(T)
    alpha_pot = torch.where(wa > 0, zero, neg_inf)
    beta_pot = torch.where(wb > 0, zero, neg_inf)
    beta_warm = torch.zeros_like(wb)
    active = torch.ones(B, dtype=torch.bool, device=device)
    converged = torch.zeros(B, dtype=torch.bool, device=device)
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    step = None
    # One numba decision for the whole solve: ``nb_logk`` serves the VAOT
    # priors' linearised cost; ``nb`` is the fused path of balanced problems,
    # where the plan stays factored as (P, u, v) between outer iterations,
    # one pass over P gives Z = T Cy for the next linearised cost, and the
    # plan is written out only around convergence checks and at the end.
    nb_logk = numba_backend(T, C_scaled, G, iterations=max_iter) if step_size is None and fused_ok else None
    nb = nb_logk if balanced and alpha > 0 else None
    if nb is not None:
        Z = nb.complement(T, structure.z1, structure.wy[0])
        change = torch.zeros(B, dtype=torch.float64)
    # While every problem is active, the fused iterations run in numba
    # calls of up to 100 iterations (no Python between them); a call hands
    # back at the checks where a problem stops, at the end, or for an
    # iteration whose Sinkhorn block needs the general loop (``blocked``),
    # which the code below then does.
    resume, blocked = 0, -1
    for it in range(max_iter):
        if it < resume:
            continue
        any_active, all_active = flags(active.any(), active.all())
        if not any_active:
            break
        if nb is not None and it != blocked and inner_max_iter <= _LEAN_SINKHORN and all_active:
            resume, status = nb.fused_iterations(
                Z, C_scaled, G, c1, structure.wx[0], structure.wy[0], beta_warm, wa, wb, P_buf, T, active,
                n_iter, change, it=it, max_iter=max_iter, steps=inner_max_iter, check_every=_CHECK_EVERY, tol=tol)
            if status == 2:
                done = active & (change <= tol)
                converged |= done
                active &= ~done
            elif status == 1:
                blocked = resume
            if resume > it:
                continue
        if nb is not None:
            # The Sinkhorn kernel and its first scaling in one pass; logK
            # itself is written only if the Sinkhorn solve needs it.
            beta0 = torch.where(wb > 0, beta_warm, zero)
            prepared = nb.band_kernel(Z, C_scaled, c1, structure.wx[0], G, beta0, P_buf, wa,
                                      kernel_cutoff(dtype), torch.finfo(dtype).tiny, write_g=False)
            _, beta_new, fac, _, _ = scaling_sinkhorn_factors(
                G, wa, wb, beta0, max_iter=inner_max_iter, tol=inner_tol,
                active=active, work=P_buf, backend=nb, prepared=prepared,
                fill_logk=lambda: nb.band_logk(Z, C_scaled, c1, structure.wx[0], G),
            )
            beta_warm = torch.where(active[:, None] & (wb > 0), beta_new, beta_warm)
            last = it == max_iter - 1
            check = it % _CHECK_EVERY == _CHECK_EVERY - 1 or last
            # The plan before a check is written too: the check measures the
            # change of one iteration.
            before = not last and (it % _CHECK_EVERY == _CHECK_EVERY - 2 or it == max_iter - 2)
            P_, u_, v_ = fac
            change = nb.materialize(P_, u_, v_, T, Z, structure.wy[0], active, with_t=check or before, with_z=True)
            n_iter += active.long()
            if check:
                done = active & (change <= tol)
                converged |= done
                active &= ~done
            continue
        if step_size is None:
            # Projected gradient with step 1/epsilon (Peyre et al., 2016):
            # each outer iteration is an entropic OT problem with the
            # linearised cost, solved from the previous dual potentials.
            if alpha > 0 and structure.active:
                if nb_logk is not None:
                    logK = nb_logk.fgw_logk(T, C_scaled, c1, structure.wx[0], structure.wy[0], structure.z1, G)
                else:
                    structure.product_into(T, G)
                    logK = torch.add(C_scaled, G, alpha=c1, out=G)
            else:
                logK = G.copy_(C_scaled)
            if masked:
                logK.masked_fill_(invalid, float("-inf"))
            if balanced:
                _, beta_new, T_new, _, _ = scaling_sinkhorn(
                    logK, wa, wb, torch.where(wb > 0, beta_warm, zero),
                    max_iter=inner_max_iter, tol=inner_tol, active=active, work=P_buf, out=T_next,
                )
                beta_warm = torch.where(active[:, None] & (wb > 0), beta_new, beta_warm)
                logT_new = None
            else:
                alpha_pot, beta_pot, _, _ = log_sinkhorn(
                    logK, wa, wb, alpha_pot, beta_pot, kappa_x=kappa_x, kappa_y=kappa_y,
                    max_iter=inner_max_iter, tol=inner_tol, active=active,
                )
                T_new = torch.exp(logK + alpha_pot[:, :, None] + beta_pot[:, None, :])
                logT_new = None
        else:
            # Explicit mirror descent on the entropic objective (the scheme of
            # the ASOT authors): T <- proj(T exp(-s grad)), with the KL
            # penalties of unbalanced sides in the gradient.
            full = gradient(T)
            if lambda_x is not None:
                full = full + lambda_x * torch.log(T.sum(2) / torch.where(wa > 0, wa, torch.ones_like(wa)))[:, :, None]
            if lambda_y is not None:
                full = full + lambda_y * torch.log(T.sum(1) / torch.where(wb > 0, wb, torch.ones_like(wb)))[:, None, :]
            if step is None:
                if step_size == "auto":
                    # As in the ASOT code, whose KL gradient log(m/p) + 1
                    # carries a constant +1 per unbalanced side.
                    kl_shift = (lambda_x or 0.0) + (lambda_y or 0.0)
                    probe = torch.where(valid, full + epsilon * logT + kl_shift, neg_inf)
                    step = 4.0 / probe.amax((1, 2)).abs().clamp_min(torch.finfo(dtype).tiny)
                    # A step above 1/epsilon would raise T to a negative power
                    # (T^(1 - s epsilon)); 1/epsilon is the projected-gradient step.
                    step = step.clamp_max(1.0 / epsilon)
                else:
                    step = torch.full((B,), float(step_size), dtype=dtype, device=device)
            s = step[:, None, None]
            logK = torch.where(valid, (1.0 - s * epsilon) * logT - s * full, neg_inf)
            if lambda_x is None and lambda_y is None:
                ones = torch.ones_like(wb)
                _, _, T_new, _, _ = scaling_sinkhorn(
                    logK, wa, wb, torch.zeros_like(ones), max_iter=inner_max_iter, tol=inner_tol, active=active,
                )
                logT_new = torch.where(T_new > 0, torch.log(T_new), neg_inf)
            elif lambda_x is None:
                logT_new = logK + (torch.log(wa) - torch.logsumexp(logK, dim=2))[:, :, None]
            elif lambda_y is None:
                logT_new = logK + (torch.log(wb) - torch.logsumexp(logK, dim=1))[:, None, :]
            else:
                logT_new = logK
            logT_new = torch.where(valid, logT_new, neg_inf)
            T_new = torch.exp(logT_new)
        # The L1 change of the plan is measured every few iterations (it
        # costs three passes); problems stop only at those checks.
        check = it % _CHECK_EVERY == _CHECK_EVERY - 1 or it == max_iter - 1
        # ``active`` is as at the top of the iteration (the inner solves copy it).
        if all_active and T_new is T_next:
            # Swap buffers: T_next holds the new plan, T the old one.
            if check:
                T.sub_(T_new)
                change = T.abs_().sum((1, 2))
            T, T_next = T_new, T
        else:
            if check:
                change = (T_new - T).abs().sum((1, 2))
            T = torch.where(active[:, None, None], T_new, T)
        if logT_new is not None:
            logT = torch.where(active[:, None, None], logT_new, logT)
        n_iter += active.long()
        if check:
            done = active & (change <= tol)
            converged |= done
            active &= ~done
    # Marginals of the returned plan, measured only for the problems that
    # stopped on the plan change (the others are not converged anyway, and
    # the normal path pays two reductions at most).
    row_fixed, col_fixed = lambda_x is None, lambda_y is None
    if virtual and lambda_y is not None:
        col_fixed = torch.zeros(C.shape[2], dtype=torch.bool, device=device)
        col_fixed[-1] = True  # the virtual column keeps its mass
    err = torch.full((B,), float("inf"), dtype=dtype, device=device)
    polished = False
    if bool(converged.any()):
        err = torch.where(converged, _marginal_error(T, wa, wb, row_fixed, col_fixed), err)
        bad = converged & (err > marginal_tol)
        if bool(bad.any()):
            if step_size is None:
                if alpha > 0 and structure.active:
                    structure.product_into(T, G)
                    logK = G.mul_(c1).add_(C_scaled)
                else:
                    logK = G.copy_(C_scaled)
            else:
                logK = gradient(T).mul_(-1.0 / epsilon)
            if masked:
                logK.masked_fill_(invalid, float("-inf"))
            start = torch.where(wb > 0, beta_warm, zero) if balanced else None
            T_pol = _polish(logK, wa, wb, start, kappa_x, kappa_y, bad, marginal_tol)
            T = torch.where(bad[:, None, None], T_pol, T)
            polished = True  # z1 no longer holds T Cy of the returned plan
            err = torch.where(bad, _marginal_error(T, wa, wb, row_fixed, col_fixed), err)
        converged = converged & (err <= marginal_tol)
    if report is not None:
        report["marginal_error"] = err
        report["cost_ratio"] = cost_ratio
        report["message"] = _range_message(err, converged, marginal_tol, cost_ratio, epsilon)
    # The objective without entropy, at the returned plan.
    if owned and alpha < 1.0 and step_size is None:
        value = -epsilon * _dot(C_scaled, T)  # C_scaled = -(1 - alpha) C / epsilon
    else:
        value = (1.0 - alpha) * _dot(C, T)
    if shift != 0.0:
        value = value + (1.0 - alpha) * shift * T.sum((1, 2))
    if alpha > 0 and structure.active:
        if nb is not None and not polished:
            # Z = T Cy of the returned plan is in z1 (written with it).
            quad = nb.band_dot(structure.z1, T, structure.wx[0]).to(dtype)
        else:
            quad = _dot(structure.product_into(T, G), T)
        value = value + (0.5 * g * alpha * structure.scale) * quad
    if lambda_x is not None:
        value = value + lambda_x * _kl(T.sum(2), wa)
    if lambda_y is not None:
        last = -1 if virtual else None  # the virtual column's mass is fixed
        value = value + lambda_y * _kl(T.sum(1)[:, :last], wb[:, :last])
    return T, value, n_iter, converged


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
