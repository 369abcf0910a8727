"""Tests of ActionSegmenter: the scikit-learn contract, prediction, errors, learning."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from skalign import ActionSegmenter
from skalign.datasets import make_process_videos
from skalign.engine import derive_seed
from skalign.metrics import mof, mof_scorer
from skalign.ot import asot

FAST = dict(embedding_dim=8, max_epochs=2, n_frames=16, batch_size=2, device="cpu")


@pytest.fixture(scope="module")
def data():
    """Five short feature videos of a 3-phase process and their labels."""
    return make_process_videos(5, 3, n_frames=(25, 35), n_features=8, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    return ActionSegmenter(3, random_state=0, **FAST).fit(data[0])


def reference_proba(emb, actions, *, rho, alpha, epsilon, lambda_actions, radius):
    """The prediction written out: ASOT plan of ``1 - cos + rho |i/N - k/K|``."""
    emb, actions = np.asarray(emb, np.float64), np.asarray(actions, np.float64)
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    a = actions / np.linalg.norm(actions, axis=1, keepdims=True)
    n, k = len(e), len(a)
    R = np.abs(np.arange(n)[:, None] / n - np.arange(k)[None, :] / k)
    plan = asot(1.0 - e @ a.T + rho * R, rho=0.0,
                alpha=alpha, epsilon=epsilon, lambda_actions=lambda_actions, radius=radius).plan
    return plan / plan.sum(1, keepdims=True)


# ------------------------------------------------------------------ contract
def test_init_only_stores_arguments():
    est = ActionSegmenter(0, "nope", lr=-1.0, device="nowhere")
    assert est.get_params()["n_actions"] == 0 and est.get_params()["method"] == "nope"
    assert not hasattr(est, "encoder_")
    with pytest.raises(ValueError, match="'n_actions' parameter"):
        ActionSegmenter(0).fit([np.zeros((5, 2))])
    with pytest.raises(ValueError, match="'method' parameter"):
        ActionSegmenter(2, "nope").fit([np.zeros((5, 2))])


def test_clone_and_params(fitted):
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "action_embeddings_")
    c.set_params(predict_epsilon=0.1, n_actions=4)
    assert c.predict_epsilon == 0.1 and c.n_actions == 4


def test_not_fitted(data):
    est = ActionSegmenter(3, **FAST)
    for method in (est.predict, est.predict_proba, est.transform):
        with pytest.raises(NotFittedError):
            method(data[0][0])
    with pytest.raises(NotFittedError):
        est.score(data[0], data[1])


def test_fitted_attributes(fitted, data):
    A = fitted.action_embeddings_
    assert A.shape == (3, 8) and A.dtype == np.float32 and fitted.n_actions_ == 3
    np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0, rtol=1e-5)
    assert len(fitted.history_) == 2 and np.isfinite(fitted.history_[-1]["loss"])
    assert fitted.embedding_dim_ == 8 and fitted.n_features_in_ == 8


def test_actions_start_at_kmeans_centres(data):
    """With no training the action embeddings are the normalised centres of
    scikit-learn's KMeans on the normalised initial embeddings, seeded from
    ``random_state`` (stream 2 of the fit's seed)."""
    est = ActionSegmenter(3, random_state=0, **{**FAST, "max_epochs": 0}).fit(data[0])
    Z = np.concatenate([e / np.linalg.norm(e, axis=1, keepdims=True)
                        for e in est.transform(data[0])]).astype(np.float64)
    seed = derive_seed(int(np.random.RandomState(0).randint(0, 2**31 - 1)), 2) % 2**32
    centres = KMeans(3, n_init=3, random_state=seed).fit(Z).cluster_centers_
    expected = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    np.testing.assert_allclose(est.action_embeddings_, expected, atol=1e-5)
    # and they are a fixed point of Lloyd's iteration on Z
    own = ((Z[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_allclose(centres, np.stack([Z[own == k].mean(0) for k in range(3)]),
                               atol=1e-6)


def test_predict_decodes_the_asot_plan(fitted, data):
    video = data[0][1]
    emb = fitted.transform(video)
    expected = reference_proba(emb, fitted.action_embeddings_, rho=0.2, alpha=0.6,
                               epsilon=0.04, lambda_actions=0.01, radius=0.04)
    proba = fitted.predict_proba(video)
    assert proba.shape == (len(video), 3)
    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(fitted.predict(video), expected.argmax(1))
    assert fitted.predict(video).dtype == np.int64


def test_prediction_settings_are_used(fitted, data):
    video = data[0][1]
    other = clone(fitted).set_params(predict_epsilon=0.5, predict_alpha=0.0,
                                     predict_lambda_actions=0.5)
    other.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    expected = reference_proba(fitted.transform(video), fitted.action_embeddings_, rho=0.2,
                               alpha=0.0, epsilon=0.5, lambda_actions=0.5, radius=0.04)
    np.testing.assert_allclose(other.predict_proba(video), expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(other.predict_proba(video), fitted.predict_proba(video))


def test_lists_single_videos_and_fit_predict(fitted, data):
    videos = data[0]
    many = fitted.predict(videos)
    assert isinstance(many, list) and len(many) == len(videos)
    for v, p in zip(videos, many):
        np.testing.assert_array_equal(p, fitted.predict(v))
    again = ActionSegmenter(3, random_state=0, **FAST).fit_predict(videos)
    for a, b in zip(again, many):
        np.testing.assert_array_equal(a, b)


def test_score_is_mof(fitted, data):
    videos, labels = data
    expected = mof(fitted.predict(videos), labels)
    assert fitted.score(videos, labels) == pytest.approx(expected)
    assert mof_scorer(fitted, videos, labels) == pytest.approx(expected)
    with pytest.raises(ValueError, match="y"):
        fitted.score(videos, None)


def test_same_seed_same_result_and_pickling(fitted, data):
    videos = data[0]
    twin = ActionSegmenter(3, random_state=0, **FAST).fit(videos)
    np.testing.assert_array_equal(twin.action_embeddings_, fitted.action_embeddings_)
    other = ActionSegmenter(3, random_state=1, **FAST).fit(videos)
    assert not np.array_equal(other.action_embeddings_, fitted.action_embeddings_)
    loaded = pickle.loads(pickle.dumps(fitted))
    for a, b in zip(loaded.predict(videos), fitted.predict(videos)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.transform(videos[0]), fitted.transform(videos[0]))


def test_errors_name_the_video(fitted, data):
    videos = data[0]
    with pytest.raises(ValueError, match=r"videos\[2\] has features of size 5"):
        ActionSegmenter(3, **FAST).fit([videos[0], videos[1], np.zeros((20, 5))])
    with pytest.raises(ValueError, match="video has features of size 5, but ActionSegmenter"):
        fitted.predict(np.zeros((20, 5)))
    with pytest.raises(ValueError, match=r"videos\[1\]"):
        fitted.predict([videos[0], np.zeros((20, 5))])
    with pytest.raises(ValueError, match="n_actions=50 exceeds the 30 frames"):
        ActionSegmenter(50, **FAST).fit([np.random.default_rng(0).normal(size=(30, 4))])
    with pytest.raises(ValueError, match="wrap one video"):
        fitted.score(videos[0], data[1][0])


def test_grid_search_with_mof_scorer(data):
    videos, labels = data
    search = GridSearchCV(ActionSegmenter(3, random_state=0, **{**FAST, "max_epochs": 1}),
                          {"temperature": [0.1, 0.3]}, scoring=mof_scorer, cv=2)
    search.fit(videos, labels)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.all((scores > 0) & (scores <= 1))
    assert search.best_estimator_.temperature == search.best_params_["temperature"]
    # Without a scorer GridSearchCV uses ActionSegmenter.score, the same MoF.
    plain = GridSearchCV(ActionSegmenter(3, random_state=0, **{**FAST, "max_epochs": 1}),
                         {"temperature": [0.1, 0.3]}, cv=2).fit(videos, labels)
    np.testing.assert_allclose(plain.cv_results_["mean_test_score"], scores)


# ------------------------------------------------------------------ learning
def test_learns_better_than_kmeans_and_equal_split():
    """On synthetic videos of a 4-phase process (data seed 0), the mean MoF
    over two training seeds beats k-means on the raw features and an equal
    split of every video into 4 segments by at least 0.1."""
    videos, labels = make_process_videos(8, 4, n_frames=(60, 90), n_features=16, random_state=0)
    km = KMeans(4, n_init=3, random_state=0).fit(np.concatenate(videos))
    kmeans_mof = mof([km.predict(v) for v in videos], labels)
    equal_mof = mof([np.minimum(np.arange(len(v)) * 4 // len(v), 3) for v in videos], labels)
    scores = [
        ActionSegmenter(4, embedding_dim=16, max_epochs=10, n_frames=32, batch_size=4,
                        device="cpu", random_state=seed).fit(videos).score(videos, labels)
        for seed in (0, 1)
    ]
    assert np.mean(scores) >= max(kmeans_mof, equal_mof) + 0.1, (scores, kmeans_mof, equal_mof)
