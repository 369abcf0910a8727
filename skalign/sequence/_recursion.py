"""Autograd functions around the recursion kernels (hand-written backward).

Each function runs a kernel family chosen by ``backend`` (``"numba"``:
compiled CPU loops, ``"torch"``: anti-diagonal tensor operations) and keeps
only the forward matrices for the backward pass, which is an adjoint
recursion of the same cost: O(NM) time and memory, no autograd graph over
the N*M cells. Both the value and the accumulated matrix are differentiable
outputs; the backward takes the gradients of both.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _common
from . import _kernels_torch as _kt

OP_MIN, OP_SOFTMIN, OP_SMOOTHMIN = 0, 1, 2  # the kernels' ``op`` codes

_MIN_CELLS_PER_THREAD = 1 << 16


def _run_numba(kernel, batched: tuple, scalars: tuple, order: str) -> None:
    """Call a numba batch kernel, splitting the batch over threads when it pays.

    ``batched`` are ndarrays whose first axis is the batch; ``order`` gives the
    kernel's argument order: ``"b"`` takes the next batched array, ``"s"`` the
    next scalar. The kernels release the GIL.
    """
    B = batched[0].shape[0]
    cells = int(np.prod(batched[0].shape))
    n_threads = min(B, torch.get_num_threads(), max(1, cells // _MIN_CELLS_PER_THREAD))

    def call(lo: int, hi: int) -> None:
        it_b, it_s = iter(batched), iter(scalars)
        args = [next(it_b)[lo:hi] if k == "b" else next(it_s) for k in order]
        kernel(*args)

    if n_threads <= 1:
        call(0, B)
        return
    bounds = np.linspace(0, B, n_threads + 1).astype(int)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(call, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
        for f in futures:
            f.result()


class DTWFamily(torch.autograd.Function):
    """R[i, j] = C[i, j] + op(R[i-1, j-1], R[i-1, j], R[i, j-1]); value = R[n-1, m-1]."""

    @staticmethod
    def forward(ctx, cost, n, m, op, gamma, backend):
        B, N, M = cost.shape
        if backend == "numba":
            c = cost.detach().contiguous()
            R = torch.empty((B, N + 1, M + 1), dtype=c.dtype)
            _run_numba(
                _common.numba_kernels().dtw_forward, (c.numpy(), n.numpy(), m.numpy(), R.numpy()), (op, gamma), "bbbssb"
            )
            value = R[torch.arange(B), n, m]
            acc = R[:, 1:, 1:]
            state = R
        else:
            value, acc, state = _kt.dtw_forward(cost.detach(), n, m, op, gamma)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(state, n, m)
        ctx.config = (op, gamma, backend, N, M)
        return value, acc

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_value, grad_acc):
        state, n, m = ctx.saved_tensors
        op, gamma, backend, N, M = ctx.config
        if grad_value is None and grad_acc is None:
            return (None,) * 6
        if backend == "numba":
            B = state.shape[0]
            E = torch.zeros_like(state)
            if grad_acc is not None:
                g = grad_acc.to(state.dtype)
                E[:, 1:, 1:] = torch.where(_kt.block_mask(n, m, N, M), g, 0.0)
            if grad_value is not None:
                E[torch.arange(B), n, m] += grad_value.to(state.dtype)
            _run_numba(
                _common.numba_kernels().dtw_backward,
                (state.numpy(), E.numpy(), n.numpy(), m.numpy()),
                (op, gamma),
                "bbbbss",
            )
            grad = E[:, 1:, 1:]
        else:
            grad = _kt.dtw_backward(state, grad_acc, grad_value, n, m, op, gamma, N, M)
        return grad, None, None, None, None, None


class SmithWaterman(torch.autograd.Function):
    """Affine Smith-Waterman with smooth max; value = max^gamma over the valid D cells."""

    @staticmethod
    def forward(ctx, sim, gap_open, gap_extend, n, m, gamma, backend):
        B, N, M = sim.shape
        if backend == "numba":
            s = sim.detach().contiguous()
            go = gap_open.detach().contiguous()
            ge = gap_extend.detach().contiguous()
            D, X, Y = (torch.empty((B, N + 1, M + 1), dtype=s.dtype) for _ in range(3))
            value = torch.empty(B, dtype=s.dtype)
            _run_numba(
                _common.numba_kernels().sw_forward,
                (s.numpy(), go.numpy(), ge.numpy(), n.numpy(), m.numpy(),
                 D.numpy(), X.numpy(), Y.numpy(), value.numpy()),
                (gamma,),
                "bbbbbsbbbb",
            )
            acc = D[:, 1:, 1:]
            ctx.save_for_backward(go, ge, D, X, Y, value, n, m)
        else:
            value, acc, state = _kt.sw_forward(sim.detach(), gap_open.detach(), gap_extend.detach(), n, m, gamma)
            ctx.save_for_backward(*state, acc, value, n, m)
        ctx.set_materialize_grads(False)
        ctx.config = (gamma, backend, N, M)
        return value, acc

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_value, grad_acc):
        gamma, backend, N, M = ctx.config
        if grad_value is None and grad_acc is None:
            return (None,) * 7
        if backend == "numba":
            go, ge, D, X, Y, value, n, m = ctx.saved_tensors
            B = D.shape[0]
            gD = torch.zeros_like(D)
            gext = torch.zeros((B, N, M), dtype=D.dtype)
            if grad_acc is not None:
                gext = gext + grad_acc.to(D.dtype)
            if grad_value is not None:
                gext = gext + grad_value.to(D.dtype)[:, None, None] * torch.exp(
                    (D[:, 1:, 1:] - value[:, None, None]) / gamma
                )
            gD[:, 1:, 1:] = torch.where(_kt.block_mask(n, m, N, M), gext, 0.0)
            gX, gY = torch.zeros_like(D), torch.zeros_like(D)
            gGO, gGE = torch.zeros_like(go), torch.zeros_like(go)
            _run_numba(
                _common.numba_kernels().sw_backward,
                (go.numpy(), ge.numpy(), D.numpy(), X.numpy(), Y.numpy(), gD.numpy(), gX.numpy(),
                 gY.numpy(), gGO.numpy(), gGE.numpy(), n.numpy(), m.numpy()),
                (gamma,),
                "bbbbbbbbbbbbs",
            )
            gS = gD[:, 1:, 1:]
        else:
            dd, xd, yd, god, ged, D, value, n, m = ctx.saved_tensors
            gS, gGO, gGE = _kt.sw_backward(
                (dd, xd, yd, god, ged), grad_acc, grad_value, value, D, n, m, gamma, N, M
            )
        needs = ctx.needs_input_grad
        return (
            gS if needs[0] else None,
            gGO if needs[1] else None,
            gGE if needs[2] else None,
            None, None, None, None,
        )


def dtw_paths(acc: torch.Tensor, n: torch.Tensor, m: torch.Tensor, backend: str) -> list[list[tuple[int, int]]]:
    """Backtrack the optimal path of each exact-DTW accumulated matrix (B, N, M)."""
    acc_np = acc.detach().to("cpu", torch.float64).numpy()
    paths = []
    for b in range(acc_np.shape[0]):
        nb, mb = int(n[b]), int(m[b])
        R = np.full((nb + 1, mb + 1), np.inf)
        R[0, 0] = 0.0
        R[1:, 1:] = acc_np[b, :nb, :mb]
        if backend == "numba":
            steps = _common.numba_kernels().dtw_path(R, nb, mb)
            paths.append([(int(i), int(j)) for i, j in steps])
        else:
            paths.append(_backtrack(R, nb, mb))
    return paths


def _backtrack(R: np.ndarray, n: int, m: int) -> list[tuple[int, int]]:
    i, j = n, m
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        a, b, c = R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]
        if a <= b and a <= c:
            i, j = i - 1, j - 1
        elif b <= c:
            i -= 1
        else:
            j -= 1
        path.append((i - 1, j - 1))
    return path[::-1]
