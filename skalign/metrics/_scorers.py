"""Scorers ``scorer(estimator, videos, y=None) -> float`` for model selection.

Each scorer is an instance of a small module-level class, so it pickles,
compares by its parameters, and is passed as it is to
``GridSearchCV(scoring=...)`` or ``cross_val_score(scoring=...)``; no
``make_scorer`` is needed. Alignment scorers call ``estimator.transform``
(a list of videos in, a list of ``(n_frames, d)`` embeddings out);
the alignment-accuracy scorer calls ``estimator.align`` on pairs of videos;
segmentation scorers call ``estimator.predict`` (a list of per-frame int
arrays out). Higher is better for all of them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._alignment import (
    alignment_accuracy,
    average_precision_at_k,
    kendalls_tau,
    phase_classification_accuracy,
    phase_progression,
)
from ._segmentation import f1_at_overlap, miou, mof
from ._validation import check_fraction_list, check_int, check_video_list

__all__ = [
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


def _embed(estimator: Any, videos: Any) -> list[np.ndarray]:
    """``estimator.transform`` of a list of videos, as a list of arrays."""
    videos = check_video_list(videos, "videos")
    out = estimator.transform(videos)
    if isinstance(out, np.ndarray) and out.ndim == 2:
        raise ValueError(
            f"{type(estimator).__name__}.transform returned one 2-D array for "
            f"{len(videos)} videos; it must return a list with one array per video."
        )
    out = list(out)
    if len(out) != len(videos):
        raise ValueError(
            f"{type(estimator).__name__}.transform returned {len(out)} embeddings "
            f"for {len(videos)} videos."
        )
    return [np.asarray(e) for e in out]


def _segment(estimator: Any, videos: Any) -> list[np.ndarray]:
    """``estimator.predict`` of a list of videos, as a list of label arrays."""
    videos = check_video_list(videos, "videos")
    out = estimator.predict(videos)
    if isinstance(out, np.ndarray) and out.ndim == 1 and len(videos) > 1:
        raise ValueError(
            f"{type(estimator).__name__}.predict returned one 1-D array for "
            f"{len(videos)} videos; it must return a list with one array per video."
        )
    out = list(out) if not (isinstance(out, np.ndarray) and out.ndim == 1) else [out]
    if len(out) != len(videos):
        raise ValueError(
            f"{type(estimator).__name__}.predict returned {len(out)} label arrays "
            f"for {len(videos)} videos."
        )
    return [np.asarray(p) for p in out]


def _require_y(y: Any, name: str) -> list:
    if y is None:
        raise ValueError(
            f"{name} needs labels: pass y (a list of per-frame int arrays) to "
            f"fit, e.g. GridSearchCV(...).fit(videos, y)."
        )
    return list(y)


def _halves(n_videos: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic two-way split: even positions and odd positions."""
    if n_videos < 2:
        raise ValueError(
            f"{name} needs at least 2 videos to score (one half to fit, the "
            f"other to test); got {n_videos}. Use fewer cross-validation folds."
        )
    idx = np.arange(n_videos)
    return idx[0::2], idx[1::2]


def _both_ways(emb: list, labels: list, name: str, score) -> float:
    """Mean of ``score(fit_emb, fit_labels, test_emb, test_labels)`` over the
    two directions of the even/odd split: never fitted and scored on the
    same videos."""
    first, second = _halves(len(emb), name)
    scores = [
        score([emb[i] for i in fit], [labels[i] for i in fit], [emb[i] for i in test], [labels[i] for i in test])
        for fit, test in ((first, second), (second, first))
    ]
    return float(np.mean(scores))


class _Scorer:
    """Base of the scorers: parameters, repr, equality, pickling by value."""

    _name = ""
    _params: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"get_scorer({self._name!r}{', ' if args else ''}{args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, p) == getattr(other, p) for p in self._params
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._name))

    def get_params(self) -> dict[str, Any]:
        """Parameters of this scorer.

        Returns
        -------
        params : dict
        """
        return {p: getattr(self, p) for p in self._params}


class _KendallsTauScorer(_Scorer):
    """Mean Kendall's tau of an estimator's embeddings of the scored videos.

    ``scorer(estimator, videos, y=None)`` calls
    ``estimator.transform(videos)`` and returns
    :func:`~skalign.metrics.kendalls_tau` of the embeddings over all ordered
    pairs of the scored videos; ``y`` is ignored. A scored fold needs at
    least two videos.

    Parameters
    ----------
    stride : int, default=5
        Keep every ``stride``-th frame of each video.
    metric : str or callable, default="sqeuclidean"
        Frame distance for the nearest neighbours (``cdist``).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import kendalls_tau_scorer
    >>> class Identity:
    ...     def transform(self, videos):
    ...         return [np.asarray(v, dtype=float) for v in videos]
    >>> t = np.linspace(0, 1, 50)[:, None]
    >>> round(kendalls_tau_scorer(Identity(), [t, t + 0.001]), 6)
    1.0
    """

    _name = "kendalls_tau"
    _params = ("stride", "metric")

    def __init__(self, *, stride: int = 5, metric: Any = "sqeuclidean"):
        self.stride = check_int(stride, "stride", low=1)
        self.metric = metric

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        emb = _embed(estimator, videos)
        return kendalls_tau(emb, stride=self.stride, metric=self.metric)


class _PhaseClassificationScorer(_Scorer):
    """Phase-classification accuracy on scored videos, fitted on other videos.

    ``scorer(estimator, videos, y)`` calls ``estimator.transform(videos)``
    and splits the scored videos deterministically into two halves: the
    videos at even positions (0, 2, ...) and those at odd positions. The
    classifier is fitted on the labelled frames of one half and its frame
    accuracy measured on the other (:func:`~skalign.metrics.phase_classification_accuracy`
    with fraction 1.0), in both directions; the score is the mean of the
    two accuracies. No video is ever fitted and scored at once. Needs
    ``y`` and at least two videos.

    Parameters
    ----------
    classifier : classifier or None, default=None
        Unfitted scikit-learn classifier (cloned); None is
        ``SVC(kernel="rbf", C=1.0, gamma="scale")``.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import phase_classification_scorer
    >>> class Identity:
    ...     def transform(self, videos):
    ...         return [np.asarray(v, dtype=float) for v in videos]
    >>> t = np.linspace(0, 1, 40)[:, None]
    >>> y = (t[:, 0] > 0.5).astype(int)
    >>> phase_classification_scorer(Identity(), [t, t, t, t], [y, y, y, y])
    1.0
    """

    _name = "phase_classification"
    _params = ("classifier",)

    def __init__(self, *, classifier: Any = None):
        self.classifier = classifier

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "phase_classification_scorer")
        emb = _embed(estimator, videos)

        def score(fit_e, fit_l, test_e, test_l):
            return phase_classification_accuracy(
                fit_e, fit_l, test_e, test_l, fractions=(1.0,), classifier=self.classifier, random_state=0
            )[1.0]

        return _both_ways(emb, labels, "phase_classification_scorer", score)


class _ProgressionScorer(_Scorer):
    """Phase-progression R^2 on scored videos, fitted on other videos.

    ``scorer(estimator, videos, y)`` calls ``estimator.transform(videos)``
    and uses the same two-way split as ``phase_classification_scorer``
    (even and odd positions, both directions, mean of the two); each
    direction is :func:`~skalign.metrics.phase_progression`. Needs ``y``
    and at least two videos.

    Parameters
    ----------
    regressor : regressor or None, default=None
        Unfitted scikit-learn regressor (cloned per key event); None is
        ``LinearRegression()``.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import progression_scorer
    >>> class Identity:
    ...     def transform(self, videos):
    ...         return [np.asarray(v, dtype=float) for v in videos]
    >>> t = np.arange(30)[:, None] / 30
    >>> y = (t[:, 0] >= 0.5).astype(int)
    >>> round(progression_scorer(Identity(), [t, t, t], [y, y, y]), 6)
    1.0
    """

    _name = "progression"
    _params = ("regressor",)

    def __init__(self, *, regressor: Any = None):
        self.regressor = regressor

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "progression_scorer")
        emb = _embed(estimator, videos)

        def score(fit_e, fit_l, test_e, test_l):
            return phase_progression(fit_e, fit_l, test_e, test_l, regressor=self.regressor)

        return _both_ways(emb, labels, "progression_scorer", score)


class _APScorer(_Scorer):
    """AP@K of an estimator's embeddings of the scored videos, at one K.

    ``scorer(estimator, videos, y)`` calls ``estimator.transform(videos)``
    and returns :func:`~skalign.metrics.average_precision_at_k` at ``k``:
    each labelled frame retrieves its ``k`` nearest labelled frames among
    the *other* scored videos. Needs ``y`` and at least two videos.

    Parameters
    ----------
    k : int, default=10
        Number of nearest frames retrieved.
    metric : str or callable, default="sqeuclidean"
        Frame distance (``cdist``).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import ap_scorer
    >>> class Identity:
    ...     def transform(self, videos):
    ...         return [np.asarray(v, dtype=float) for v in videos]
    >>> t = np.linspace(0, 1, 40)[:, None]
    >>> y = (t[:, 0] > 0.5).astype(int)
    >>> round(ap_scorer(Identity(), [t, t + 0.001], [y, y]), 3)
    0.938
    """

    _name = "ap"
    _params = ("k", "metric")

    def __init__(self, *, k: int = 10, metric: Any = "sqeuclidean"):
        self.k = check_int(k, "k", low=1)
        self.metric = metric

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "ap_scorer")
        emb = _embed(estimator, videos)
        return average_precision_at_k(emb, labels, k=(self.k,), metric=self.metric)[self.k]


class _AlignmentAccuracyScorer(_Scorer):
    """Mean alignment accuracy of an estimator's ``align`` over the ordered
    pairs of the scored videos.

    ``scorer(estimator, videos, y)`` calls ``estimator.align(a, b)`` for
    every ordered pair ``(a, b)`` of distinct scored videos (one call, with
    two lists) and returns the mean of
    :func:`~skalign.metrics.alignment_accuracy` of the matches. It scores
    the alignment itself, so it is the scorer that tunes what only
    ``align`` uses (``align_lambda``, ``align_epsilon``, ``zeta``).
    Needs ``y`` and at least two videos.

    Parameters
    ----------
    background : {"unmatched", "ignore"}, default="unmatched"
        How frames labelled -1 are scored (see
        :func:`~skalign.metrics.alignment_accuracy`).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import alignment_accuracy_scorer
    >>> class Identity:
    ...     def align(self, a, b):
    ...         return [np.arange(len(x)) for x in a]
    >>> y = [np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])]
    >>> alignment_accuracy_scorer(Identity(), [np.zeros((4, 2)), np.zeros((4, 2))], y)
    0.75
    """

    _name = "alignment_accuracy"
    _params = ("background",)

    def __init__(self, *, background: str = "unmatched"):
        if background not in ("unmatched", "ignore"):
            raise ValueError(f"background must be 'unmatched' or 'ignore', got {background!r}.")
        self.background = background

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "alignment_accuracy_scorer")
        videos = check_video_list(videos, "videos")
        if len(videos) < 2:
            raise ValueError(
                f"alignment_accuracy_scorer needs at least 2 videos to align; got {len(videos)}. "
                "Use fewer cross-validation folds."
            )
        if len(labels) != len(videos):
            raise ValueError(f"y holds {len(labels)} label arrays for {len(videos)} videos.")
        pairs = [(i, j) for i in range(len(videos)) for j in range(len(videos)) if i != j]
        results = estimator.align([videos[i] for i, _ in pairs], [videos[j] for _, j in pairs])
        scores = [alignment_accuracy(res, labels[i], labels[j], background=self.background)
                  for res, (i, j) in zip(results, pairs)]
        return float(np.mean(scores))


class _SegmentationScorer(_Scorer):
    """Shared parameters of the segmentation scorers."""

    _params = ("per_video", "exclude", "average")

    def __init__(self, *, per_video: bool = True, exclude: Any = None, average: str = "dataset"):
        if not isinstance(per_video, (bool, np.bool_)):
            raise ValueError(f"per_video must be True or False; got {per_video!r}.")
        if average not in ("dataset", "video"):
            raise ValueError(f"average must be 'dataset' or 'video'; got {average!r}.")
        self.per_video = bool(per_video)
        self.exclude = exclude
        self.average = average

    def _kwargs(self) -> dict[str, Any]:
        return {"per_video": self.per_video, "exclude": self.exclude, "average": self.average}


class _MoFScorer(_SegmentationScorer):
    """MoF of a segmenter's predictions after Hungarian matching.

    ``scorer(estimator, videos, y)`` calls ``estimator.predict(videos)``
    (a list of per-frame cluster ids) and returns
    :func:`~skalign.metrics.mof` against ``y``. Needs ``y``.

    Parameters
    ----------
    per_video : bool, default=True
        Match clusters to classes in every video on its own.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        Pool the frames of all videos, or average per-video values.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import mof_scorer
    >>> class Halves:
    ...     def predict(self, videos):
    ...         return [(np.arange(len(v)) >= len(v) // 2).astype(int) for v in videos]
    >>> y = [np.array([1, 1, 1, 0, 0, 0])]
    >>> mof_scorer(Halves(), [np.zeros((6, 2))], y)
    1.0
    """

    _name = "mof"

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "mof_scorer")
        return mof(_segment(estimator, videos), labels, **self._kwargs())


class _F1Scorer(_SegmentationScorer):
    """Segmental F1 of a segmenter's predictions at one IoU threshold.

    ``scorer(estimator, videos, y)`` calls ``estimator.predict(videos)``
    and returns :func:`~skalign.metrics.f1_at_overlap` at ``overlap``
    (default 0.5, F1@50) against ``y``, after Hungarian matching. Needs
    ``y``.

    Parameters
    ----------
    overlap : float, default=0.5
        IoU threshold in ``[0, 1]``.
    per_video : bool, default=True
        Match clusters to classes in every video on its own.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        Sum tp/fp/fn over videos, or average per-video F1.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import f1_scorer
    >>> class Halves:
    ...     def predict(self, videos):
    ...         return [(np.arange(len(v)) >= len(v) // 2).astype(int) for v in videos]
    >>> y = [np.array([1, 1, 1, 0, 0, 0])]
    >>> f1_scorer(Halves(), [np.zeros((6, 2))], y)
    1.0
    """

    _name = "f1"
    _params = ("overlap",) + _SegmentationScorer._params

    def __init__(self, *, overlap: float = 0.5, **kwargs: Any):
        super().__init__(**kwargs)
        if not np.isscalar(overlap):
            raise ValueError(f"overlap must be one number in [0, 1]; got {overlap!r}.")
        self.overlap = float(check_fraction_list(overlap, "overlap", low_open=False)[0])

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "f1_scorer")
        scores = f1_at_overlap(
            _segment(estimator, videos), labels, (self.overlap,), **self._kwargs()
        )
        return scores[self.overlap]


class _MIoUScorer(_SegmentationScorer):
    """mIoU of a segmenter's predictions after Hungarian matching.

    ``scorer(estimator, videos, y)`` calls ``estimator.predict(videos)``
    and returns :func:`~skalign.metrics.miou` against ``y``. Needs ``y``.

    Parameters
    ----------
    per_video : bool, default=True
        Match clusters to classes in every video on its own.
    exclude : int, sequence of int or None, default=None
        Classes left out of matching and scoring (e.g. background).
    average : {"dataset", "video"}, default="dataset"
        Pool intersections and unions over videos, or average per-video
        mIoU.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.metrics import miou_scorer
    >>> class Halves:
    ...     def predict(self, videos):
    ...         return [(np.arange(len(v)) >= len(v) // 2).astype(int) for v in videos]
    >>> y = [np.array([1, 1, 1, 1, 0, 0])]
    >>> miou_scorer(Halves(), [np.zeros((6, 2))], y)  # IoU 3/4 and 2/3
    0.7083333333333333
    """

    _name = "miou"

    def __call__(self, estimator: Any, videos: Any, y: Any = None) -> float:
        labels = _require_y(y, "miou_scorer")
        return miou(_segment(estimator, videos), labels, **self._kwargs())


_SCORERS: dict[str, type[_Scorer]] = {
    cls._name: cls
    for cls in (
        _KendallsTauScorer,
        _PhaseClassificationScorer,
        _ProgressionScorer,
        _APScorer,
        _AlignmentAccuracyScorer,
        _MoFScorer,
        _F1Scorer,
        _MIoUScorer,
    )
}

#: Mean Kendall's tau of ``estimator.transform(videos)`` (stride 5, squared
#: Euclidean nearest neighbours); no labels needed.
kendalls_tau_scorer = _KendallsTauScorer()
#: Phase-classification accuracy (SVC, RBF, C=1, gamma="scale"), fitted on
#: half of the scored videos and measured on the other half, both ways.
phase_classification_scorer = _PhaseClassificationScorer()
#: Phase-progression mean R^2 (LinearRegression), same two-way split.
progression_scorer = _ProgressionScorer()
#: AP@10 of frame retrieval across the scored videos.
ap_scorer = _APScorer()
#: Mean alignment accuracy of ``estimator.align`` over ordered pairs of videos.
alignment_accuracy_scorer = _AlignmentAccuracyScorer()
#: MoF of ``estimator.predict(videos)`` after per-video Hungarian matching.
mof_scorer = _MoFScorer()
#: Segmental F1@50 after per-video Hungarian matching.
f1_scorer = _F1Scorer()
#: mIoU after per-video Hungarian matching.
miou_scorer = _MIoUScorer()


def get_scorer(name: str, **params: Any) -> Callable[..., float]:
    """A scorer by name, optionally with non-default protocol parameters.

    Every scorer is a callable ``scorer(estimator, videos, y=None) ->
    float`` (higher is better) that ``GridSearchCV`` and
    ``cross_val_score`` accept as ``scoring`` directly, alone or in a dict
    of several. Scorers pickle.

    ==========================  ===========================  =========================
    name                        calls                        parameters (default)
    ==========================  ===========================  =========================
    ``"kendalls_tau"``          ``transform``; no ``y``      ``stride`` (5), ``metric``
                                                             ("sqeuclidean")
    ``"phase_classification"``  ``transform``; needs ``y``   ``classifier`` (None: SVC)
    ``"progression"``           ``transform``; needs ``y``   ``regressor`` (None:
                                                             LinearRegression)
    ``"ap"``                    ``transform``; needs ``y``   ``k`` (10), ``metric``
    ``"alignment_accuracy"``    ``align``; needs ``y``       ``background``
                                                             ("unmatched")
    ``"mof"``                   ``predict``; needs ``y``     ``per_video`` (True),
                                                             ``exclude`` (None),
                                                             ``average`` ("dataset")
    ``"f1"``                    ``predict``; needs ``y``     ``overlap`` (0.5) and
                                                             those of ``"mof"``
    ``"miou"``                  ``predict``; needs ``y``     those of ``"mof"``
    ==========================  ===========================  =========================

    ``"phase_classification"`` and ``"progression"`` split the scored
    videos into the videos at even positions and those at odd positions,
    fit on one half and score on the other, in both directions, and return
    the mean: a video is never fitted and scored at once. They need at least
    two videos per scored fold.

    Parameters
    ----------
    name : str
        One of the names above; a trailing ``"_scorer"`` is accepted.
    **params
        Protocol parameters of that scorer (see the table).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, videos, y=None) -> float``.

    Raises
    ------
    ValueError
        Unknown name (the known names are listed) or a parameter the scorer
        does not take.

    Examples
    --------
    >>> from skalign.metrics import get_scorer, kendalls_tau_scorer
    >>> get_scorer("kendalls_tau") == kendalls_tau_scorer
    True
    >>> get_scorer("kendalls_tau", stride=2)
    get_scorer('kendalls_tau', stride=2, metric='sqeuclidean')
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string; got {name!r}.")
    key = name[: -len("_scorer")] if name.endswith("_scorer") else name
    if key not in _SCORERS:
        known = ", ".join(repr(n) for n in _SCORERS)
        raise ValueError(f"unknown scorer {name!r}; known scorers are {known}.")
    cls = _SCORERS[key]
    unknown = sorted(set(params) - set(cls._params))
    if unknown:
        allowed = ", ".join(cls._params) or "none"
        raise ValueError(
            f"scorer {key!r} takes no parameter {', '.join(unknown)}; its "
            f"parameters are: {allowed}."
        )
    return cls(**params)
