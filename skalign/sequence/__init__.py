"""Differentiable sequence alignment: DTW, soft-DTW, smoothDTW, Smith-Waterman.

Batched recursions over cost (or similarity) matrices of shape ``(N, M)``
or ``(B, N, M)``, with prefix masks for padded batches, float32/float64, any
device; numpy in gives numpy out, torch in gives torch out. The forward runs
over anti-diagonals (vectorised torch) or in compiled CPU loops (numba, when
installed); the backward is a hand-written adjoint recursion in O(NM)
memory (first-order only: the backward is not itself differentiable).

Functions
---------
dtw
    Exact DTW: value, accumulated matrix and optimal path.
soft_dtw
    Soft-DTW, the min^gamma relaxation (Cuturi and Blondel).
smooth_dtw
    smoothDTW, GTA's smoothMin relaxation; ``contrastive_cost`` builds
    GTA's cost matrix.
smith_waterman
    Smooth affine Smith-Waterman local alignment (LAC), learnable gaps.
expected_alignment
    The soft alignment matrix, gradient of a value w.r.t. its matrix.

Every function returns a :class:`DPResult` (``value``, ``accumulated``,
``path``) except ``contrastive_cost`` and ``expected_alignment``, which
return a matrix.
"""

from ._alignment import expected_alignment
from ._common import DPResult
from ._dtw import dtw
from ._smith_waterman import smith_waterman
from ._smooth_dtw import contrastive_cost, smooth_dtw
from ._soft_dtw import soft_dtw

__all__ = [
    "DPResult",
    "contrastive_cost",
    "dtw",
    "expected_alignment",
    "smith_waterman",
    "smooth_dtw",
    "soft_dtw",
]
