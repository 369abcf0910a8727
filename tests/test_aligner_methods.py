"""VideoAligner with the methods vava, gta, lac and sdtw: fit, transform, align."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch
from tslearn.metrics import dtw_path_from_metric

from skalign._aligner import ALIGNMENT_METHODS, VideoAligner
from skalign.datasets import make_process_videos

# decoder="method": these tests check each method's own decoder.
FAST = dict(embedding_dim=8, max_epochs=3, n_frames=10, batch_size=2, device="cpu", decoder="method")
METHODS = ["vava", "gta", "lac", "sdtw"]


@pytest.fixture(scope="module")
def videos():
    return make_process_videos(6, 3, n_frames=(20, 26), n_features=8, random_state=0)[0]


@pytest.fixture(scope="module")
def fitted(videos):
    return {m: VideoAligner(m, random_state=0, **FAST).fit(videos) for m in METHODS}


def test_registered_with_their_papers():
    assert set(METHODS) <= set(ALIGNMENT_METHODS)
    assert "CVPR 2022" in ALIGNMENT_METHODS["vava"].paper
    assert "Cycle-Consistency" in ALIGNMENT_METHODS["gta"].paper


@pytest.mark.parametrize("method", METHODS)
def test_fit_transform_and_losses_finite(fitted, videos, method):
    est = fitted[method]
    losses = est.history_["loss"]
    assert len(losses) == FAST["max_epochs"] and np.isfinite(losses).all()
    emb = est.transform(videos[0])
    assert emb.shape == (len(videos[0]), 8) and np.isfinite(emb).all()
    assert -1.0 <= est.score(videos) <= 1.0


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_embeddings(fitted, videos, method):
    twin = VideoAligner(method, random_state=0, **FAST).fit(videos)
    np.testing.assert_allclose(twin.transform(videos[1]), fitted[method].transform(videos[1]), atol=1e-6)


@pytest.mark.parametrize("method", ["gta", "sdtw"])
def test_dtw_methods_align_along_the_optimal_path(fitted, videos, method):
    est = fitted[method]
    a, b = videos[0], videos[1]
    ea, eb = est.transform(a), est.transform(b)
    res = est.align(a, b)
    cost = res.cost
    na = ea / np.linalg.norm(ea, axis=1, keepdims=True)
    nb = eb / np.linalg.norm(eb, axis=1, keepdims=True)
    np.testing.assert_allclose(cost, 1 - na @ nb.T, atol=1e-6)
    path, _ = dtw_path_from_metric(cost, metric="precomputed")
    expected = np.zeros_like(cost)
    for i, j in path:
        expected[i, j] = 1
    np.testing.assert_array_equal(res.plan, expected)
    assert (res.matches >= 0).all() and (np.diff(res.matches) >= 0).all()
    for i, j in enumerate(res.matches):
        assert expected[i, j] == 1 and cost[i, j] == cost[i][expected[i] > 0].min()


def test_lac_learns_its_gap_penalties(fitted, videos):
    est = fitted["lac"]
    assert est.gap_open_ != 1.0 and est.gap_extend_ != 1.0
    # They are trained by the trainer's optimiser, as parameters of the model.
    frozen = VideoAligner("lac", random_state=0, **{**FAST, "max_epochs": 0}).fit(videos)
    assert frozen.gap_open_ == 1.0


def test_lac_aligns_along_a_local_path(fitted, videos):
    est = fitted["lac"]
    res = est.align(videos[0], videos[2])
    n, m = len(videos[0]), len(videos[2])
    assert res.plan.shape == (n, m) and res.matches.shape == (n,)
    assert ((res.matches >= -1) & (res.matches < m)).all()
    mass = res.plan.sum(1)
    np.testing.assert_array_equal(res.matches == -1, mass < 0.5)
    kept = res.matches[res.matches >= 0]
    assert len(kept) > 0 and (np.diff(kept) >= 0).all()   # a path is monotone


def test_lac_unmatched_frames_outside_the_local_path():
    # b repeats the middle of a; the frames of a outside that stretch are -1.
    t = np.linspace(0, 3, 30)
    a = np.stack([np.cos(t), np.sin(t), 0 * t], 1)
    b = a[10:20]
    est = VideoAligner("lac", gap_open=3.0, gap_extend=3.0, **FAST)
    res = ALIGNMENT_METHODS["lac"].align(est, a, b)
    assert (res.matches[:8] == -1).all() and (res.matches[22:] == -1).all()
    np.testing.assert_array_equal(res.matches[11:19], np.arange(1, 9))


def test_vava_plan_virtual_frame_and_matches(fitted, videos):
    est = fitted["vava"]
    a, b = videos[0], videos[3]
    res = est.align(a, b)
    n, m = len(a), len(b)
    assert res.plan.shape == (n + 1, m + 1)
    # Sinkhorn ends on a column update: the columns hold 1 / (m + 1) exactly.
    np.testing.assert_allclose(res.plan.sum(0), 1.0 / (m + 1), rtol=1e-6)
    best = res.plan[:n].argmax(1)
    np.testing.assert_array_equal(res.matches, np.where(best == m, -1, best))


def test_vava_without_virtual_frame_is_the_consistency_prior_plan(videos):
    est = VideoAligner("vava", virtual=None, max_iter=2000, lambda1=0.0, random_state=0,
                       **{**FAST, "max_epochs": 1}).fit(videos)
    res = est.align(videos[0], videos[1])
    assert res.plan.shape == (len(videos[0]), len(videos[1]))
    # With lambda1 = 0 and the prior psi ~ 1: entropic OT of D - lambda2 log Pc.
    ea, eb = est.transform(videos[0]), est.transform(videos[1])
    D = ((ea[:, None] - eb[None]) ** 2).sum(-1)
    N, M = D.shape
    i, j = np.arange(1, N + 1)[:, None], np.arange(1, M + 1)[None]
    lc = np.abs(i / N - j / M) / np.sqrt(1 / N**2 + 1 / M**2)
    steps = int(sum(est.history_["n_steps"]))
    psi = 0.999 ** int(np.sqrt(steps + 1))
    prior_c = psi * np.exp(-lc**2 / 8)
    assert psi > 0.99
    plan_c = ot.sinkhorn(np.full(N, 1 / N), np.full(M, 1 / M), D - 0.1 * np.log(prior_c), 0.1,
                         method="sinkhorn_log", numItermax=20000, stopThr=1e-12)
    assert np.abs(res.plan - plan_c).sum() < 0.05


def test_method_parameters_validated(videos):
    with pytest.raises(ValueError, match="'gamma' parameter"):
        VideoAligner("gta", gamma=0.0, **FAST).fit(videos)
    with pytest.raises(ValueError, match="'psi_decay' parameter"):
        VideoAligner("vava", psi_decay=1.5, **FAST).fit(videos)


def test_gamma_none_takes_the_papers_value(videos, monkeypatch):
    seen = {}
    import skalign._aligner as mod

    def spy(x, y, **kw):
        seen.update(kw)
        return (x.sum() + y.sum()) * 0.0

    monkeypatch.setattr(mod, "lac_loss", spy)
    VideoAligner("lac", random_state=0, **{**FAST, "max_epochs": 1}).fit(videos)
    assert seen["gamma"] == 0.8 and seen["alpha"] == 0.01 and seen["beta"] == 1.0
    assert isinstance(seen["gap_open"], torch.nn.Parameter)
