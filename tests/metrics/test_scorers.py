"""Scorers inside GridSearchCV, by name, pickled, and on held-out videos."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier

from skalign.metrics import (
    alignment_accuracy,
    alignment_accuracy_scorer,
    ap_scorer,
    f1_scorer,
    get_scorer,
    kendalls_tau,
    kendalls_tau_scorer,
    miou_scorer,
    mof,
    mof_scorer,
    phase_classification_scorer,
    progression_scorer,
)

SCORER_NAMES = ["kendalls_tau", "phase_classification", "progression", "ap", "alignment_accuracy", "mof", "f1",
                "miou"]


class NoisyEmbedder(BaseEstimator):
    """Test embedder: the input features plus Gaussian noise of scale ``noise``.

    The noise of a video is seeded by its content, so a video always gets
    the same embedding; less noise means better alignment metrics.
    """

    def __init__(self, noise=0.0):
        self.noise = noise

    def fit(self, videos, y=None):
        self.n_videos_ = len(videos)
        return self

    def transform(self, videos):
        out = []
        for v in videos:
            v = np.asarray(v, dtype=float)
            rng = np.random.default_rng(zlib.crc32(v.tobytes()))
            out.append(v + self.noise * rng.standard_normal(v.shape))
        return out


class NoisyAligner(NoisyEmbedder):
    """Test aligner: each frame of ``a`` to its nearest frame of ``b`` in the
    noisy embedding (lists of videos, aligned pairwise)."""

    def align(self, a, b):
        out = []
        for ea, eb in zip(self.transform(a), self.transform(b)):
            out.append(((ea[:, None, :] - eb[None, :, :]) ** 2).sum(-1).argmin(1))
        return out


class ChunkSegmenter(BaseEstimator):
    """Test segmenter: cuts every video into ``n_segments`` equal chunks."""

    def __init__(self, n_segments=2):
        self.n_segments = n_segments

    def fit(self, videos, y=None):
        self.n_videos_ = len(videos)
        return self

    def predict(self, videos):
        return [
            np.floor(np.arange(len(v)) * self.n_segments / len(v)).astype(int) for v in videos
        ]


@pytest.fixture
def process_videos():
    """Nine videos of one 3-phase process (different speeds and lengths)."""
    rng = np.random.default_rng(0)
    videos, labels = [], []
    for n in (40, 52, 61, 45, 70, 38, 57, 66, 49):
        s = np.sort(rng.uniform(0, 1, n)) ** rng.uniform(0.8, 1.25)
        videos.append(np.c_[np.cos(np.pi * s), np.sin(np.pi * s), s])
        labels.append(np.minimum((3 * s).astype(int), 2))
    return videos, labels


@pytest.fixture
def segmented_videos():
    """Six videos of four equal phases, class ids shuffled per video."""
    rng = np.random.default_rng(1)
    videos, labels = [], []
    for n in (40, 53, 61, 45, 70, 38):
        videos.append(rng.standard_normal((n, 2)))
        chunk = np.floor(np.arange(n) * 4 / n).astype(int)
        labels.append(rng.permutation(4)[chunk])
    return videos, labels


@pytest.mark.parametrize(
    "scorer", [kendalls_tau_scorer, phase_classification_scorer, progression_scorer, ap_scorer]
)
def test_alignment_scorers_pick_least_noise(scorer, process_videos):
    videos, labels = process_videos
    grid = {"noise": [2.0, 0.0, 0.5]}  # the best value is not the first one
    search = GridSearchCV(
        NoisyEmbedder(), grid, scoring=scorer, cv=KFold(3), error_score="raise"
    ).fit(videos, None if scorer is kendalls_tau_scorer else labels)
    assert search.best_params_ == {"noise": 0.0}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[2] > scores[0]


@pytest.mark.parametrize("scorer", [mof_scorer, f1_scorer, miou_scorer])
def test_segmentation_scorers_pick_true_number_of_segments(scorer, segmented_videos):
    videos, labels = segmented_videos
    grid = {"n_segments": [2, 6, 4, 3]}
    search = GridSearchCV(
        ChunkSegmenter(), grid, scoring=scorer, cv=KFold(3), error_score="raise"
    ).fit(videos, labels)
    assert search.best_params_ == {"n_segments": 4}
    assert search.best_score_ == pytest.approx(1.0)
    assert search.cv_results_["mean_test_score"][0] < 1.0


def test_multimetric_scoring_by_name(segmented_videos):
    videos, labels = segmented_videos
    scoring = {name: get_scorer(name) for name in ("mof", "f1", "miou")}
    search = GridSearchCV(
        ChunkSegmenter(), {"n_segments": [3, 4]}, scoring=scoring, refit="miou", cv=2,
        error_score="raise",
    ).fit(videos, labels)
    assert search.best_params_ == {"n_segments": 4}
    for name in scoring:
        assert search.cv_results_[f"mean_test_{name}"][1] == pytest.approx(1.0)


def test_scorer_values_equal_the_metrics(process_videos, segmented_videos):
    videos, _ = process_videos
    est = NoisyEmbedder(noise=0.3)
    expected = kendalls_tau(est.transform(videos), stride=5)
    assert kendalls_tau_scorer(est, videos) == pytest.approx(expected)
    assert get_scorer("kendalls_tau", stride=2)(est, videos) == pytest.approx(
        kendalls_tau(est.transform(videos), stride=2)
    )
    seg_videos, seg_labels = segmented_videos
    seg = ChunkSegmenter(n_segments=3)
    assert mof_scorer(seg, seg_videos, seg_labels) == pytest.approx(
        mof(seg.predict(seg_videos), seg_labels)
    )


def test_alignment_accuracy_scorer(process_videos):
    """The mean of alignment_accuracy over the ordered pairs, computed here
    from nearest neighbours; in GridSearchCV it picks the least noise."""
    videos, labels = process_videos
    est = NoisyAligner(noise=0.3)
    emb = est.transform(videos)
    expected = []
    for i in range(len(videos)):
        for j in range(len(videos)):
            if i != j:
                nn = ((emb[i][:, None, :] - emb[j][None, :, :]) ** 2).sum(-1).argmin(1)
                expected.append(alignment_accuracy(nn, labels[i], labels[j]))
    assert alignment_accuracy_scorer(est, videos, labels) == pytest.approx(np.mean(expected))
    assert 0.5 < np.mean(expected) < 1.0
    search = GridSearchCV(NoisyAligner(), {"noise": [2.0, 0.0, 0.5]}, scoring=alignment_accuracy_scorer,
                          cv=KFold(3), error_score="raise").fit(videos, labels)
    assert search.best_params_ == {"noise": 0.0}
    with pytest.raises(ValueError, match="needs labels"):
        alignment_accuracy_scorer(est, videos)
    with pytest.raises(ValueError, match="at least 2 videos"):
        alignment_accuracy_scorer(est, videos[:1], labels[:1])
    with pytest.raises(ValueError, match="background"):
        get_scorer("alignment_accuracy", background="skip")


def test_phase_classification_scorer_never_scores_fitted_videos():
    # Labels are random per frame and embeddings unique per frame: a 1-NN
    # classifier fitted and scored on the same videos would be perfect.
    rng = np.random.default_rng(2)
    videos = [rng.standard_normal((30, 2)) for _ in range(5)]
    labels = [rng.integers(0, 2, 30) for _ in range(5)]
    knn = KNeighborsClassifier(n_neighbors=1)
    scorer = get_scorer("phase_classification", classifier=knn)
    got = scorer(NoisyEmbedder(noise=0.0), videos, labels)

    def accuracy(fit, test):
        model = KNeighborsClassifier(n_neighbors=1).fit(
            np.concatenate([videos[i] for i in fit]), np.concatenate([labels[i] for i in fit])
        )
        return np.mean(
            model.predict(np.concatenate([videos[i] for i in test]))
            == np.concatenate([labels[i] for i in test])
        )

    even, odd = [0, 2, 4], [1, 3]
    assert got == pytest.approx((accuracy(even, odd) + accuracy(odd, even)) / 2)
    assert got < 0.8
    same_videos = accuracy(range(5), range(5))
    assert same_videos == 1.0


def test_scorers_pickle_and_compare():
    for name in SCORER_NAMES:
        scorer = get_scorer(name)
        clone = pickle.loads(pickle.dumps(scorer))
        assert clone == scorer
        assert repr(clone) == repr(scorer)
    assert get_scorer("kendalls_tau_scorer") == kendalls_tau_scorer
    assert get_scorer("f1", overlap=0.25) != f1_scorer
    assert get_scorer("f1", overlap=0.25).get_params()["overlap"] == 0.25


def test_pickled_scorer_gives_same_score(process_videos):
    videos, labels = process_videos
    est = NoisyEmbedder(noise=0.2)
    for scorer in (kendalls_tau_scorer, ap_scorer, progression_scorer):
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored(est, videos, labels) == scorer(est, videos, labels)


def test_get_scorer_errors():
    with pytest.raises(ValueError, match="unknown scorer 'tau'.*'kendalls_tau'.*'miou'"):
        get_scorer("tau")
    with pytest.raises(ValueError, match="takes no parameter k"):
        get_scorer("mof", k=3)
    with pytest.raises(ValueError, match="stride"):
        get_scorer("kendalls_tau", stride=0)
    with pytest.raises(ValueError, match="overlap"):
        get_scorer("f1", overlap=1.5)
    with pytest.raises(ValueError, match="average"):
        get_scorer("miou", average="frames")


def test_scorers_need_labels_and_enough_videos(process_videos):
    videos, labels = process_videos
    est = NoisyEmbedder()
    for scorer in (phase_classification_scorer, progression_scorer, ap_scorer):
        with pytest.raises(ValueError, match="needs labels"):
            scorer(est, videos)
    with pytest.raises(ValueError, match="needs labels"):
        mof_scorer(ChunkSegmenter(), videos)
    with pytest.raises(ValueError, match="at least 2 videos"):
        phase_classification_scorer(est, videos[:1], labels[:1])

    class OneArray(NoisyEmbedder):
        def transform(self, videos):
            return np.concatenate(super().transform(videos))

    with pytest.raises(ValueError, match="one array per video"):
        kendalls_tau_scorer(OneArray(), videos)
