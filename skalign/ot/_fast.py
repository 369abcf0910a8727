"""Buffered O(NM) kernels for the balanced structured FGW solver.

The band priors are applied with running window sums written into
preallocated buffers: large temporary tensors cost more in page faults than
in arithmetic on a CPU, and a cumulative sum along the row axis of a
row-major matrix is several times slower than a running sum over its rows.
On CUDA the same maths runs with ``torch.cumsum`` along the innermost axis.

:func:`numba_backend` gives the optional numba kernels of
``_numba_kernels`` (fewer passes per outer iteration on the CPU) when numba
is installed and ``SKALIGN_NO_NUMBA`` is unset (:mod:`skalign._backend`).
"""

from __future__ import annotations

import torch

from .._backend import OT_KERNELS, load_kernels, numba_disabled


_BLOCK = 32
_TRIL: dict = {}


def _tril(b: int, dtype, device) -> torch.Tensor:
    key = (b, dtype, str(device))
    if key not in _TRIL:
        _TRIL[key] = torch.tril(torch.ones(b, b, dtype=dtype, device=device))
    return _TRIL[key]


def prefix_rows(src: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Inclusive prefix sums along axis 1 of (B, N, M) into ``out``.

    On the CPU a cumulative sum along a non-contiguous axis is slow; here the
    rows are cut into blocks of 32, summed within each block by one batched
    product with a lower-triangular matrix, and the block totals carried
    over with a small cumulative sum.
    """
    B, N, M = src.shape
    if src.is_cuda:
        return prefix_rows_transposed(src, out)
    if N <= _BLOCK:
        return torch.cumsum(src, dim=1, out=out)
    b = _BLOCK
    nb, rest = divmod(N, b)
    main = out[:, : nb * b].view(B, nb, b, M)
    torch.matmul(_tril(b, src.dtype, src.device), src[:, : nb * b].reshape(B, nb, b, M), out=main)
    totals = main[:, :, b - 1, :]
    offsets = torch.cumsum(totals, dim=1)
    main[:, 1:].add_(offsets[:, :-1, None, :])
    if rest:
        tail = out[:, nb * b :]
        torch.matmul(_tril(rest, src.dtype, src.device), src[:, nb * b :], out=tail)
        tail.add_(offsets[:, -1:, :])
    return out


def prefix_rows_transposed(src: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``prefix_rows`` for CUDA: a scan along the innermost axis of a
    transposed copy, written back into ``out``. On CUDA the innermost scan is
    the fast one: at 4096 x 4096 float32 on an H200, 0.17 ms against 1.5 ms
    for ``torch.cumsum`` along axis 1 (``benchmarks/bench_gpu.py --profile``)."""
    t = src.transpose(1, 2).contiguous()
    torch.cumsum(t, dim=2, out=t)
    return out.copy_(t.transpose(1, 2))


def apply_prior_into(kind: str, src: torch.Tensor, w: int, radius: float, axis: int,
                     out: torch.Tensor, scratch: torch.Tensor, *, raw_band: bool = False) -> torch.Tensor:
    """``out = C src`` (axis 1) or ``out = src C`` (axis 2) for one half-width.

    ``out`` and ``scratch`` are contiguous buffers shaped like ``src``; ``src``
    may be a strided view. With ``raw_band=True`` the band prior is returned
    without its ``1 / radius`` factor (the caller folds it into a constant).
    """
    L = src.shape[axis]
    if kind == "off_diagonal":
        torch.sub(src.sum(dim=axis, keepdim=True), src, out=out)
        return out
    if kind not in ("band", "complement_band"):
        raise ValueError(f"unknown prior {kind!r}")
    # Inclusive prefix sums S along the axis.
    if axis == 2:
        S = torch.cumsum(src, dim=2, out=scratch)
    else:
        S = prefix_rows(src, scratch)

    def sl(t, start, stop):
        return t.narrow(axis, start, stop - start)

    total = sl(S, L - 1, L)
    hi = min(w, L - 1)
    if kind == "band":
        # window - src, window[i] = S[min(i+w, L-1)] - S[i-w-1]
        if hi < L:
            torch.sub(sl(S, hi, L), sl(src, 0, L - hi), out=sl(out, 0, L - hi))
        if hi > 0:
            torch.sub(total.expand_as(sl(out, L - hi, L)), sl(src, L - hi, L), out=sl(out, L - hi, L))
        if w + 1 < L:
            sl(out, w + 1, L).sub_(sl(S, 0, L - w - 1))
        if not raw_band:
            out.mul_(1.0 / radius)
        return out
    # complement band: total - (window - src) = total - window + src
    if hi < L:
        torch.sub(total, sl(S, hi, L), out=sl(out, 0, L - hi))
    if hi > 0:
        sl(out, L - hi, L).zero_()
    if w + 1 < L:
        sl(out, w + 1, L).add_(sl(S, 0, L - w - 1))
    out.add_(src)
    return out


#: Solves with less work than this stay on the torch path: the fused kernels
#: pay off from about 1500 x 1500 frames at 25 outer iterations, while their
#: first call compiles for several seconds (cached on disk afterwards).
NUMBA_MIN_SIZE = 1 << 21

#: The outer iteration count that ``NUMBA_MIN_SIZE`` assumes.
_REFERENCE_ITERATIONS = 25


def _large_enough(t: torch.Tensor, iterations: int | None) -> bool:
    """Whether ``t`` times ``iterations / 25`` has ``NUMBA_MIN_SIZE`` entries."""
    scale = 1.0 if iterations is None else max(iterations, 1) / _REFERENCE_ITERATIONS
    return t.numel() * max(scale, 1.0) >= NUMBA_MIN_SIZE


def _kernel_ready(tensors: tuple[torch.Tensor, ...]) -> bool:
    """Contiguous CPU float32/float64 tensors of one dtype, without grad."""
    dtype = tensors[0].dtype
    if dtype not in (torch.float32, torch.float64):
        return False
    return all(t.device.type == "cpu" and t.dtype == dtype and t.is_contiguous() and not t.requires_grad
               for t in tensors)


def numba_backend(*tensors: torch.Tensor, iterations: int | None = None):
    """The numba kernels module when it can serve ``tensors``, else None.

    numba is optional: it is imported on first use, and the torch path is
    kept when it is missing, when ``SKALIGN_NO_NUMBA=1`` (the shared policy
    of :mod:`skalign._backend`), when the work is small (the first tensor
    has fewer than ``NUMBA_MIN_SIZE`` entries, scaled by ``25 /
    iterations`` for an outer loop of ``iterations``), or when a tensor is
    not a contiguous CPU float32/float64 tensor of one dtype.
    """
    if numba_disabled():
        return None
    if tensors and not _large_enough(tensors[0], iterations):
        return None
    module = load_kernels(OT_KERNELS)
    if module is None or not tensors:
        return module
    return module if _kernel_ready(tensors) else None
