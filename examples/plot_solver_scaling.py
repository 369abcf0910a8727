"""
==============================================
The structured fused Gromov-Wasserstein solver
==============================================

:func:`skalign.ot.vaot` solves a fused Gromov-Wasserstein problem whose
structure matrices are band priors. POT's
:func:`ot.gromov.entropic_fused_gromov_wasserstein` solves the same problem
from the dense matrices: its ``square_loss`` on ``(Cx, -Cy / 2)`` is
:math:`(a + b/2)^2 = a^2 + ab + b^2/4`, and the terms in :math:`a^2` and
:math:`b^2` are constant on the couplings with fixed marginals, so only
:math:`L(a, b) = ab` remains, the loss of VAOT. Both run projected
gradient steps with an inner Sinkhorn, so they should return the same
plan. This example checks that, and times both as the videos grow.

skalign never builds the ``N x N`` and ``M x M`` prior matrices: their
products with the plan are cumulative sums, ``O(NM)`` per iteration,
where the dense products cost ``O(N^2 M + N M^2)``.
"""

# %%
# One problem, two solvers
# ------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
import ot

from skalign.ot import prior_matrix, temporal_prior, vaot

alpha, radius, epsilon, rho, n_iter = 0.3, 0.02, 0.1, 0.35, 25


def problem(n, rng):
    """Cosine cost between two random videos of n and 5n/4 frames."""
    m = n + n // 4
    x = rng.normal(size=(n, 16))
    y = rng.normal(size=(m, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return 1.0 - x @ y.T


def objective(plan, cost, cx, cy):
    """(1 - alpha) <C, T> + alpha <Cx T Cy, T>, from the dense matrices."""
    return (1 - alpha) * np.sum(cost * plan) + alpha * np.sum((cx @ plan @ cy) * plan)


# %%
# ``virtual=None`` leaves out the virtual frame (POT has none) and the
# temporal prior is added to the cost given to POT. ``epsilon=0.1`` keeps
# POT's inner Sinkhorn, which works with scalings rather than
# log-potentials, away from underflow. skalign runs once with its default
# inner solver (at most 100 Sinkhorn iterations to ``1e-6``, warm-started)
# and once with POT's (1000 iterations to ``1e-9``).

rng = np.random.default_rng(0)
sizes = [32, 64, 128, 256]
times = {"skalign (default inner)": [], "skalign (POT's inner)": [], "POT": []}
print(f"{'N':>4} {'M':>4}  {'|obj skalign - obj POT|':>24}  {'max |T - T_POT|':>16}")
for n in sizes:
    cost = problem(n, rng)
    m = cost.shape[1]
    cx = prior_matrix("band", n, radius)
    cy = prior_matrix("complement_band", m, radius)
    cost_rho = cost + rho * temporal_prior(n, m)

    start = time.perf_counter()
    plan_pot = ot.gromov.entropic_fused_gromov_wasserstein(
        cost_rho, cx, -cy / 2, loss_fun="square_loss", epsilon=epsilon, alpha=alpha,
        max_iter=n_iter, tol=0.0,
    )
    times["POT"].append(time.perf_counter() - start)

    plans = {}
    for name, inner in [("skalign (default inner)", {}),
                        ("skalign (POT's inner)", dict(inner_max_iter=1000, inner_tol=1e-9))]:
        start = time.perf_counter()
        res = vaot(cost, alpha=alpha, radius=radius, epsilon=epsilon, rho=rho,
                   virtual=None, max_iter=n_iter, tol=1e-12, **inner)
        times[name].append(time.perf_counter() - start)
        plans[name] = res.plan
    plan = plans["skalign (POT's inner)"]
    gap = abs(objective(plan, cost_rho, cx, cy) - objective(plan_pot, cost_rho, cx, cy))
    print(f"{n:4d} {m:4d}  {gap:24.2e}  {np.abs(plan - plan_pot).max():16.2e}")

# %%
# The last two columns compare skalign run with POT's inner settings to
# POT: the objectives and plans agree to the inner solvers' tolerance.
#
# Time against size
# -----------------
# Wall-clock times of one solve (25 outer iterations) on this machine;
# they include Sinkhorn iterations, whose number grows as the problem gets
# harder, so the curves are not pure ``O(NM)`` and ``O(N^2 M)``.

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, values in times.items():
    ax.loglog(sizes, values, marker="o", label=name)
ax.set_xlabel("N (frames of the first video; M = 5N/4)")
ax.set_ylabel("seconds per solve")
ax.legend()
for name, values in times.items():
    print(f"{name:<26}" + "  ".join(f"{v:7.3f}" for v in values))
