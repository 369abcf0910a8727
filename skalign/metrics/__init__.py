"""Metrics of video alignment and action segmentation, and scorers.

Alignment metrics judge per-frame embeddings (lists of ``(n_frames, d)``
arrays) and frame-to-frame alignments; segmentation metrics judge per-frame
cluster predictions against ground-truth classes after Hungarian matching.
Labels are lists of per-frame integer arrays where -1 marks frames to
ignore. The scorers wrap the metrics as ``scorer(estimator, videos, y=None)``
callables for ``GridSearchCV``.

skalign fixes one evaluation protocol and makes every choice a parameter:

- Kendall's tau: all ordered pairs of videos, frames subsampled by
  ``stride=5``, squared-Euclidean nearest neighbours,
  ``scipy.stats.kendalltau``, mean over pairs.
- Phase classification: ``SVC`` (RBF, C=1, gamma="scale") on frozen
  embeddings; label fractions are fractions of videos; frame accuracy on
  held-out videos.
- Phase progression: targets ``(t - t_i) / T`` per key event (phase
  boundary), one ``LinearRegression`` each, mean R^2 on held-out videos.
- AP@K: share of a frame's K nearest frames in other videos with its label,
  K = 5, 10, 15.
- Segmentation: Hungarian matching per video (or over the data set), MoF,
  segmental F1@{10, 25, 50}, mIoU; background classes can be excluded.
"""

from ._alignment import (
    alignment_accuracy,
    average_precision_at_k,
    kendalls_tau,
    phase_classification_accuracy,
    phase_progression,
    timeline_accuracy,
)
from ._scorers import (
    alignment_accuracy_scorer,
    ap_scorer,
    f1_scorer,
    get_scorer,
    kendalls_tau_scorer,
    miou_scorer,
    mof_scorer,
    phase_classification_scorer,
    progression_scorer,
)
from ._segmentation import (
    f1_at_overlap,
    hungarian_match,
    miou,
    mof,
    segmentation_report,
)

__all__ = [
    "kendalls_tau",
    "phase_classification_accuracy",
    "phase_progression",
    "average_precision_at_k",
    "alignment_accuracy",
    "timeline_accuracy",
    "hungarian_match",
    "mof",
    "f1_at_overlap",
    "miou",
    "segmentation_report",
    "kendalls_tau_scorer",
    "phase_classification_scorer",
    "progression_scorer",
    "ap_scorer",
    "alignment_accuracy_scorer",
    "mof_scorer",
    "f1_scorer",
    "miou_scorer",
    "get_scorer",
]
