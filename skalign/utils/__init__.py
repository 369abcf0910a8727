"""Thread policy: small work runs on one thread.

Most of skalign's work on the CPU is many small tensor operations: a
training step on a few short videos, a solve of a few hundred frames. On
such work a pool of threads costs more than it brings, and on a machine
whose cores are shared with other processes it costs far more: a thread
that waits for a descheduled partner spins. Measured on 2 cores beside 2
busy processes (``benchmarks/bench_threads.py``, two runs), the demo's fit
(5 epochs) took 5.5 to 7 times as long as on a quiet machine on torch's
default two threads, and 1.7 to 1.8 times as long on one thread; quiet, the
two took the same time.

So skalign decides the number of threads per call:

- the estimators take ``n_jobs`` with scikit-learn's convention (``None``
  is one thread unless inside ``joblib.parallel_config(n_jobs=...)``,
  ``-1`` is every core) and run ``fit``, ``transform``, ``align``,
  ``predict`` and ``score`` inside :func:`thread_limit` of that many
  threads; on a CUDA device, ``None`` leaves the CPU's threads as they are
  (they prepare the GPU's batches);
- the solvers of :mod:`skalign.ot` and the recursions of
  :mod:`skalign.sequence` run on one thread when their cost matrix has
  fewer than :data:`SMALL_WORK` entries, and on the caller's threads
  otherwise.

:func:`thread_limit` sets torch's intra-op threads, numba's threads (also
for kernels compiled later inside it) and, with ``blas=True``, the BLAS and
OpenMP pools (threadpoolctl), and restores them on exit.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from numbers import Integral
from typing import Any, TypeVar

import torch

__all__ = ["SMALL_WORK", "effective_n_threads", "thread_limit"]

#: Cost matrices with fewer entries than this (batch included) are solved on
#: one thread: 2**21, a 1448 x 1448 problem. Above it the numba kernels of
#: the structured FGW solver take over on the CPU, where threads pay.
SMALL_WORK = 1 << 21

# The outer iterations SMALL_WORK assumes (the solvers' default max_iter).
_REFERENCE_ITERATIONS = 25

# The limit in force (None outside thread_limit), for numba modules that are
# imported inside a scope.
_LIMIT: list[int] = []

F = TypeVar("F", bound=Callable[..., Any])


def effective_n_threads(n_jobs: int | None) -> int:
    """Threads for ``n_jobs`` by scikit-learn's convention.

    Parameters
    ----------
    n_jobs : int or None
        ``None``: one thread, unless inside a ``joblib.parallel_config``
        (or ``parallel_backend``) that sets ``n_jobs``; ``-1``: every core;
        ``-2``: all cores but one, and so on; a positive number: that many.

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> from skalign.utils import effective_n_threads
    >>> effective_n_threads(None), effective_n_threads(2)
    (1, 2)
    """
    from joblib import effective_n_jobs

    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive number or -1.")
    return max(1, int(effective_n_jobs(n_jobs)))


def _numba_module() -> Any:
    return sys.modules.get("numba")


def _set_numba_threads(n: int) -> int | None:
    """Set numba's threads to ``n`` (capped by its pool); the previous count,
    or None when numba is not imported."""
    numba = _numba_module()
    if numba is None:
        return None
    try:
        prev = int(numba.get_num_threads())
        numba.set_num_threads(max(1, min(int(n), int(numba.config.NUMBA_NUM_THREADS))))
    except (AttributeError, ValueError, RuntimeError):
        return None
    return prev


def follow_limit() -> None:
    """Apply the limit in force to numba, just imported inside a scope.

    The numba kernel modules call this after their first import: numba's
    pool starts with every core, whatever the scope around it says."""
    if _LIMIT:
        _set_numba_threads(_LIMIT[-1])


@contextlib.contextmanager
def thread_limit(n_threads: int, *, blas: bool = False) -> Iterator[int]:
    """Run the block on at most ``n_threads`` threads, then restore.

    Parameters
    ----------
    n_threads : int
        Threads for torch's intra-op pool and numba's kernels (and the BLAS
        and OpenMP pools with ``blas=True``); at least 1.
    blas : bool, default=False
        Also limit the BLAS and OpenMP pools of every loaded library through
        threadpoolctl (numpy's and scipy's BLAS, scikit-learn's OpenMP).
        It costs a look at the loaded libraries, so the estimators use it
        once per call, the solvers never.

    Yields
    ------
    n_threads : int

    Examples
    --------
    >>> import torch
    >>> from skalign.utils import thread_limit
    >>> before = torch.get_num_threads()
    >>> with thread_limit(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = int(n_threads)
    if n < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads!r}.")
    prev_torch = torch.get_num_threads()
    if prev_torch != n:
        torch.set_num_threads(n)
    prev_numba = _set_numba_threads(n)
    _LIMIT.append(n)
    stack = contextlib.ExitStack()
    try:
        if blas:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=n))
        yield n
    finally:
        stack.close()
        _LIMIT.pop()
        if prev_numba is not None:
            _set_numba_threads(prev_numba)
        elif _numba_module() is not None and not _LIMIT:
            # numba was first imported inside the scope: its pool's size is
            # the default again outside it.
            numba = _numba_module()
            try:
                numba.set_num_threads(int(numba.config.NUMBA_NUM_THREADS))
            except (AttributeError, ValueError, RuntimeError):
                pass
        if torch.get_num_threads() != prev_torch:
            torch.set_num_threads(prev_torch)


def _entries(x: Any) -> int | None:
    if isinstance(x, torch.Tensor):
        return x.numel() if x.device.type == "cpu" else None
    size = getattr(x, "size", None)
    if isinstance(size, int):
        return size
    return None


def small_work_on_one_thread(fn: F) -> F:
    """Decorate a solver whose first argument is its cost matrix: a matrix of
    fewer than :data:`SMALL_WORK` entries is solved on one thread. A solve
    given ``max_iter`` above 25 counts its entries times ``max_iter / 25``
    (the rule by which the numba kernels take over)."""

    @functools.wraps(fn)
    def wrapper(cost: Any, *args: Any, **kwargs: Any) -> Any:
        n = _entries(cost)
        iterations = kwargs.get("max_iter")
        if n is not None and isinstance(iterations, int) and iterations > _REFERENCE_ITERATIONS:
            # A long solve is large work too (as for the numba kernels).
            n = n * iterations // _REFERENCE_ITERATIONS
        if n is not None and n < SMALL_WORK and (torch.get_num_threads() > 1 or _numba_busy()):
            with thread_limit(1):
                return fn(cost, *args, **kwargs)
        return fn(cost, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _numba_busy() -> bool:
    numba = _numba_module()
    if numba is None:
        return False
    try:
        return int(numba.get_num_threads()) > 1
    except (AttributeError, RuntimeError):
        return False


def _on_cuda(estimator: Any) -> bool:
    """Whether the estimator's ``device`` resolves to a CUDA device."""
    try:
        return estimator._device().type == "cuda"
    except (AttributeError, ValueError, RuntimeError, TypeError):
        return False


def with_n_jobs(method: F) -> F:
    """Decorate an estimator's public method: run it inside
    :func:`thread_limit` of ``effective_n_threads(self.n_jobs)`` threads."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        n_jobs = getattr(self, "n_jobs", None)
        if n_jobs is not None and not isinstance(n_jobs, Integral):
            return method(self, *args, **kwargs)  # its parameter validation names the error
        if n_jobs is None and _on_cuda(self):
            # The CPU prepares the GPU's batches: leave its threads as they are.
            return method(self, *args, **kwargs)
        n = effective_n_threads(n_jobs)
        if _LIMIT and _LIMIT[-1] == n:
            return method(self, *args, **kwargs)
        with thread_limit(n, blas=True):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
