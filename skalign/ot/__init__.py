"""Optimal-transport solvers in torch, checked against POT.

Batched ``(B, N, M)`` or single ``(N, M)`` problems, numpy or torch in and
the same kind out, float32 or float64, any device, optional prefix masks for
padded videos. Every solver returns a frozen :class:`OTResult`. Plans are
constants of the cost: the solvers are not differentiated through.
"""

from ._asot import asot
from ._fgw import structured_fgw
from ._priors import PRIORS, prior_matrix, temporal_prior
from ._result import OTResult
from ._sinkhorn import sinkhorn
from ._vaot import VIRTUAL_RULES, decode_matches, vaot

__all__ = [
    "OTResult",
    "VIRTUAL_RULES",
    "asot",
    "decode_matches",
    "PRIORS",
    "prior_matrix",
    "sinkhorn",
    "structured_fgw",
    "temporal_prior",
    "vaot",
]
