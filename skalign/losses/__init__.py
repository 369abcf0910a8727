"""Self-supervised objectives, one per method.

Each loss takes batched frame embeddings (and padding masks) and returns a
scalar tensor to minimise; the optimal-transport and dynamic-programming
parts come from :mod:`skalign.ot` and :mod:`skalign.sequence`.
"""

from ._asot import asot_loss
from ._gta import global_cycle_consistency, gta_loss
from ._lac import inverse_distance_similarity, lac_loss
from ._sdtw import idm_regularizer, sdtw_loss
from ._vaot import VAOT_TARGETS, vaot_loss
from ._vava import vava_loss, vava_plan, vava_psi

__all__ = [
    "VAOT_TARGETS",
    "asot_loss",
    "global_cycle_consistency",
    "gta_loss",
    "idm_regularizer",
    "inverse_distance_similarity",
    "lac_loss",
    "sdtw_loss",
    "vaot_loss",
    "vava_loss",
    "vava_plan",
    "vava_psi",
]
