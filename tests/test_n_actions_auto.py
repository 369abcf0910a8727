"""``n_actions="auto"``: the number of actions chosen by the elbow of the
segmentation cost, checked against a hand-computed Kneedle, the fits of
each ``K`` made by hand and the cost recomputed from the model."""

from __future__ import annotations

import numpy as np
import pytest

from skalign import ActionSegmenter, JointAlignSegment
from skalign._segmenter import choose_n_actions, count_segments
from skalign.datasets import make_process_videos
from skalign.persist import load_model, save_model

FAST = dict(embedding_dim=8, max_epochs=3, n_frames=16, batch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_process_videos(4, 3, n_frames=(30, 40), n_features=8, random_state=1)


@pytest.fixture(scope="module")
def auto(data):
    return ActionSegmenter("auto", n_actions_range=(2, 5), n_actions_criterion="elbow",
                           **FAST).fit(data[0])


def test_kneedle_by_hand():
    # x = 0, 1/3, 2/3, 1; scaled cost 1, 0.6, 0.2, 0; chord 1 - x; chord minus cost:
    k, knee = choose_n_actions([2, 3, 4, 5], [3.0, 2.2, 1.4, 1.0])
    np.testing.assert_allclose(knee, [0.0, 2 / 3 - 0.6, 1 / 3 - 0.2, 0.0])
    assert k == 4
    assert choose_n_actions([2, 3, 4], [1.0, 0.1, 0.05])[0] == 3
    # a cost that does not fall: no elbow, the smallest K
    k, knee = choose_n_actions([2, 3, 4], [0.5, 0.6, 0.7])
    assert k == 2 and not knee.any()


def test_auto_keeps_the_fit_of_the_chosen_k(auto, data):
    videos = data[0]
    s = auto.search_
    np.testing.assert_array_equal(s["n_actions"], [2, 3, 4, 5])
    assert auto.n_actions_ == choose_n_actions(s["n_actions"], s["cost"])[0]
    assert auto.action_embeddings_.shape == (auto.n_actions_, 8)
    by_hand = ActionSegmenter(auto.n_actions_, **FAST).fit(videos)
    np.testing.assert_allclose(auto.action_embeddings_, by_hand.action_embeddings_, atol=1e-6)
    for a, b in zip(auto.predict(videos), by_hand.predict(videos)):
        np.testing.assert_array_equal(a, b)
    assert auto.get_params()["n_actions"] == "auto"


def test_search_cost_is_the_input_dispersion_within_predicted_actions(data):
    # The oracle, by the definition: each frame's input features against
    # the (normalised) mean of the unit input vectors of its action.
    videos = data[0]
    auto = ActionSegmenter("auto", n_actions_range=(2, 4), n_actions_criterion="elbow",
                           **FAST).fit(videos)
    for k in (2, 4):
        est = ActionSegmenter(k, **FAST).fit(videos)
        x = np.concatenate(videos).astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        pred = np.concatenate(est.predict(videos))
        per_frame = np.empty(len(x))
        for a in np.unique(pred):
            centre = x[pred == a].mean(0)
            per_frame[pred == a] = 1 - x[pred == a] @ (centre / np.linalg.norm(centre))
        assert auto.search_["cost"][k - 2] == pytest.approx(per_frame.mean(), rel=1e-6)


def test_joint_model_chooses_too(data):
    est = JointAlignSegment("auto", n_actions_range=(2, 3), n_actions_criterion="elbow",
                            **FAST).fit(data[0])
    assert est.n_actions_ in (2, 3) and len(est.search_["cost"]) == 2
    assert est.align(data[0][0], data[0][1]).matches.shape == (len(data[0][0]),)


@pytest.mark.parametrize("bad", [(3, 3), (0, 4), (2,), (2.0, 4), (5, 2)])
def test_bad_range_is_refused(data, bad):
    with pytest.raises(ValueError, match="n_actions_range must be"):
        ActionSegmenter("auto", n_actions_range=bad, **FAST).fit(data[0])


def test_bad_n_actions_string_is_refused(data):
    with pytest.raises(ValueError, match="n_actions"):
        ActionSegmenter("many", **FAST).fit(data[0])


def test_each_k_has_its_checkpoint_and_a_rerun_resumes(data, tmp_path):
    ckpt = tmp_path / "seg.ckpt"
    first = ActionSegmenter("auto", n_actions_range=(2, 3), n_actions_criterion="elbow",
                            checkpoint=str(ckpt), **FAST).fit(data[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg.ckpt.k2", "seg.ckpt.k3"]
    again = ActionSegmenter("auto", n_actions_range=(2, 3), n_actions_criterion="elbow",
                            checkpoint=str(ckpt), **FAST).fit(data[0])
    assert again.n_actions_ == first.n_actions_
    np.testing.assert_allclose(again.search_["cost"], first.search_["cost"], rtol=1e-5)
    assert sum(r["n_steps"] for r in again.history_) == sum(r["n_steps"] for r in first.history_)


def test_search_survives_the_model_file(auto, tmp_path):
    again = load_model(save_model(auto, tmp_path / "auto.skalign"))
    assert again.n_actions_ == auto.n_actions_ and again.n_actions == "auto"
    for key in auto.search_:
        np.testing.assert_array_equal(again.search_[key], auto.search_[key])
        assert again.search_[key].dtype == auto.search_[key].dtype


def _steps(codes, lengths, rng, noise=0.01):
    """Actions as jumps between codes, each with a smooth ramp inside."""
    lengths = [int(n) for n in lengths]
    ramp = np.concatenate([np.linspace(0, 0.3, n)[:, None] * rng.standard_normal(codes.shape[1])
                           for n in lengths])
    noisy = np.repeat(codes, lengths, axis=0) + noise * rng.standard_normal((sum(lengths), codes.shape[1]))
    return noisy + ramp


def test_count_segments_counts_the_jumps():
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((5, 16))
    video = _steps(codes, [30, 40, 25, 35, 30], rng)
    assert count_segments(video) == 5
    assert count_segments(video[:3]) == 1  # too short to have a boundary
    # the z-score is robust: scaling the features changes nothing
    assert count_segments(10 * video) == 5


def test_changes_criterion_takes_the_median_count_and_fits_once(data, tmp_path):
    rng = np.random.default_rng(2)
    codes = rng.standard_normal((4, 8))
    videos = [_steps(codes[:k], rng.integers(15, 25, size=k), rng).astype(np.float32)
              for k in (4, 4, 3, 4, 4)]
    counts = [count_segments(v) for v in videos]
    est = ActionSegmenter("auto", n_actions_range=(2, 6), **FAST).fit(videos)
    assert est.n_actions_ == int(np.median(counts)) == 4
    np.testing.assert_array_equal(est.search_["segments"], counts)
    clipped = np.clip(counts, 2, 6)
    np.testing.assert_array_equal(est.search_["votes"], [int((clipped == k).sum()) for k in range(2, 7)])
    assert len(est.history_) == FAST["max_epochs"]  # one fit, not one per K
    by_hand = ActionSegmenter(4, **FAST).fit(videos)
    np.testing.assert_allclose(est.action_embeddings_, by_hand.action_embeddings_, atol=1e-6)
    # a count outside the range is clipped to it
    small = ActionSegmenter("auto", n_actions_range=(2, 3), **FAST).fit(videos)
    assert small.n_actions_ == 3


def test_bad_criterion_is_refused(data):
    with pytest.raises(ValueError, match="n_actions_criterion"):
        ActionSegmenter("auto", n_actions_criterion="silhouette", **FAST).fit(data[0])
