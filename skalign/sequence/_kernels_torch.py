"""Pure-torch anti-diagonal kernels for the sequence recursions.

They run on any device and are the only kernels on GPU and wherever numba
is absent. Cell ``(i, j)`` (1-based, row/column 0 is the border) depends only
on cells of the two previous anti-diagonals ``i + j - 1`` and ``i + j - 2``,
so each anti-diagonal is computed in one batch of vectorised tensor
operations: the Python loop runs over the ``N + M - 1`` anti-diagonals, never
over cells.

Matrices are stored *skewed*: ``Xd[b, d, i]`` holds cell ``(i, d - i)``.
An anti-diagonal is then a contiguous slice and its predecessors are slices
of the two rows above it. ``_cells`` gives the ``(B, N, M)`` view of the
valid cells of a skewed array (no copy).

Backward passes first compute every local derivative in a few whole-array
operations (they depend only on the forward values), then run the adjoint
recursion over anti-diagonals in reverse: O(NM) memory, no autograd graph.
"""

from __future__ import annotations

import torch

_INF = float("inf")


def _skewed_shape(B: int, N: int, M: int) -> tuple[int, int, int]:
    # diagonals 0 .. N+M+2 (two spare for the adjoint reads), columns i = 0 .. N+1
    return B, N + M + 3, N + 2


def _cells(xd: torch.Tensor, N: int, M: int) -> torch.Tensor:
    """(B, N, M) view of cells (i, j), 1 <= i <= N, 1 <= j <= M, of a skewed array."""
    B, L, W = xd.shape
    return xd.as_strided((B, N, M), (L * W, W + 1, W), xd.storage_offset() + 2 * W + 1)


def _skew(x: torch.Tensor, fill: float) -> torch.Tensor:
    B, N, M = x.shape
    xd = x.new_full(_skewed_shape(B, N, M), fill)
    _cells(xd, N, M).copy_(x)
    return xd


def block_mask(n: torch.Tensor, m: torch.Tensor, N: int, M: int) -> torch.Tensor:
    """(B, N, M) bool: cells inside each problem's valid block ``[:n] x [:m]``."""
    rows = torch.arange(N, device=n.device)[None, :, None] < n[:, None, None]
    cols = torch.arange(M, device=n.device)[None, None, :] < m[:, None, None]
    return rows & cols


def _valid_skewed(B: int, N: int, M: int, n: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Skewed bool mask of the cells inside each problem's valid block."""
    vd = torch.zeros(_skewed_shape(B, N, M), dtype=torch.bool, device=n.device)
    _cells(vd, N, M).copy_(block_mask(n, m, N, M))
    return vd


def _diag_range(d: int, N: int, M: int) -> tuple[int, int]:
    return max(1, d - M), min(N, d - 1)


# --------------------------------------------------------------------------
# DTW family
# --------------------------------------------------------------------------


def _combine(a, b, c, op: int, gamma: float):
    if op == 0:
        return torch.minimum(torch.minimum(a, b), c)
    if op == 1:
        return -gamma * torch.logsumexp(torch.stack((a, b, c)) / -gamma, dim=0)
    # smoothMin = lo + sum_k (a_k - lo) e_k / sum_k e_k with e_k = exp((lo - a_k) / gamma)
    lo = torch.minimum(torch.minimum(a, b), c)
    es = [torch.exp((lo - v) / gamma) for v in (a, b, c)]
    num = sum(torch.where(e > 0, (v - lo) * e, 0.0) for e, v in zip(es, (a, b, c)))
    return lo + num / (es[0] + es[1] + es[2])


def _local_weights(a, b, c, op: int, gamma: float):
    if op == 0:
        wa = (a <= b) & (a <= c)
        wb = ~wa & (b <= c)
        wc = ~wa & ~wb
        return wa.to(a.dtype), wb.to(a.dtype), wc.to(a.dtype)
    lo = torch.minimum(torch.minimum(a, b), c)
    ea, eb, ec = (torch.exp((lo - v) / gamma) for v in (a, b, c))
    z = ea + eb + ec
    wa, wb, wc = ea / z, eb / z, ec / z
    if op == 1:
        return wa, wb, wc
    da, db, dc = (torch.where(e > 0, v - lo, 0.0) for e, v in ((ea, a), (eb, b), (ec, c)))
    srel = da * wa + db * wb + dc * wc
    return tuple(w * (1.0 - (dv - srel) / gamma) for w, dv in ((wa, da), (wb, db), (wc, dc)))


def dtw_forward(C: torch.Tensor, n: torch.Tensor, m: torch.Tensor, op: int, gamma: float):
    """Returns value (B,), accumulated (B, N, M) (+inf outside valid blocks), skewed R."""
    B, N, M = C.shape
    cd = _skew(C, 0.0)
    rd = torch.full_like(cd, _INF)
    rd[:, 0, 0] = 0.0
    for d in range(2, N + M + 1):
        lo, hi = _diag_range(d, N, M)
        rd[:, d, lo : hi + 1] = cd[:, d, lo : hi + 1] + _combine(
            rd[:, d - 2, lo - 1 : hi], rd[:, d - 1, lo - 1 : hi], rd[:, d - 1, lo : hi + 1], op, gamma
        )
    value = rd[torch.arange(B, device=C.device), n + m, n]
    acc = _cells(rd, N, M).masked_fill(~block_mask(n, m, N, M), _INF)
    return value, acc, rd


def dtw_backward(rd, grad_acc, grad_value, n, m, op: int, gamma: float, N: int, M: int):
    """dL/dC (B, N, M) from dL/dR (or None) and dL/dvalue (or None)."""
    B = rd.shape[0]
    vd = _valid_skewed(B, N, M, n, m)
    a, b, c = rd[:, :-2, :-1], rd[:, 1:-1, :-1], rd[:, 1:-1, 1:]
    weights = []
    for w in _local_weights(a, b, c, op, gamma):
        full = torch.zeros_like(rd)
        full[:, 2:, 1:] = torch.where(vd[:, 2:, 1:], w, 0.0)
        weights.append(full)
    wa, wb, wc = weights
    ed = torch.zeros_like(rd)
    if grad_acc is not None:
        _cells(ed, N, M).copy_(grad_acc)
        ed = torch.where(vd, ed, 0.0)
    if grad_value is not None:
        ar = torch.arange(B, device=rd.device)
        ed[ar, n + m, n] += grad_value.to(rd.dtype)
    for d in range(N + M, 1, -1):
        lo, hi = _diag_range(d, N, M)
        s0, s1 = slice(lo, hi + 1), slice(lo + 1, hi + 2)
        ed[:, d, s0] += (
            ed[:, d + 2, s1] * wa[:, d + 2, s1]
            + ed[:, d + 1, s1] * wb[:, d + 1, s1]
            + ed[:, d + 1, s0] * wc[:, d + 1, s0]
        )
    return _cells(ed, N, M).clone()


# --------------------------------------------------------------------------
# Affine Smith-Waterman with smooth max
# --------------------------------------------------------------------------


def _smax(gamma: float, *terms):
    return gamma * torch.logsumexp(torch.stack(terms) / gamma, dim=0)


def sw_forward(S, GO, GE, n, m, gamma: float):
    """Returns value (B,), D (B, N, M) (-inf outside valid blocks), state for backward."""
    B, N, M = S.shape
    sd, god, ged = _skew(S, 0.0), _skew(GO, 0.0), _skew(GE, 0.0)
    dd = torch.full_like(sd, -_INF)
    xd = torch.full_like(sd, -_INF)
    yd = torch.full_like(sd, -_INF)
    zero = None
    for d in range(2, N + M + 1):
        lo, hi = _diag_range(d, N, M)
        sl, sp = slice(lo, hi + 1), slice(lo - 1, hi)
        if zero is None or zero.shape[-1] != hi - lo + 1:
            zero = sd.new_zeros((B, hi - lo + 1))
        go, ge = god[:, d, sl], ged[:, d, sl]
        dd[:, d, sl] = sd[:, d, sl] + _smax(gamma, zero, dd[:, d - 2, sp], xd[:, d - 2, sp], yd[:, d - 2, sp])
        xd[:, d, sl] = _smax(gamma, dd[:, d - 1, sl] - go, xd[:, d - 1, sl] - ge)
        yd[:, d, sl] = _smax(gamma, dd[:, d - 1, sp] - go, xd[:, d - 1, sp] - go, yd[:, d - 1, sp] - ge)
    D = _cells(dd, N, M).masked_fill(~block_mask(n, m, N, M), -_INF)
    value = gamma * torch.logsumexp(D.reshape(B, -1) / gamma, dim=1)
    return value, D, (dd, xd, yd, god, ged)


def _normalised(terms, extra_zero: bool = False):
    """softmax weights of ``terms`` (a tuple of equal-shape tensors), 0 where all are -inf."""
    hi = terms[0]
    for t in terms[1:]:
        hi = torch.maximum(hi, t)
    if extra_zero:
        hi = torch.clamp(hi, min=0.0)
    alive = hi > -_INF
    safe_hi = torch.where(alive, hi, 0.0)
    es = [torch.exp(t - safe_hi) for t in terms]
    z = sum(es)
    if extra_zero:
        z = z + torch.exp(-safe_hi)
    z = torch.where(alive, z, 1.0)
    return [torch.where(alive, e / z, 0.0) for e in es]


def sw_backward(state, grad_D, grad_value, value, D, n, m, gamma: float, N: int, M: int):
    """dL/dS, dL/dGO, dL/dGE, each (B, N, M)."""
    dd, xd, yd, god, ged = state
    B = dd.shape[0]
    vd = _valid_skewed(B, N, M, n, m)
    ig = 1.0 / gamma
    sub = (slice(None), slice(2, None), slice(1, None))
    go, ge = god[sub], ged[sub]

    def place(w):
        full = torch.zeros_like(dd)
        full[sub] = torch.where(vd[sub], w, 0.0)
        return full

    # D(i, j) = S + max^g(0, D(i-1, j-1), X(i-1, j-1), Y(i-1, j-1))
    pDD, pDX, pDY = map(
        place, _normalised((dd[:, :-2, :-1] * ig, xd[:, :-2, :-1] * ig, yd[:, :-2, :-1] * ig), True)
    )
    # X(i, j) = max^g(D(i, j-1) - go, X(i, j-1) - ge)
    pXD, pXX = map(place, _normalised(((dd[:, 1:-1, 1:] - go) * ig, (xd[:, 1:-1, 1:] - ge) * ig)))
    # Y(i, j) = max^g(D(i-1, j) - go, X(i-1, j) - go, Y(i-1, j) - ge)
    pYD, pYX, pYY = map(
        place,
        _normalised(
            ((dd[:, 1:-1, :-1] - go) * ig, (xd[:, 1:-1, :-1] - go) * ig, (yd[:, 1:-1, :-1] - ge) * ig)
        ),
    )
    gext = torch.zeros_like(D)
    if grad_D is not None:
        gext = gext + grad_D
    if grad_value is not None:
        gext = gext + grad_value.to(D.dtype)[:, None, None] * torch.exp((D - value[:, None, None]) * ig)
    gext = torch.where(block_mask(n, m, N, M), gext, 0.0)
    gD = torch.zeros_like(dd)
    gX = torch.zeros_like(dd)
    gY = torch.zeros_like(dd)
    _cells(gD, N, M).copy_(gext)
    for d in range(N + M, 1, -1):
        lo, hi = _diag_range(d, N, M)
        s0, s1 = slice(lo, hi + 1), slice(lo + 1, hi + 2)
        dD = gD[:, d + 2, s1]
        dX = gX[:, d + 1, s0]
        dY = gY[:, d + 1, s1]
        gD[:, d, s0] += dD * pDD[:, d + 2, s1] + dX * pXD[:, d + 1, s0] + dY * pYD[:, d + 1, s1]
        gX[:, d, s0] = dD * pDX[:, d + 2, s1] + dX * pXX[:, d + 1, s0] + dY * pYX[:, d + 1, s1]
        gY[:, d, s0] = dD * pDY[:, d + 2, s1] + dY * pYY[:, d + 1, s1]
    gS = _cells(gD, N, M).clone()
    gGO = -_cells(gX * pXD + gY * (pYD + pYX), N, M)
    gGE = -_cells(gX * pXX + gY * pYY, N, M)
    return gS, gGO.contiguous(), gGE.contiguous()
