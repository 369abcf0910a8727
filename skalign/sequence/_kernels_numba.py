"""Compiled CPU kernels for the sequence recursions (optional, needs numba).

Importing this module raises ``ImportError`` when numba is absent; the
package then uses the pure-torch anti-diagonal kernels of
``_kernels_torch``. Both kernel families compute the same recursions and are
tested against each other.

All arrays are float64 and C-contiguous; matrices carry one border row and
column (index 0) so that cell ``(i, j)`` of a padded array is cell
``(i - 1, j - 1)`` of the caller's matrix. Each problem of a batch is solved
over its valid block ``[1..n] x [1..m]`` only. The kernels release the GIL,
so the caller may split a batch over threads.

Forward loops visit rows in strips of ``_STRIP`` rows, skewed so that the
cells computed in one step are independent: the exp/log latencies of
neighbouring rows then overlap. Backward loops are written in "push" form:
when a cell's adjoint is final (reverse row-major order) its share is pushed
to its predecessors, with the local derivatives recomputed from the stored
predecessor values only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_STRIP = 4
_NEG_INF = -np.inf
_POS_INF = np.inf


# --------------------------------------------------------------------------
# DTW family: R[i, j] = C[i, j] + op(R[i-1, j-1], R[i-1, j], R[i, j-1])
# op: 0 = min, 1 = min^gamma (soft-DTW), 2 = smoothMin (GTA)
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _combine(a, b, c, op, gamma, inv):
    lo = min(a, min(b, c))
    if op == 0:
        return lo
    mid = max(min(a, b), min(max(a, b), c))
    hi = max(a, max(b, c))
    e1 = math.exp((lo - mid) * inv)
    e2 = math.exp((lo - hi) * inv)
    if op == 1:
        return lo - gamma * math.log1p(e1 + e2)
    d1 = mid - lo if e1 > 0.0 else 0.0
    d2 = hi - lo if e2 > 0.0 else 0.0
    return lo + (d1 * e1 + d2 * e2) / (1.0 + e1 + e2)


@njit(cache=True, nogil=True)
def _local_weights(a, b, c, op, inv):
    """d op(a, b, c) / d(a, b, c)."""
    if op == 0:
        if a <= b and a <= c:
            return 1.0, 0.0, 0.0
        if b <= c:
            return 0.0, 1.0, 0.0
        return 0.0, 0.0, 1.0
    lo = min(a, min(b, c))
    ea = math.exp((lo - a) * inv)
    eb = math.exp((lo - b) * inv)
    ec = math.exp((lo - c) * inv)
    z = ea + eb + ec
    wa, wb, wc = ea / z, eb / z, ec / z
    if op == 1:
        return wa, wb, wc
    da = a - lo if ea > 0.0 else 0.0
    db = b - lo if eb > 0.0 else 0.0
    dc = c - lo if ec > 0.0 else 0.0
    srel = da * wa + db * wb + dc * wc
    return (
        wa * (1.0 - (da - srel) * inv),
        wb * (1.0 - (db - srel) * inv),
        wc * (1.0 - (dc - srel) * inv),
    )


@njit(cache=True, nogil=True)
def _dtw_forward_pair(C, R, n, m, op, gamma):
    N1, M1 = R.shape
    for i in range(N1):
        for j in range(M1):
            R[i, j] = _POS_INF
    R[0, 0] = 0.0
    inv = 1.0 / gamma
    for i0 in range(1, n + 1, _STRIP):
        kk = min(_STRIP, n + 1 - i0)
        for t in range(1, m + kk):
            for k in range(kk):
                j = t - k
                if j >= 1 and j <= m:
                    i = i0 + k
                    R[i, j] = C[i - 1, j - 1] + _combine(
                        R[i - 1, j - 1], R[i - 1, j], R[i, j - 1], op, gamma, inv
                    )


@njit(cache=True, nogil=True)
def _dtw_backward_pair(R, E, n, m, op, inv):
    for i in range(n, 0, -1):
        for j in range(m, 0, -1):
            e = E[i, j]
            if e != 0.0:
                wa, wb, wc = _local_weights(R[i - 1, j - 1], R[i - 1, j], R[i, j - 1], op, inv)
                E[i - 1, j - 1] += e * wa
                E[i - 1, j] += e * wb
                E[i, j - 1] += e * wc


@njit(cache=True, nogil=True)
def dtw_forward(C, n, m, op, gamma, R):
    """Fill ``R`` (B, N+1, M+1): +inf outside each valid block, R[:, 0, 0] = 0."""
    for b in range(C.shape[0]):
        _dtw_forward_pair(C[b], R[b], n[b], m[b], op, gamma)


@njit(cache=True, nogil=True)
def dtw_backward(R, E, n, m, op, gamma):
    """On entry ``E[:, 1:, 1:]`` holds dL/dR (zero outside the valid blocks);
    on return it holds dL/dC."""
    inv = 1.0 / gamma
    for b in range(R.shape[0]):
        _dtw_backward_pair(R[b], E[b], n[b], m[b], op, inv)


@njit(cache=True, nogil=True)
def dtw_path(R, n, m):
    """Backtrack the optimal path of an exact-DTW accumulated matrix (0-based)."""
    path = np.empty((n + m, 2), dtype=np.int64)
    i, j, k = n, m, 0
    while True:
        path[k, 0] = i - 1
        path[k, 1] = j - 1
        k += 1
        if i == 1 and j == 1:
            break
        a, b, c = R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]
        if a <= b and a <= c:
            i, j = i - 1, j - 1
        elif b <= c:
            i = i - 1
        else:
            j = j - 1
    return path[:k][::-1].copy()


# --------------------------------------------------------------------------
# Affine Smith-Waterman with smooth max (LAC Eq. 2-5)
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _smax2(u, v, gamma, inv):
    hi = max(u, v)
    if hi == _NEG_INF:
        return _NEG_INF
    lo = min(u, v)
    return hi + gamma * math.log1p(math.exp((lo - hi) * inv))


@njit(cache=True, nogil=True)
def _smax3(u, v, w, gamma, inv):
    hi = max(u, max(v, w))
    if hi == _NEG_INF:
        return _NEG_INF
    lo = min(u, min(v, w))
    mid = max(min(u, v), min(max(u, v), w))
    return hi + gamma * math.log1p(math.exp((mid - hi) * inv) + math.exp((lo - hi) * inv))


@njit(cache=True, nogil=True)
def _smax_zero3(u, v, w, gamma, inv):
    """max^gamma(0, u, v, w)."""
    hi = max(0.0, max(u, max(v, w)))
    s = math.exp(-hi * inv) + math.exp((u - hi) * inv) + math.exp((v - hi) * inv) + math.exp((w - hi) * inv)
    return hi + gamma * math.log(s)


@njit(cache=True, nogil=True)
def _sw_forward_pair(S, GO, GE, D, X, Y, n, m, gamma):
    N1, M1 = D.shape
    for i in range(N1):
        for j in range(M1):
            D[i, j] = _NEG_INF
            X[i, j] = _NEG_INF
            Y[i, j] = _NEG_INF
    inv = 1.0 / gamma
    for i0 in range(1, n + 1, _STRIP):
        kk = min(_STRIP, n + 1 - i0)
        for t in range(1, m + kk):
            for k in range(kk):
                j = t - k
                if j >= 1 and j <= m:
                    i = i0 + k
                    go = GO[i - 1, j - 1]
                    ge = GE[i - 1, j - 1]
                    D[i, j] = S[i - 1, j - 1] + _smax_zero3(
                        D[i - 1, j - 1], X[i - 1, j - 1], Y[i - 1, j - 1], gamma, inv
                    )
                    X[i, j] = _smax2(D[i, j - 1] - go, X[i, j - 1] - ge, gamma, inv)
                    Y[i, j] = _smax3(D[i - 1, j] - go, X[i - 1, j] - go, Y[i - 1, j] - ge, gamma, inv)
    hi = _NEG_INF
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            hi = max(hi, D[i, j])
    s = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            s += math.exp((D[i, j] - hi) * inv)
    return hi + gamma * math.log(s)


@njit(cache=True, nogil=True)
def sw_forward(S, GO, GE, n, m, gamma, D, X, Y, value):
    """Fill D, X, Y (B, N+1, M+1) (-inf outside the valid blocks) and ``value`` (B,)."""
    for b in range(S.shape[0]):
        value[b] = _sw_forward_pair(S[b], GO[b], GE[b], D[b], X[b], Y[b], n[b], m[b], gamma)


@njit(cache=True, nogil=True)
def _sw_backward_pair(GO, GE, D, X, Y, gD, gX, gY, gGO, gGE, n, m, inv):
    for i in range(n, 0, -1):
        for j in range(m, 0, -1):
            eD = gD[i, j]
            eX = gX[i, j]
            eY = gY[i, j]
            go = GO[i - 1, j - 1]
            ge = GE[i - 1, j - 1]
            if eD != 0.0:
                a, b, c = D[i - 1, j - 1], X[i - 1, j - 1], Y[i - 1, j - 1]
                hi = max(0.0, max(a, max(b, c)))
                e0 = math.exp(-hi * inv)
                ea = math.exp((a - hi) * inv)
                eb = math.exp((b - hi) * inv)
                ec = math.exp((c - hi) * inv)
                f = eD / (e0 + ea + eb + ec)
                gD[i - 1, j - 1] += f * ea
                gX[i - 1, j - 1] += f * eb
                gY[i - 1, j - 1] += f * ec
            if eX != 0.0:
                u, v = D[i, j - 1] - go, X[i, j - 1] - ge
                hi = max(u, v)
                if hi > _NEG_INF:
                    eu = math.exp((u - hi) * inv)
                    ev = math.exp((v - hi) * inv)
                    f = eX / (eu + ev)
                    gD[i, j - 1] += f * eu
                    gX[i, j - 1] += f * ev
                    gGO[i - 1, j - 1] -= f * eu
                    gGE[i - 1, j - 1] -= f * ev
            if eY != 0.0:
                u, v, w = D[i - 1, j] - go, X[i - 1, j] - go, Y[i - 1, j] - ge
                hi = max(u, max(v, w))
                if hi > _NEG_INF:
                    eu = math.exp((u - hi) * inv)
                    ev = math.exp((v - hi) * inv)
                    ew = math.exp((w - hi) * inv)
                    f = eY / (eu + ev + ew)
                    gD[i - 1, j] += f * eu
                    gX[i - 1, j] += f * ev
                    gY[i - 1, j] += f * ew
                    gGO[i - 1, j - 1] -= f * (eu + ev)
                    gGE[i - 1, j - 1] -= f * ew


@njit(cache=True, nogil=True)
def sw_backward(GO, GE, D, X, Y, gD, gX, gY, gGO, gGE, n, m, gamma):
    """On entry ``gD[:, 1:, 1:]`` holds dL/dD, ``gX``, ``gY``, ``gGO``, ``gGE`` are
    zero; on return ``gD[:, 1:, 1:]`` holds dL/dS and ``gGO``/``gGE`` (B, N, M) the
    gradients of the gap penalties."""
    inv = 1.0 / gamma
    for b in range(D.shape[0]):
        _sw_backward_pair(
            GO[b], GE[b], D[b], X[b], Y[b], gD[b], gX[b], gY[b], gGO[b], gGE[b], n[b], m[b], inv
        )
