"""Dense reference implementations for the OT tests.

They follow the equations directly with dense prior matrices, so they share
no code with the O(NM) solvers under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp


def dense_sinkhorn(K_log, a, b, n_iter=5000, tol=1e-14):
    """Plain log-domain Sinkhorn on a log-kernel; returns the plan."""
    f = np.zeros(len(a))
    g = np.zeros(len(b))
    for _ in range(n_iter):
        f = np.log(a) - logsumexp(K_log + g[None, :], axis=1)
        g_new = np.log(b) - logsumexp(K_log + f[:, None], axis=0)
        if np.abs(g_new - g).max() < tol:
            g = g_new
            break
        g = g_new
    return np.exp(K_log + f[:, None] + g[None, :])


def dense_fgw_pgd(C, Cx, Cy, alpha, epsilon, n_outer, a=None, b=None, g=2.0):
    """Projected gradient (step 1/epsilon) with exact inner Sinkhorn:
    T <- Sinkhorn((1-alpha) C + g alpha Cx T Cy, epsilon)."""
    N, M = C.shape
    a = np.full(N, 1 / N) if a is None else a
    b = np.full(M, 1 / M) if b is None else b
    T = np.outer(a, b)
    for _ in range(n_outer):
        grad = (1 - alpha) * C + g * alpha * Cx @ T @ Cy
        T = dense_sinkhorn(-grad / epsilon, a, b)
    return T


def dense_asot_md(C, Cv, Ca, alpha, epsilon, lam_actions, n_iter, g=1.0):
    """The explicit mirror descent of ASOT, frames balanced, actions KL:
    T <- rownormalise(T * exp(-s (grad + eps log T + lam (log(T'1/q) + 1))))
    with s = 4 / max(first gradient)."""
    N, K = C.shape
    p, q = np.full(N, 1 / N), np.full(K, 1 / K)
    T = np.outer(p, q)
    s = None
    for _ in range(n_iter):
        grad = (1 - alpha) * C + g * alpha * Cv @ T @ Ca
        full = grad + epsilon * np.log(T) + lam_actions * (np.log(T.sum(0) / q) + 1)[None, :]
        if s is None:
            s = 4.0 / full.max()
        T = T * np.exp(-s * full)
        T = T / T.sum(1, keepdims=True) * p[:, None]
    return T


@pytest.fixture(params=["torch", "numba"])
def solver_backend(request, monkeypatch):
    """Run the test on the torch path, then on the numba kernels (even for
    small problems); skipped for numba where it is not installed."""
    if request.param == "numba":
        pytest.importorskip("numba")
        from skalign.ot import _fast

        monkeypatch.setattr(_fast, "NUMBA_MIN_SIZE", 0)
        monkeypatch.delenv("SKALIGN_NO_NUMBA", raising=False)
    else:
        monkeypatch.setenv("SKALIGN_NO_NUMBA", "1")
    return request.param


@pytest.fixture
def oracle():
    class Oracle:
        sinkhorn = staticmethod(dense_sinkhorn)
        fgw_pgd = staticmethod(dense_fgw_pgd)
        asot_md = staticmethod(dense_asot_md)

    return Oracle
