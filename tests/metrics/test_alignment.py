"""Alignment metrics against hand-computed cases and plain reference code."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from skalign.metrics import (
    alignment_accuracy,
    average_precision_at_k,
    kendalls_tau,
    phase_classification_accuracy,
    phase_progression,
)
from skalign.metrics._alignment import _k_nearest, _progression_events


# --------------------------------------------------------------------------
# reference code written from the definitions
# --------------------------------------------------------------------------
def tau_b_by_counting(y):
    """Kendall's tau-b of (0, 1, ..., n-1) against y, by counting pairs."""
    n = len(y)
    concordant = discordant = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            if y[i] == y[j]:
                ties_y += 1
            elif y[j] > y[i]:
                concordant += 1
            else:
                discordant += 1
    n0 = n * (n - 1) / 2
    return (concordant - discordant) / math.sqrt(n0 * (n0 - ties_y))


def reference_tau(videos, stride, dist):
    taus = []
    for i, a in enumerate(videos):
        for j, b in enumerate(videos):
            if i == j:
                continue
            a_sub, b_sub = a[::stride], b[::stride]
            nn = []
            for frame in a_sub:
                d = [dist(frame, other) for other in b_sub]
                nn.append(int(np.argmin(d)))
            taus.append(tau_b_by_counting(nn))
    return sum(taus) / len(taus)


def reference_ap(videos, labels, k):
    precisions = []
    for i, (x, y) in enumerate(zip(videos, labels)):
        cand = [
            (v, f)
            for v in range(len(videos))
            if v != i
            for f in range(len(videos[v]))
            if labels[v][f] >= 0
        ]
        for f in range(len(x)):
            if y[f] < 0:
                continue
            dists = [float(np.sum((x[f] - videos[v][g]) ** 2)) for v, g in cand]
            order = sorted(range(len(cand)), key=lambda c: (dists[c], c))[:k]
            same = sum(labels[cand[c][0]][cand[c][1]] == y[f] for c in order)
            precisions.append(same / k)
    return sum(precisions) / len(precisions)


# --------------------------------------------------------------------------
# Kendall's tau
# --------------------------------------------------------------------------
def test_kendalls_tau_hand_computed():
    # nearest neighbours of a in b are [0, 2, 1, 3] (and of b in a too):
    # 5 concordant and 1 discordant pair of 6 -> tau = 4/6.
    a = np.array([[0.0], [1.0], [2.0], [3.0]])
    b = np.array([[0.0], [2.0], [1.0], [3.0]])
    assert kendalls_tau([a, b], stride=1) == pytest.approx(2 / 3)


def test_kendalls_tau_stride_subsamples_both_videos():
    # with stride 2 only frames 0 and 2 remain: a -> values [0, 2], b ->
    # values [0, 1.5]; the nearest neighbours are [0, 1] both ways: tau 1.
    a = np.array([[0.0], [5.0], [2.0], [7.0]])
    b = np.array([[0.0], [9.0], [1.5], [-4.0]])
    assert kendalls_tau([a, b], stride=2) == pytest.approx(1.0)
    # all four frames: nn(a in b) = [0, 2, 2, 1], nn(b in a) = [0, 3, 2, 0]
    expected = (tau_b_by_counting([0, 2, 2, 1]) + tau_b_by_counting([0, 3, 2, 0])) / 2
    assert expected < 0.5
    assert kendalls_tau([a, b], stride=1) == pytest.approx(expected)


@pytest.mark.parametrize("metric", ["sqeuclidean", "cityblock"])
def test_kendalls_tau_matches_reference(metric):
    rng = np.random.default_rng(0)
    videos = []
    for n in (23, 31, 17):
        t = np.sort(rng.uniform(0, 1, n))
        videos.append(np.c_[t, t**2] + 0.2 * rng.standard_normal((n, 2)))
    dist = {
        "sqeuclidean": lambda u, v: float(np.sum((u - v) ** 2)),
        "cityblock": lambda u, v: float(np.sum(np.abs(u - v))),
    }[metric]
    expected = reference_tau(videos, 3, dist)
    assert kendalls_tau(videos, stride=3, metric=metric) == pytest.approx(expected)


def test_kendalls_tau_perfect_alignment_is_one():
    rng = np.random.default_rng(1)
    s = np.linspace(0, 1, 120)
    base = np.c_[np.cos(np.pi * s), np.sin(np.pi * s), s]
    videos = [base + 1e-3 * rng.standard_normal(base.shape) for _ in range(5)]
    assert kendalls_tau(videos) == pytest.approx(1.0)
    assert kendalls_tau([videos[0], videos[1][::-1]], stride=1) == pytest.approx(-1.0)


def test_kendalls_tau_random_embeddings_about_zero():
    rng = np.random.default_rng(2)
    videos = [rng.standard_normal((300, 8)) for _ in range(6)]
    tau = kendalls_tau(videos)
    assert abs(tau) < 0.1
    # and it is not degenerate: each pair is a genuine tau, not a constant 0
    taus = [kendalls_tau([a, b]) for a, b in zip(videos[:-1], videos[1:])]
    assert any(t != 0.0 for t in taus)


def test_kendalls_tau_collapsed_embedding_counts_zero():
    a = np.zeros((20, 3))  # every frame identical: one nearest neighbour for all
    b = np.zeros((20, 3))
    assert kendalls_tau([a, b], stride=1) == 0.0


def test_kendalls_tau_errors():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="at least 2"):
        kendalls_tau([x])
    with pytest.raises(ValueError, match="single 2-D array"):
        kendalls_tau(x)
    with pytest.raises(ValueError, match="stride"):
        kendalls_tau([x, x], stride=0)
    with pytest.raises(ValueError, match="metric"):
        kendalls_tau([x, x], metric="no-such-metric")
    with pytest.raises(ValueError, match=r"embeddings\[1\].*3 dimensions"):
        kendalls_tau([x, np.zeros((10, 3))])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"embeddings\[1\].*NaN"):
        kendalls_tau([x, bad])
    with pytest.raises(ValueError, match=r"embeddings\[0\] has no frames"):
        kendalls_tau([np.zeros((0, 2)), x])


# --------------------------------------------------------------------------
# phase classification
# --------------------------------------------------------------------------
def test_phase_classification_hand_computed_1nn():
    train_x = [np.array([[0.0], [1.0], [2.0], [3.0], [1.1]])]
    train_y = [np.array([0, 0, 1, 1, -1])]  # frame labelled -1 must be ignored
    test_x = [np.array([[0.4], [1.6], [2.6], [1.05]])]
    # 1-NN: 0.4 -> 0 (label 0), 1.6 -> 2 (label 1), 2.6 -> 3 (label 1);
    # the last frame is labelled -1 and not scored.
    test_y = [np.array([0, 0, 1, -1])]
    acc = phase_classification_accuracy(
        train_x, train_y, test_x, test_y, fractions=(1.0,),
        classifier=KNeighborsClassifier(n_neighbors=1),
    )
    assert acc == {1.0: pytest.approx(2 / 3)}


def test_phase_classification_default_is_rbf_svc_c1_gamma_scale():
    rng = np.random.default_rng(3)
    train_x = [rng.standard_normal((40, 3)) for _ in range(4)]
    train_y = [(x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) for x in train_x]
    test_x = [rng.standard_normal((50, 3)) for _ in range(2)]
    test_y = [(x[:, 0] > 0).astype(int) for x in test_x]
    svc = SVC(kernel="rbf", C=1.0, gamma="scale").fit(
        np.concatenate(train_x), np.concatenate(train_y)
    )
    expected = np.mean(svc.predict(np.concatenate(test_x)) == np.concatenate(test_y))
    got = phase_classification_accuracy(train_x, train_y, test_x, test_y, fractions=(1.0,))
    assert got[1.0] == pytest.approx(expected)
    # gamma="scale" matters: gamma=1 gives another figure on these data
    other = SVC(kernel="rbf", C=1.0, gamma=10.0).fit(
        np.concatenate(train_x), np.concatenate(train_y)
    )
    other_acc = np.mean(other.predict(np.concatenate(test_x)) == np.concatenate(test_y))
    assert other_acc != pytest.approx(expected)


FIT_SIZES: list[int] = []


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class and records how many frames it was fit on."""

    def fit(self, X, y):
        FIT_SIZES.append(len(X))
        values, counts = np.unique(y, return_counts=True)
        self.majority_ = values[np.argmax(counts)]
        self.classes_ = values
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_phase_classification_fractions_are_fractions_of_videos():
    lengths = [10 + 3 * i for i in range(10)]  # distinct lengths identify videos
    train_x = [np.zeros((n, 2)) for n in lengths]
    train_y = [np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int) for n in lengths]
    test_x, test_y = [np.zeros((4, 2))], [np.array([0, 0, 1, 1])]
    FIT_SIZES.clear()
    out = phase_classification_accuracy(
        train_x, train_y, test_x, test_y,
        fractions=(0.05, 0.1, 0.25, 0.5, 1.0), classifier=RecordingClassifier(),
        random_state=7,
    )
    assert list(out) == [0.05, 0.1, 0.25, 0.5, 1.0]
    order = np.random.RandomState(7).permutation(10)
    n_videos = [1, 1, 2, 5, 10]  # max(1, floor(f * 10))
    expected_sizes = [sum(lengths[i] for i in order[:m]) for m in n_videos]
    assert FIT_SIZES == expected_sizes


def test_phase_classification_single_training_class_predicts_it():
    train_x = [np.zeros((5, 1))]
    train_y = [np.full(5, 2)]
    test_x = [np.zeros((4, 1))]
    test_y = [np.array([2, 2, 2, 0])]
    acc = phase_classification_accuracy(train_x, train_y, test_x, test_y, fractions=1.0)
    assert acc == {1.0: 0.75}


def test_phase_classification_errors():
    x = [np.zeros((4, 2))]
    y = [np.array([0, 1, 0, 1])]
    with pytest.raises(ValueError, match="fractions"):
        phase_classification_accuracy(x, y, x, y, fractions=(0.0,))
    with pytest.raises(ValueError, match="fractions"):
        phase_classification_accuracy(x, y, x, y, fractions=(1.5,))
    with pytest.raises(ValueError, match=r"test_labels has no labelled frame"):
        phase_classification_accuracy(x, y, x, [np.full(4, -1)])
    with pytest.raises(ValueError, match=r"train_labels\[0\] has 3 labels for 4 frames"):
        phase_classification_accuracy(x, [np.array([0, 1, 0])], x, y)
    with pytest.raises(ValueError, match="dimensions"):
        phase_classification_accuracy(x, y, [np.zeros((4, 3))], y)
    with pytest.raises(ValueError, match="have no labelled frame"):
        phase_classification_accuracy(x, [np.full(4, -1)], x, y)
    with pytest.raises(ValueError, match="train_labels is required"):
        phase_classification_accuracy(x, None, x, y)


# --------------------------------------------------------------------------
# phase progression
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, events",
    [
        ([0, 0, 1, 1, 1, 2], {1: 2, 2: 5}),
        ([-1, -1, 0, 0, 1], {1: 4}),  # phase 0 begins the labelled video
        ([1, 1, 0, 0], {0: 2}),
        ([0, 0, 0], {}),
        ([0, 1, 0, 2], {1: 1, 2: 3}),  # the first frame of a phase counts
        ([-1, -1], {}),
    ],
)
def test_progression_key_events(labels, events):
    assert _progression_events(np.array(labels)) == events


def hand_progression_targets(labels, event):
    """(t - t_e) / T for the labelled frames, written out from the definition."""
    n = len(labels)
    onset = labels.index(event)
    return [(t - onset) / n for t in range(n) if labels[t] >= 0]


def test_progression_targets_hand_values():
    assert hand_progression_targets([0, 0, 1, 1, 1, 2], 1) == pytest.approx(
        [-2 / 6, -1 / 6, 0, 1 / 6, 2 / 6, 3 / 6]
    )


def test_progression_perfect_embedding_gives_one():
    def video(n, onsets):
        t = np.arange(n)
        labels = np.searchsorted(onsets, t, side="right")
        emb = np.c_[t / n, np.full(n, onsets[0] / n), np.full(n, onsets[1] / n)]
        return emb, labels

    train = [video(40, [10, 25]), video(55, [20, 30]), video(33, [5, 21])]
    test = [video(47, [12, 35]), video(60, [30, 41])]
    r2 = phase_progression(
        [e for e, _ in train], [y for _, y in train], [e for e, _ in test], [y for _, y in test]
    )
    assert r2 == pytest.approx(1.0, abs=1e-9)


def test_progression_matches_reference_with_missing_phase():
    rng = np.random.default_rng(4)

    def video(labels):
        labels = np.array(labels)
        t = np.arange(len(labels)) / len(labels)
        return np.c_[t, rng.standard_normal(len(labels))], labels

    train = [
        video([0] * 8 + [1] * 7 + [2] * 9),
        video([0] * 5 + [2] * 12),  # phase 1 missing: no event 1 here
        video([-1] * 3 + [0] * 6 + [1] * 6 + [2] * 5),
    ]
    test = [
        video([0] * 6 + [1] * 10 + [2] * 4),
        video([0] * 9 + [1] * 9),  # phase 2 missing
    ]
    got = phase_progression(
        [e for e, _ in train], [y for _, y in train], [e for e, _ in test], [y for _, y in test]
    )

    def stack(videos, event):
        xs, ts = [], []
        for emb, labels in videos:
            lab = labels.tolist()
            if event not in lab or lab.index(event) == next(
                i for i, v in enumerate(lab) if v >= 0
            ):
                continue
            xs.append(emb[labels >= 0])
            ts.extend(hand_progression_targets(lab, event))
        return np.concatenate(xs), np.array(ts)

    scores = []
    for event in (1, 2):
        x_tr, t_tr = stack(train, event)
        x_te, t_te = stack(test, event)
        model = LinearRegression().fit(x_tr, t_tr)
        scores.append(r2_score(t_te, model.predict(x_te)))
    assert np.isfinite(got)
    assert got == pytest.approx(np.mean(scores))


def test_progression_without_events_raises():
    x = [np.zeros((5, 1))]
    with pytest.raises(ValueError, match="key event"):
        phase_progression(x, [np.zeros(5, int)], x, [np.zeros(5, int)])


# --------------------------------------------------------------------------
# AP@K
# --------------------------------------------------------------------------
def test_ap_hand_computed():
    a = np.array([[0.0], [1.0], [2.0]])
    b = np.array([[0.1], [1.1], [2.1], [1.0]])
    la = [0, 0, 1]
    lb = [0, 1, 1, -1]  # the last frame of b (nearest to a[1]) is ignored
    # K=1: a0->b0 hit, a1->b1 miss, a2->b2 hit, b0->a0 hit, b1->a1 miss,
    # b2->a2 hit: 4/6.  K=2: a0 1/2, a1 1/2, a2 1, b0 1, b1 1/2, b2 1/2: 4/6.
    out = average_precision_at_k([a, b], [la, lb], k=(1, 2))
    assert out == {1: pytest.approx(4 / 6), 2: pytest.approx(4 / 6)}
    # K=3 for a1: b1 (1), b0 (0), b2 (1) -> 1/3 ...
    # a0: b0 0, b1 1, b2 1 -> 1/3; a2: b2, b1, b0 -> 2/3;
    # b0: a0, a1, a2 -> 2/3; b1: a1, a2, a0 -> 1/3; b2: a2, a1, a0 -> 1/3.
    assert average_precision_at_k([a, b], [la, lb], k=3)[3] == pytest.approx(
        (1 / 3 + 1 / 3 + 2 / 3 + 2 / 3 + 1 / 3 + 1 / 3) / 6
    )


def test_ap_matches_reference():
    rng = np.random.default_rng(5)
    videos = [rng.standard_normal((n, 3)) for n in (12, 9, 15)]
    labels = [rng.integers(-1, 3, len(v)) for v in videos]
    got = average_precision_at_k(videos, labels, k=(1, 3, 5))
    for k in (1, 3, 5):
        assert got[k] == pytest.approx(reference_ap(videos, labels, k))


def test_ap_ties_broken_by_video_then_frame_order():
    rng = np.random.default_rng(6)
    # integer embeddings: many frames at equal distance from a query
    videos = [rng.integers(0, 3, (n, 1)).astype(float) for n in (10, 14, 8)]
    labels = [rng.integers(0, 3, len(v)) for v in videos]
    got = average_precision_at_k(videos, labels, k=(1, 2, 4, 7))
    for k in (1, 2, 4, 7):
        assert got[k] == pytest.approx(reference_ap(videos, labels, k))


@pytest.mark.parametrize("k", [1, 3, 4, 5, 9])
def test_k_nearest_equals_stable_sort(k):
    rng = np.random.default_rng(7)
    # ties inside the k nearest (0, 0, 1, 1), unique distances after them
    rows = [rng.permutation(np.r_[0, 0, 1, 1, 2 + np.arange(30)]) for _ in range(50)]
    rows += [rng.integers(0, 4, 34) for _ in range(50)]  # ties everywhere
    dist = np.array(rows, dtype=float)
    expected = np.argsort(dist, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(_k_nearest(dist, k), expected)


def test_ap_errors():
    x = [np.zeros((3, 1)), np.zeros((2, 1))]
    y = [np.zeros(3, int), np.zeros(2, int)]
    with pytest.raises(ValueError, match="k=3 exceeds the 2 labelled frames"):
        average_precision_at_k(x, y, k=3)
    with pytest.raises(ValueError, match="k must be an integer"):
        average_precision_at_k(x, y, k=0)
    with pytest.raises(ValueError, match="at least 2"):
        average_precision_at_k(x[:1], y[:1])
    with pytest.raises(ValueError, match=r"labels\[1\] has 3 labels for 2 frames"):
        average_precision_at_k(x, [np.zeros(3, int), np.zeros(3, int)], k=1)


# --------------------------------------------------------------------------
# alignment accuracy
# --------------------------------------------------------------------------
def test_alignment_accuracy_hand_computed():
    labels_a = [0, 0, 1, 1, 2, 2, -1, -1]
    labels_b = [0, 1, 1, -1]
    matches = [
        0,   # 0 -> b0 (0): right
        1,   # 0 -> b1 (1): wrong phase
        2,   # 1 -> b2 (1): right
        -1,  # 1 unmatched but phase 1 occurs in b: wrong
        -1,  # 2 does not occur in b, unmatched: right
        1,   # 2 matched although absent from b: wrong
        -1,  # background unmatched: right
        3,   # background matched (even to background): wrong
    ]
    assert alignment_accuracy(matches, labels_a, labels_b) == pytest.approx(4 / 8)
    # "ignore" drops the two background frames of a: 3 right of 6
    assert alignment_accuracy(matches, labels_a, labels_b, background="ignore") == (
        pytest.approx(3 / 6)
    )
    # an alignment result with a ``matches`` attribute is accepted
    result = SimpleNamespace(matches=np.array(matches))
    assert alignment_accuracy(result, labels_a, labels_b) == pytest.approx(0.5)


def test_alignment_accuracy_errors():
    with pytest.raises(ValueError, match="matches has 2 entries"):
        alignment_accuracy([0, 1], [0, 0, 0], [0, 0])
    with pytest.raises(ValueError, match="index 5"):
        alignment_accuracy([0, 5, 1], [0, 0, 0], [0, 0])
    with pytest.raises(ValueError, match="background"):
        alignment_accuracy([0], [0], [0], background="drop")
    with pytest.raises(ValueError, match="no frame to score"):
        alignment_accuracy([-1], [-1], [0], background="ignore")
    with pytest.raises(ValueError, match=r"matches holds the label -2"):
        alignment_accuracy([-2], [0], [0])
