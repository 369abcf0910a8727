"""make_process_videos: structure, variations, determinism, difficulty."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from skalign.datasets import ProcessSegment, make_process_videos


def _runs(labels: np.ndarray) -> list[int]:
    """Label of each maximal run of equal labels, in order."""
    change = np.flatnonzero(np.diff(labels)) + 1
    return [int(labels[i]) for i in np.concatenate([[0], change])]


def _check_segments(segments, labels):
    assert segments[0].start == 0 and segments[-1].stop == len(labels)
    for a, b in zip(segments[:-1], segments[1:]):
        assert a.stop == b.start
    for seg in segments:
        assert seg.stop - seg.start >= 1
        assert np.all(labels[seg.start : seg.stop] == seg.phase)
        assert (seg.phase == -1) == (seg.kind in ("background", "redundant"))


@pytest.mark.parametrize("kind", ["features", "frames"])
def test_shapes_and_plain_order(kind):
    videos, labels, segments = make_process_videos(
        5, 4, kind=kind, n_frames=(30, 40), n_features=7, size=24,
        return_segments=True, random_state=0,
    )
    assert len(videos) == len(labels) == len(segments) == 5
    for x, y, segs in zip(videos, labels, segments):
        assert 30 <= len(x) <= 40
        assert len(y) == len(x) and y.dtype == np.int64
        if kind == "features":
            assert x.shape[1:] == (7,) and x.dtype == np.float32
            assert np.isfinite(x).all()
        else:
            assert x.shape[1:] == (24, 24, 3) and x.dtype == np.uint8
        # No variation asked: every phase once, in order, no -1.
        assert _runs(y) == [0, 1, 2, 3]
        assert [s.kind for s in segs] == ["phase"] * 4
        _check_segments(segs, y)


def test_lengths_cover_the_range():
    videos, _ = make_process_videos(60, 2, n_frames=(10, 12), n_features=2, random_state=0)
    assert {len(v) for v in videos} == {10, 11, 12}
    videos, _ = make_process_videos(3, 2, n_frames=17, n_features=2, random_state=0)
    assert [len(v) for v in videos] == [17, 17, 17]


def test_background_share_and_placement():
    T, share = 80, 0.25
    _, labels, segments = make_process_videos(
        6, 4, n_frames=T, background=share, return_segments=True, random_state=1
    )
    for y, segs in zip(labels, segments):
        _check_segments(segs, y)
        assert int((y == -1).sum()) == round(share * T)  # exactly the share asked
        bg = [s for s in segs if s.kind == "background"]
        assert 1 <= len(bg) <= 3
        # Apart from background, the phases keep their order.
        assert _runs(y[y >= 0]) == [0, 1, 2, 3]


@pytest.mark.parametrize("share, expected", [(0.5, 4), (0.1, 1), (1.0, 8)])
def test_redundant_actions(share, expected):
    _, labels, segments = make_process_videos(
        8, 3, n_frames=60, redundant=share, return_segments=True, random_state=2
    )
    with_red = [i for i, segs in enumerate(segments) if any(s.kind == "redundant" for s in segs)]
    assert len(with_red) == expected  # ceil(share * n_videos)
    for i, (y, segs) in enumerate(zip(labels, segments)):
        _check_segments(segs, y)
        red = [s for s in segs if s.kind == "redundant"]
        assert len(red) == (1 if i in with_red else 0)
        assert _runs(y[y >= 0]) == [0, 1, 2]
        assert bool((y == -1).any()) == (i in with_red)


def test_redundant_features_differ_from_every_phase():
    videos, labels, segments = make_process_videos(
        4, 3, n_frames=90, redundant=1.0, noise=0.0, nuisance=0.0, speed=0.0,
        return_segments=True, random_state=3,
    )
    # Without noise and nuisance, phase frames of two videos coincide at the
    # same progress; a redundant action is far from all of them.
    for x, y, segs in zip(videos, labels, segments):
        red = next(s for s in segs if s.kind == "redundant")
        others = videos[0][labels[0] >= 0] if x is not videos[0] else videos[1][labels[1] >= 0]
        d_red = np.min(((x[red.start : red.stop, None] - others[None]) ** 2).sum(-1), axis=1)
        d_phase = np.min(((x[y >= 0][:, None] - others[None]) ** 2).sum(-1), axis=1)
        assert np.median(d_red) > 10 * np.median(d_phase)


def test_swapped_phases():
    _, labels, segments = make_process_videos(
        10, 5, n_frames=100, swap=0.3, return_segments=True, random_state=4
    )
    swapped = 0
    for y, segs in zip(labels, segments):
        _check_segments(segs, y)
        order = _runs(y)
        assert sorted(order) == [0, 1, 2, 3, 4]  # each phase once
        diff = [i for i in range(5) if order[i] != i]
        if diff:
            # exactly two neighbours exchanged
            assert len(diff) == 2 and diff[1] == diff[0] + 1
            assert order[diff[0]] == diff[1] and order[diff[1]] == diff[0]
            swapped += 1
    assert swapped == 3


def test_repeated_phases():
    _, labels, segments = make_process_videos(
        6, 4, n_frames=100, repeat=0.5, return_segments=True, random_state=5
    )
    repeated = 0
    for y, segs in zip(labels, segments):
        _check_segments(segs, y)
        order = _runs(y)
        reps = [s for s in segs if s.kind == "repeat"]
        if not reps:
            assert order == [0, 1, 2, 3]
            continue
        repeated += 1
        (rep,) = reps
        k = rep.phase
        # k, k + 1, k: the phase is done again after the next one
        assert order == [0, 1, 2, 3][: k + 2] + [k] + [0, 1, 2, 3][k + 2 :]
        assert y[rep.start - 1] == k + 1
    assert repeated == 3


def test_repeat_with_one_phase_and_swap_needs_two():
    _, labels, segs = make_process_videos(
        2, 1, n_frames=20, repeat=1.0, return_segments=True, random_state=0
    )
    assert [s.kind for s in segs[0]] == ["phase", "repeat"]
    assert np.all(labels[0] == 0)
    with pytest.raises(ValueError, match="swap needs n_phases >= 2"):
        make_process_videos(2, 1, swap=0.5)


def test_all_variations_together():
    videos, labels, segments = make_process_videos(
        6, 5, n_frames=(90, 120), background=0.2, redundant=1.0, swap=1.0, repeat=1.0,
        return_segments=True, random_state=6,
    )
    for x, y, segs in zip(videos, labels, segments):
        _check_segments(segs, y)
        kinds = {s.kind for s in segs}
        assert kinds == {"phase", "repeat", "redundant", "background"}
        assert sum(s.kind == "phase" for s in segs) == 5
        assert all(isinstance(s, ProcessSegment) for s in segs)


@pytest.mark.parametrize("kind", ["features", "frames"])
def test_same_seed_same_data(kind):
    kw = dict(kind=kind, n_frames=(20, 30), size=16, background=0.1, swap=0.5, repeat=0.5,
              redundant=0.5)
    a = make_process_videos(4, 3, random_state=7, **kw)
    b = make_process_videos(4, 3, random_state=7, **kw)
    c = make_process_videos(4, 3, random_state=8, **kw)
    for xa, xb in zip(a[0], b[0]):
        np.testing.assert_array_equal(xa, xb)
    for ya, yb in zip(a[1], b[1]):
        np.testing.assert_array_equal(ya, yb)
    assert any(
        xa.shape != xc.shape or not np.array_equal(xa, xc) for xa, xc in zip(a[0], c[0])
    )
    rs = np.random.RandomState(7)
    d = make_process_videos(4, 3, random_state=rs, **kw)
    e = make_process_videos(4, 3, random_state=rs, **kw)  # the state moved on
    assert any(
        xd.shape != xe.shape or not np.array_equal(xd, xe) for xd, xe in zip(d[0], e[0])
    )


def test_process_is_fixed_across_random_states():
    # With no pace variation, nuisance or noise, a frame depends only on its
    # phase and progress, so two draws of the same process coincide ...
    kw = dict(n_frames=40, speed=0.0, noise=0.0, nuisance=0.0)
    a, ya = make_process_videos(1, 4, random_state=0, **kw)
    b, yb = make_process_videos(1, 4, random_state=1, **kw)
    np.testing.assert_array_equal(ya[0], yb[0])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
    # ... and another process differs.
    c, _ = make_process_videos(1, 4, random_state=0, process=1, **kw)
    assert np.abs(c[0] - a[0]).mean() > 0.1
    fa, _ = make_process_videos(1, 4, kind="frames", size=16, random_state=0, **kw)
    fb, _ = make_process_videos(1, 4, kind="frames", size=16, random_state=5, **kw)
    np.testing.assert_array_equal(fa[0], fb[0])


def test_noise_level():
    kw = dict(n_frames=50, random_state=0)
    clean, _ = make_process_videos(3, 3, noise=0.0, **kw)
    noisy, _ = make_process_videos(3, 3, noise=0.3, **kw)
    resid = np.concatenate([n - c for n, c in zip(noisy, clean)])
    assert resid.std() == pytest.approx(0.3, rel=0.05)
    assert abs(resid.mean()) < 0.02


def _cross_video_nn_accuracy(embeddings, labels):
    """Share of frames whose nearest frame in another video has their phase."""
    hits = total = 0
    for i, (zi, yi) in enumerate(zip(embeddings, labels)):
        for j, (zj, yj) in enumerate(zip(embeddings, labels)):
            if i == j:
                continue
            d = ((zi[:, None, :] - zj[None, :, :]) ** 2).sum(-1)
            hits += int((yj[d.argmin(axis=1)] == yi).sum())
            total += len(yi)
    return hits / total


def test_raw_features_align_poorly_and_a_learned_map_does_better():
    train, ytrain = make_process_videos(8, 5, n_frames=(60, 80), random_state=0)
    test, ytest = make_process_videos(5, 5, n_frames=(60, 80), random_state=1)
    raw = _cross_video_nn_accuracy(test, ytest)
    lda = LinearDiscriminantAnalysis().fit(np.concatenate(train), np.concatenate(ytrain))
    learned = _cross_video_nn_accuracy([lda.transform(x) for x in test], ytest)
    assert raw < 0.9
    assert learned > raw + 0.1
    # The nuisance is what hurts: without it raw features are nearly perfect.
    clean, yclean = make_process_videos(5, 5, n_frames=(60, 80), nuisance=0.0, random_state=1)
    assert _cross_video_nn_accuracy(clean, yclean) > 0.95


def test_frames_show_phase_colour_moving_with_progress():
    videos, labels, segments = make_process_videos(
        3, 3, kind="frames", n_frames=45, size=32, noise=0.0, nuisance=0.0,
        background=0.1, return_segments=True, random_state=0,
    )
    background_px = None
    colours: dict[int, set] = {0: set(), 1: set(), 2: set()}
    for x, segs in zip(videos, segments):
        for seg in segs:
            clip = x[seg.start : seg.stop].reshape(seg.stop - seg.start, -1, 3)
            if seg.kind == "background":
                # no actor, no distractor: one flat colour
                flat = np.unique(clip.reshape(-1, 3), axis=0)
                assert len(flat) == 1
                background_px = tuple(flat[0])
                continue
            centroids = []
            for frame in clip:
                values, counts = np.unique(frame, axis=0, return_counts=True)
                # the actor's body is the most common colour other than the
                # scene and the arm (near-white)
                order = np.argsort(-counts)
                body = next(
                    tuple(values[i]) for i in order
                    if tuple(values[i]) != background_px and values[i].min() < 200
                    and counts[i] < 0.5 * len(frame)
                )
                colours[seg.phase].add(body)
                mask = np.all(frame == body, axis=1).reshape(32, 32)
                centroids.append(np.argwhere(mask).mean(axis=0))
            c = np.array(centroids)
            # the body moves along a straight path as progress grows
            direction = c[-1] - c[0]
            if np.linalg.norm(direction) > 2:
                proj = (c - c[0]) @ direction
                assert np.corrcoef(np.arange(len(proj)), proj)[0, 1] > 0.9
    assert all(len(v) == 1 for v in colours.values())  # one colour a phase
    assert len(set.union(*colours.values())) == 3  # distinct across phases


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="pixels"), "kind"),
        (dict(n_frames=(10, 5)), "n_frames"),
        (dict(n_frames=0), "n_frames"),
        (dict(n_frames=7), "too short"),
        (dict(background=1.0), "background"),
        (dict(swap=1.5), "swap"),
        (dict(repeat=-0.1), "repeat"),
        (dict(redundant="x"), "redundant"),
        (dict(speed=-1), "speed"),
        (dict(noise=float("nan")), "noise"),
        (dict(size=4), "size"),
        (dict(n_features=0), "n_features"),
        (dict(process=-1), "process"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_process_videos(3, 4, random_state=0, **kwargs)
