"""Tests of JointAlignSegment: Eq. 7, the scikit-learn contract, align/predict/score, learning."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from skalign._base import Alignment
from skalign import JointAlignSegment
from skalign.datasets import make_process_videos
from skalign.engine._sampler import FrameBatch, PairBatch
from skalign.losses import vaot_loss
from skalign.losses._asot import asot_loss
from skalign.metrics import kendalls_tau, mof, mof_scorer
from skalign.ot import decode_matches, vaot

FAST = dict(embedding_dim=8, max_epochs=2, n_frames=16, batch_size=2, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_process_videos(5, 3, n_frames=(25, 35), n_features=8, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    return JointAlignSegment(3, random_state=0, **FAST).fit(data[0])


def _batch(frames, mask):
    B, T = mask.shape
    return FrameBatch(frames=frames, index=torch.arange(T).repeat(B, 1), mask=mask,
                      lengths=mask.sum(1), video=torch.arange(B))


def test_loss_is_eq7(fitted):
    """The training loss is w_align L_xy + w_seg (L_xa + L_ya), each term
    evaluated by the public losses with the estimator's settings."""
    est = clone(fitted).set_params(w_align=0.7, w_seg=1.3, vaot_rho=0.2, rho=0.1)
    g = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(8, 8)
    actions = torch.randn(3, 8, generator=g)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.actions = torch.nn.Parameter(actions.clone())

        def forward(self, frames, mask):
            return torch.nn.functional.normalize(self.encoder(frames), dim=-1)

    model = Model()
    mx = torch.ones(2, 12, dtype=torch.bool)
    my = torch.ones(2, 10, dtype=torch.bool)
    my[1, 7:] = False
    batch = PairBatch(_batch(torch.randn(2, 12, 8, generator=g), mx),
                      _batch(torch.randn(2, 10, 8, generator=g), my))
    loss, figures = est._make_loss()(model, batch)
    zx = model(batch.x.frames, mx)
    zy = model(batch.y.frames, my)
    seg = dict(alpha=0.3, radius=0.04, epsilon=0.07, rho=0.1, lambda_actions=0.1, temperature=0.1)
    l_xy = vaot_loss(zx, zy, mask_x=mx, mask_y=my, alpha=0.3, radius=0.02, epsilon=0.07,
                     rho=0.2, zeta=0.5, temperature=0.1)
    l_xa = asot_loss(zx, model.actions, mask=mx, **seg)
    l_ya = asot_loss(zy, model.actions, mask=my, **seg)
    expected = 0.7 * l_xy + 1.3 * (l_xa + l_ya)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert figures["seg_loss"].item() == pytest.approx((l_xa + l_ya).item(), rel=1e-5)
    loss.backward()
    assert float(model.actions.grad.abs().max()) > 0
    assert float(encoder.weight.grad.abs().max()) > 0


def test_contract(fitted, data):
    videos, labels = data
    c = clone(fitted)
    assert c.get_params() == fitted.get_params() and not hasattr(c, "encoder_")
    with pytest.raises(NotFittedError):
        c.predict(videos[0])
    with pytest.raises(ValueError, match="'w_seg' parameter"):
        JointAlignSegment(3, w_seg=-1.0, **FAST).fit(videos)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        JointAlignSegment(3, **FAST).fit(videos[:1])
    twin = JointAlignSegment(3, random_state=0, **FAST).fit(videos)
    np.testing.assert_array_equal(twin.action_embeddings_, fitted.action_embeddings_)
    loaded = pickle.loads(pickle.dumps(fitted))
    for a, b in zip(loaded.predict(videos), fitted.predict(videos)):
        np.testing.assert_array_equal(a, b)
    assert set(fitted.history_[-1]) >= {"loss", "align_loss", "seg_loss", "matched"}


def test_align_predict_score(fitted, data):
    videos, labels = data
    ea, eb = fitted.transform(videos[0]), fitted.transform(videos[1])
    a = ea / np.linalg.norm(ea, axis=1, keepdims=True)
    b = eb / np.linalg.norm(eb, axis=1, keepdims=True)
    plan = vaot(1.0 - a.astype(np.float64) @ b.T.astype(np.float64), epsilon=0.04,
                virtual="cost", alpha=0.3, radius=0.02, rho=0.35, zeta=0.5).plan
    res = copy.deepcopy(fitted).set_params(align_lambda=None).align(videos[0], videos[1])
    assert isinstance(res, Alignment)
    np.testing.assert_allclose(res.plan, plan, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(res.matches, decode_matches(plan))
    relaxed = vaot(1.0 - a.astype(np.float64) @ b.T.astype(np.float64), epsilon=0.04, virtual="cost",
                   alpha=0.3, radius=0.02, rho=0.35, zeta=0.5, lambda_y=0.1).plan
    got = fitted.align(videos[0], videos[1])  # the default: align_lambda=0.1
    np.testing.assert_allclose(got.plan, relaxed, rtol=1e-5, atol=1e-8)
    assert np.abs(relaxed - plan).max() > 1e-4
    pred = fitted.predict(videos)
    assert [len(p) for p in pred] == [len(v) for v in videos]
    assert fitted.score(videos, labels) == pytest.approx(mof(pred, labels))
    assert mof_scorer(fitted, videos, labels) == pytest.approx(mof(pred, labels))
    assert fitted.score(videos) == pytest.approx(kendalls_tau(fitted.transform(videos)))
    with pytest.raises(ValueError, match=r"video has features of size 5, but JointAlignSegment"):
        fitted.predict(np.zeros((20, 5)))


def test_grid_search_with_mof_scorer(data):
    videos, labels = data
    search = GridSearchCV(JointAlignSegment(3, random_state=0, **{**FAST, "max_epochs": 1}),
                          {"w_align": [0.0, 1.0]}, scoring=mof_scorer, cv=2).fit(videos, labels)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.all((scores > 0) & (scores <= 1))


def test_learns_better_than_kmeans_and_equal_split():
    """As for ActionSegmenter: on synthetic videos (data seed 0) the mean MoF
    over two seeds beats k-means on raw features and the equal split by 0.05."""
    videos, labels = make_process_videos(8, 4, n_frames=(60, 90), n_features=16, random_state=0)
    km = KMeans(4, n_init=3, random_state=0).fit(np.concatenate(videos))
    kmeans_mof = mof([km.predict(v) for v in videos], labels)
    equal_mof = mof([np.minimum(np.arange(len(v)) * 4 // len(v), 3) for v in videos], labels)
    scores = [
        JointAlignSegment(4, embedding_dim=16, max_epochs=10, n_frames=32, batch_size=4,
                          device="cpu", random_state=seed).fit(videos).score(videos, labels)
        for seed in (0, 1)
    ]
    assert np.mean(scores) >= max(kmeans_mof, equal_mof) + 0.05, (scores, kmeans_mof, equal_mof)
