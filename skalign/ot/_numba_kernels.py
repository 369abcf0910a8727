"""Optional numba kernels for the balanced structured FGW solver on the CPU.

The torch path of :func:`skalign.ot._fgw.fgw_solve` makes about twenty
passes over the ``(N, M)`` matrices per outer iteration; on a CPU their cost
is memory traffic, not arithmetic. These kernels compute the same quantities
in fewer passes:

- :func:`fgw_logk`: ``logK = C' + c1 (Cx T Cy)`` for the band prior on the
  rows and the complement-of-band prior on the columns, in two passes (one
  window sum per row, then running window sums down the rows);
- :func:`rebuild`: ``P = exp(logK + beta - rowmax)`` with the threshold of
  :func:`skalign.ot._sinkhorn.scaling_sinkhorn`, its row sums, ``u`` and
  ``P^T u``, in three passes (the exponential is torch's, which is
  vectorised);
- :func:`sinkhorn_steps`: Sinkhorn iterations with ``P v`` and the next
  ``P^T u`` in one pass over ``P`` per iteration;
- :func:`scale_plan`: ``u P v``.

Sums are accumulated in float64 (reductions may be reordered to be
vectorised), so results equal the torch path up to rounding: float32 plans
are closer to the float64 plans than those of the torch path. Kernels are
compiled on first use and cached next to this file (``cache=True``); the
number of numba threads follows ``torch.get_num_threads()``. This module imports numba at import time; it is loaded lazily by
:func:`skalign.ot._fast.numba_backend`, which returns None when numba is
missing or ``SKALIGN_NO_NUMBA=1``.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

_OPTS = dict(parallel=True, cache=True, nogil=True, fastmath=False)
# Reductions may be reordered (vectorised); no other fast-math flag, so
# infinities keep their meaning.
_SUM_OPTS = dict(parallel=True, cache=True, nogil=True, fastmath={"reassoc"})


def _chunks(n: int) -> int:
    return max(1, min(numba.get_num_threads(), n))


@njit(**_OPTS)
def _complement_cols(T, Z, w):  # pragma: no cover - compiled
    """``Z[b, i, :] = T[b, i, :Mr] Cy`` for the complement-of-band prior.

    Prefix sums in float64, eight rows at a time (independent chains)."""
    B, Nr, Mr = Z.shape
    R = 8
    nblk = (Nr + R - 1) // R
    for bb in range(B):
        for blk in prange(nblk):
            i0 = blk * R
            nr = min(R, Nr - i0)
            S = np.zeros((Mr + 1, R))
            acc = np.zeros(R)
            for j in range(Mr):
                for r in range(nr):
                    acc[r] += T[bb, i0 + r, j]
                    S[j + 1, r] = acc[r]
            for r in range(nr):
                i = i0 + r
                Ti = T[bb, i]
                Zi = Z[bb, i]
                total = S[Mr, r]
                for j in range(Mr):
                    hi = min(j + w, Mr - 1) + 1
                    lo = max(j - w, 0)
                    Zi[j] = total - (S[hi, r] - S[lo, r]) + Ti[j]


@njit(**_OPTS)
def _band_rows_logk(Z, Cs, G, w, c1, nch):  # pragma: no cover - compiled
    """``G = Cs + c1 (Cx Z)`` on the real block (raw band ``Cx``) and
    ``G = Cs`` on the virtual row and column, if any."""
    B, Nr, Mr = Z.shape
    N, M = G.shape[1], G.shape[2]
    for bb in range(B):
        for c in prange(nch):
            r0 = c * Nr // nch
            r1 = (c + 1) * Nr // nch
            if r1 <= r0:
                continue
            acc = np.zeros(Mr)
            for k in range(max(r0 - w, 0), min(r0 + w, Nr - 1) + 1):
                for j in range(Mr):
                    acc[j] += Z[bb, k, j]
            for i in range(r0, r1):
                for j in range(Mr):
                    G[bb, i, j] = Cs[bb, i, j] + c1 * (acc[j] - Z[bb, i, j])
                for j in range(Mr, M):
                    G[bb, i, j] = Cs[bb, i, j]
                if i + w + 1 < Nr:
                    for j in range(Mr):
                        acc[j] += Z[bb, i + w + 1, j]
                if i - w >= 0:
                    for j in range(Mr):
                        acc[j] -= Z[bb, i - w, j]
        for i in range(Nr, N):
            for j in range(M):
                G[bb, i, j] = Cs[bb, i, j]


@njit(**_OPTS)
def _shifted(logK, beta, P, m, cutoff):  # pragma: no cover - compiled
    """``P = logK + beta - m`` with ``m`` the finite row maxima, entries at
    or below ``cutoff`` set to ``-inf`` (the exponential is taken after)."""
    B, N, M = logK.shape
    dt = P.dtype.type
    for bb in range(B):
        for i in prange(N):
            Li = logK[bb, i]
            Pi = P[bb, i]
            be = beta[bb]
            mx = dt(-np.inf)
            for j in range(M):
                e = Li[j] + be[j]
                Pi[j] = e
                mx = max(mx, e)
            if not np.isfinite(mx):
                mx = dt(0.0)
            m[bb, i] = mx
            for j in range(M):
                d = Pi[j] - mx
                Pi[j] = d if d > cutoff else dt(-np.inf)


# Row helpers, compiled on their own so that their loops are vectorised.
_ROW_OPTS = dict(cache=True, nogil=True, fastmath={"reassoc"}, inline="never")


@njit(**_ROW_OPTS)
def _dot(x, y):  # pragma: no cover - compiled
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] * y[j]
    return s


@njit(**_ROW_OPTS)
def _rowsum(x):  # pragma: no cover - compiled
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j]
    return s


@njit(**_ROW_OPTS)
def _axpy(acc, x0, c0):  # pragma: no cover - compiled
    for j in range(x0.shape[0]):
        acc[j] += x0[j] * c0


@njit(**_ROW_OPTS)
def _axpy2(acc, x0, c0, x1, c1):  # pragma: no cover - compiled
    for j in range(x0.shape[0]):
        acc[j] += x0[j] * c0 + x1[j] * c1


@njit(**_ROW_OPTS)
def _reduce(part, out):  # pragma: no cover - compiled
    for j in range(out.shape[0]):
        t = 0.0
        for c in range(part.shape[0]):
            t += part[c, j]
        out[j] = t


@njit(**_SUM_OPTS)
def _scale_rows(P, a, u, Ptu, tiny, nch):  # pragma: no cover - compiled
    """``u = a / rowsum(P)`` (clamped at ``tiny``) and ``Ptu = P^T u``."""
    B, N, M = P.shape
    dt = P.dtype.type
    for bb in range(B):
        part = np.zeros((nch, M))
        for c in prange(nch):
            r0 = c * N // nch
            r1 = (c + 1) * N // nch
            pc = part[c]
            for i in range(r0, r1):
                ui = a[bb, i] / max(dt(_rowsum(P[bb, i])), tiny)
                u[bb, i] = ui
                _axpy(pc, P[bb, i], float(u[bb, i]))
        _reduce(part, Ptu[bb])


@njit(**_SUM_OPTS)
def _ptu(P, u, Ptu, nch):  # pragma: no cover - compiled
    B, N, M = P.shape
    for bb in range(B):
        part = np.zeros((nch, M))
        for c in prange(nch):
            r0 = c * N // nch
            r1 = (c + 1) * N // nch
            pc = part[c]
            for i in range(r0, r1):
                _axpy(pc, P[bb, i], float(u[bb, i]))
        _reduce(part, Ptu[bb])


@njit(**_SUM_OPTS)
def _steps(P, a, b, u, v, u_prev, Pv, Ptu, steps, tiny, nch):  # pragma: no cover - compiled
    """``steps`` iterations ``v = b / P^T u``, ``u = a / P v`` from ``Ptu``
    (``P^T u`` of the current ``u``); on return ``Ptu`` is ``P^T u`` of the
    new ``u``. One pass over ``P`` per iteration, two rows at a time."""
    B, N, M = P.shape
    dt = P.dtype.type
    vf = np.empty(M)
    for bb in range(B):
        for _ in range(steps):
            for j in range(M):
                vj = b[bb, j] / max(dt(Ptu[bb, j]), tiny)
                v[bb, j] = vj
                vf[j] = float(v[bb, j])
            part = np.zeros((nch, M))
            for c in prange(nch):
                r0 = c * N // nch
                r1 = (c + 1) * N // nch
                pc = part[c]
                i = r0
                while i < r1:
                    k = min(2, r1 - i)
                    for r in range(k):
                        q = dt(_dot(P[bb, i + r], vf))
                        Pv[bb, i + r] = q
                        u_prev[bb, i + r] = u[bb, i + r]
                        u[bb, i + r] = a[bb, i + r] / max(q, tiny)
                    if k == 2:
                        _axpy2(pc, P[bb, i], float(u[bb, i]), P[bb, i + 1], float(u[bb, i + 1]))
                    else:
                        _axpy(pc, P[bb, i], float(u[bb, i]))
                    i += k
            _reduce(part, Ptu[bb])


@njit(**_OPTS)
def _scale_plan(P, u, v, out):  # pragma: no cover - compiled
    B, N, M = P.shape
    for bb in range(B):
        for i in prange(N):
            ui = u[bb, i]
            for j in range(M):
                out[bb, i, j] = (P[bb, i, j] * ui) * v[bb, j]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _sync_threads() -> None:
    n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def fgw_logk(T: torch.Tensor, C_scaled: torch.Tensor, c1: float, wx: int, wy: int,
             Z: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """``G = C_scaled + c1 (Cx T Cy)`` with ``Cx`` the raw band (half-width
    ``wx``) and ``Cy`` the complement of band (half-width ``wy``) on the real
    block ``Z.shape[1:]`` of ``T``; ``G = C_scaled`` elsewhere."""
    _sync_threads()
    _complement_cols(_np(T), _np(Z), int(wy))
    _band_rows_logk(_np(Z), _np(C_scaled), _np(G), int(wx), float(c1), _chunks(Z.shape[1]))
    return G


def rebuild(logK: torch.Tensor, beta: torch.Tensor, a: torch.Tensor, P: torch.Tensor,
            cutoff: float, tiny: float):
    """``P = exp(logK + beta - m)`` (thresholded at ``cutoff``) with ``m`` the
    finite row maxima; returns ``m``, ``u = a / rowsum(P)`` and ``P^T u``."""
    _sync_threads()
    B, N, M = logK.shape
    m = torch.empty((B, N), dtype=logK.dtype)
    u = torch.empty((B, N), dtype=logK.dtype)
    Ptu = torch.empty((B, M), dtype=torch.float64)
    _shifted(_np(logK), _np(beta.contiguous()), _np(P), _np(m), float(cutoff))
    P.exp_()
    _scale_rows(_np(P), _np(a.contiguous()), _np(u), _np(Ptu), float(tiny), _chunks(N))
    return m, u, Ptu


def sinkhorn_steps(P: torch.Tensor, a: torch.Tensor, b: torch.Tensor, u: torch.Tensor,
                   Ptu: torch.Tensor | None, steps: int, tiny: float):
    """``steps`` Sinkhorn iterations on the kernel ``P``. Returns the new
    ``u``, ``v``, the ``u`` before the last iteration, the last ``P v`` and
    ``P^T u`` of the new ``u``."""
    _sync_threads()
    B, N, M = P.shape
    nch = _chunks(N)
    Pn = _np(P)
    u = u.clone().contiguous()
    if Ptu is None:
        Ptu = torch.empty((B, M), dtype=torch.float64)
        _ptu(Pn, _np(u), _np(Ptu), nch)
    else:
        Ptu = Ptu.clone()
    v = torch.empty((B, M), dtype=P.dtype)
    u_prev = torch.empty_like(u)
    Pv = torch.empty_like(u)
    _steps(Pn, _np(a.contiguous()), _np(b.contiguous()), _np(u), _np(v), _np(u_prev), _np(Pv), _np(Ptu),
           int(steps), float(tiny), nch)
    return u, v, u_prev, Pv, Ptu


def scale_plan(P: torch.Tensor, u: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = P * u[:, :, None] * v[:, None, :]``."""
    _sync_threads()
    _scale_plan(_np(P), _np(u.contiguous()), _np(v.contiguous()), _np(out))
    return out
