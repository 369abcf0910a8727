"""load_video and VideoCollection."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold, cross_validate, train_test_split

from skalign.io import VideoCollection, load_video, read_features, read_video, write_video


def test_load_video_arrays():
    ints = np.arange(12).reshape(4, 3)
    got = load_video(ints)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, ints)
    f32 = np.ones((3, 2), dtype=np.float32)
    assert load_video(f32) is f32  # nothing to convert: not copied
    frames = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    assert load_video(frames) is frames
    t = torch.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(load_video(t), t.numpy())
    np.testing.assert_array_equal(load_video([[1.0, 2.0], [3.0, 4.0]]), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_video(ints, frame_indices=[3, 0]), ints[[3, 0]])


def test_load_video_paths(tmp_path, make_levels):
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.save(tmp_path / "f.npy", x)
    np.savetxt(tmp_path / "f.txt", x, fmt="%.18e")
    np.testing.assert_array_equal(load_video(tmp_path / "f.npy"), x)
    np.testing.assert_array_equal(load_video(str(tmp_path / "f.txt")), x)
    some = load_video(tmp_path / "f.npy", frame_indices=[4, 4, 0])
    np.testing.assert_array_equal(some, x[[4, 4, 0]])
    path = write_video(tmp_path / "v.mp4", make_levels(6), 6)
    np.testing.assert_array_equal(load_video(path), read_video(path))
    np.testing.assert_array_equal(load_video(path, fps=3), read_video(path)[::2])
    np.testing.assert_array_equal(load_video(path, frame_indices=[5]), read_video(path)[[5]])
    assert load_video(path, size=(8, 6), max_frames=2).shape == (2, 8, 6, 3)


@pytest.mark.parametrize(
    "video, match",
    [
        (np.zeros((4, 8, 8)), r"videos\[2\] has shape \(4, 8, 8\)"),
        (np.zeros((8, 8, 3), dtype=np.uint8), r"videos\[2\] has shape \(8, 8, 3\)"),
        (np.zeros(5), r"videos\[2\] has shape \(5,\)"),
        (np.zeros((2, 3, 8, 8), dtype=np.uint8), "channels-last"),
        (np.zeros((2, 8, 8, 3), dtype=np.float32), "uint8"),
        (np.array([[1.0, np.nan], [np.inf, 0.0]]), "2 non-finite .* first in frame 0"),
        (np.array([["a", "b"]]), "real numbers"),
        (np.zeros((3, 0)), "no feature"),
        (np.zeros((1, 4)), "1 frame"),
        (None, "NoneType"),
    ],
)
def test_load_video_errors_name_the_video(video, match):
    with pytest.raises(ValueError, match=match):
        load_video(video, name="videos[2]", min_frames=2)


def test_load_video_file_errors_name_video_and_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"videos\[1\].*missing.mp4"):
        load_video(tmp_path / "missing.mp4", name="videos[1]")
    bad = tmp_path / "bad.mp4"
    bad.write_text("no video here")
    with pytest.raises(ValueError, match=r"videos\[1\].*bad.mp4"):
        load_video(bad, name="videos[1]")
    np.save(tmp_path / "nan.npy", np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"videos\[1\] \(.*nan.npy\).*non-finite"):
        load_video(tmp_path / "nan.npy", name="videos[1]")
    with pytest.raises(ValueError, match=r"frame_indices holds 9 but .*has 2 frames"):
        load_video(np.zeros((2, 3)), frame_indices=[9])


@pytest.fixture
def feature_files(tmp_path):
    """Six .npy files, video i has i + 2 frames of value i."""
    paths = []
    for i in range(6):
        p = tmp_path / f"v{i}.npy"
        np.save(p, np.full((i + 2, 3), float(i)))
        paths.append(p)
    return paths


def test_collection_indexing(feature_files):
    c = VideoCollection(feature_files)
    assert len(c) == 6
    for i in range(6):
        np.testing.assert_array_equal(c[i], np.load(feature_files[i]))
    np.testing.assert_array_equal(c[-1], np.load(feature_files[5]))
    assert isinstance(c[1:4], VideoCollection)
    assert c[1:4].paths == tuple(feature_files[1:4])
    assert c[::-2].paths == tuple(feature_files[::-2])
    assert c[[4, 0, 4]].paths == (feature_files[4], feature_files[0], feature_files[4])
    assert c[np.array([1, -1])].paths == (feature_files[1], feature_files[5])
    mask = np.array([True, False, False, True, False, True])
    assert c[mask].paths == (feature_files[0], feature_files[3], feature_files[5])
    assert len(c[[]]) == 0
    assert [v.shape[0] for v in c] == [2, 3, 4, 5, 6, 7]
    with pytest.raises(IndexError):
        c[6]
    with pytest.raises(IndexError):
        c[[0, 9]]
    with pytest.raises(IndexError):
        c[mask[:3]]


def test_collection_is_picklable_and_compares(feature_files):
    c = VideoCollection(feature_files, fps=5, size=8)
    back = pickle.loads(pickle.dumps(c))
    assert back == c and back.fps == 5 and back.size == 8
    assert back[2:].fps == 5  # options travel with slices
    assert c != VideoCollection(feature_files)
    assert "v0.npy" in repr(c) and "fps=5" in repr(c)


def test_sklearn_splits_stay_lazy(feature_files):
    c = VideoCollection(feature_files)
    train, test = train_test_split(c, test_size=2, random_state=0)
    assert isinstance(train, VideoCollection) and isinstance(test, VideoCollection)
    assert sorted(train.paths + test.paths) == sorted(feature_files)

    class Recorder(BaseEstimator):
        def fit(self, X, y=None):
            self.seen_ = X
            return self

        def score(self, X, y=None):
            return float(isinstance(X, VideoCollection))

    res = cross_validate(Recorder(), c, cv=KFold(3), return_estimator=True)
    assert all(isinstance(est.seen_, VideoCollection) for est in res["estimator"])
    assert [len(est.seen_) for est in res["estimator"]] == [4, 4, 4]
    assert list(res["test_score"]) == [1.0, 1.0, 1.0]


def test_collection_reads_videos_with_options(tmp_path, make_levels):
    paths = [write_video(tmp_path / f"c{i}.mp4", make_levels(10 + 2 * i), 10) for i in range(2)]
    np.save(tmp_path / "f.npy", np.arange(8.0).reshape(4, 2))
    c = VideoCollection(paths + [tmp_path / "f.npy"], fps=5, size=(8, 8), max_frames=5)
    for i in range(2):
        ref = read_video(paths[i], fps=5, size=(8, 8), max_frames=5)
        np.testing.assert_array_equal(c[i], ref)
        assert c.n_frames(i) == len(ref)
        np.testing.assert_array_equal(c.load(i, frame_indices=[4, 1]), ref[[4, 1]])
    # feature files are read as they are
    np.testing.assert_array_equal(c[2], read_features(tmp_path / "f.npy"))
    assert c.n_frames(2) == 4
    np.testing.assert_array_equal(c.load(2, frame_indices=[3]), [[6.0, 7.0]])


def test_collection_from_folder_and_errors(tmp_path, feature_files):
    (tmp_path / ".hidden.npy").write_bytes(b"")
    c = VideoCollection.from_folder(tmp_path, "*.npy")
    assert c.paths == tuple(sorted(feature_files))
    with pytest.raises(TypeError, match="single path"):
        VideoCollection(str(tmp_path))
    with pytest.raises(TypeError, match=r"paths\[1\]"):
        VideoCollection([feature_files[0], 3])
    with pytest.raises(FileNotFoundError):
        VideoCollection.from_folder(tmp_path / "nowhere")
    missing = VideoCollection([tmp_path / "gone.npy"])
    with pytest.raises(FileNotFoundError, match=r"videos\[0\].*gone.npy"):
        missing[0]
