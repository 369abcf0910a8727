"""Optional numba kernels for the balanced structured FGW solver on the CPU.

The torch path of :func:`skalign.ot._fgw.fgw_solve` makes about twenty
passes over the ``(N, M)`` matrices per outer iteration; on a CPU their cost
is memory traffic, not arithmetic. These kernels compute the same quantities
in fewer passes:

- :func:`band_kernel`: from ``Z = T Cy``, the linearised cost
  ``logK = C' + c1 (Cx Z)`` a row at a time (running window sums down the
  rows), the thresholded kernel ``P = exp(logK + beta - rowmax)``, its first
  scaling ``u`` and ``P^T u``, in one pass;
- :func:`sinkhorn_block`: Sinkhorn iterations with ``P v`` and the next
  ``P^T u`` in one pass over ``P`` per iteration, then their checks;
- :func:`materialize`: the plan ``u P v`` (when it is needed) and
  ``Z = T Cy`` (running sums along each row) in one pass;
- :func:`fused_iterations`: these three for many outer iterations in one
  call, handing back to the solver at convergence checks a problem passes,
  at the end, or for an iteration the general Sinkhorn loop must do;
- :func:`fgw_logk`, :func:`rebuild`, :func:`sinkhorn_steps`,
  :func:`scale_plan`: the same steps one at a time, for the general
  Sinkhorn loop.

Sums along a row are accumulated in the problem's dtype, and column sums in
blocks of ``_BLOCK`` rows in that dtype, then in float64; reductions may be
reordered to be vectorised. So results equal the torch path up to rounding
(float32 sums run on twice as many vector lanes as float64 ones). Kernels are
compiled on first use and cached next to this file (``cache=True``); the
number of numba threads follows ``torch.get_num_threads()``. This module
imports numba at import time; it is loaded lazily by
:func:`skalign.ot._fast.numba_backend`, which returns None when numba is
missing or ``SKALIGN_NO_NUMBA=1``.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
import torch
from numba import njit, prange

from .._numerics import kernel_cutoff

_OPTS = dict(parallel=True, cache=True, nogil=True, fastmath=False)
# Reductions may be reordered (vectorised); no other fast-math flag, so
# infinities keep their meaning.
_SUM_OPTS = dict(parallel=True, cache=True, nogil=True, fastmath={"reassoc"})
# Row helpers are compiled on their own (not inlined) so that their loops
# are vectorised; those that sum may reorder the sum.
_ROW_OPTS = dict(cache=True, nogil=True, fastmath={"reassoc"}, inline="never")
_WINDOW_OPTS = dict(cache=True, nogil=True, inline="never")
# The row maximum is vectorised only without NaN semantics; a NaN in the
# kernel would surface as a non-finite scaling, which the Sinkhorn loop
# detects and repairs.
_SHIFT_OPTS = dict(cache=True, nogil=True, fastmath={"nnan", "nsz"}, inline="never")
# Contraction into fused multiply-adds only: the polynomial keeps its
# accuracy and -inf inputs keep their meaning.
_VEC_EXP_OPTS = dict(cache=True, nogil=True, fastmath={"contract"}, inline="never")


# Column sums are accumulated in the problem's dtype over blocks of this many
# rows, then added to float64 partial sums: float32 sums run on twice the
# vector lanes, and each float32 partial sum has at most _BLOCK terms.
_BLOCK = 64


def _chunks(n: int) -> int:
    return max(1, min(numba.get_num_threads(), n))


@njit(**_WINDOW_OPTS)
def _add_const(x, c):  # pragma: no cover - compiled
    for k in range(x.shape[0]):
        x[k] += c


@njit(**_WINDOW_OPTS)
def _prefix_row(Pi, ui, v, S):  # pragma: no cover - compiled
    """``S[0] = 0``, ``S[j + 1] = sum_{l <= j} (Pi[l] * ui) * v[l]`` in float64
    over ``S.shape[0] - 1`` entries: four independent running sums over the
    quarters of the row, then the quarters' offsets. (Loops run over slices
    from 0, so that numba can drop its negative-index checks.)"""
    Mr = S.shape[0] - 1
    L = Mr // 4
    P0, P1, P2, P3 = Pi[0:L], Pi[L:2 * L], Pi[2 * L:3 * L], Pi[3 * L:Mr]
    v0, v1, v2, v3 = v[0:L], v[L:2 * L], v[2 * L:3 * L], v[3 * L:Mr]
    S0, S1, S2, S3 = S[1:L + 1], S[L + 1:2 * L + 1], S[2 * L + 1:3 * L + 1], S[3 * L + 1:Mr + 1]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    S[0] = 0.0
    for t in range(L):
        s0 += (P0[t] * ui) * v0[t]
        S0[t] = s0
        s1 += (P1[t] * ui) * v1[t]
        S1[t] = s1
        s2 += (P2[t] * ui) * v2[t]
        S2[t] = s2
        s3 += (P3[t] * ui) * v3[t]
        S3[t] = s3
    for t in range(L, P3.shape[0]):
        s3 += (P3[t] * ui) * v3[t]
        S3[t] = s3
    if L > 0:
        _add_const(S1, S0[L - 1])
        _add_const(S2, S1[L - 1])
        _add_const(S3, S2[L - 1])


@njit(**_WINDOW_OPTS)
def _window_out(S, Pi, ui, v, Zi, w):  # pragma: no cover - compiled
    """``Zi[j] = total - (S[hi] - S[lo]) + T[j]`` for the row
    ``T = (Pi * ui) * v`` with prefix sums ``S`` (``S[0] = 0``),
    ``total = S[Mr]``, ``hi = min(j + w, Mr - 1) + 1``, ``lo = max(j - w, 0)``:
    the complement-of-band product of one row, in three loops without
    clamping (the middle one over slices, so that it is vectorised)."""
    Mr = Zi.shape[0]
    total = S[Mr]
    a = min(w + 1, Mr)  # j < a: lo = 0
    b = max(Mr - w, a)  # j >= b: hi = Mr
    for j in range(a):
        hi = min(j + w, Mr - 1) + 1
        Zi[j] = total - S[hi] + (Pi[j] * ui) * v[j]
    n = b - a
    if n > 0:
        Sh, Sl = S[a + w + 1:a + w + 1 + n], S[a - w:a - w + n]
        Pa, va, Za = Pi[a:b], v[a:b], Zi[a:b]
        for k in range(n):
            Za[k] = total - (Sh[k] - Sl[k]) + (Pa[k] * ui) * va[k]
    for j in range(b, Mr):
        Zi[j] = total - (total - S[j - w]) + (Pi[j] * ui) * v[j]


@njit(**_ROW_OPTS)
def _write_row(Pi, ui, v, Ti):  # pragma: no cover - compiled
    """``Ti = (Pi * ui) * v``; returns ``sum |Ti_new - Ti_old|``."""
    d = 0.0
    for j in range(Ti.shape[0]):
        t = (Pi[j] * ui) * v[j]
        d += abs(float(t) - float(Ti[j]))
        Ti[j] = t
    return d


@njit(**_OPTS)
def _materialize(P, u, v, T, Z, w, active, with_t, with_z, nch, change):  # pragma: no cover - compiled
    """For the plan ``T = (P * u) * v`` of each active problem: when
    ``with_t``, write it into ``T`` and set ``change[b] = sum |T_new - T_old|``;
    when ``with_z``, write ``Z = T[:, :Nr, :Mr] Cy`` (complement of band of
    half-width ``w``) from the plan's values, whether or not they are
    written. Inactive problems are skipped."""
    B, N, M = P.shape
    Nr, Mr = Z.shape[1], Z.shape[2]
    part = np.zeros(nch)
    for bb in range(B):
        if not active[bb]:
            continue
        vb = v[bb]
        for c in prange(nch):
            r0 = c * N // nch
            r1 = (c + 1) * N // nch
            S = np.empty(Mr + 1)
            d = 0.0
            for i in range(r0, r1):
                if with_t:
                    d += _write_row(P[bb, i], u[bb, i], vb, T[bb, i])
                if with_z and i < Nr:
                    _prefix_row(P[bb, i], u[bb, i], vb, S)
                    _window_out(S, P[bb, i], u[bb, i], vb, Z[bb, i], w)
            part[c] = d
        change[bb] = part.sum()


@njit(**_OPTS)
def _complement_cols(T, Z, w, nch):  # pragma: no cover - compiled
    """``Z[b, i, :] = T[b, i, :Mr] Cy`` for the complement-of-band prior."""
    B, Nr, Mr = Z.shape
    one = T.dtype.type(1.0)
    ones = np.ones(Mr, dtype=T.dtype)
    for bb in range(B):
        for c in prange(nch):
            r0 = c * Nr // nch
            r1 = (c + 1) * Nr // nch
            S = np.empty(Mr + 1)
            for i in range(r0, r1):
                _prefix_row(T[bb, i], one, ones, S)
                _window_out(S, T[bb, i], one, ones, Z[bb, i], w)


@njit(**_SHIFT_OPTS)
def _shift_row(Li, be, Pi, cutoff):  # pragma: no cover - compiled
    """``Pi = Li + be - mx`` with ``mx`` the row's largest entry (0 if it is
    not finite), entries at or below ``cutoff`` set to ``-inf``; returns
    ``mx``."""
    mx = -np.inf
    for j in range(Pi.shape[0]):
        e = Li[j] + be[j]
        Pi[j] = e
        mx = max(mx, e)
    if not np.isfinite(mx):
        mx = 0.0
    m = Pi.dtype.type(mx)
    for j in range(Pi.shape[0]):
        d = Pi[j] - m
        Pi[j] = d if d > cutoff else -np.inf
    return m


@njit(**_WINDOW_OPTS)
def _window_start(Zb, r0, w):  # pragma: no cover - compiled
    """Sum of the rows ``k`` of ``Zb`` with ``|k - r0| <= w`` (float64)."""
    Nr, Mr = Zb.shape
    acc = np.zeros(Mr)
    for k in range(max(r0 - w, 0), min(r0 + w, Nr - 1) + 1):
        Zk = Zb[k]
        for j in range(Mr):
            acc[j] += Zk[j]
    return acc


@njit(**_WINDOW_OPTS)
def _window_slide(acc, Zb, i, w):  # pragma: no cover - compiled
    """Move the window sum ``acc`` of the rows around ``i`` to ``i + 1``."""
    Nr, Mr = Zb.shape
    if i + w + 1 < Nr:
        Zk = Zb[i + w + 1]
        for j in range(Mr):
            acc[j] += Zk[j]
    if i - w >= 0:
        Zk = Zb[i - w]
        for j in range(Mr):
            acc[j] -= Zk[j]


@njit(**_WINDOW_OPTS)
def _band_row(Gi, Ci, acc, Zi, c1):  # pragma: no cover - compiled
    """``Gi = Ci + c1 (acc - Zi)`` on the real columns, ``Gi = Ci`` beyond."""
    Mr = Zi.shape[0]
    G0, C0 = Gi[:Mr], Ci[:Mr]
    for j in range(Mr):
        G0[j] = C0[j] + c1 * (acc[j] - Zi[j])
    G1, C1 = Gi[Mr:], Ci[Mr:]
    for j in range(G1.shape[0]):
        G1[j] = C1[j]


@njit(**_WINDOW_OPTS)
def _logk_row(Gi, Cb, Zb, i, acc, w, c1):  # pragma: no cover - compiled
    """Row ``i`` of ``G = Cs + c1 (Cx Z)`` into ``Gi``, from the window sum
    ``acc`` of the rows of ``Z`` around ``i`` (then moved on to ``i + 1``);
    ``G = Cs`` on the virtual rows beyond ``Z``."""
    if i < Zb.shape[0]:
        _band_row(Gi, Cb[i], acc, Zb[i], c1)
        _window_slide(acc, Zb, i, w)
    else:
        Gi[:] = Cb[i]


@njit(**_OPTS)
def _band_rows_logk(Z, Cs, G, w, c1, nch):  # pragma: no cover - compiled
    """``G = Cs + c1 (Cx Z)`` on the real block (raw band ``Cx``) and
    ``G = Cs`` on the virtual row and column, if any."""
    B, Nr, Mr = Z.shape
    N = G.shape[1]
    for bb in range(B):
        for c in prange(nch):
            r0 = c * Nr // nch
            r1 = (c + 1) * Nr // nch
            last = N if c == nch - 1 else r1
            acc = _window_start(Z[bb], r0, w) if r1 > r0 else np.zeros(Mr)
            for i in range(r0, last):
                _logk_row(G[bb, i], Cs[bb], Z[bb], i, acc, w, c1)


@njit(**_VEC_EXP_OPTS)
def _exp_row(x, kb):  # pragma: no cover - compiled
    """``x = exp(x)`` in place for ``-700 <= x <= 0`` (``-inf`` gives 0), vectorised.

    Cody-Waite reduction ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2``, a
    degree-12 Taylor polynomial for ``exp(r)`` (truncation below 2e-17),
    evaluated in float64, and ``2^k`` built from its bits in the int64
    scratch row ``kb``: within 1.5 float64 eps of the exact value (float32
    results are rounded from it). numba has no vectorised ``exp`` without
    Intel's SVML; this loop is vectorised by LLVM."""
    n = x.shape[0]
    for j in range(n):
        v = float(x[j])
        vc = max(v, -700.0)
        k = np.floor(vc * 1.4426950408889634 + 0.5)
        r = (vc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        p = 2.08767569878680989792e-09
        p = p * r + 2.50521083854417187751e-08
        p = p * r + 2.75573192239858906526e-07
        p = p * r + 2.75573192239858906526e-06
        p = p * r + 2.48015873015873015873e-05
        p = p * r + 1.98412698412698412698e-04
        p = p * r + 1.38888888888888888889e-03
        p = p * r + 8.33333333333333333333e-03
        p = p * r + 4.16666666666666666667e-02
        p = p * r + 1.66666666666666666667e-01
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        x[j] = p
        kb[j] = ((np.int64(k) + 1023) << 52) if v > -745.0 else 0
    scale = kb[:n].view(np.float64)
    for j in range(n):
        x[j] = x[j] * scale[j]


_F32 = np.float32
_LOG2E_32 = _F32(1.4426950408889634)
# ln 2 split so that k * _LN2_HI_32 is exact in float32 for |k| < 2^9.
_LN2_HI_32 = _F32(0.693359375)
_LN2_LO_32 = _F32(-2.1219444005469057e-4)
_EXP_LO_32 = _F32(-87.0)
_EXP_C_32 = (_F32(1.0 / 5040.0), _F32(1.0 / 720.0), _F32(1.0 / 120.0), _F32(1.0 / 24.0), _F32(1.0 / 6.0),
             _F32(0.5), _F32(1.0))


@njit(**_VEC_EXP_OPTS)
def _exp_row_f32(x, kb):  # pragma: no cover - compiled
    """``x = exp(x)`` in place for a float32 row with ``-87 <= x <= 0``
    (``-inf``, and anything below -87, gives 0), all in float32 so that it
    runs on twice the vector lanes of :func:`_exp_row`.

    The same reduction ``x = k ln 2 + r`` with ``ln 2`` split in two
    float32 constants, a degree-7 Taylor polynomial (truncation below
    6e-9), and ``2^k`` built from its bits in the int64 scratch row ``kb``
    viewed as int32: within 2 float32 eps of the exact value (tested)."""
    n = x.shape[0]
    c7, c6, c5, c4, c3, c2, c1 = _EXP_C_32
    half = _F32(0.5)
    k32 = kb.view(np.int32)[:n]
    for j in range(n):
        v = x[j]
        vc = max(v, _EXP_LO_32)
        k = np.floor(vc * _LOG2E_32 + half)
        r = (vc - k * _LN2_HI_32) - k * _LN2_LO_32
        p = c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + c1
        p = p * r + c1
        x[j] = p
        k32[j] = ((np.int32(k) + np.int32(127)) << np.int32(23)) if v >= _EXP_LO_32 else np.int32(0)
    scale = k32.view(np.float32)
    for j in range(n):
        x[j] = x[j] * scale[j]


@njit(**_SUM_OPTS)
def _band_rows_kernel(Z, Cs, G, w, c1, nch, beta, P, m, cutoff, a, u, Ptu, tiny, write_g, single):  # pragma: no cover - compiled
    """One pass from ``Z = T Cy`` to the Sinkhorn kernel of the next outer
    iteration: ``G = Cs + c1 (Cx Z)`` (as :func:`_band_rows_logk`; written
    to ``G`` only when ``write_g``, else kept a row at a time), then row
    by row ``P = exp(G + beta - m)`` thresholded as in :func:`_shifted`
    (``m`` the row maxima), ``u = a / rowsum(P)`` and ``Ptu = P^T u`` as in
    :func:`_scale_rows`. ``single``: ``P`` is float32, whose exponential is
    taken in float32."""
    B, Nr, Mr = Z.shape
    N, M = G.shape[1], G.shape[2]
    for bb in range(B):
        part = np.zeros((nch, M))
        for c in prange(nch):
            # Rows r0..r1 of the real block; the virtual rows go with the
            # last chunk.
            r0 = c * Nr // nch
            r1 = (c + 1) * Nr // nch
            last = N if c == nch - 1 else r1
            kb = np.empty(M, dtype=np.int64)
            blk = np.zeros(M, dtype=P.dtype)
            acc = _window_start(Z[bb], r0, w) if r1 > r0 else np.zeros(Mr)
            grow = np.empty(M, dtype=P.dtype)
            for i in range(r0, last):
                Gi = G[bb, i] if write_g else grow
                _logk_row(Gi, Cs[bb], Z[bb], i, acc, w, c1)
                Pi = P[bb, i]
                m[bb, i] = _shift_row(Gi, beta[bb], Pi, cutoff)
                if single:
                    _exp_row_f32(Pi, kb)
                else:
                    _exp_row(Pi, kb)
                _scale_row(Pi, a[bb], u[bb], i, blk, tiny)
                if (i - r0) % _BLOCK == _BLOCK - 1:
                    _flush(part[c], blk)
            _flush(part[c], blk)
        _reduce(part, Ptu[bb])


@njit(**_SUM_OPTS)
def _band_rows_dot(Z, T, w, nch, out):  # pragma: no cover - compiled
    """``out[b] = sum_ij T[b, i, j] (Cx Z)[b, i, j]`` on the real block
    ``Z.shape[1:]`` (raw band ``Cx``, half-width ``w``)."""
    B, Nr, Mr = Z.shape
    part = np.zeros(nch)
    for bb in range(B):
        for c in prange(nch):
            r0 = c * Nr // nch
            r1 = (c + 1) * Nr // nch
            if r1 <= r0:
                part[c] = 0.0
                continue
            acc = _window_start(Z[bb], r0, w)
            d = 0.0
            for i in range(r0, r1):
                for j in range(Mr):
                    d += float(T[bb, i, j]) * (acc[j] - Z[bb, i, j])
                _window_slide(acc, Z[bb], i, w)
            part[c] = d
        out[bb] = part.sum()


@njit(**_OPTS)
def _shifted(logK, beta, P, m, cutoff):  # pragma: no cover - compiled
    """``P = logK + beta - m`` with ``m`` the finite row maxima, entries at
    or below ``cutoff`` set to ``-inf`` (the exponential is taken after)."""
    B, N, M = logK.shape
    for bb in range(B):
        for i in prange(N):
            m[bb, i] = _shift_row(logK[bb, i], beta[bb], P[bb, i], cutoff)


@njit(**_ROW_OPTS)
def _dot(x, y, zero):  # pragma: no cover - compiled
    """``sum x * y`` accumulated in the type of ``zero``."""
    s = zero
    for j in range(x.shape[0]):
        s += x[j] * y[j]
    return s


@njit(**_ROW_OPTS)
def _rowsum(x, zero):  # pragma: no cover - compiled
    s = zero
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
def _flush(acc, blk):  # pragma: no cover - compiled
    """``acc += blk`` (float64) and ``blk = 0``."""
    for j in range(blk.shape[0]):
        acc[j] += blk[j]
        blk[j] = 0


@njit(**_ROW_OPTS)
def _reduce(part, out):  # pragma: no cover - compiled
    for j in range(out.shape[0]):
        t = 0.0
        for c in range(part.shape[0]):
            t += part[c, j]
        out[j] = t


@njit(**_ROW_OPTS)
def _scale_row(Pi, ab, ub, i, blk, tiny):  # pragma: no cover - compiled
    """``u[i] = a[i] / rowsum(P[i])`` (clamped at ``tiny``), and ``P[i] u[i]``
    added to the block of column sums ``blk`` (in the dtype of ``P``)."""
    dt = Pi.dtype.type
    ub[i] = ab[i] / max(_rowsum(Pi, dt(0.0)), tiny)
    _axpy(blk, Pi, ub[i])


@njit(**_SUM_OPTS)
def _scale_rows(P, a, u, Ptu, tiny, nch):  # pragma: no cover - compiled
    """``u = a / rowsum(P)`` (clamped at ``tiny``) and ``Ptu = P^T u``."""
    B, N, M = P.shape
    for bb in range(B):
        part = np.zeros((nch, M))
        for c in prange(nch):
            r0 = c * N // nch
            r1 = (c + 1) * N // nch
            blk = np.zeros(M, dtype=P.dtype)
            for i in range(r0, r1):
                _scale_row(P[bb, i], a[bb], u[bb], i, blk, tiny)
                if (i - r0) % _BLOCK == _BLOCK - 1:
                    _flush(part[c], blk)
            _flush(part[c], blk)
        _reduce(part, Ptu[bb])


@njit(**_SUM_OPTS)
def _ptu(P, u, Ptu, nch):  # pragma: no cover - compiled
    B, N, M = P.shape
    for bb in range(B):
        part = np.zeros((nch, M))
        for c in prange(nch):
            r0 = c * N // nch
            r1 = (c + 1) * N // nch
            blk = np.zeros(M, dtype=P.dtype)
            for i in range(r0, r1):
                _axpy(blk, P[bb, i], u[bb, i])
                if (i - r0) % _BLOCK == _BLOCK - 1:
                    _flush(part[c], blk)
            _flush(part[c], blk)
        _reduce(part, Ptu[bb])


@njit(**_SUM_OPTS)
def _steps(P, a, b, u, v, u_prev, Pv, Ptu, steps, tiny, nch):  # pragma: no cover - compiled
    """``steps`` iterations ``v = b / P^T u``, ``u = a / P v`` from ``Ptu``
    (``P^T u`` of the current ``u``); on return ``Ptu`` is ``P^T u`` of the
    new ``u``. One pass over ``P`` per iteration, two rows at a time; sums
    in the dtype of ``P``, column sums flushed to float64 every
    ``_BLOCK`` rows."""
    B, N, M = P.shape
    dt = P.dtype.type
    zero = dt(0.0)
    for bb in range(B):
        vb = v[bb]
        for _ in range(steps):
            for j in range(M):
                vb[j] = b[bb, j] / max(dt(Ptu[bb, j]), tiny)
            part = np.zeros((nch, M))
            for c in prange(nch):
                r0 = c * N // nch
                r1 = (c + 1) * N // nch
                blk = np.zeros(M, dtype=P.dtype)
                i = r0
                while i < r1:
                    k = min(2, r1 - i)
                    for r in range(k):
                        q = _dot(P[bb, i + r], vb, zero)
                        Pv[bb, i + r] = q
                        u_prev[bb, i + r] = u[bb, i + r]
                        u[bb, i + r] = a[bb, i + r] / max(q, tiny)
                    if k == 2:
                        _axpy2(blk, P[bb, i], u[bb, i], P[bb, i + 1], u[bb, i + 1])
                    else:
                        _axpy(blk, P[bb, i], u[bb, i])
                    i += k
                    if (i - r0) % _BLOCK < k:
                        _flush(part[c], blk)
                _flush(part[c], blk)
            _reduce(part, Ptu[bb])


@njit(cache=True, nogil=True)
def _scaling_stats(u, v, u_prev, Pv, a, b, out):  # pragma: no cover - compiled
    """Per problem: ``out[b, 0]`` 1 when every scaling of a valid frame is
    finite and positive, else 0; ``out[b, 1]`` the L1 error of the row
    marginals of the plan ``u_prev P v`` (``sum |u_prev Pv - a|``)."""
    B, N = u.shape
    M = v.shape[1]
    for bb in range(B):
        ok = True
        err = 0.0
        for i in range(N):
            if a[bb, i] > 0:
                x = u[bb, i]
                ok = ok and np.isfinite(x) and x > 0
                err += abs(float(u_prev[bb, i]) * float(Pv[bb, i]) - float(a[bb, i]))
        for j in range(M):
            if b[bb, j] > 0:
                y = v[bb, j]
                ok = ok and np.isfinite(y) and y > 0
        out[bb, 0] = 1.0 if ok else 0.0
        out[bb, 1] = err


# Argument bundles of :func:`_fused_iterations` (numba takes named tuples).
#: The linearised cost: ``Z = T Cy`` of the current plan, the scaled cost
#: ``Cs = -(1 - alpha) C / epsilon`` and the scratch ``G`` for the log kernel.
LinearisedCost = namedtuple("LinearisedCost", "Z Cs G")
#: Half-widths of the band ``Cx`` and of the complement of band ``Cy``, and
#: the coefficient ``c1`` of ``Cx Z`` in the log kernel.
Priors = namedtuple("Priors", "wx wy c1")
#: The Sinkhorn kernel ``P``, its row maxima ``m``, the scalings (``u``,
#: ``v``, ``u_prev``), ``Pv``, ``Ptu`` (float64) and the per-problem
#: statistics of :func:`_scaling_stats` (float64).
SinkhornBuffers = namedtuple("SinkhornBuffers", "P m u v u_prev Pv Ptu stats")
#: ``cutoff``, ``tiny`` of the dtype, ``single`` (float32 exponentials),
#: Sinkhorn ``steps`` per outer iteration, ``nch`` row chunks.
Numerics = namedtuple("Numerics", "cutoff tiny single steps nch")
#: What the outer loop updates in place: the warm column potentials, the
#: plan, the active flags, the plan changes and the iteration counts.
OuterState = namedtuple("OuterState", "beta_warm T active change n_iter")
#: The iterations ``it`` to ``stop`` (exclusive) of ``max_iter``, with a
#: convergence check every ``check_every`` and its tolerance.
Schedule = namedtuple("Schedule", "it stop max_iter check_every tol")


@njit(cache=True, nogil=True)
def _warm_start(beta_warm, wb, beta0):  # pragma: no cover - compiled
    """``beta0 = beta_warm`` where ``wb > 0``, else 0."""
    B, M = beta0.shape
    for bb in range(B):
        for j in range(M):
            beta0[bb, j] = beta_warm[bb, j] if wb[bb, j] > 0 else 0.0


@njit(cache=True, nogil=True)
def _absorb_columns(beta_warm, beta0, v, wb):  # pragma: no cover - compiled
    """``beta_warm = beta0 + log(v)`` where ``wb > 0``."""
    B, M = beta0.shape
    for bb in range(B):
        for j in range(M):
            if wb[bb, j] > 0:
                beta_warm[bb, j] = beta0[bb, j] + np.log(v[bb, j])


@njit(cache=True, nogil=True)
def _fused_iterations(cost, prior, wa, wb, buf, num, state, sched):  # pragma: no cover - compiled
    """Outer iterations ``sched.it, sched.it + 1, ...`` of the fused balanced
    FGW loop (see :func:`fused_iterations`) while every problem is active.
    Returns ``(next_it, status)``: status 1 when iteration ``next_it`` found
    a non-finite scaling (nothing of it is kept: ``beta_warm``, ``Z``, ``T``
    and ``n_iter`` are as before it); status 2 after the convergence check
    of iteration ``next_it - 1`` when a problem passed it (``change <=
    tol``) or that iteration was the last; status 0 when iteration
    ``sched.stop`` is reached first (the caller goes on from there)."""
    Z, Cs, G = cost
    wx, wy, c1 = prior
    P, m, u, v, u_prev, Pv, Ptu, stats = buf
    cutoff, tiny, single, steps, nch = num
    beta_warm, T, active, change, n_iter = state
    it, stop, max_iter, check_every, tol = sched
    B = P.shape[0]
    beta0 = np.empty_like(beta_warm)
    while it < stop:
        _warm_start(beta_warm, wb, beta0)
        _band_rows_kernel(Z, Cs, G, wx, c1, nch, beta0, P, m, cutoff, wa, u, Ptu, tiny, False, single)
        _steps(P, wa, wb, u, v, u_prev, Pv, Ptu, steps, tiny, nch)
        _scaling_stats(u, v, u_prev, Pv, wa, wb, stats)
        for bb in range(B):
            if stats[bb, 0] == 0.0:
                return it, 1
        _absorb_columns(beta_warm, beta0, v, wb)
        last = it == max_iter - 1
        check = it % check_every == check_every - 1 or last
        before = (not last) and (it % check_every == check_every - 2 or it == max_iter - 2)
        _materialize(P, u, v, T, Z, wy, active, check or before, True, nch, change)
        for bb in range(B):
            n_iter[bb] += 1
        it += 1
        if check:
            if last:
                return it, 2
            for bb in range(B):
                if change[bb] <= tol:
                    return it, 2
    return it, 0


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
    _complement_cols(_np(T), _np(Z), int(wy), _chunks(Z.shape[1]))
    _band_rows_logk(_np(Z), _np(C_scaled), _np(G), int(wx), float(c1), _chunks(Z.shape[1]))
    return G


def complement(T: torch.Tensor, Z: torch.Tensor, wy: int) -> torch.Tensor:
    """``Z = T Cy`` on the real block ``Z.shape[1:]`` of ``T`` (complement of
    band of half-width ``wy``)."""
    _sync_threads()
    _complement_cols(_np(T), _np(Z), int(wy), _chunks(Z.shape[1]))
    return Z


def band_logk(Z: torch.Tensor, C_scaled: torch.Tensor, c1: float, wx: int, G: torch.Tensor) -> torch.Tensor:
    """``G = C_scaled + c1 (Cx Z)`` on the real block ``Z.shape[1:]`` (raw
    band ``Cx``, half-width ``wx``) and ``G = C_scaled`` elsewhere, from
    ``Z = T Cy`` computed earlier (by :func:`materialize`)."""
    _sync_threads()
    _band_rows_logk(_np(Z), _np(C_scaled), _np(G), int(wx), float(c1), _chunks(Z.shape[1]))
    return G


def band_kernel(Z: torch.Tensor, C_scaled: torch.Tensor, c1: float, wx: int, G: torch.Tensor,
                beta: torch.Tensor, P: torch.Tensor, a: torch.Tensor, cutoff: float, tiny: float,
                write_g: bool = True):
    """:func:`band_logk` and the start of a Sinkhorn solve in one pass:
    writes ``G`` (when ``write_g``) and the kernel ``P = exp(G + beta - m)``
    (thresholded at ``cutoff`` relative to the row maxima ``m``), as
    :func:`rebuild` does; returns ``m``, ``u = a / rowsum(P)`` and
    ``P^T u``."""
    _sync_threads()
    B, N, M = G.shape
    m = torch.empty((B, N), dtype=G.dtype)
    u = torch.empty((B, N), dtype=G.dtype)
    Ptu = torch.empty((B, M), dtype=torch.float64)
    _band_rows_kernel(_np(Z), _np(C_scaled), _np(G), int(wx), float(c1), _chunks(Z.shape[1]),
                      _np(beta.contiguous()), _np(P), _np(m), float(cutoff), _np(a.contiguous()),
                      _np(u), _np(Ptu), float(tiny), bool(write_g), P.dtype == torch.float32)
    return m, u, Ptu


def materialize(P: torch.Tensor, u: torch.Tensor, v: torch.Tensor, T: torch.Tensor, Z: torch.Tensor,
                wy: int, active: torch.Tensor, *, with_t: bool, with_z: bool) -> torch.Tensor:
    """For the active problems, the plan ``P * u[:, :, None] * v[:, None, :]``
    written into ``T`` (``with_t``) and its product ``Z = T Cy`` with the
    complement of band of half-width ``wy`` on the real block
    ``Z.shape[1:]`` (``with_z``), in one pass over ``P``. Returns the L1
    change of each written plan (float64; zero where nothing was written)."""
    _sync_threads()
    change = torch.zeros(T.shape[0], dtype=torch.float64)
    _materialize(_np(P), _np(u.contiguous()), _np(v.contiguous()), _np(T), _np(Z), int(wy),
                 active.numpy(), bool(with_t), bool(with_z), _chunks(T.shape[1]), _np(change))
    return change


def band_dot(Z: torch.Tensor, T: torch.Tensor, wx: int) -> torch.Tensor:
    """``<Cx Z, T>`` per problem on the real block ``Z.shape[1:]`` (raw band
    ``Cx`` of half-width ``wx``), in float64."""
    _sync_threads()
    out = torch.empty(T.shape[0], dtype=torch.float64)
    _band_rows_dot(_np(Z), _np(T), int(wx), _chunks(Z.shape[1]), _np(out))
    return out


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


def sinkhorn_block(P: torch.Tensor, a: torch.Tensor, b: torch.Tensor, u: torch.Tensor, Ptu: torch.Tensor,
                   steps: int, tiny: float):
    """A whole short Sinkhorn solve on the kernel ``P`` from ``u`` and
    ``Ptu = P^T u`` (as :func:`band_kernel` returns them): ``steps``
    iterations; returns ``u``, ``v`` and the per-problem statistics of
    :func:`_scaling_stats` (finite, row-marginal error)."""
    _sync_threads()
    B, N, M = P.shape
    an, bn = _np(a.contiguous()), _np(b.contiguous())
    u = u.clone()
    v = torch.empty((B, M), dtype=P.dtype)
    u_prev = torch.empty_like(u)
    Pv = torch.empty_like(u)
    _steps(_np(P), an, bn, _np(u), _np(v), _np(u_prev), _np(Pv), _np(Ptu.clone()), int(steps), float(tiny),
           _chunks(N))
    stats = torch.empty((B, 2), dtype=torch.float64)
    _scaling_stats(_np(u), _np(v), _np(u_prev), _np(Pv), an, bn, _np(stats))
    return u, v, stats


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


def fused_iterations(Z: torch.Tensor, C_scaled: torch.Tensor, G: torch.Tensor, c1: float, wx: int, wy: int,
                     beta_warm: torch.Tensor, a: torch.Tensor, b: torch.Tensor, P: torch.Tensor, T: torch.Tensor,
                     active: torch.Tensor, n_iter: torch.Tensor, change: torch.Tensor, *, it: int,
                     max_iter: int, steps: int, check_every: int, tol: float,
                     chunk: int = 100) -> tuple[int, int]:
    """Outer iterations of the fused balanced FGW loop in one call, from
    ``it`` on, while every problem is active; each is what the solver's
    Python loop does with :func:`band_kernel`, :func:`sinkhorn_block` and
    :func:`materialize` (with ``Z`` the ``Z = T Cy`` of the current plan):

    - the kernel and its first scaling from ``Z`` and the warm column
      potentials ``beta_warm`` (0 where ``b`` is 0);
    - ``steps`` Sinkhorn iterations; on a non-finite scaling, return;
    - ``beta_warm += log(v)`` where ``b > 0``;
    - ``Z`` of the new plan, which is written into ``T`` (with its L1
      change into ``change``) at the convergence checks (every
      ``check_every`` iterations and the last) and the iterations before
      them;
    - ``n_iter += 1``.

    ``beta_warm``, ``n_iter`` (int64) and ``change`` (float64) are updated
    in place. At most ``chunk`` iterations run per call, so that the caller
    (and Ctrl-C) gets control back now and then. Returns ``(next_it,
    status)`` as :func:`_fused_iterations`: status 0, go on from
    ``next_it``; status 1, iteration ``next_it`` is for the general
    Sinkhorn loop; status 2, the caller applies the check of iteration
    ``next_it - 1`` (some ``change <= tol``, or the last iteration)."""
    _sync_threads()
    B, N, M = P.shape
    dtype = P.dtype
    u = torch.empty((B, N), dtype=dtype)
    m = torch.empty((B, N), dtype=dtype)
    v = torch.empty((B, M), dtype=dtype)
    u_prev = torch.empty_like(u)
    Pv = torch.empty_like(u)
    Ptu = torch.empty((B, M), dtype=torch.float64)
    stats = torch.empty((B, 2), dtype=torch.float64)
    out = _fused_iterations(
        LinearisedCost(_np(Z), _np(C_scaled), _np(G)),
        Priors(int(wx), int(wy), float(c1)),
        _np(a.contiguous()), _np(b.contiguous()),
        SinkhornBuffers(_np(P), _np(m), _np(u), _np(v), _np(u_prev), _np(Pv), _np(Ptu), _np(stats)),
        Numerics(float(kernel_cutoff(dtype)), float(torch.finfo(dtype).tiny), dtype == torch.float32, int(steps),
                 _chunks(Z.shape[1])),
        OuterState(_np(beta_warm), _np(T), active.numpy(), _np(change), n_iter.numpy()),
        Schedule(int(it), int(min(max_iter, it + max(chunk, 1))), int(max_iter), int(check_every), float(tol)),
    )
    return int(out[0]), int(out[1])


def scale_plan(P: torch.Tensor, u: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = P * u[:, :, None] * v[:, None, :]``."""
    _sync_threads()
    _scale_plan(_np(P), _np(u.contiguous()), _np(v.contiguous()), _np(out))
    return out
