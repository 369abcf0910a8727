"""Seeds and generators: every random draw of the engine goes through them.

The engine never touches the global torch seed. A training run owns one
integer seed; each epoch, rank and purpose gets its own ``torch.Generator``
derived from it by :class:`numpy.random.SeedSequence`, so an interrupted run
resumed from a checkpoint at epoch ``e`` draws exactly what the
uninterrupted run drew.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["make_seed", "derive_generator", "derive_seed"]

def make_seed(random_state: None | int | np.random.Generator | torch.Generator = None) -> int:
    """Turn ``random_state`` into one integer seed in ``[0, 2**63)``.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or torch.Generator, default=None
        ``None`` draws a fresh seed from the operating system's entropy; an
        int is used as is (it must be non-negative); a generator is advanced
        by one draw, so the caller's generator moves on as usual.

    Returns
    -------
    seed : int
        A non-negative integer below ``2**63``.

    Examples
    --------
    >>> from skalign.engine import make_seed
    >>> make_seed(3)
    3
    >>> import torch
    >>> make_seed(torch.Generator().manual_seed(0)) == make_seed(torch.Generator().manual_seed(0))
    True
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0]) >> 1
    if isinstance(random_state, torch.Generator):
        return int(torch.randint(0, 2**62, (1,), generator=random_state).item())
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**62))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}.")
        return int(random_state) & ((1 << 63) - 1)
    raise ValueError(
        "random_state must be None, a non-negative int, a numpy Generator or a "
        f"torch.Generator, got {type(random_state).__name__}."
    )


def derive_seed(seed: int, *keys: int) -> int:
    """Hash ``seed`` and integer ``keys`` into a new seed in ``[0, 2**63)``.

    Parameters
    ----------
    seed : int
        The run's seed.
    *keys : int
        Non-negative integers naming the stream (epoch, rank, purpose, ...).

    Returns
    -------
    seed : int

    Examples
    --------
    >>> from skalign.engine import derive_seed
    >>> derive_seed(0, 1, 2) == derive_seed(0, 1, 2), derive_seed(0, 1, 2) == derive_seed(0, 2, 1)
    (True, False)
    """
    if int(seed) < 0 or any(int(k) < 0 for k in keys):
        raise ValueError(f"seed and keys must be non-negative integers, got {seed} and {keys}.")
    # numpy's SeedSequence hashes the run's seed with the stream's keys
    # (its spawn key), the construction numpy uses for independent streams.
    state = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in keys))
    return int(state.generate_state(1, np.uint64)[0]) >> 1


def derive_generator(seed: int, *keys: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with :func:`derive_seed`.

    Parameters
    ----------
    seed : int
        The run's seed.
    *keys : int
        Integers naming the stream.
    device : str or torch.device, default="cpu"
        Device of the generator.

    Returns
    -------
    generator : torch.Generator

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import derive_generator
    >>> a = torch.rand(2, generator=derive_generator(5, 0))
    >>> b = torch.rand(2, generator=derive_generator(5, 0))
    >>> bool((a == b).all())
    True
    """
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, *keys))
    return g
