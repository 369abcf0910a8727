"""Metrics of unsupervised action segmentation: Hungarian matching, MoF,
segmental F1 at IoU thresholds and mIoU.

Predictions are per-frame cluster ids and ground truth per-frame class ids,
one integer array per video; -1 in the ground truth marks frames to ignore
and -1 in a prediction marks frames assigned to no cluster.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._validation import check_fraction_list, check_label_array, check_video_list

__all__ = [
    "hungarian_match",
    "mof",
    "f1_at_overlap",
    "miou",
    "segmentation_report",
]

# Mapped predictions use -1 for frames that are not scored (ignored or
# excluded ground truth) and _UNMATCHED for frames of a cluster that the
# matching paired with no class; neither equals a ground-truth class.
_UNMATCHED = -2
_AVERAGES = ("dataset", "video")


def _check_pred_gt(pred: Any, gt: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-video prediction and ground-truth arrays of equal lengths.

    A single 1-D array for both is taken as one video.
    """
    one_video = (
        isinstance(gt, np.ndarray) and gt.ndim == 1
    ) or (
        isinstance(gt, (list, tuple)) and len(gt) > 0 and np.ndim(gt[0]) == 0
    )
    if one_video:
        pred_list = [check_label_array(pred, "pred")]
        gt_list = [check_label_array(gt, "gt")]
    else:
        gt_raw = check_video_list(gt, "gt", item_ndim=1)
        pred_raw = check_video_list(pred, "pred", item_ndim=1)
        if len(pred_raw) != len(gt_raw):
            raise ValueError(
                f"pred has {len(pred_raw)} videos; gt has {len(gt_raw)}."
            )
        pred_list = [check_label_array(p, f"pred[{i}]") for i, p in enumerate(pred_raw)]
        gt_list = [check_label_array(g, f"gt[{i}]") for i, g in enumerate(gt_raw)]
    for i, (p, g) in enumerate(zip(pred_list, gt_list)):
        if p.shape[0] != g.shape[0]:
            raise ValueError(
                f"pred[{i}] has {p.shape[0]} frames; gt[{i}] has {g.shape[0]}."
            )
    return pred_list, gt_list


def _check_exclude(exclude: Any) -> np.ndarray:
    """``exclude`` (None, an int or ints) as an int array of class ids."""
    if exclude is None:
        return np.zeros(0, dtype=np.int64)
    values = np.atleast_1d(np.asarray(exclude))
    if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
        raise ValueError(
            f"exclude must be None, a class id or a sequence of class ids; got {exclude!r}."
        )
    return values.astype(np.int64)


def _check_average(average: Any) -> str:
    if average not in _AVERAGES:
        raise ValueError(f"average must be 'dataset' or 'video'; got {average!r}.")
    return average


def _scored_masks(gt_list: list[np.ndarray], exclude: np.ndarray) -> list[np.ndarray]:
    """Frames that count: ground truth not -1 and not an excluded class."""
    return [(g >= 0) & ~np.isin(g, exclude) for g in gt_list]


def _overlap_counts(
    pred_list: Sequence[np.ndarray], gt_list: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clusters, classes and their co-occurrence counts over scored frames."""
    p = np.concatenate([pr[m] for pr, m in zip(pred_list, masks)])
    g = np.concatenate([gt[m] for gt, m in zip(gt_list, masks)])
    keep = p >= 0
    clusters = np.unique(p[keep])
    classes = np.unique(g)
    counts = np.zeros((clusters.size, classes.size), dtype=np.int64)
    if clusters.size and classes.size:
        rows = np.searchsorted(clusters, p[keep])
        cols = np.searchsorted(classes, g[keep])
        np.add.at(counts, (rows, cols), 1)
    return clusters, classes, counts


def _assign(
    pred_list: Sequence[np.ndarray], gt_list: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> dict[int, int]:
    """One-to-one cluster -> class map maximising the correctly labelled frames."""
    clusters, classes, counts = _overlap_counts(pred_list, gt_list, masks)
    if counts.size == 0:
        return {}
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}


def _mappings(
    pred_list: list[np.ndarray],
    gt_list: list[np.ndarray],
    masks: list[np.ndarray],
    per_video: bool,
) -> list[dict[int, int]]:
    if per_video:
        return [_assign([p], [g], [m]) for p, g, m in zip(pred_list, gt_list, masks)]
    shared = _assign(pred_list, gt_list, masks)
    return [dict(shared) for _ in pred_list]


def _apply_mapping(pred: np.ndarray, mapping: dict[int, int], mask: np.ndarray) -> np.ndarray:
    """Mapped prediction: class ids, _UNMATCHED, and -1 on unscored frames."""
    out = np.full(pred.shape[0], _UNMATCHED, dtype=np.int64)
    for cluster, cls in mapping.items():
        out[pred == cluster] = cls
    out[~mask] = -1
    return out


def _segments(seq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal labels other than -1: (labels, starts, exclusive ends)."""
    if seq.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.flatnonzero(seq[1:] != seq[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [seq.size]))
    labels = seq[starts]
    keep = labels != -1
    return labels[keep], starts[keep], ends[keep]


def _segment_counts(mapped: np.ndarray, gt: np.ndarray, overlaps: tuple) -> np.ndarray:
    """(tp, fp, fn) of one video at each IoU threshold, shape (n_overlaps, 3)."""
    p_lab, p_start, p_end = _segments(mapped)
    g_lab, g_start, g_end = _segments(gt)
    inter = np.minimum(p_end[:, None], g_end[None, :]) - np.maximum(
        p_start[:, None], g_start[None, :]
    )
    union = np.maximum(p_end[:, None], g_end[None, :]) - np.minimum(
        p_start[:, None], g_start[None, :]
    )
    iou = np.where(
        (p_lab[:, None] == g_lab[None, :]) & (inter > 0), inter / np.maximum(union, 1), 0.0
    )
    out = np.zeros((len(overlaps), 3), dtype=np.int64)
    for o, threshold in enumerate(overlaps):
        hit = np.zeros(g_lab.size, dtype=bool)
        tp = 0
        for j in range(p_lab.size):
            if g_lab.size == 0:
                break
            best = int(np.argmax(iou[j]))
            if iou[j, best] >= threshold and not hit[best]:
                hit[best] = True
                tp += 1
        out[o] = (tp, p_lab.size - tp, g_lab.size - tp)
    return out


def _f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """F1 from (tp, fp, fn) rows; 0 where precision and recall are both 0."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    precision = np.divide(tp, tp + fp, out=np.zeros(tp.shape), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros(tp.shape), where=(tp + fn) > 0)
    denom = precision + recall
    return np.divide(2 * precision * recall, denom, out=np.zeros(tp.shape), where=denom > 0)


class _Evaluation:
    """Matched predictions of a data set and the counts every metric needs."""

    def __init__(self, pred: Any, gt: Any, per_video: bool, exclude: Any):
        if not isinstance(per_video, (bool, np.bool_)):
            raise ValueError(f"per_video must be True or False; got {per_video!r}.")
        pred_list, gt_list = _check_pred_gt(pred, gt)
        excluded = _check_exclude(exclude)
        self.masks = _scored_masks(gt_list, excluded)
        if not any(m.any() for m in self.masks):
            raise ValueError(
                "gt has no frame to score (every frame is -1 or an excluded class)."
            )
        self.gt = [np.where(m, g, -1) for g, m in zip(gt_list, self.masks)]
        self.mapping = _mappings(pred_list, gt_list, self.masks, bool(per_video))
        self.mapped = [
            _apply_mapping(p, mp, m) for p, mp, m in zip(pred_list, self.mapping, self.masks)
        ]
        self.scored = [bool(m.any()) for m in self.masks]

    def mof(self, average: str) -> tuple[float, list]:
        right = [int(np.sum(p[m] == g[m])) for p, g, m in zip(self.mapped, self.gt, self.masks)]
        total = [int(m.sum()) for m in self.masks]
        per_video = [r / t if t else None for r, t in zip(right, total)]
        if average == "dataset":
            return sum(right) / sum(total), per_video
        return float(np.mean([v for v in per_video if v is not None])), per_video

    def f1(self, overlaps: tuple, average: str) -> tuple[dict, list]:
        counts = np.stack([_segment_counts(p, g, overlaps) for p, g in zip(self.mapped, self.gt)])
        per_video_f1 = _f1_from_counts(counts)  # (n_videos, n_overlaps)
        per_video = [
            {o: float(f) for o, f in zip(overlaps, row)} if s else None
            for row, s in zip(per_video_f1, self.scored)
        ]
        if average == "dataset":
            values = _f1_from_counts(counts.sum(axis=0))
        else:
            values = per_video_f1[np.asarray(self.scored)].mean(axis=0)
        return {o: float(v) for o, v in zip(overlaps, values)}, per_video

    def miou(self, average: str) -> tuple[float, list]:
        stats = []  # per video: {class: (intersection, union)}
        for p, g, m in zip(self.mapped, self.gt, self.masks):
            p, g = p[m], g[m]
            classes = np.union1d(g, p[p >= 0])
            stats.append(
                {int(c): (int(np.sum((p == c) & (g == c))), int(np.sum((p == c) | (g == c))))
                 for c in classes}
            )
        per_video = [
            float(np.mean([i / u for i, u in s.values()])) if s else None for s in stats
        ]
        if average == "video":
            return float(np.mean([v for v in per_video if v is not None])), per_video
        pooled: dict[int, list[int]] = {}
        for s in stats:
            for c, (i, u) in s.items():
                acc = pooled.setdefault(c, [0, 0])
                acc[0] += i
                acc[1] += u
        return float(np.mean([i / u for i, u in pooled.values()])), per_video


def hungarian_match(
    pred: Any, gt: Any, *, per_video: bool = True, exclude: Any = None
) -> list[dict[int, int]]:
    """One-to-one matching of predicted clusters to ground-truth classes.

    The matching maximises the number of scored frames whose cluster is
    paired with their class (the Hungarian algorithm,
    ``scipy.optimize.linear_sum_assignment``, on the cluster-by-class
    co-occurrence counts). It pairs ``min(n_clusters, n_classes)`` clusters
    with classes; the other clusters stay unmatched and their frames count
    as wrong. Scored frames are those whose ground truth is neither -1 nor
    in ``exclude``; clusters and classes are those occurring on scored
    frames, and prediction -1 (no cluster) is never matched.

    Parameters
    ----------
    pred : list of array-like of shape (n_frames,)
        Predicted cluster id (>= 0, or -1 for none) of each frame, one array
        per video. A single 1-D array, with a single 1-D ``gt``, is one
        video.
    gt : list of array-like of shape (n_frames,)
        Ground-truth class id of each frame; -1 marks frames to ignore.
    per_video : bool, default=True
        True matches every video on its own (the usual protocol of
        unsupervised segmentation, where cluster ids mean nothing across
        videos); False finds one matching for the whole data set.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background); their
        frames are treated like -1.

    Returns
    -------
    mapping : list of dict of int to int
        For each video, the class paired with each matched cluster. With
        ``per_video=False`` every video gets a copy of the same mapping.

    Raises
    ------
    ValueError
        Malformed or mismatched inputs, or no frame to score.

    References
    ----------
    .. [1] A. Kukleva, H. Kuehne, F. Sener and J. Gall, "Unsupervised
       Learning of Action Classes with Continuous Temporal Embedding", CVPR
       2019 (Hungarian matching of clusters to classes).
    .. [2] M. Xu and S. Gould, "Temporally Consistent Unbalanced Optimal
       Transport for Unsupervised Action Segmentation", CVPR 2024
       (per-video matching).

    Examples
    --------
    >>> from skalign.metrics import hungarian_match
    >>> hungarian_match([[5, 5, 7, 7, 7]], [[0, 0, 1, 1, 0]])
    [{5: 0, 7: 1}]
    """
    return _Evaluation(pred, gt, per_video, exclude).mapping


def mof(
    pred: Any,
    gt: Any,
    *,
    per_video: bool = True,
    exclude: Any = None,
    average: str = "dataset",
) -> float:
    """Mean over frames: the share of scored frames labelled right after matching.

    Predicted clusters are first paired with classes by
    :func:`hungarian_match`; a frame is right when its cluster is paired
    with its ground-truth class. Frames whose ground truth is -1 or in
    ``exclude`` are not scored.

    Parameters
    ----------
    pred : list of array-like of shape (n_frames,)
        Predicted cluster id of each frame, one array per video (-1: none).
    gt : list of array-like of shape (n_frames,)
        Ground-truth class id of each frame; -1 marks frames to ignore.
    per_video : bool, default=True
        Match every video on its own (True) or the whole data set at once.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        ``"dataset"`` pools the frames of all videos; ``"video"`` averages
        the per-video MoF over the videos with scored frames.

    Returns
    -------
    mof : float
        In ``[0, 1]``.

    See Also
    --------
    segmentation_report : All segmentation metrics and the matching.

    References
    ----------
    .. [1] A. Kukleva et al., "Unsupervised Learning of Action Classes with
       Continuous Temporal Embedding", CVPR 2019 (MoF after Hungarian
       matching).
    .. [2] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics, MoF).

    Examples
    --------
    >>> from skalign.metrics import mof
    >>> mof([[5, 5, 7, 7, 7]], [[0, 0, 1, 1, 0]])
    0.8
    """
    average = _check_average(average)
    return _Evaluation(pred, gt, per_video, exclude).mof(average)[0]


def f1_at_overlap(
    pred: Any,
    gt: Any,
    overlaps: Sequence[float] = (0.1, 0.25, 0.5),
    *,
    per_video: bool = True,
    exclude: Any = None,
    average: str = "dataset",
) -> dict[float, float]:
    """Segmental F1 score at IoU thresholds (F1@{10, 25, 50}).

    After :func:`hungarian_match`, each video's prediction and ground truth
    are cut into segments (maximal runs of one label). Scanning the
    predicted segments in temporal order, each takes the ground-truth
    segment of the same class with the highest IoU (temporal intersection
    over union); it is a true positive when that IoU is at least the
    threshold and that ground-truth segment has not been claimed before,
    otherwise a false positive. Ground-truth segments never claimed are
    false negatives. F1 = 2PR / (P + R) with precision P = tp / (tp + fp)
    and recall R = tp / (tp + fn), as in the evaluation of MS-TCN.

    Frames not scored (ground truth -1 or in ``exclude``) are blanked in
    both sequences before segments are cut, so no segment covers them;
    segments of unmatched clusters are false positives.

    Parameters
    ----------
    pred : list of array-like of shape (n_frames,)
        Predicted cluster id of each frame, one array per video (-1: none).
    gt : list of array-like of shape (n_frames,)
        Ground-truth class id of each frame; -1 marks frames to ignore.
    overlaps : sequence of float, default=(0.1, 0.25, 0.5)
        IoU thresholds in ``[0, 1]``.
    per_video : bool, default=True
        Match every video on its own (True) or the whole data set at once.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        ``"dataset"`` sums tp, fp and fn over the videos before computing F1
        (as MS-TCN does); ``"video"`` averages per-video F1 scores.

    Returns
    -------
    f1 : dict of float to float
        F1 in ``[0, 1]`` at each threshold.

    See Also
    --------
    segmentation_report : All segmentation metrics and the matching.

    References
    ----------
    .. [1] C. Lea, M. D. Flynn, R. Vidal, A. Reiter and G. D. Hager,
       "Temporal Convolutional Networks for Action Segmentation and
       Detection", CVPR 2017 (segmental F1@k).
    .. [2] Y. A. Farha and J. Gall, "MS-TCN: Multi-Stage Temporal
       Convolutional Network for Action Segmentation", CVPR 2019
       (F1@{10, 25, 50}).

    Examples
    --------
    >>> from skalign.metrics import f1_at_overlap
    >>> gt = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> pred = [0, 0, 0, 1, 1, 1, 1, 1]
    >>> f1_at_overlap([pred], [gt], overlaps=(0.5, 0.9))
    {0.5: 1.0, 0.9: 0.0}
    """
    average = _check_average(average)
    overlaps = check_fraction_list(overlaps, "overlaps", low_open=False)
    return _Evaluation(pred, gt, per_video, exclude).f1(overlaps, average)[0]


def miou(
    pred: Any,
    gt: Any,
    *,
    per_video: bool = True,
    exclude: Any = None,
    average: str = "dataset",
) -> float:
    """Mean over classes of the frame IoU between prediction and ground truth.

    After :func:`hungarian_match`, the IoU of class ``c`` is the number of
    scored frames labelled ``c`` in both the matched prediction and the
    ground truth over the number labelled ``c`` in either. The classes
    averaged are those occurring, on scored frames, in the ground truth or
    in the matched prediction. Frames of unmatched clusters belong to no
    class and so only enlarge the union of their true class.

    Parameters
    ----------
    pred : list of array-like of shape (n_frames,)
        Predicted cluster id of each frame, one array per video (-1: none).
    gt : list of array-like of shape (n_frames,)
        Ground-truth class id of each frame; -1 marks frames to ignore.
    per_video : bool, default=True
        Match every video on its own (True) or the whole data set at once.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        ``"dataset"`` sums intersections and unions of each class over the
        videos, then averages the class IoUs; ``"video"`` averages per-video
        mIoU values.

    Returns
    -------
    miou : float
        In ``[0, 1]``.

    See Also
    --------
    segmentation_report : All segmentation metrics and the matching.

    References
    ----------
    .. [1] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics, mIoU).

    Examples
    --------
    >>> from skalign.metrics import miou
    >>> miou([[5, 5, 7, 7, 7]], [[0, 0, 1, 1, 0]])  # IoU 2/3 and 2/3
    0.6666666666666666
    """
    average = _check_average(average)
    return _Evaluation(pred, gt, per_video, exclude).miou(average)[0]


def segmentation_report(
    pred: Any,
    gt: Any,
    *,
    per_video: bool = True,
    exclude: Any = None,
    overlaps: Sequence[float] = (0.1, 0.25, 0.5),
    average: str = "dataset",
) -> dict[str, Any]:
    """MoF, segmental F1, mIoU and the cluster-to-class matching in one pass.

    The matching is computed once and shared by all metrics; see
    :func:`hungarian_match`, :func:`mof`, :func:`f1_at_overlap` and
    :func:`miou` for the definitions.

    Parameters
    ----------
    pred : list of array-like of shape (n_frames,)
        Predicted cluster id of each frame, one array per video (-1: none).
    gt : list of array-like of shape (n_frames,)
        Ground-truth class id of each frame; -1 marks frames to ignore.
    per_video : bool, default=True
        Match every video on its own (True) or the whole data set at once.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    overlaps : sequence of float, default=(0.1, 0.25, 0.5)
        IoU thresholds of the segmental F1.
    average : {"dataset", "video"}, default="dataset"
        How the data-set figures combine the videos (see the metrics).

    Returns
    -------
    report : dict
        ``"mof"`` (float), ``"f1"`` (dict threshold -> F1), ``"miou"``
        (float), ``"mapping"`` (list with one cluster -> class dict per
        video) and ``"per_video"`` (list with one dict of ``"mof"``,
        ``"f1"``, ``"miou"`` per video, or None for a video without scored
        frames).

    Examples
    --------
    >>> from skalign.metrics import segmentation_report
    >>> report = segmentation_report([[5, 5, 7, 7, 7]], [[0, 0, 1, 1, 0]],
    ...                              overlaps=(0.5,))
    >>> report["mof"], report["f1"], report["mapping"]
    (0.8, {0.5: 0.8}, [{5: 0, 7: 1}])
    """
    average = _check_average(average)
    overlaps = check_fraction_list(overlaps, "overlaps", low_open=False)
    ev = _Evaluation(pred, gt, per_video, exclude)
    mof_value, mof_videos = ev.mof(average)
    f1_value, f1_videos = ev.f1(overlaps, average)
    miou_value, miou_videos = ev.miou(average)
    per_video_rows = [
        None if m is None else {"mof": m, "f1": f, "miou": i}
        for m, f, i in zip(mof_videos, f1_videos, miou_videos)
    ]
    return {
        "mof": float(mof_value),
        "f1": f1_value,
        "miou": float(miou_value),
        "mapping": ev.mapping,
        "per_video": per_video_rows,
    }
