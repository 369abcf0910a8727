"""``decoder=``: how ``align`` turns embeddings into frame matches, each
checked against an independent oracle (tslearn's DTW, scipy's cosine
distances, the solver called by hand)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from tslearn.metrics import dtw_path_from_metric

from skalign import JointAlignSegment, VideoAligner
from skalign._aligner import _lac_align, _vava_align
from skalign.datasets import make_process_videos
from skalign.ot import decode_matches, vaot

FAST = dict(embedding_dim=8, max_epochs=2, n_frames=10, batch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def videos():
    return make_process_videos(5, 3, n_frames=(18, 24), n_features=8, random_state=3)[0]


@pytest.fixture(scope="module")
def fitted(videos):
    return {m: VideoAligner(m, **FAST).fit(videos) for m in ("vaot", "gta", "lac", "vava")}


def _embeddings(est, a, b):
    return est.transform(a).astype(np.float64), est.transform(b).astype(np.float64)


def test_dtw_decoder_is_tslearns_path(fitted, videos):
    est = copy.deepcopy(fitted["vaot"]).set_params(decoder="dtw")
    ea, eb = _embeddings(est, videos[0], videos[1])
    cost = cdist(ea, eb, metric="cosine")
    res = est.align(videos[0], videos[1])
    np.testing.assert_allclose(res.cost, cost, atol=1e-9)
    path, _ = dtw_path_from_metric(cost, metric="precomputed")
    expected = np.zeros_like(cost)
    for i, j in path:
        expected[i, j] = 1.0
    np.testing.assert_array_equal(res.plan, expected)
    for i, j in enumerate(res.matches):  # on the path, the closest of its cells
        on_path = np.flatnonzero(expected[i])
        assert j in on_path and cost[i, j] == cost[i, on_path].min()


def test_nn_decoder_is_the_nearest_frame(fitted, videos):
    est = copy.deepcopy(fitted["gta"]).set_params(decoder="nn")
    ea, eb = _embeddings(est, videos[2], videos[3])
    res = est.align(videos[2], videos[3])
    np.testing.assert_array_equal(res.matches, cdist(ea, eb, metric="cosine").argmin(1))
    assert res.plan.sum() == len(videos[2]) and (res.plan.sum(1) == 1).all()


@pytest.mark.parametrize("method", ["gta", "lac", "vava"])
@pytest.mark.parametrize("lam", [None, 0.1])
def test_vaot_decoder_on_any_methods_embeddings(fitted, videos, method, lam):
    est = copy.deepcopy(fitted[method]).set_params(decoder="vaot", align_lambda=lam)
    ea, eb = _embeddings(est, videos[0], videos[4])
    plan = vaot(cdist(ea, eb, metric="cosine"), epsilon=0.04, alpha=0.3, radius=0.02, rho=0.35,
                zeta=0.5, lambda_y=lam).plan
    res = est.align(videos[0], videos[4])
    np.testing.assert_allclose(res.plan, plan, atol=1e-9)
    np.testing.assert_array_equal(res.matches, decode_matches(plan))


def test_auto_is_the_semi_relaxed_vaot_plan(fitted, videos):
    for method, est in fitted.items():
        got = est.align(videos[1], videos[2])
        want = copy.deepcopy(est).set_params(decoder="vaot", align_lambda=0.1).align(videos[1], videos[2])
        np.testing.assert_array_equal(got.plan, want.plan, err_msg=method)


def test_method_decoder_is_each_papers_own(fitted, videos):
    a, b = videos[0], videos[1]
    for method, own in (("lac", _lac_align), ("vava", _vava_align)):
        est = copy.deepcopy(fitted[method]).set_params(decoder="method")
        ea, eb = est.transform(a), est.transform(b)
        np.testing.assert_array_equal(est.align(a, b).matches, own(est, ea, eb).matches)
    gta = copy.deepcopy(fitted["gta"])
    np.testing.assert_array_equal(gta.set_params(decoder="method").align(a, b).plan,
                                  gta.set_params(decoder="dtw").align(a, b).plan)
    vaot_est = copy.deepcopy(fitted["vaot"])
    np.testing.assert_array_equal(vaot_est.set_params(decoder="method").align(a, b).plan,
                                  vaot_est.set_params(decoder="vaot").align(a, b).plan)


def test_joint_decoders(videos):
    est = JointAlignSegment(3, **FAST).fit(videos)
    ea, eb = _embeddings(est, videos[0], videos[1])
    cost = cdist(ea, eb, metric="cosine")
    np.testing.assert_array_equal(
        copy.deepcopy(est).set_params(decoder="nn").align(videos[0], videos[1]).matches, cost.argmin(1))
    auto = est.align(videos[0], videos[1])
    assert copy.deepcopy(est).set_params(decoder="method").align(videos[0], videos[1]).plan.tolist() \
        == auto.plan.tolist()
    assert auto.plan.shape == (len(ea) + 1, len(eb) + 1)


def test_unknown_decoder_is_refused(videos):
    with pytest.raises(ValueError, match="'decoder' parameter"):
        VideoAligner(decoder="viterbi", **FAST).fit(videos)
