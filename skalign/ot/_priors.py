"""Structural and temporal priors.

The structural priors of VAOT (Eq. 4 of Ali et al., ICCV 2025) and ASOT are
band matrices. Their products with a plan are computed here with cumulative
sums along one axis: O(N M) time and memory per product for any radius, and
never an N x N matrix. ``prior_matrix`` builds the dense matrices for
inspection and for tests.
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


def _window_sum_fixed(z: torch.Tensor, w: int, dim: int) -> torch.Tensor:
    """``out[i] = sum_{|i-k| <= w} z[k]`` along ``dim`` (zeros beyond the ends)."""
    L = z.shape[dim]
    shape = list(z.shape)
    shape[dim] = 1
    s0 = torch.cat([torch.zeros(shape, dtype=z.dtype, device=z.device), torch.cumsum(z, dim=dim)], dim=dim)
    ar = torch.arange(L, device=z.device)
    hi = torch.clamp(ar + w + 1, max=L)
    lo = torch.clamp(ar - w, min=0)
    return s0.index_select(dim, hi) - s0.index_select(dim, lo)


def _window_sum(z: torch.Tensor, w: torch.Tensor, dim: int) -> torch.Tensor:
    """Window sums with a per-problem half-width ``w`` (B,), batch on dim 0."""
    values = torch.unique(w)
    if values.numel() == 1:
        return _window_sum_fixed(z, int(values[0]), dim)
    out = torch.empty_like(z)
    for value in values.tolist():
        idx = torch.nonzero(w == value).flatten()
        out[idx] = _window_sum_fixed(z[idx], int(value), dim)
    return out


def apply_prior(kind: str | None, z: torch.Tensor, w: torch.Tensor, radius: float, dim: int) -> torch.Tensor:
    """Multiply ``z`` by the prior matrix along ``dim``.

    With ``dim=1`` this is ``Cx @ z`` for each problem, with ``dim=2`` it is
    ``z @ Cy`` (the priors are symmetric). ``z`` must be zero on padding.

    - ``"band"``: ``C[i, k] = 1 / radius`` when ``1 <= |i - k| <= w``, else 0.
    - ``"complement_band"``: ``C[i, k] = 0`` when ``1 <= |i - k| <= w``, else 1
      (the diagonal is 1).
    - ``"off_diagonal"``: ``C = 1 1' - I``.
    - ``None``: the zero matrix.
    """
    if kind is None:
        return torch.zeros_like(z)
    if kind == "off_diagonal":
        return z.sum(dim=dim, keepdim=True) - z
    neighbours = _window_sum(z, w, dim) - z
    if kind == "band":
        return neighbours / radius
    if kind == "complement_band":
        return z.sum(dim=dim, keepdim=True) - neighbours
    raise ValueError(f"unknown prior {kind!r}; expected one of {PRIORS} or None.")


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
