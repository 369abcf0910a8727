"""skalign: self-supervised video alignment and action segmentation.

skalign learns per-frame video embeddings without labels by aligning videos
of the same process with each other (optimal transport and differentiable
dynamic programming), then aligns any two videos frame to frame and segments
videos into actions. Its face is scikit-learn, its engine is torch.

Subpackages
-----------
ot
    Optimal-transport solvers (Sinkhorn, structured fused Gromov-Wasserstein,
    VAOT, ASOT), batched torch, checked against POT.
sequence
    DTW, soft-DTW, smoothDTW and affine Smith-Waterman recursions.
io
    Reading and writing videos (PyAV) and per-frame feature files.
datasets
    Synthetic process videos and loaders of standard data layouts.
metrics
    Alignment and segmentation metrics, and scorers for ``GridSearchCV``.
engine, encoders
    The torch training loop and the frame encoders behind the estimators.
losses
    One self-supervised objective per method.
plotting
    Pictures of plans, segmentations and embeddings (needs matplotlib).
"""

__version__ = "0.1.0.dev0"

# The estimators pull in torch, scikit-learn and scipy (seconds), so they and
# the subpackages load on first use (PEP 562): ``import skalign`` and the
# ``skalign`` command's ``--help``/``--version`` stay fast. Fitted estimators
# pickle by their defining private modules (``skalign._aligner``, ...), which
# unpickling imports directly.
import importlib as _importlib  # noqa: E402
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402
from typing import Any as _Any  # noqa: E402

if _TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._aligner import VideoAligner
    from ._base import Alignment
    from ._frame_features import FrameFeatures
    from ._joint import JointAlignSegment
    from ._segmenter import ActionSegmenter
    from ._timeline import Timeline

__all__ = ["ActionSegmenter", "Alignment", "FrameFeatures", "JointAlignSegment", "Timeline", "VideoAligner",
           "__version__"]

_LAZY_NAMES = {
    "ActionSegmenter": "._segmenter",
    "Alignment": "._base",
    "FrameFeatures": "._frame_features",
    "JointAlignSegment": "._joint",
    "Timeline": "._timeline",
    "VideoAligner": "._aligner",
}
_SUBMODULES = frozenset(
    {"datasets", "encoders", "engine", "io", "losses", "metrics", "ot", "persist", "plotting", "sequence",
     "utils"}
)


def __getattr__(name: str) -> _Any:
    """Import a top-level estimator or subpackage on first access (PEP 562)."""
    if name in _LAZY_NAMES:
        value = getattr(_importlib.import_module(_LAZY_NAMES[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
