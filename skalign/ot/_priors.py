"""Structural and temporal priors.

The structural priors of VAOT (Eq. 4 of Ali et al., ICCV 2025) and ASOT are
band matrices. The solvers multiply plans by them with prefix sums along one
axis (``skalign.ot._fast.apply_prior_into``): O(N M) time and memory per
product for any radius, never an N x N matrix. ``prior_matrix`` builds the
dense matrices for inspection and for tests.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["prior_matrix", "temporal_prior", "PRIORS"]

#: Names of the structural priors understood by the solvers.
PRIORS = ("band", "complement_band", "off_diagonal")


def band_width(length: torch.Tensor, radius: float) -> torch.Tensor:
    """Half-width ``floor(length * radius)`` of the band, per problem."""
    # A small slack keeps exact products such as 50 * 0.02 = 1 from
    # rounding down to 0 in floating point.
    return torch.floor(length.to(torch.float64) * radius + 1e-9).to(torch.long)


def prior_matrix(kind: str | None, n: int, radius: float = 0.02) -> np.ndarray:
    """Dense structural prior matrix, for inspection and tests.

    The solvers never build these matrices (they use cumulative sums); this
    function costs O(n^2) memory.

    Parameters
    ----------
    kind : {"band", "complement_band", "off_diagonal"} or None
        ``"band"``: ``C[i, k] = 1/radius`` for ``1 <= |i-k| <= floor(n radius)``,
        else 0 (VAOT Eq. 4, ``C^x``). ``"complement_band"``: 0 for
        ``1 <= |i-k| <= floor(n radius)``, else 1, the diagonal included (VAOT
        Eq. 4, ``C^y``). ``"off_diagonal"``: ``1 1' - I`` (ASOT's action side).
        ``None``: zeros.
    n : int
        Number of frames (or actions).
    radius : float, default=0.02
        Relative radius ``r`` in (0, 1].

    Returns
    -------
    ndarray of shape (n, n)

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Eq. 4.

    Examples
    --------
    >>> from skalign.ot import prior_matrix
    >>> prior_matrix("band", 5, radius=0.2)
    array([[0., 5., 0., 0., 0.],
           [5., 0., 5., 0., 0.],
           [0., 5., 0., 5., 0.],
           [0., 0., 5., 0., 5.],
           [0., 0., 0., 5., 0.]])
    """
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    w = int(band_width(torch.tensor([n]), radius)[0])
    near = (d >= 1) & (d <= w)
    if kind is None:
        return np.zeros((n, n))
    if kind == "band":
        return near / radius
    if kind == "complement_band":
        return (~near).astype(float)
    if kind == "off_diagonal":
        return 1.0 - np.eye(n)
    raise ValueError(f"unknown prior {kind!r}; expected one of {PRIORS} or None.")


def temporal_prior_batch(n: torch.Tensor, m: torch.Tensor, N: int, M: int, dtype, device,
                         out: torch.Tensor | None = None) -> torch.Tensor:
    """``R[b, i, j] = |i / n_b - j / m_b|`` on a padded (B, N, M) grid,
    written into ``out`` (which may be a strided view) when given."""
    i = torch.arange(N, dtype=dtype, device=device)[None, :, None] / n.to(dtype)[:, None, None]
    j = torch.arange(M, dtype=dtype, device=device)[None, None, :] / m.to(dtype)[:, None, None]
    if out is None:
        return (i - j).abs()
    return torch.sub(i, j, out=out).abs_()


def temporal_prior(n: int, m: int) -> np.ndarray:
    """The temporal prior ``R[i, j] = |i/n - j/m|`` (VAVA; VAOT Sec. 3.1.3).

    Parameters
    ----------
    n, m : int
        Numbers of frames of the two videos.

    Returns
    -------
    ndarray of shape (n, m)

    Examples
    --------
    >>> from skalign.ot import temporal_prior
    >>> temporal_prior(2, 4)
    array([[0.  , 0.25, 0.5 , 0.75],
           [0.5 , 0.25, 0.  , 0.25]])
    """
    return np.abs(np.arange(n)[:, None] / n - np.arange(m)[None, :] / m)
