"""Tests of skalign.VideoAligner: the scikit-learn contract, inputs, errors, learning."""

from __future__ import annotations

import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skalign import Alignment, VideoAligner
from skalign.datasets import make_process_videos
from skalign.encoders import MLPEncoder, MobileNetV2Backbone, TemporalEmbedder
from skalign.io import VideoCollection, write_features, write_video
from skalign.metrics import alignment_accuracy_scorer, kendalls_tau_scorer, phase_classification_accuracy
from skalign.ot import decode_matches, vaot

FAST = dict(embedding_dim=8, max_epochs=2, n_frames=8, batch_size=2, device="cpu")


@pytest.fixture(scope="module")
def videos():
    """Six short feature videos of one process (8 features, 20 to 30 frames)."""
    return make_process_videos(6, 3, n_frames=(20, 30), n_features=8, random_state=0)[0]


@pytest.fixture(scope="module")
def fitted(videos):
    return VideoAligner(random_state=0, **FAST).fit(videos)


def params_equal(a, b):
    """Deep equality of get_params() dicts (modules compared by weights)."""
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.nn.Module):
            sa, sb = a[k].state_dict(), b[k].state_dict()
            assert sa.keys() == sb.keys() and all(torch.equal(sa[n], sb[n]) for n in sa), k
        else:
            assert a[k] == b[k], k


# ------------------------------------------------------------------ contract
def test_init_only_stores_arguments():
    est = VideoAligner("no-such-method", lr=-1.0, device="nowhere", encoder="x")
    assert est.get_params()["method"] == "no-such-method"
    assert est.get_params()["lr"] == -1.0
    assert not hasattr(est, "encoder_")


def test_get_params_set_params_and_clone(fitted):
    est = VideoAligner(rho=0.2, zeta=0.3, random_state=5)
    params = est.get_params()
    assert params["rho"] == 0.2 and params["zeta"] == 0.3 and params["method"] == "vaot"
    assert est.set_params(alpha=0.6, max_epochs=3) is est
    assert est.alpha == 0.6 and est.max_epochs == 3
    twin = clone(fitted)
    params_equal(twin.get_params(), fitted.get_params())
    assert not hasattr(twin, "encoder_") and hasattr(fitted, "encoder_")


def test_fit_does_not_change_parameters(videos):
    given = MLPEncoder(8, 4)
    est = VideoAligner(encoder=given, random_state=0, **{**FAST, "embedding_dim": 16})
    before = copy.deepcopy(est.get_params())
    est.fit(videos)
    params_equal(est.get_params(), before)
    assert est.encoder is given and est.encoder_ is not given
    assert est.embedding_dim_ == 4


def test_not_fitted_error(videos):
    est = VideoAligner()
    for call in (lambda: est.transform(videos[0]), lambda: est.align(videos[0], videos[1]),
                 lambda: est.score(videos)):
        with pytest.raises(NotFittedError):
            call()


def test_fitted_attributes_and_history(fitted, videos):
    assert isinstance(fitted.encoder_, MLPEncoder) and not fitted.encoder_.training
    assert len(fitted.history_) == 2
    assert {"loss", "matched", "n_steps"} <= set(fitted.history_[-1])
    assert 0.0 < fitted.history_[-1]["matched"] <= 1.0
    assert fitted.frame_shape_ == (8,)
    assert fitted.n_features_in_ == 8
    assert fitted.input_kind_ == "features"
    assert fitted.embedding_dim_ == 8


def test_pickle_and_joblib_keep_the_model_on_cpu(fitted, videos, tmp_path):
    expected = fitted.transform(videos)
    for loaded in (pickle.loads(pickle.dumps(fitted)),
                   joblib.load(joblib.dump(fitted, tmp_path / "aligner.joblib")[0])):
        assert all(p.device.type == "cpu" for p in loaded.encoder_.parameters())
        for a, b in zip(loaded.transform(videos), expected):
            np.testing.assert_array_equal(a, b)
        assert loaded.history_ == fitted.history_


@pytest.mark.cuda
def test_fitted_on_cuda_pickles_to_cpu(videos):
    est = VideoAligner(random_state=0, **{**FAST, "device": "cuda"}).fit(videos)
    assert next(est.encoder_.parameters()).device.type == "cuda"
    state = est.__getstate__()
    assert all(p.device.type == "cpu" for p in state["encoder_"].parameters())
    loaded = pickle.loads(pickle.dumps(est))
    assert all(p.device.type == "cpu" for p in loaded.encoder_.parameters())
    on_gpu = est.transform(videos[0])
    on_cpu = loaded.set_params(device="cpu").transform(videos[0])
    np.testing.assert_allclose(on_cpu, on_gpu, atol=1e-4)


def test_same_random_state_gives_same_embeddings(videos):
    a = VideoAligner(random_state=3, **FAST).fit(videos).transform(videos)
    b = VideoAligner(random_state=3, **FAST).fit(videos).transform(videos)
    c = VideoAligner(random_state=4, **FAST).fit(videos).transform(videos)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_fit_leaves_the_global_torch_rng_alone(videos):
    state = torch.random.get_rng_state()
    VideoAligner(random_state=0, **FAST).fit(videos)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_transform_one_or_many_and_fit_transform(fitted, videos):
    one = fitted.transform(videos[1])
    many = fitted.transform(videos)
    assert isinstance(one, np.ndarray) and one.dtype == np.float32
    assert one.shape == (len(videos[1]), 8)
    assert isinstance(many, list) and len(many) == len(videos)
    np.testing.assert_array_equal(many[1], one)
    # The embeddings are the encoder's output, L2-normalised.
    with torch.no_grad():
        direct = fitted.encoder_(torch.from_numpy(videos[1])).numpy()
    np.testing.assert_allclose(one, direct, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, rtol=1e-5)
    ft = VideoAligner(random_state=0, **FAST).fit_transform(videos)
    for x, y in zip(ft, many):
        np.testing.assert_array_equal(x, y)


def test_verbose_prints_a_line_per_epoch(videos, capsys):
    VideoAligner(random_state=0, verbose=1, **FAST).fit(videos)
    out = capsys.readouterr()
    assert (out.out + out.err).count("loss") >= 2


# --------------------------------------------------------------- align/score
def test_align_equals_vaot_on_the_embeddings(fitted, videos):
    # The default decoder is the semi-relaxed VAOT plan (align_lambda=0.1,
    # vaot's lambda_y); align_lambda=None gives the paper's balanced plan.
    res = fitted.align(videos[0], videos[1])
    assert isinstance(res, Alignment)
    with pytest.raises(AttributeError):
        res.matches = None  # frozen
    ea, eb = fitted.transform(videos[0]).astype(float), fitted.transform(videos[1]).astype(float)
    ea /= np.linalg.norm(ea, axis=1, keepdims=True)
    eb /= np.linalg.norm(eb, axis=1, keepdims=True)
    cost = 1.0 - ea @ eb.T
    solver = dict(epsilon=0.04, alpha=0.3, radius=0.02, rho=0.35, zeta=0.5)
    plan = vaot(cost, lambda_y=0.1, **solver).plan
    np.testing.assert_allclose(res.cost, cost, atol=1e-12)
    np.testing.assert_allclose(res.plan, plan, atol=1e-12)
    np.testing.assert_array_equal(res.matches, decode_matches(plan))
    n, m = len(videos[0]), len(videos[1])
    assert res.plan.shape == (n + 1, m + 1) and res.matches.shape == (n,)
    assert res.matches.min() >= -1 and res.matches.max() < m
    # Rows keep their mass (to the 25 iterations' precision); columns do not.
    np.testing.assert_allclose(res.plan.sum(1), 1 / (n + 1), rtol=1e-5)
    assert np.abs(res.plan.sum(0) - 1 / (m + 1)).max() > 1e-4
    pairs = fitted.align([videos[0], videos[2]], [videos[1], videos[3]])
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[0].matches, res.matches)
    balanced = copy.deepcopy(fitted).set_params(align_lambda=None).align(videos[0], videos[1])
    plan = vaot(cost, **solver).plan
    np.testing.assert_allclose(balanced.plan, plan, atol=1e-12)
    np.testing.assert_array_equal(balanced.matches, decode_matches(plan))


def test_align_tiny_epsilon_warns_naming_the_videos(fitted, videos):
    # Issue 14, item 5: align_epsilon=1e-6 gave a plan whose marginals were
    # off by 1.09 (L1) without a word. Now a ConvergenceWarning names the
    # pair and says what to change; the default epsilon does not warn.
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match=r"align\(videos a and b\).*align_epsilon"):
        copy.deepcopy(fitted).set_params(align_epsilon=1e-6).align(videos[0], videos[1])
    est = copy.deepcopy(fitted).set_params(align_epsilon=1e-6, align_lambda=None)  # balanced
    with pytest.warns(ConvergenceWarning, match=r"align\(videos a and b\).*align_epsilon") as rec:
        res = est.align(videos[0], videos[1])
    assert "times epsilon" in str(rec[0].message)
    n, m = len(videos[0]), len(videos[1])
    off = np.abs(res.plan.sum(1) - 1 / (n + 1)).sum() + np.abs(res.plan.sum(0) - 1 / (m + 1)).sum()
    assert off > 1e-4  # the warning is about a real violation
    with pytest.warns(ConvergenceWarning) as rec:
        est.align([videos[0], videos[2]], [videos[1], videos[3]])
    names = " ".join(str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning))
    assert "a[0] and b[0]" in names and "a[1] and b[1]" in names
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fitted.align([videos[0], videos[2]], [videos[1], videos[3]])


def test_align_without_virtual_frame_matches_every_frame(videos):
    est = VideoAligner(random_state=0, virtual=None, **FAST).fit(videos)
    res = est.align(videos[0], videos[0])
    n = len(videos[0])
    assert res.plan.shape == (n, n)
    assert (res.matches >= 0).all()
    # A video aligned with itself: mostly the identity.
    assert np.mean(res.matches == np.arange(n)) > 0.8


def reference_tau(embeddings, stride=5):
    """Kendall's tau of nearest-neighbour alignments, mean over ordered pairs (scipy)."""
    taus = []
    for i, a in enumerate(embeddings):
        for j, b in enumerate(embeddings):
            if i != j:
                nn = cdist(a[::stride], b[::stride], "sqeuclidean").argmin(1)
                taus.append(0.0 if np.all(nn == nn[0]) else kendalltau(np.arange(len(nn)), nn).statistic)
    return float(np.mean(taus))


def test_score_is_mean_kendalls_tau(fitted, videos):
    assert fitted.score(videos) == pytest.approx(reference_tau(fitted.transform(videos)), abs=1e-12)
    assert kendalls_tau_scorer(fitted, videos) == pytest.approx(fitted.score(videos), abs=1e-12)


def test_grid_search_over_rho_zeta_alpha(videos):
    grid = {"rho": [0.2, 0.35], "zeta": [0.3, 0.5], "alpha": [0.3, 0.6]}
    search = GridSearchCV(VideoAligner(random_state=0, **{**FAST, "max_epochs": 1}), grid,
                          scoring=kendalls_tau_scorer, cv=2).fit(videos)
    assert set(search.best_params_) == {"rho", "zeta", "alpha"}
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ == pytest.approx(np.max(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.rho == search.best_params_["rho"]
    # Without a scorer, GridSearchCV uses VideoAligner.score (the same tau).
    plain = GridSearchCV(VideoAligner(random_state=0, **{**FAST, "max_epochs": 1}),
                         {"rho": [0.2, 0.35]}, cv=2).fit(videos)
    res = search.cv_results_
    expected = {p["rho"]: s for p, s in zip(res["params"], res["mean_test_score"])
                if p["zeta"] == 0.5 and p["alpha"] == 0.3}
    got = dict(zip(plain.cv_results_["param_rho"], plain.cv_results_["mean_test_score"]))
    assert got == pytest.approx(expected, abs=1e-12)


def test_grid_search_over_align_lambda_with_alignment_accuracy(videos):
    """align_lambda only changes align: alignment_accuracy_scorer tunes it,
    and each candidate's score is that of the same fitted model."""
    labels = make_process_videos(6, 3, n_frames=(20, 30), n_features=8, random_state=0)[1]
    est = VideoAligner(random_state=0, **{**FAST, "max_epochs": 1})
    search = GridSearchCV(est, {"align_lambda": [None, 0.1]}, scoring=alignment_accuracy_scorer,
                          cv=2, error_score="raise").fit(videos, labels)
    scores = search.cv_results_["split0_test_score"]
    assert np.all((scores >= 0) & (scores <= 1))
    fold = list(KFold(2).split(videos))[0]
    model = clone(est).fit([videos[i] for i in fold[0]])
    test_v, test_l = [videos[i] for i in fold[1]], [labels[i] for i in fold[1]]
    for lam, got in zip((None, 0.1), scores):
        assert got == pytest.approx(alignment_accuracy_scorer(model.set_params(align_lambda=lam), test_v, test_l))


def standardise(videos):
    return [(v - v.mean(0)) / v.std(0) for v in videos]


def test_pipeline(videos):
    pipe = Pipeline([("scale", FunctionTransformer(standardise)),
                     ("align", VideoAligner(random_state=0, **FAST))]).fit(videos)
    alone = VideoAligner(random_state=0, **FAST).fit(standardise(videos))
    for a, b in zip(pipe.transform(videos), alone.transform(standardise(videos))):
        np.testing.assert_array_equal(a, b)
    assert pipe.score(videos) == pytest.approx(alone.score(standardise(videos)))
    search = GridSearchCV(pipe, {"align__rho": [0.2, 0.35]}, cv=2).fit(videos)
    assert search.best_params_["align__rho"] in (0.2, 0.35)


# ---------------------------------------------------------------- inputs
def test_files_and_collection_give_the_same_model(videos, tmp_path):
    paths = [write_features(tmp_path / f"v{i}.npy", v) for i, v in enumerate(videos)]
    from_arrays = VideoAligner(random_state=0, **FAST).fit(videos).transform(videos)
    for source in (paths, VideoCollection(paths)):
        est = VideoAligner(random_state=0, **FAST).fit(source)
        for a, b in zip(est.transform(source), from_arrays):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(est.transform(paths[2]), from_arrays[2])
    # scikit-learn splits a collection lazily; the folds score as the arrays do.
    small = VideoAligner(random_state=0, **{**FAST, "max_epochs": 1})
    np.testing.assert_array_equal(cross_val_score(small, VideoCollection(paths), cv=2),
                                  cross_val_score(small, videos, cv=2))


def test_float64_and_integer_features_are_accepted(videos):
    est = VideoAligner(random_state=0, **FAST).fit([v.astype(np.float64) for v in videos])
    ref = VideoAligner(random_state=0, **FAST).fit(videos)
    np.testing.assert_array_equal(est.transform(videos[0]), ref.transform(videos[0]))
    est.transform(np.rint(videos[0] * 10).astype(np.int64))


def test_frozen_backbone_trains_the_head_on_cached_features(tmp_path):
    frames, _ = make_process_videos(3, 2, kind="frames", n_frames=(12, 16), size=32, random_state=0)
    paths = [write_video(tmp_path / f"v{i}.mp4", f, fps=10) for i, f in enumerate(frames)]
    embedder = TemporalEmbedder(MobileNetV2Backbone(n_blocks=3), freeze_backbone=True,
                                context_stride=2, embedding_dim=8, conv_channels=(8,), fc_sizes=(8,))
    backbone0 = copy.deepcopy(embedder.backbone.state_dict())
    head0 = copy.deepcopy(embedder.head.state_dict())
    est = VideoAligner(encoder=embedder, random_state=0,
                       **{**FAST, "max_epochs": 2, "lr": 1e-2}).fit(VideoCollection(paths))
    backbone1, head1 = est.encoder_.backbone.state_dict(), est.encoder_.head.state_dict()
    assert all(torch.equal(backbone0[k], backbone1[k]) for k in backbone0)
    assert any(not torch.equal(head0[k], head1[k]) for k in head0 if head0[k].is_floating_point())
    assert est.input_kind_ == "frames" and est.frame_shape_ == (32, 32, 3)
    emb = est.transform(paths[0])
    assert emb.shape == (len(frames[0]), 8)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- errors
def test_parameter_errors_name_the_parameter(videos):
    with pytest.raises(ValueError, match="method.*'vaot'"):
        VideoAligner("no-such-method").fit(videos)
    with pytest.raises(ValueError, match="'lr' parameter"):
        VideoAligner(lr=0.0).fit(videos)
    with pytest.raises(ValueError, match="'virtual' parameter"):
        VideoAligner(virtual="always").fit(videos)
    with pytest.raises(ValueError, match="'align_lambda' parameter"):
        VideoAligner(align_lambda=0.0).fit(videos)
    with pytest.raises(ValueError, match="'encoder' parameter"):
        VideoAligner(encoder="resnet").fit(videos)
    with pytest.raises(ValueError, match="encoder='conv' embeds RGB frames"):
        VideoAligner(encoder="conv", **FAST).fit(videos)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            VideoAligner(device="cuda").fit(videos)


def bad_lists(videos, tmp_path):
    v = [x.copy() for x in videos[:3]]
    nan = [x.copy() for x in v]
    nan[2][5, 1] = np.nan
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"not a video at all" * 20)
    frames = np.zeros((10, 16, 16, 3), np.uint8)
    return {
        "empty": ([], ValueError, "videos is empty"),
        "one array": (v[0], ValueError, "must be a list of videos"),
        "one video": ([v[0]], ValueError, "at least 2"),
        "too short": ([v[0], v[1][:1]], ValueError, r"videos\[1\] has 1 frame"),
        "nan": (nan, ValueError, r"videos\[2\] holds 1 non-finite"),
        "feature sizes": ([v[0], v[1][:, :5]], ValueError,
                          r"videos\[1\] has features of size 5, but videos\[0\] has features of size 8"),
        "kinds": ([v[0], frames], ValueError, r"videos\[1\] has frames of 16x16.*same kind"),
        "2-D frames": ([frames, frames[..., 0]], ValueError, r"videos\[1\] has shape \(10, 16, 16\)"),
        "missing file": ([v[0], tmp_path / "nowhere.npy"], FileNotFoundError, r"videos\[1\].*nowhere"),
        "corrupt file": ([frames, corrupt], ValueError, r"videos\[1\].*broken.mp4"),
    }


@pytest.mark.parametrize("case", ["empty", "one array", "one video", "too short", "nan",
                                  "feature sizes", "kinds", "2-D frames", "missing file",
                                  "corrupt file"])
def test_bad_videos_raise_errors_naming_the_video(videos, tmp_path, case):
    # frames as pixels (features=None): the feature stage's own messages are
    # tested in test_frame_features
    data, error, match = bad_lists(videos, tmp_path)[case]
    with pytest.raises(error, match=match):
        VideoAligner(features=None, **FAST).fit(data)


def test_transform_and_align_check_against_the_fitted_videos(fitted, videos):
    with pytest.raises(ValueError, match=r"video has features of size 5, but VideoAligner was fitted on features of size 8"):
        fitted.transform(videos[0][:, :5])
    with pytest.raises(ValueError, match=r"videos\[1\] has features of size 3"):
        fitted.transform([videos[0], videos[1][:, :3]])
    with pytest.raises(ValueError, match=r"b has frames"):
        fitted.align(videos[0], np.zeros((5, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="at least 2"):
        fitted.score(videos[:1])


# ---------------------------------------------------------------- learning
def held_out_figures(embed_train, embed_test, y_train, y_test, fractions):
    """Kendall's tau of the held-out videos and phase-classification accuracy.

    The accuracy (SVC fitted on the labelled training videos, scored on the
    held-out videos) is averaged over 5 draws of the labelled videos.
    """
    draws = [phase_classification_accuracy(embed_train, y_train, embed_test, y_test,
                                           fractions=fractions, random_state=r) for r in range(5)]
    acc = {f: float(np.mean([d[f] for d in draws])) for f in fractions}
    return reference_tau(embed_test), acc


def test_learning_on_feature_videos():
    """Held-out videos: the trained aligner beats raw features and the untrained encoder.

    Features through the generator's non-linear map with strong nuisance
    (noise 0.5, nuisance 2). Margins stated: Kendall's tau at least 0.3
    above both; phase classification (SVC) with the labels of 10% and of
    25% of the 24 training videos at least 0.15 and 0.04 above both. (With
    the labels of every training video the SVC on raw features is as good:
    the alignment pays off when labels are few.)
    """
    kw = dict(n_frames=(40, 80), n_features=32, noise=0.5, nuisance=2.0, speed=0.2)
    x_train, y_train = make_process_videos(24, 5, random_state=0, **kw)
    x_test, y_test = make_process_videos(8, 5, random_state=1, **kw)
    fractions = (0.1, 0.25)
    common = dict(batch_size=12, lr=3e-3, device="cpu", random_state=0)
    trained = VideoAligner(max_epochs=10, **common).fit(x_train)
    untrained = VideoAligner(max_epochs=0, **common).fit(x_train)
    figures = {
        "raw": held_out_figures(x_train, x_test, y_train, y_test, fractions),
        "untrained": held_out_figures(untrained.transform(x_train), untrained.transform(x_test),
                                      y_train, y_test, fractions),
        "trained": held_out_figures(trained.transform(x_train), trained.transform(x_test),
                                    y_train, y_test, fractions),
    }
    print(figures)
    tau, acc = figures["trained"]
    for name in ("raw", "untrained"):
        base_tau, base_acc = figures[name]
        assert tau >= base_tau + 0.3, (name, figures)
        assert acc[0.1] >= base_acc[0.1] + 0.15, (name, figures)
        assert acc[0.25] >= base_acc[0.25] + 0.04, (name, figures)
    assert trained.history_[-1]["loss"] < trained.history_[0]["loss"]


@pytest.mark.slow
def test_learning_on_rendered_frame_videos_read_from_mp4(tmp_path):
    """Rendered 32 x 32 frames written to mp4 and read back; ConvEncoder.

    Margins stated: Kendall's tau at least 0.15 above raw pixels and the
    untrained encoder; phase classification with the labels of 10% of the
    12 training videos at least 0.1 above both.
    """
    kw = dict(kind="frames", n_frames=(40, 60), size=32)
    f_train, y_train = make_process_videos(12, 5, random_state=0, **kw)
    f_test, y_test = make_process_videos(6, 5, random_state=1, **kw)
    train = VideoCollection([write_video(tmp_path / f"train{i}.mp4", f, fps=25)
                             for i, f in enumerate(f_train)])
    test = [write_video(tmp_path / f"test{i}.mp4", f, fps=25) for i, f in enumerate(f_test)]
    common = dict(encoder="conv", device="cpu", random_state=0)
    trained = VideoAligner(max_epochs=12, **common).fit(train)
    untrained = VideoAligner(max_epochs=0, **common).fit(train)
    assert trained.input_kind_ == "frames" and trained.n_features_in_ == 32 * 32 * 3

    def pixels(source):
        return [v.reshape(len(v), -1) / 255.0 for v in source]

    fractions = (0.1,)
    figures = {
        "raw": held_out_figures(pixels(train), pixels(VideoCollection(test)), y_train, y_test, fractions),
        "untrained": held_out_figures(untrained.transform(train), untrained.transform(test),
                                      y_train, y_test, fractions),
        "trained": held_out_figures(trained.transform(train), trained.transform(test),
                                    y_train, y_test, fractions),
    }
    print(figures)
    tau, acc = figures["trained"]
    for name in ("raw", "untrained"):
        base_tau, base_acc = figures[name]
        assert tau >= base_tau + 0.15, (name, figures)
        assert acc[0.1] >= base_acc[0.1] + 0.1, (name, figures)


def test_pickle_of_an_earlier_version_gets_the_new_parameters_defaults(fitted, videos):
    # A pickle written before n_jobs and checkpoint existed: get_params,
    # clone and set_params must work on it, with those parameters' defaults.
    old = fitted.__getstate__()
    del old["n_jobs"], old["checkpoint"]
    loaded = VideoAligner.__new__(VideoAligner)
    loaded.__setstate__(pickle.loads(pickle.dumps(old)))
    params = loaded.get_params()
    assert params["n_jobs"] is None and params["checkpoint"] is None
    clone(loaded)
    np.testing.assert_array_equal(loaded.set_params(device="cpu").transform(videos[0]),
                                  fitted.transform(videos[0]))


def test_pickle_from_before_decoders_aligns_as_it_did(fitted, videos):
    # Pickled before decoder existed (align_lambda None, no decoder): the
    # aligner keeps the balanced VAOT plan it used, not today's default.
    old = fitted.__getstate__()
    del old["decoder"]
    old["align_lambda"] = None
    loaded = VideoAligner.__new__(VideoAligner)
    loaded.__setstate__(pickle.loads(pickle.dumps(old)))
    assert loaded.decoder == "method"
    ea, eb = fitted.transform(videos[0]).astype(float), fitted.transform(videos[1]).astype(float)
    ea /= np.linalg.norm(ea, axis=1, keepdims=True)
    eb /= np.linalg.norm(eb, axis=1, keepdims=True)
    plan = vaot(1.0 - ea @ eb.T, epsilon=0.04, alpha=0.3, radius=0.02, rho=0.35, zeta=0.5).plan
    np.testing.assert_allclose(loaded.align(videos[0], videos[1]).plan, plan, atol=1e-12)
