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

from ._aligner import VideoAligner  # noqa: E402
from ._base import Alignment  # noqa: E402
from ._joint import JointAlignSegment  # noqa: E402
from ._segmenter import ActionSegmenter  # noqa: E402

__all__ = ["ActionSegmenter", "Alignment", "JointAlignSegment", "VideoAligner", "__version__"]
