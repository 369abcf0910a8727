"""Segmentation metrics against brute force, hand-worked cases, scikit-learn
and the ASOT reference figures on real affinities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, jaccard_score

from skalign.metrics import (
    f1_at_overlap,
    hungarian_match,
    miou,
    mof,
    segmentation_report,
)


# --------------------------------------------------------------------------
# reference code
# --------------------------------------------------------------------------
def brute_force_best_mof(pred, gt):
    """Best share of right frames over every one-to-one cluster -> class map."""
    clusters = sorted(set(pred.tolist()))
    classes = sorted(set(gt.tolist()))
    best = 0
    if len(clusters) <= len(classes):
        for image in itertools.permutations(classes, len(clusters)):
            m = dict(zip(clusters, image))
            best = max(best, sum(m[p] == g for p, g in zip(pred, gt)))
    else:
        for source in itertools.permutations(clusters, len(classes)):
            m = dict(zip(source, classes))
            best = max(best, sum(m.get(p, None) == g for p, g in zip(pred, gt)))
    return best / len(gt)


def segments(seq):
    out, start = [], 0
    for t in range(1, len(seq) + 1):
        if t == len(seq) or seq[t] != seq[start]:
            if seq[start] != -1:
                out.append((seq[start], start, t))
            start = t
    return out


def reference_f1_counts(mapped, gt, overlap):
    """tp, fp, fn by the segmental F1 procedure, with plain loops."""
    p_seg, g_seg = segments(list(mapped)), segments(list(gt))
    hit = [False] * len(g_seg)
    tp = fp = 0
    for label, ps, pe in p_seg:
        ious = []
        for g_label, gs, ge in g_seg:
            inter = len(set(range(ps, pe)) & set(range(gs, ge)))
            union = len(set(range(ps, pe)) | set(range(gs, ge)))
            ious.append(inter / union if g_label == label else 0.0)
        best = int(np.argmax(ious)) if ious else None
        if best is not None and ious[best] >= overlap and not hit[best]:
            hit[best] = True
            tp += 1
        else:
            fp += 1
    return tp, fp, len(g_seg) - tp


def apply(pred, mapping, scored):
    out = np.array([mapping.get(int(p), -2) for p in pred])
    out[~scored] = -1
    return out


# --------------------------------------------------------------------------
# Hungarian matching and MoF
# --------------------------------------------------------------------------
def test_hungarian_equals_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n_clusters = int(rng.integers(1, 5))
        n_classes = int(rng.integers(1, 5))
        n = int(rng.integers(5, 30))
        gt = rng.integers(0, n_classes, n)
        # correlated predictions so that the best map is not trivial
        perm = rng.permutation(max(n_clusters, n_classes))
        pred = np.where(rng.random(n) < 0.6, perm[gt] % n_clusters,
                        rng.integers(0, n_clusters, n))
        expected = brute_force_best_mof(pred, gt)
        assert mof([pred], [gt]) == pytest.approx(expected), trial
        (mapping,) = hungarian_match([pred], [gt])
        assert len(set(mapping.values())) == len(mapping)  # one-to-one
        assert len(mapping) == min(len(set(pred.tolist())), len(set(gt.tolist())))
        right = sum(mapping.get(int(p), None) == g for p, g in zip(pred, gt))
        assert right / n == pytest.approx(expected)


def test_per_video_and_dataset_matching():
    pred = [np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0, 0, 0])]
    gt = [np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1, 1, 1])]
    assert hungarian_match(pred, gt) == [{0: 0, 1: 1}, {1: 0, 0: 1}]
    assert mof(pred, gt) == 1.0
    # one matching for the data set: cluster 0 covers class 0 twice and
    # class 1 four times; cluster 1 class 0 twice, class 1 twice.  Best:
    # 0 -> 1, 1 -> 0: 4 + 2 = 6 of 10 frames.
    assert hungarian_match(pred, gt, per_video=False) == [{0: 1, 1: 0}, {0: 1, 1: 0}]
    assert mof(pred, gt, per_video=False) == pytest.approx(0.6)
    # per-video average of that matching: video 1 gets 0/4, video 2 6/6
    assert mof(pred, gt, per_video=False, average="video") == pytest.approx(0.5)
    assert mof(pred, gt, average="video") == 1.0


def test_ignored_and_excluded_frames():
    pred = np.array([3, 3, 3, 4, 4, 4, 4, 5])
    gt = np.array([-1, 0, 0, 1, 1, 9, 9, 9])
    # frame 0 is ignored; excluding class 9 leaves frames 1-4, all right
    assert mof(pred, gt, exclude=9) == 1.0
    assert hungarian_match(pred, gt, exclude=[9]) == [{3: 0, 4: 1}]
    # without exclusion: 3 -> 0 (2), 4 -> 1 or 9 (2 each), 5 -> 9 (1)
    assert mof(pred, gt) == pytest.approx(5 / 7)
    # prediction -1 means no cluster and is never right
    assert mof(np.array([-1, 0, 0]), np.array([0, 0, 1])) == pytest.approx(1 / 3)


def test_mof_and_miou_agree_with_sklearn():
    rng = np.random.default_rng(1)
    for per_video in (True, False):
        pred = [rng.integers(0, 5, n) for n in (30, 41, 25)]
        gt = [np.where(rng.random(len(p)) < 0.1, -1, rng.integers(0, 4, len(p))) for p in pred]
        mapping = hungarian_match(pred, gt, per_video=per_video)
        scored = [g >= 0 for g in gt]
        mapped = np.concatenate([apply(p, m, s)[s] for p, m, s in zip(pred, mapping, scored)])
        truth = np.concatenate([g[s] for g, s in zip(gt, scored)])
        assert mof(pred, gt, per_video=per_video) == pytest.approx(accuracy_score(truth, mapped))
        labels = np.union1d(truth, mapped[mapped >= 0])
        expected = jaccard_score(truth, mapped, labels=labels, average="macro", zero_division=0)
        assert miou(pred, gt, per_video=per_video) == pytest.approx(expected)


def test_miou_hand_computed():
    gt = [0, 0, 0, 1, 1, 1, 1, 2]
    pred = [0, 0, 1, 1, 1, 1, 2, 2]
    # identity matching; IoU: class 0 2/3, class 1 3/5, class 2 1/2
    assert miou([pred], [gt]) == pytest.approx((2 / 3 + 3 / 5 + 1 / 2) / 3)
    # per-video averaging of two videos
    gt2, pred2 = [0, 0, 1, 1], [0, 0, 1, 1]
    assert miou([pred, pred2], [gt, gt2], average="video") == pytest.approx(
        ((2 / 3 + 3 / 5 + 1 / 2) / 3 + 1.0) / 2
    )
    # pooled: class 0 (2+2)/(3+2), class 1 (3+2)/(5+2), class 2 1/2
    assert miou([pred, pred2], [gt, gt2]) == pytest.approx((4 / 5 + 5 / 7 + 1 / 2) / 3)


def test_miou_counts_predicted_classes_absent_from_the_video():
    # one matching for the data set (0 -> 0, 1 -> 1); video 2 has no class 1
    # but predicts it: its classes are 0 (IoU 2/4) and 1 (IoU 0/2).
    pred = [[0, 0, 1, 1], [0, 0, 1, 1]]
    gt = [[0, 0, 1, 1], [0, 0, 0, 0]]
    assert hungarian_match(pred, gt, per_video=False)[1] == {0: 0, 1: 1}
    assert miou(pred, gt, per_video=False, average="video") == pytest.approx((1.0 + 0.25) / 2)
    # pooled: class 0 4/6, class 1 2/4
    assert miou(pred, gt, per_video=False) == pytest.approx((4 / 6 + 2 / 4) / 2)


# --------------------------------------------------------------------------
# segmental F1
# --------------------------------------------------------------------------
# Hand-worked example (20 frames, identity matching: 4 + 5 + 7 right frames).
#   gt   segments: G0 = 0 [0, 5)   G1 = 1 [5, 10)   G2 = 2 [10, 20)
#   pred segments: A = 0 [0, 4)   B = 1 [4, 10)   C = 2 [10, 13)
#                  D = 0 [13, 15) F = 1 [15, 16)  E = 2 [16, 20)
#   IoU with the same-class gt segment: A 4/5, B 5/6, C 3/10, D 0, F 0, E 4/10
#   threshold 0.10 and 0.35 ... see below.
GT_HAND = [0] * 5 + [1] * 5 + [2] * 10
PRED_HAND = [0] * 4 + [1] * 6 + [2] * 3 + [0] * 2 + [1] + [2] * 4


@pytest.mark.parametrize(
    "overlap, expected",
    [
        # A, B, C true positives (C claims G2); D, F, E false: P 3/6, R 3/3
        (0.10, 2 / 3),
        (0.25, 2 / 3),
        # C fails (0.3), E claims G2 (0.4): still 3 tp, 3 fp, 0 fn
        (0.35, 2 / 3),
        # E's IoU equals the threshold exactly: counted (IoU >= threshold)
        (0.40, 2 / 3),
        # only A, B: tp 2, fp 4, fn 1 -> P 1/3, R 2/3 -> F1 4/9
        (0.50, 4 / 9),
        # only B (5/6): tp 1, fp 5, fn 2 -> P 1/6, R 1/3 -> F1 2/9
        (0.81, 2 / 9),
        (0.90, 0.0),
    ],
)
def test_f1_hand_worked(overlap, expected):
    assert hungarian_match([PRED_HAND], [GT_HAND]) == [{0: 0, 1: 1, 2: 2}]
    assert f1_at_overlap([PRED_HAND], [GT_HAND], (overlap,))[overlap] == pytest.approx(expected)


def test_f1_default_overlaps_and_ignored_frames():
    out = f1_at_overlap([PRED_HAND], [GT_HAND])
    assert list(out) == [0.1, 0.25, 0.5]
    assert out[0.5] == pytest.approx(4 / 9)
    # blanking gt frames 13-15 (ignored) removes D and F from the prediction
    # and cuts G2 into [10, 13) and [16, 20): C and E now match exactly.
    gt = np.array(GT_HAND)
    gt[13:16] = -1
    assert f1_at_overlap([PRED_HAND], [gt], (0.5,))[0.5] == pytest.approx(1.0)
    # a background class excluded behaves like -1
    gt[13:16] = 7
    assert f1_at_overlap([PRED_HAND], [gt], (0.5,), exclude=7)[0.5] == pytest.approx(1.0)


def test_f1_matches_reference_on_random_segmentations():
    rng = np.random.default_rng(2)

    def random_segmentation(n, n_labels):
        cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(1, 8), replace=False))
        return np.repeat(rng.integers(0, n_labels, len(cuts) + 1), np.diff(np.r_[0, cuts, n]))

    for average in ("dataset", "video"):
        pred = [random_segmentation(n, 5) for n in (40, 57, 33, 25)]
        gt = [random_segmentation(len(p), 4) for p in pred]
        gt[1][5:9] = -1
        mapping = hungarian_match(pred, gt)
        overlaps = (0.1, 0.25, 0.5)
        got = f1_at_overlap(pred, gt, overlaps, average=average)
        for o in overlaps:
            counts = [
                reference_f1_counts(apply(p, m, g >= 0), g, o)
                for p, m, g in zip(pred, mapping, gt)
            ]

            def f1(tp, fp, fn):
                prec = tp / (tp + fp) if tp + fp else 0.0
                rec = tp / (tp + fn) if tp + fn else 0.0
                return 2 * prec * rec / (prec + rec) if prec + rec else 0.0

            if average == "dataset":
                expected = f1(*np.sum(counts, axis=0))
            else:
                expected = np.mean([f1(*c) for c in counts])
            assert got[o] == pytest.approx(expected)


def test_unmatched_cluster_segments_are_false_positives():
    gt = [0, 0, 0, 0, 1, 1, 1, 1]
    pred = [5, 5, 5, 9, 6, 6, 6, 6]  # cluster 9 is left unmatched (two classes)
    assert hungarian_match([pred], [gt]) == [{5: 0, 6: 1}]
    # segments 5 [0,3) IoU 3/4, 9 [3,4) fp, 6 [4,8) IoU 1: tp 2, fp 1, fn 0
    assert f1_at_overlap([pred], [gt], (0.5,))[0.5] == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))
    assert mof([pred], [gt]) == pytest.approx(7 / 8)
    # unmatched frames only enlarge the union of their true class
    assert miou([pred], [gt]) == pytest.approx((3 / 4 + 1) / 2)


# --------------------------------------------------------------------------
# report and errors
# --------------------------------------------------------------------------
def test_segmentation_report_collects_everything():
    pred = [np.array(PRED_HAND), np.array([1, 1, 0, 0, 0])]
    gt = [np.array(GT_HAND), np.array([0, 0, 1, 1, -1])]
    report = segmentation_report(pred, gt, overlaps=(0.25, 0.5))
    assert report["mof"] == pytest.approx(mof(pred, gt))
    assert report["miou"] == pytest.approx(miou(pred, gt))
    assert report["f1"] == pytest.approx(f1_at_overlap(pred, gt, (0.25, 0.5)))
    assert report["mapping"] == hungarian_match(pred, gt)
    assert len(report["per_video"]) == 2
    second = report["per_video"][1]
    assert second["mof"] == pytest.approx(mof(pred[1:], gt[1:]))
    assert second["miou"] == pytest.approx(miou(pred[1:], gt[1:]))
    assert second["f1"] == pytest.approx(f1_at_overlap(pred[1:], gt[1:], (0.25, 0.5)))
    # a video with no scored frame has no per-video figures
    report = segmentation_report([np.array([0, 1]), np.array([0, 0])],
                                 [np.array([0, 1]), np.array([-1, -1])])
    assert report["per_video"][1] is None
    assert report["mof"] == 1.0


def test_segmentation_errors():
    with pytest.raises(ValueError, match=r"pred\[0\] has 3 frames; gt\[0\] has 2"):
        mof([[0, 1, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="pred has 1 videos; gt has 2"):
        mof([[0, 1]], [[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="no frame to score"):
        mof([[0, 1]], [[-1, 3]], exclude=3)
    with pytest.raises(ValueError, match="average"):
        miou([[0, 1]], [[0, 1]], average="frames")
    with pytest.raises(ValueError, match="per_video"):
        hungarian_match([[0, 1]], [[0, 1]], per_video="yes")
    with pytest.raises(ValueError, match="exclude"):
        mof([[0, 1]], [[0, 1]], exclude="background")
    with pytest.raises(ValueError, match="overlaps"):
        f1_at_overlap([[0, 1]], [[0, 1]], (0.5, 1.5))
    with pytest.raises(ValueError, match=r"gt\[0\] holds the label -3"):
        mof([[0, 1]], [[0, -3]])
    with pytest.raises(ValueError, match="integer labels"):
        mof([[0.5, 1]], [[0, 1]])


# --------------------------------------------------------------------------
# real data: ASOT affinities (Breakfast salat, Desktop Assembly)
# --------------------------------------------------------------------------
def load_asot_example(root, video, mapping_name):
    ids = {}
    for line in (root / "gt" / f"mapping_{mapping_name}.txt").read_text().splitlines():
        if line.strip():
            idx, name = line.split()
            ids[name] = int(idx)
    names = [ln.strip() for ln in (root / "gt" / video).read_text().splitlines() if ln.strip()]
    gt = np.array([ids[n] for n in names])
    affinity = np.load(root / "affinity" / f"{video}.npy")
    return affinity, gt


@pytest.mark.parametrize(
    "video, mapping_name, expected",
    [
        ("P36_webcam01_P36_salat", "salat", 0.556),  # Breakfast labels
        ("2020-04-19_14-03-25", "da", 0.766),  # Desktop Assembly labels
    ],
)
def test_asot_examples_argmax_mof(shared_data, video, mapping_name, expected):
    root = shared_data("asot-examples")
    affinity, gt = load_asot_example(root, video, mapping_name)
    assert affinity.shape[0] == gt.shape[0]
    cost = 1.0 - affinity
    pred = np.argmin(cost, axis=1)  # plain argmax of the affinity
    assert mof([pred], [gt], per_video=True) == pytest.approx(expected, abs=0.005)
    report = segmentation_report([pred], [gt])
    assert report["mof"] == pytest.approx(expected, abs=0.005)
    assert 0.0 <= report["miou"] <= 1.0
    assert report["f1"][0.1] >= report["f1"][0.25] >= report["f1"][0.5]
