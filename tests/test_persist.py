"""Model files that run no code (skalign.persist) and checkpoint/resume of the estimators."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from skalign import ActionSegmenter, JointAlignSegment, VideoAligner
from skalign.datasets import make_process_videos
from skalign.persist import is_model_file, load_model, save_model

FAST = dict(embedding_dim=8, max_epochs=1, n_frames=8, batch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def features():
    videos, _ = make_process_videos(3, 3, n_frames=(20, 26), n_features=6, random_state=0)
    return videos


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(n, 16, 16, 3), dtype=np.uint8) for n in (10, 12, 11)]


class _Evil:
    """Unpickling it creates a marker file (it must never happen)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _assert_same_results(est, again, videos):
    assert type(again) is type(est)
    assert again.get_params() == est.get_params()
    np.testing.assert_array_equal(again.transform(videos[0]), est.transform(videos[0]))
    if hasattr(est, "align"):
        x, y = est.align(videos[0], videos[1]), again.align(videos[0], videos[1])
        np.testing.assert_array_equal(x.plan, y.plan)
        np.testing.assert_array_equal(x.matches, y.matches)
    if hasattr(est, "predict"):
        np.testing.assert_array_equal(again.predict(videos[1]), est.predict(videos[1]))
        np.testing.assert_array_equal(again.action_embeddings_, est.action_embeddings_)
        assert again.n_actions_ == est.n_actions_
    for name in ("frame_shape_", "n_features_in_", "input_kind_", "embedding_dim_"):
        assert getattr(again, name) == getattr(est, name)
        assert type(getattr(again, name)) is type(getattr(est, name))
    assert again.history_ == est.history_
    assert not again.encoder_.training


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("method", ["vaot", "vava", "gta", "lac", "sdtw"])
def test_aligner_round_trips_on_features(tmp_path, features, method):
    est = VideoAligner(method, **FAST).fit(features)
    path = save_model(est, tmp_path / "m.skalign")
    assert is_model_file(path)
    again = load_model(path)
    _assert_same_results(est, again, features)
    if method == "lac":
        assert (again.gap_open_, again.gap_extend_) == (est.gap_open_, est.gap_extend_)


@pytest.mark.parametrize("make", [
    lambda: VideoAligner(**FAST),
    lambda: ActionSegmenter(3, **FAST),
    lambda: JointAlignSegment(3, **FAST),
], ids=["VideoAligner", "ActionSegmenter", "JointAlignSegment"])
@pytest.mark.parametrize("kind", ["features", "frames"])
def test_estimators_round_trip_on_features_and_frames(tmp_path, features, frames, make, kind):
    # frames: the conv encoder on pixels (the pretrained feature stage is
    # round-tripped in test_frame_features)
    videos = features if kind == "features" else frames
    est = make().set_params(features=None).fit(videos)
    again = load_model(save_model(est, tmp_path / "m.skalign"))
    assert type(again.encoder_) is type(est.encoder_)
    assert _state_equal(again.encoder_, est.encoder_)
    _assert_same_results(est, again, videos)


def test_unfitted_estimator_round_trips_its_parameters(tmp_path):
    est = ActionSegmenter(4, lambda_actions=None, n_frames=None, random_state=3, checkpoint="c.pt")
    again = load_model(save_model(est, tmp_path / "m.skalign"))
    assert again.get_params() == est.get_params()
    assert not hasattr(again, "encoder_")


def test_module_encoder_is_refused_with_a_clear_error(tmp_path, features):
    from skalign.encoders import MLPEncoder

    est = VideoAligner(encoder=MLPEncoder(6, 8), **{k: v for k, v in FAST.items() if k != "embedding_dim"})
    with pytest.raises(ValueError, match="encoder=MLPEncoder.*torch module.*joblib"):
        save_model(est, tmp_path / "m.skalign")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="VideoAligner"):
        save_model(object(), tmp_path / "m.skalign")


def test_save_is_atomic(tmp_path, features, monkeypatch):
    est = VideoAligner(**FAST).fit(features)
    path = tmp_path / "m.skalign"
    path.write_bytes(b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(est, path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.skalign"]


# ---------------------------------------------------------- no code is run
def _rewrite(path, *, meta=None, weights=None):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    if meta is not None:
        old = json.loads(members["model.json"])
        old.update(meta)
        members["model.json"] = json.dumps(old).encode()
    if weights is not None:
        members["weights.pt"] = weights
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_model_saved_before_decoders_aligns_as_it_did(tmp_path, features):
    # A file written before ``decoder`` existed holds align_lambda=None and
    # no decoder: it loads with the method's own decoder (DTW for gta), not
    # the semi-relaxed VAOT plan of today's default.
    from tslearn.metrics import dtw_path_from_metric

    est = VideoAligner("gta", **FAST).fit(features)
    path = save_model(est, tmp_path / "old.skalign")
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("model.json"))
    del meta["params"]["decoder"]
    meta["params"]["align_lambda"] = None
    _rewrite(path, meta=meta)
    old = load_model(path)
    assert old.decoder == "method" and old.align_lambda is None
    res = old.align(features[0], features[1])
    path_ref, _ = dtw_path_from_metric(res.cost, metric="precomputed")
    assert sorted(map(tuple, np.argwhere(res.plan > 0))) == sorted(path_ref)
    # today's files keep their decoder
    assert load_model(save_model(est, tmp_path / "new.skalign")).decoder == "auto"


def test_loading_runs_no_code_from_the_file(tmp_path, features):
    est = VideoAligner(**FAST).fit(features)
    marker = tmp_path / "marker"
    # a pickled object in place of the weights: torch.load(weights_only=True) refuses it
    evil = tmp_path / "evil_weights.skalign"
    save_model(est, evil)
    _rewrite(evil, weights=pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(ValueError, match="evil_weights.skalign"):
        load_model(evil)
    buf = io.BytesIO()
    torch.save({"encoder": {}, "arrays": {"x": _Evil(marker)}}, buf)
    _rewrite(evil, weights=buf.getvalue())
    with pytest.raises(ValueError, match="evil_weights.skalign"):
        load_model(evil)
    assert not marker.exists()
    # classes named by the file are never imported
    for meta in ({"estimator": "os.system"}, {"encoder": {"class": "subprocess.Popen", "kwargs": {}}}):
        path = tmp_path / "evil_class.skalign"
        save_model(est, path)
        _rewrite(path, meta=meta)
        with pytest.raises(ValueError, match="evil_class.skalign"):
            load_model(path)
    # not a model file at all: a pickle is refused, not unpickled
    pkl = tmp_path / "model.joblib"
    pkl.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(ValueError, match="not a skalign model file"):
        load_model(pkl)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match="is a directory"):
        load_model(tmp_path)


# -------------------------------------------------------- checkpoint / resume
@pytest.mark.parametrize("make", [
    lambda **kw: VideoAligner(**{**FAST, **kw}),
    lambda **kw: ActionSegmenter(3, **{**FAST, **kw}),
    # VAVA's prior weight decays with the training step: the resumed fit
    # must continue the decay, not restart it.
    lambda **kw: VideoAligner("vava", psi_decay=0.5, **{**FAST, **kw}),
], ids=["VideoAligner", "ActionSegmenter", "vava"])
def test_fit_in_two_runs_resumes_bit_exactly(tmp_path, features, make):
    full = make(max_epochs=3).fit(features)
    ckpt = tmp_path / "run.ckpt"
    make(max_epochs=1, checkpoint=str(ckpt)).fit(features)
    assert ckpt.is_file()
    resumed = make(max_epochs=3, checkpoint=str(ckpt)).fit(features)
    assert _state_equal(resumed.encoder_, full.encoder_)
    assert resumed.history_["loss"] == full.history_["loss"]
    if hasattr(full, "action_embeddings_"):
        np.testing.assert_array_equal(resumed.action_embeddings_, full.action_embeddings_)


def test_interrupted_fit_resumes_from_the_checkpoint(tmp_path, features, monkeypatch):
    from skalign.engine import Trainer

    full = VideoAligner(**{**FAST, "max_epochs": 3}).fit(features)
    ckpt = tmp_path / "run.ckpt"
    original = Trainer.run_single_epoch

    def interrupt_in_epoch_3(self, epoch):
        if epoch == 2:  # 0-based: after two whole epochs
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "run_single_epoch", interrupt_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        VideoAligner(**{**FAST, "max_epochs": 3}, checkpoint=ckpt).fit(features)
    monkeypatch.setattr(Trainer, "run_single_epoch", original)

    loads = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    resumed = VideoAligner(**{**FAST, "max_epochs": 3}, checkpoint=ckpt).fit(features)
    assert loads and all(w is True for w in loads)  # the checkpoint is read weights-only
    assert len(resumed.history_) == 3
    assert _state_equal(resumed.encoder_, full.encoder_)


def test_checkpoint_is_read_weights_only_and_checked(tmp_path, features):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "skalign-checkpoint-1", "epoch": 1, "model": {}, "optimizer": {},
                "history": [], "seed": 0, "extra": _Evil(marker)}, evil)
    with pytest.raises(ValueError, match="evil.ckpt"):
        VideoAligner(**FAST, checkpoint=str(evil)).fit(features)
    assert not marker.exists()
    ckpt = tmp_path / "run.ckpt"
    VideoAligner(**{**FAST, "max_epochs": 2}, checkpoint=ckpt).fit(features)
    with pytest.raises(ValueError, match="different model"):
        VideoAligner(**{**FAST, "embedding_dim": 4}, checkpoint=ckpt).fit(features)
    with pytest.raises(ValueError, match="holds 2 epochs, more than max_epochs=1"):
        VideoAligner(**FAST, checkpoint=ckpt).fit(features)
    with pytest.raises(ValueError, match="is a directory"):
        VideoAligner(**FAST, checkpoint=tmp_path).fit(features)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoAligner(**FAST, checkpoint=tmp_path / "no" / "c.ckpt").fit(features)
    assert VideoAligner(checkpoint=os.fspath(ckpt)).get_params()["checkpoint"] == str(ckpt)
