"""Metrics of per-frame video embeddings and of frame-to-frame alignments.

All functions take lists of per-video arrays: embeddings ``(n_frames, d)``
and integer phase labels ``(n_frames,)`` where -1 marks frames to ignore.
They depend on numpy, scipy and scikit-learn only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.svm import SVC
from sklearn.utils import check_random_state

from ._validation import (
    check_embeddings,
    check_fraction_list,
    check_int,
    check_label_array,
    check_labels,
)

__all__ = [
    "kendalls_tau",
    "phase_classification_accuracy",
    "phase_progression",
    "average_precision_at_k",
    "alignment_accuracy",
]

# Rows of query frames handled at once when distances are computed in blocks.
_BLOCK_ROWS = 1024


def _check_metric(metric: Any) -> None:
    """Raise a ValueError naming ``metric`` when scipy's ``cdist`` rejects it."""
    probe = np.zeros((2, 2))
    try:
        cdist(probe, probe, metric=metric)
    except Exception as exc:  # scipy raises ValueError or TypeError
        raise ValueError(
            f"metric={metric!r} is not a distance scipy.spatial.distance.cdist "
            f"accepts: {exc}"
        ) from None


def _nn_tau(query: np.ndarray, reference: np.ndarray, metric: Any) -> float:
    """Kendall's tau between frame order and nearest-neighbour order.

    Returns 0.0 where tau is undefined (fewer than two query frames or a
    constant nearest-neighbour sequence).
    """
    if query.shape[0] < 2:
        return 0.0
    nn = np.argmin(cdist(query, reference, metric=metric), axis=1)
    if np.all(nn == nn[0]):
        return 0.0
    return float(kendalltau(np.arange(nn.shape[0]), nn).statistic)


def kendalls_tau(
    embeddings: Sequence[Any], *, stride: int = 5, metric: Any = "sqeuclidean"
) -> float:
    """Mean Kendall's tau of nearest-neighbour alignments between videos.

    For every ordered pair of videos ``(a, b)``, ``a != b``, both videos
    are subsampled to every ``stride``-th frame, each kept frame of ``a``
    is matched to its nearest kept frame of ``b`` (distance ``metric``),
    and Kendall's tau (``scipy.stats.kendalltau``, tau-b) is taken between
    the frame indices ``0, 1, ...`` of ``a`` and the indices of their
    nearest neighbours in ``b``. The result is the mean over all
    ``n_videos * (n_videos - 1)`` ordered pairs. A tau of 1 means that the
    nearest neighbours advance in the same order as the frames.

    Tau-b accounts for ties: when several frames of ``a`` share a nearest
    neighbour (``b`` is shorter, or slower), tau stays below 1 even for a
    perfect alignment.

    A pair where tau is undefined (the subsampled query video has fewer
    than two frames, or all its frames share one nearest neighbour, as for
    a collapsed embedding) counts as 0: no evidence of temporal order.

    Parameters
    ----------
    embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of at least two videos of the same process.
    stride : int, default=5
        Keep frames ``0, stride, 2 * stride, ...`` of each video.
    metric : str or callable, default="sqeuclidean"
        Frame distance, anything ``scipy.spatial.distance.cdist`` accepts.

    Returns
    -------
    tau : float
        Mean Kendall's tau in ``[-1, 1]``.

    Raises
    ------
    ValueError
        Fewer than two videos, a video that is not 2-D, has no frames or
        holds NaN/inf, mismatched embedding sizes, ``stride < 1`` or an
        unknown ``metric``.

    See Also
    --------
    kendalls_tau_scorer : This metric as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] D. Dwibedi, Y. Aytar, J. Tompson, P. Sermanet and A. Zisserman,
       "Temporal Cycle-Consistency Learning", CVPR 2019 (evaluation:
       Kendall's tau of nearest-neighbour alignments, mean over pairs).
    .. [2] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics, tau).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import kendalls_tau
    >>> t = np.linspace(0, 1, 40)[:, None]
    >>> kendalls_tau([t, t + 0.01], stride=1)
    1.0
    >>> kendalls_tau([t, t[::-1]], stride=1)
    -1.0
    """
    videos = check_embeddings(embeddings, "embeddings", min_videos=2)
    stride = check_int(stride, "stride", low=1)
    _check_metric(metric)
    sub = [v[::stride] for v in videos]
    taus = [
        _nn_tau(sub[i], sub[j], metric)
        for i in range(len(sub))
        for j in range(len(sub))
        if i != j
    ]
    return float(np.mean(taus))


def _subset_sizes(fractions: tuple, n_videos: int) -> list[int]:
    """Number of training videos used for each fraction (at least one)."""
    return [max(1, int(np.floor(f * n_videos + 1e-9))) for f in fractions]


def _stack_labelled(
    embeddings: list[np.ndarray], labels: list[np.ndarray], indices: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (and labels) of the given videos whose label is not -1."""
    xs, ys = [], []
    for i in indices:
        keep = labels[i] >= 0
        xs.append(embeddings[i][keep])
        ys.append(labels[i][keep])
    return np.concatenate(xs, axis=0), np.concatenate(ys, axis=0)


def _fit_predict_classifier(
    classifier: Any, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
) -> np.ndarray:
    """Fit a fresh clone of ``classifier`` and predict; one class is constant."""
    classes = np.unique(y_train)
    if classes.shape[0] == 1:
        return np.full(x_test.shape[0], classes[0], dtype=np.int64)
    est = SVC(kernel="rbf", C=1.0, gamma="scale") if classifier is None else clone(classifier)
    est.fit(x_train, y_train)
    return np.asarray(est.predict(x_test))


def phase_classification_accuracy(
    train_embeddings: Sequence[Any],
    train_labels: Sequence[Any],
    test_embeddings: Sequence[Any],
    test_labels: Sequence[Any],
    *,
    fractions: Sequence[float] = (0.1, 0.5, 1.0),
    classifier: Any = None,
    random_state: Any = None,
) -> dict[float, float]:
    """Frame accuracy of a classifier trained on frozen embeddings.

    For each fraction ``f``, a classifier is fitted on the labelled frames
    of ``max(1, floor(f * n_train_videos))`` training videos and scored on
    the labelled frames of the test videos: the share of test frames,
    pooled over all test videos, whose phase is predicted right. Fractions
    are fractions of *videos*, not of frames. The videos used are the
    first ones of ``check_random_state(random_state).permutation(n_train_videos)``,
    so smaller fractions use subsets of the videos of larger ones; a
    fraction of 1.0 uses every training video. Frames labelled -1 are left
    out of fitting and scoring. When the chosen training frames hold a
    single phase, every test frame is predicted as that phase (a classifier
    cannot be fitted on one class).

    Training and test videos should be disjoint: fitting and scoring on the
    same videos overstates the accuracy.

    Parameters
    ----------
    train_embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of the training videos.
    train_labels : list of array-like of shape (n_frames,)
        Phase label of each training frame; -1 marks frames to ignore.
    test_embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of the held-out videos.
    test_labels : list of array-like of shape (n_frames,)
        Phase label of each test frame; -1 marks frames to ignore.
    fractions : sequence of float, default=(0.1, 0.5, 1.0)
        Fractions in ``(0, 1]`` of the training videos to fit on.
    classifier : classifier or None, default=None
        An unfitted scikit-learn classifier, cloned for every fraction.
        None uses ``SVC(kernel="rbf", C=1.0, gamma="scale")``.
    random_state : int, RandomState instance or None, default=None
        Picks which training videos a fraction uses.

    Returns
    -------
    accuracy : dict of float to float
        Test frame accuracy in ``[0, 1]`` for each fraction.

    Raises
    ------
    ValueError
        Malformed embeddings or labels (the argument and video are named),
        a fraction outside ``(0, 1]``, or no labelled frame to fit on or to
        score.

    See Also
    --------
    phase_classification_scorer : This metric as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] D. Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR
       2019 (phase classification with an SVM on frozen embeddings,
       label fractions).
    .. [2] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics,
       Acc@{0.1, 0.5, 1.0}).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import phase_classification_accuracy
    >>> t = np.linspace(0, 1, 30)[:, None]
    >>> y = (t[:, 0] > 0.5).astype(int)
    >>> phase_classification_accuracy([t, t], [y, y], [t], [y], fractions=(0.5, 1.0),
    ...                               random_state=0)
    {0.5: 1.0, 1.0: 1.0}
    """
    train_x = check_embeddings(train_embeddings, "train_embeddings")
    test_x = check_embeddings(test_embeddings, "test_embeddings")
    if train_x[0].shape[1] != test_x[0].shape[1]:
        raise ValueError(
            f"test_embeddings have {test_x[0].shape[1]} dimensions; "
            f"train_embeddings have {train_x[0].shape[1]}."
        )
    train_y = check_labels(train_labels, [v.shape[0] for v in train_x], "train_labels")
    test_y = check_labels(test_labels, [v.shape[0] for v in test_x], "test_labels")
    fractions = check_fraction_list(fractions, "fractions")
    if not any((y >= 0).any() for y in test_y):
        raise ValueError("test_labels has no labelled frame (all are -1).")
    rng = check_random_state(random_state)
    order = rng.permutation(len(train_x))
    x_test, y_test = _stack_labelled(test_x, test_y, range(len(test_x)))
    result = {}
    for fraction, size in zip(fractions, _subset_sizes(fractions, len(train_x))):
        chosen = order[:size]
        x_train, y_train = _stack_labelled(train_x, train_y, chosen)
        if y_train.shape[0] == 0:
            raise ValueError(
                f"the training videos {sorted(int(i) for i in chosen)} chosen for "
                f"fraction {fraction} have no labelled frame (all are -1)."
            )
        pred = _fit_predict_classifier(classifier, x_train, y_train, x_test)
        result[fraction] = float(np.mean(pred == y_test))
    return result


def _progression_events(labels: np.ndarray) -> dict[int, int]:
    """Key events of one video: phase -> frame where the phase begins.

    The key event of phase ``c`` is the first frame labelled ``c``, provided
    an earlier frame carries another (non-ignored) label; a phase that
    begins the video has no boundary and so no key event in that video.
    """
    labelled = np.flatnonzero(labels >= 0)
    if labelled.size == 0:
        return {}
    first_phase = labels[labelled[0]]
    events = {}
    for c in np.unique(labels[labelled]):
        if c == first_phase:
            continue
        events[int(c)] = int(np.flatnonzero(labels == c)[0])
    return events


def _progression_samples(
    embeddings: list[np.ndarray], labels: list[np.ndarray]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per key event: the labelled frames of videos having it and their targets.

    The target of frame ``t`` of a video of ``T`` frames for the key event
    at frame ``t_i`` is ``(t - t_i) / T``.
    """
    per_event: dict[int, tuple[list, list]] = {}
    for x, y in zip(embeddings, labels):
        n_frames = y.shape[0]
        frames = np.flatnonzero(y >= 0)
        for phase, onset in _progression_events(y).items():
            xs, ts = per_event.setdefault(phase, ([], []))
            xs.append(x[frames])
            ts.append((frames - onset) / n_frames)
    return {
        phase: (np.concatenate(xs, axis=0), np.concatenate(ts))
        for phase, (xs, ts) in per_event.items()
    }


def phase_progression(
    train_embeddings: Sequence[Any],
    train_labels: Sequence[Any],
    test_embeddings: Sequence[Any],
    test_labels: Sequence[Any],
    *,
    regressor: Any = None,
) -> float:
    """Mean R^2 of linear regressions of phase progress from embeddings.

    The key events of a video are its phase boundaries: the key event of
    phase ``c`` is the first frame labelled ``c``, provided an earlier frame
    carries another label (frames labelled -1 do not count). A phase that
    begins the video, or is missing from it, gives that video no key event
    for ``c``. For a video of ``T`` frames with its key event of phase
    ``c`` at frame ``t_c``, the progress target of frame ``t`` is
    ``(t - t_c) / T``.

    For every phase ``c`` that has a key event in at least one training
    video and one test video, one regressor (``LinearRegression`` by
    default) is fitted on the labelled frames of the training videos having
    the event and scored with R^2 (``sklearn.metrics.r2_score``) on the
    labelled frames, pooled, of the test videos having it. The result is the
    mean R^2 over these events, so a phase missing from some videos is
    scored on the others and never yields NaN.

    Parameters
    ----------
    train_embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of the training videos.
    train_labels : list of array-like of shape (n_frames,)
        Phase label of each training frame; -1 marks frames to ignore.
    test_embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of the held-out videos.
    test_labels : list of array-like of shape (n_frames,)
        Phase label of each test frame; -1 marks frames to ignore.
    regressor : regressor or None, default=None
        An unfitted scikit-learn regressor, cloned for every key event.
        None uses ``LinearRegression()``.

    Returns
    -------
    r2 : float
        Mean R^2 over the key events (at most 1; can be negative).

    Raises
    ------
    ValueError
        Malformed embeddings or labels, or no key event present in both the
        training and the test videos (e.g. every video holds one phase).

    See Also
    --------
    progression_scorer : This metric as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] D. Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR
       2019 (phase progression: linear regression of the normalised time
       since each key event, mean R^2).
    .. [2] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics, Progress).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import phase_progression
    >>> t = np.arange(20) / 20
    >>> x = t[:, None]                      # the embedding is the progress itself
    >>> y = (t >= 0.5).astype(int)          # phase 1 begins at frame 10
    >>> round(phase_progression([x, x], [y, y], [x], [y]), 6)
    1.0
    """
    train_x = check_embeddings(train_embeddings, "train_embeddings")
    test_x = check_embeddings(test_embeddings, "test_embeddings")
    if train_x[0].shape[1] != test_x[0].shape[1]:
        raise ValueError(
            f"test_embeddings have {test_x[0].shape[1]} dimensions; "
            f"train_embeddings have {train_x[0].shape[1]}."
        )
    train_y = check_labels(train_labels, [v.shape[0] for v in train_x], "train_labels")
    test_y = check_labels(test_labels, [v.shape[0] for v in test_x], "test_labels")
    train = _progression_samples(train_x, train_y)
    test = _progression_samples(test_x, test_y)
    events = sorted(set(train) & set(test))
    if not events:
        raise ValueError(
            "no phase boundary (key event) occurs in both the training and the "
            "test videos; phase progression needs videos with two or more phases."
        )
    scores = []
    for phase in events:
        x_train, t_train = train[phase]
        x_test, t_test = test[phase]
        est = LinearRegression() if regressor is None else clone(regressor)
        est.fit(x_train, t_train)
        scores.append(r2_score(t_test, est.predict(x_test)))
    return float(np.mean(scores))


def _k_nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest entries of each row, nearest first.

    Ties are broken by column index, as a stable full sort would; the full
    sort is only run for rows with a tie at the k-th distance.
    """
    if k >= dist.shape[1]:
        return np.argsort(dist, axis=1, kind="stable")[:, :k]
    part = np.argpartition(dist, k - 1, axis=1)[:, :k]
    part_dist = np.take_along_axis(dist, part, axis=1)
    # order the k chosen columns by (distance, column index)
    order = np.lexsort((part, part_dist), axis=1)
    nearest = np.take_along_axis(part, order, axis=1)
    kth = np.take_along_axis(part_dist, order[:, -1:], axis=1)
    tied = np.flatnonzero(np.sum(dist <= kth, axis=1) > k)
    if tied.size:
        nearest[tied] = np.argsort(dist[tied], axis=1, kind="stable")[:, :k]
    return nearest


def average_precision_at_k(
    embeddings: Sequence[Any],
    labels: Sequence[Any],
    *,
    k: Sequence[int] = (5, 10, 15),
    metric: Any = "sqeuclidean",
) -> dict[int, float]:
    """Share of a frame's K nearest frames in other videos with its label.

    Every labelled frame (label not -1) of every video is a query. Its
    candidates are the labelled frames of all *other* videos; the ``K``
    nearest candidates by ``metric`` are retrieved (ties broken by video
    order, then frame order) and the query's precision is the share of
    them with the query's label. AP@K is the mean precision over all query
    frames, pooled over videos. This is the frame-retrieval "AP@K" of the
    video-alignment literature (a precision at K, not the ranking average
    precision of information retrieval).

    Parameters
    ----------
    embeddings : list of array-like of shape (n_frames, n_dims)
        Per-frame embeddings of at least two videos.
    labels : list of array-like of shape (n_frames,)
        Phase label of each frame; -1 marks frames that are neither queries
        nor candidates.
    k : int or sequence of int, default=(5, 10, 15)
        Numbers of nearest frames retrieved.
    metric : str or callable, default="sqeuclidean"
        Frame distance, anything ``scipy.spatial.distance.cdist`` accepts.

    Returns
    -------
    ap : dict of int to float
        AP@K in ``[0, 1]`` for each ``K``.

    Raises
    ------
    ValueError
        Malformed embeddings or labels, fewer than two videos, a ``K`` below
        1 or above the number of labelled frames in the other videos of
        some query video, or no labelled frame.

    See Also
    --------
    ap_scorer : This metric as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] W. Liu et al., "Learning to Align Sequential Actions in the
       Wild", CVPR 2022.
    .. [2] N. Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (Evaluation Metrics,
       AP@{5, 10, 15}: fine-grained frame retrieval).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import average_precision_at_k
    >>> a = np.array([[0.0], [1.0], [2.0]])
    >>> b = np.array([[0.1], [1.1], [2.1]])
    >>> average_precision_at_k([a, b], [[0, 0, 1], [0, 1, 1]], k=(1, 2))
    {1: 0.6666666666666666, 2: 0.6666666666666666}
    """
    videos = check_embeddings(embeddings, "embeddings", min_videos=2)
    labs = check_labels(labels, [v.shape[0] for v in videos], "labels")
    ks = (k,) if np.isscalar(k) else tuple(k)
    if not ks:
        raise ValueError("k must not be empty.")
    ks = tuple(check_int(kk, "k", low=1) for kk in ks)
    _check_metric(metric)
    kmax = max(ks)

    x_all, y_all = _stack_labelled(videos, labs, range(len(videos)))
    owner = np.concatenate(
        [np.full(int((y >= 0).sum()), i) for i, y in enumerate(labs)]
    )
    if y_all.shape[0] == 0:
        raise ValueError("labels has no labelled frame (all are -1).")
    hits = {kk: 0.0 for kk in ks}
    n_queries = 0
    for i in range(len(videos)):
        queries = np.flatnonzero(owner == i)
        if queries.size == 0:
            continue
        candidates = np.flatnonzero(owner != i)
        if candidates.size < kmax:
            raise ValueError(
                f"k={kmax} exceeds the {candidates.size} labelled frames of the "
                f"videos other than video {i}."
            )
        x_cand, y_cand = x_all[candidates], y_all[candidates]
        for start in range(0, queries.size, _BLOCK_ROWS):
            rows = queries[start : start + _BLOCK_ROWS]
            dist = cdist(x_all[rows], x_cand, metric=metric)
            nearest = _k_nearest(dist, kmax)
            same = y_cand[nearest] == y_all[rows][:, None]
            counts = np.cumsum(same, axis=1)
            for kk in ks:
                hits[kk] += float(np.sum(counts[:, kk - 1]) / kk)
        n_queries += queries.size
    return {kk: hits[kk] / n_queries for kk in ks}


def alignment_accuracy(
    matches: Any,
    labels_a: Any,
    labels_b: Any,
    *,
    background: str = "unmatched",
) -> float:
    """Share of frames of video ``a`` aligned to a frame of ``b`` of their phase.

    A frame of ``a`` with label ``l`` *has a counterpart* in ``b`` when
    ``l != -1`` and ``l`` occurs among the labels of ``b``. Each frame of
    ``a`` is counted right when

    - it has a counterpart and is matched to a frame of ``b`` labelled
      ``l``, or
    - it has no counterpart (its phase is absent from ``b``, or it is a
      background frame labelled -1) and it is left unmatched
      (``matches[i] == -1``).

    Every other case is wrong: a frame with a counterpart that is unmatched
    or matched to another phase, and a frame without counterpart that is
    matched to anything. The accuracy is the number of right frames over
    the number of scored frames of ``a``.

    Parameters
    ----------
    matches : array-like of shape (n_frames_a,) or alignment result
        For each frame of ``a``, the index of its matched frame in ``b``, or
        -1 where unmatched. An object with a ``matches`` attribute (the
        result of an aligner's ``align``) is accepted too.
    labels_a : array-like of shape (n_frames_a,)
        Phase label of each frame of ``a``; -1 marks background.
    labels_b : array-like of shape (n_frames_b,)
        Phase label of each frame of ``b``; -1 marks background.
    background : {"unmatched", "ignore"}, default="unmatched"
        ``"unmatched"`` scores background frames of ``a`` as described
        (right only when unmatched); ``"ignore"`` leaves frames of ``a``
        labelled -1 out of the score.

    Returns
    -------
    accuracy : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        ``matches`` of the wrong length, holding an index outside
        ``[-1, n_frames_b)``, malformed labels, an unknown ``background``,
        or no frame to score.

    References
    ----------
    .. [1] W. Liu et al., "Learning to Align Sequential Actions in the
       Wild", CVPR 2022, Sec. 3.3 (background and redundant frames are left
       unmatched through a virtual frame).

    Examples
    --------
    >>> from skalign.metrics import alignment_accuracy
    >>> labels_a = [0, 0, 1, 2, -1]
    >>> labels_b = [0, 1, 1]
    >>> alignment_accuracy([0, 1, 2, -1, -1], labels_a, labels_b)
    0.8
    """
    if background not in ("unmatched", "ignore"):
        raise ValueError(
            f"background must be 'unmatched' or 'ignore'; got {background!r}."
        )
    matches = getattr(matches, "matches", matches)
    if hasattr(matches, "detach"):  # a torch tensor from an alignment result
        matches = matches.detach().cpu().numpy()
    la = check_label_array(labels_a, "labels_a")
    lb = check_label_array(labels_b, "labels_b")
    m = check_label_array(matches, "matches")
    if m.shape[0] != la.shape[0]:
        raise ValueError(
            f"matches has {m.shape[0]} entries; video a has {la.shape[0]} frames."
        )
    if m.size and m.max() >= lb.shape[0]:
        raise ValueError(
            f"matches holds the index {int(m.max())}; video b has {lb.shape[0]} frames."
        )
    scored = la >= 0 if background == "ignore" else np.ones(la.shape[0], dtype=bool)
    if not scored.any():
        raise ValueError("video a has no frame to score.")
    has_counterpart = (la >= 0) & np.isin(la, lb[lb >= 0])
    matched = m >= 0
    matched_label = np.where(matched, lb[np.where(matched, m, 0)] if lb.size else -1, -2)
    right = np.where(has_counterpart, matched & (matched_label == la), ~matched)
    return float(np.mean(right[scored]))


def timeline_accuracy(timeline: Any, labels: Any, *, background: str = "unmatched") -> float:
    """Share of frames placed on a common timeline at a step of their phase.

    Every frame of every video other than the reference lies at a step of
    the timeline (``timeline.steps[i]``), which is a frame of the reference
    video; it is right when the reference's phase at that step is its own,
    with the rule of :func:`alignment_accuracy` for frames without a
    counterpart (right only when left off the timeline, -1). The accuracy
    is over the frames of all non-reference videos together.

    Parameters
    ----------
    timeline : skalign.Timeline
        The result of ``align_many``: ``reference`` and ``steps``.
    labels : list of array-like of int
        Phase label of every frame of every video, in the order of the
        timeline's videos; -1 marks background.
    background : {"unmatched", "ignore"}, default="unmatched"
        As in :func:`alignment_accuracy`.

    Returns
    -------
    accuracy : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        ``labels`` not holding one array per video of the timeline, or
        what :func:`alignment_accuracy` refuses.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign import Timeline
    >>> from skalign.metrics import timeline_accuracy
    >>> tl = Timeline(reference=0, frames=[np.arange(4), np.array([0, 0, 2, 3])],
    ...               steps=[np.arange(4), np.array([0, 2, 3, -1])])
    >>> timeline_accuracy(tl, [np.array([0, 0, 1, 1]), np.array([0, 1, 1, -1])])
    1.0
    """
    steps, ref = timeline.steps, int(timeline.reference)
    if len(labels) != len(steps):
        raise ValueError(f"labels holds {len(labels)} arrays but the timeline {len(steps)} videos.")
    right = total = 0.0
    for i, (st, lab) in enumerate(zip(steps, labels)):
        if i == ref:
            continue
        la = check_label_array(lab, f"labels[{i}]")
        n_scored = int((la >= 0).sum()) if background == "ignore" else len(la)
        if n_scored == 0:
            continue
        acc = alignment_accuracy(st, la, labels[ref], background=background)
        right += acc * n_scored
        total += n_scored
    if total == 0:
        raise ValueError("the timeline has no frame to score outside its reference video.")
    return float(right / total)
