"""``align_many``: many videos on one timeline, against hand-computed cases,
the estimators' own pairwise ``align`` and scikit-learn's isotonic fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from skalign import JointAlignSegment, Timeline, VideoAligner
from skalign._base import Alignment
from skalign._timeline import build_timeline, pair_cost
from skalign.datasets import make_process_videos
from skalign.metrics import alignment_accuracy, timeline_accuracy

FAST = dict(embedding_dim=8, max_epochs=2, n_frames=10, batch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_process_videos(5, 3, n_frames=(18, 26), n_features=8, random_state=4)


@pytest.fixture(scope="module")
def aligner(data):
    return VideoAligner(**FAST).fit(data[0])


def _alignment(matches, cost):
    matches = np.asarray(matches, dtype=np.int64)
    return Alignment(plan=np.zeros_like(cost), matches=matches, cost=cost)


def test_pair_cost_by_hand():
    cost = np.array([[0.2, 0.9], [0.4, 0.1], [1.5, 0.3]])
    # frame 0 -> 0 (0.2), frame 1 -> 1 (0.1), frame 2 unmatched (1.0)
    assert pair_cost(_alignment([0, 1, -1], cost)) == pytest.approx((0.2 + 0.1 + 1.0) / 3)


def test_build_timeline_medoid_and_maps_by_hand():
    # Three "videos" of 3, 4 and 3 frames; align(i, j) returns hand-made
    # matches with a cost that makes video 1 the closest to the others.
    lengths = [3, 4, 3]
    table = {
        (0, 1): ([0, 1, 3], 0.1), (0, 2): ([0, 1, 2], 0.5),
        (1, 0): ([0, 0, 1, 2], 0.1), (1, 2): ([0, -1, 1, 2], 0.2),
        (2, 0): ([0, 1, 2], 0.5), (2, 1): ([0, 2, 3], 0.2),
    }
    calls = []

    def align(i, j):
        calls.append((i, j))
        m, c = table[i, j]
        return _alignment(m, np.full((lengths[i], lengths[j]), c))

    tl = build_timeline(lengths, align)
    # cost rows: video 0: 0.1 + 0.5, video 1: 0.1 + (0.2*3 + 1)/4, video 2: 0.5 + 0.2
    expected = np.array([[0, .1, .5], [.1, 0, (0.6 + 1) / 4 / 2 + 0.1], [.5, 0, 0]])
    expected[1, 2] = expected[2, 1] = ((0.2 * 3 + 1.0) / 4 + 0.2) / 2
    np.testing.assert_allclose(tl.costs, expected)
    assert tl.reference == 1 and tl.n_steps == 4 and tl.n_videos == 3
    assert sorted(calls) == sorted(table)  # n (n - 1) alignments, each once
    np.testing.assert_array_equal(tl.frames[1], np.arange(4))
    np.testing.assert_array_equal(tl.steps[0], [0, 1, 3])  # video 0 -> reference
    np.testing.assert_array_equal(tl.frames[0], [0, 0, 1, 2])  # reference -> video 0
    np.testing.assert_array_equal(tl.frames[2], [0, -1, 1, 2])  # reference -> video 2, -1 kept
    np.testing.assert_array_equal(tl.steps[2], [0, 2, 3])


def test_given_reference_aligns_only_to_it():
    calls = []

    def align(i, j):
        calls.append((i, j))
        return _alignment(np.zeros(3, dtype=np.int64), np.zeros((3, 3)))

    tl = build_timeline([3, 3, 3, 3], align, reference=2)
    assert tl.reference == 2 and tl.costs is None
    assert sorted(calls) == sorted([(0, 2), (2, 0), (1, 2), (2, 1), (3, 2), (2, 3)])


def test_monotone_is_the_rounded_isotonic_fit():
    shown = np.array([0, 5, 2, 3, -1, 4, 9, 7, -1, 8], dtype=np.int64)

    def align(i, j):
        m = shown if i == 0 else np.zeros(3, dtype=np.int64)
        return _alignment(m, np.zeros((len(m), 12)))

    tl = build_timeline([10, 3], align, reference=0, monotone=True)
    keep = shown >= 0
    iso = IsotonicRegression().fit_transform(np.flatnonzero(keep), shown[keep])
    np.testing.assert_array_equal(tl.frames[1][keep], np.rint(iso).astype(int))
    np.testing.assert_array_equal(tl.frames[1][~keep], -1)
    assert np.all(np.diff(tl.frames[1][keep]) >= 0)
    raw = build_timeline([10, 3], align, reference=0, monotone=False)
    np.testing.assert_array_equal(raw.frames[1], shown)


def test_time_warped_copies_are_recovered_with_dtw():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((30, 8)).astype(np.float32)
    warp = np.repeat(np.arange(30), rng.integers(1, 4, size=30))  # a slower copy: frames held
    videos = [base, base[warp]]
    est = VideoAligner(decoder="dtw", **FAST).fit(videos + [base[::-1].copy()])
    tl = est.align_many(videos, reference=0)
    # every frame of the warped copy lies at the frame it copies
    np.testing.assert_array_equal(tl.steps[1], warp)
    # every step shows one of the copy's frames of that step
    np.testing.assert_array_equal(warp[tl.frames[1]], np.arange(30))
    assert timeline_accuracy(tl, [np.arange(30), warp]) == 1.0


def test_align_many_matches_pairwise_align(aligner, data):
    videos = data[0]
    tl = aligner.align_many(videos)
    n = len(videos)
    costs = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                costs[i, j] = pair_cost(aligner.align(videos[i], videos[j]))
    np.testing.assert_allclose(tl.costs, (costs + costs.T) / 2, atol=1e-9)
    assert tl.reference == int(np.argmin(tl.costs.sum(1)))
    r = tl.reference
    for i in range(n):
        assert len(tl.frames[i]) == len(videos[r]) and len(tl.steps[i]) == len(videos[i])
        if i == r:
            continue
        np.testing.assert_array_equal(tl.steps[i], aligner.align(videos[i], videos[r]).matches)
        shown = aligner.align(videos[r], videos[i]).matches
        np.testing.assert_array_equal(tl.frames[i] >= 0, shown >= 0)
    # the same reference given by index gives the same maps, without costs
    again = aligner.align_many(videos, reference=r)
    assert again.costs is None
    for x, y in zip(again.frames, tl.frames):
        np.testing.assert_array_equal(x, y)


def test_timeline_accuracy_is_frame_weighted_alignment_accuracy(aligner, data):
    videos, labels = data
    tl = aligner.align_many(videos, reference=1)
    right = total = 0.0
    for i in (0, 2, 3, 4):
        right += alignment_accuracy(tl.steps[i], labels[i], labels[1]) * len(labels[i])
        total += len(labels[i])
    assert timeline_accuracy(tl, labels) == pytest.approx(right / total)
    phases = tl.phases(labels)
    assert phases.shape == (5, len(videos[1]))
    np.testing.assert_array_equal(phases[1], labels[1])
    i, t = 0, int(np.flatnonzero(tl.frames[0] >= 0)[0])
    assert phases[i, t] == labels[0][tl.frames[0][t]]
    assert np.all(phases[tl_missing(tl)] == -2)


def tl_missing(tl):
    return np.array([f < 0 for f in tl.frames])


def test_joint_model_has_align_many(data):
    videos, labels = data
    joint = JointAlignSegment(3, **FAST).fit(videos)
    tl = joint.align_many(videos, reference=0)
    assert tl.reference == 0 and tl.n_steps == len(videos[0])
    assert 0.0 <= timeline_accuracy(tl, labels) <= 1.0


@pytest.mark.parametrize("reference", [5, -6, 1.0, True, "0"])
def test_bad_reference_is_refused(aligner, data, reference):
    with pytest.raises(ValueError, match="reference must be the index of one of the 5 videos"):
        aligner.align_many(data[0], reference=reference)


def test_negative_reference_counts_from_the_end(aligner, data):
    assert aligner.align_many(data[0], reference=-1).reference == 4


def test_align_many_needs_two_videos(aligner, data):
    with pytest.raises(ValueError, match="at least 2"):
        aligner.align_many(data[0][:1])


def test_labels_must_fit_the_timeline():
    tl = Timeline(reference=0, frames=[np.arange(3), np.array([0, -1, 1])],
                  steps=[np.arange(3), np.array([0, 2])])
    with pytest.raises(ValueError, match="labels holds 1 arrays"):
        tl.phases([np.zeros(3, dtype=int)])
    with pytest.raises(ValueError, match=r"labels\[1\] must hold one int label per frame of videos\[1\]"):
        tl.phases([np.zeros(3, dtype=int), np.zeros(3, dtype=int)])
    np.testing.assert_array_equal(tl.phases([np.array([0, 1, 2]), np.array([5, 6])]),
                                  [[0, 1, 2], [5, -2, 6]])


def test_plot_timeline_draws_phases_and_gaps():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skalign.plotting import class_color, plot_timeline

    tl = Timeline(reference=1, frames=[np.array([0, 0, -1, 1]), np.arange(4)],
                  steps=[np.array([0, 3]), np.arange(4)])
    ax = plot_timeline(tl, [np.array([2, 3]), np.array([2, 2, 3, 3])], names=["a", "b"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b (reference)"]
    row_a, row_b, gaps = ax.containers
    assert [p.get_width() for p in row_a.patches] == [2, 1]  # runs of label 2, then 3
    assert row_a.patches[0].get_facecolor() == pytest.approx(class_color(2))
    assert [p.get_x() for p in gaps.patches] == [2] and gaps.patches[0].get_hatch() == "///"
    with pytest.raises(ValueError, match="names holds 1 names"):
        plot_timeline(tl, [np.array([2, 3]), np.array([2, 2, 3, 3])], names=["a"])
