"""Self-supervised objectives, one per method.

Each loss takes batched frame embeddings (and padding masks) and returns a
scalar tensor to minimise; the optimal-transport and dynamic-programming
parts come from :mod:`skalign.ot` and :mod:`skalign.sequence`.
"""

from ._vaot import VAOT_TARGETS, vaot_loss

__all__ = [
    "VAOT_TARGETS",
    "vaot_loss",
]
