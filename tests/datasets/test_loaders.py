"""Loaders on the real data in ../shared/data and on small written layouts."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from skalign.datasets import (
    load_action_segmentation,
    load_mocap6,
    load_phase_videos,
    make_process_videos,
    read_mapping,
    save_phase_videos,
)
from skalign.io import VideoCollection, read_video

# --------------------------------------------------------------------------
# Real data


def test_breakfast_coffee(shared_data):
    root = shared_data("breakfast-coffee")
    data = load_action_segmentation(root, activity="coffee")
    counts = {n: len(x) for n, x in zip(data.video_names, data.features)}
    assert sorted(counts.values()) == [271, 472, 571, 917, 1119]
    assert counts["P08_webcam01_P08_coffee"] == 271
    assert all(x.shape[1] == 64 for x in data.features)
    assert all(len(y) == len(x) for x, y in zip(data.features, data.labels))
    assert data.activities == ["coffee"] * 5
    # Oracle: parse the files here, independently.
    ids = {}
    for line in (root / "mapping" / "mapping.txt").read_text().splitlines():
        i, name = line.split()
        ids[name] = int(i)
    assert len(data.class_names) == 48 == len(ids)
    assert all(data.class_names[i] == n for n, i in ids.items())
    for name, x, y in zip(data.video_names, data.features, data.labels):
        truth = (root / "groundTruth" / name).read_text().split()
        np.testing.assert_array_equal(y, [ids[t] for t in truth])
        np.testing.assert_array_equal(x, np.loadtxt(root / "features" / "coffee" / f"{name}.txt"))
        # 2 to 5 actions and background (SIL, id 0)
        assert ids["SIL"] in y
    everything = load_action_segmentation(root)
    assert everything.video_names == data.video_names
    with pytest.raises(ValueError, match="no video of activity 'tea'.*coffee"):
        load_action_segmentation(root, activity="tea")


def test_mocap6(shared_data):
    folder = shared_data("mocap6")
    data = load_mocap6(folder)
    assert len(data.features) == 6
    assert all(x.shape[1] == 12 for x in data.features)
    assert [len(x) for x in data.features] == [382, 205, 251, 446, 387, 387]
    assert data.video_names == ["13_29", "13_30", "13_31", "14_06", "14_14", "14_20"]
    assert len(data.class_names) == 12 and data.fps == 10.0
    # Oracle: the per-time-step csv files beside the archive.
    with open(folder / "sensor_data_per_tstep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(folder / "actions_per_tstep.csv", newline="") as fh:
        actions = list(csv.DictReader(fh))
    assert data.channel_names == list(rows[0].keys())[2:]
    for s in range(6):
        seq_rows = [r for r in rows if int(r["seq_id"]) == s]
        expected = np.array([[float(r[c]) for c in data.channel_names] for r in seq_rows])
        np.testing.assert_allclose(data.features[s], expected, rtol=1e-9, atol=1e-9)
        names = [a["action_name"] for a in actions if int(a["seq_id"]) == s]
        assert [data.class_names[k] for k in data.labels[s]] == names
    assert min(y.min() for y in data.labels) == 0  # 0-based
    assert max(y.max() for y in data.labels) == 11
    # The same exercises recur across sequences.
    assert len(set(data.labels[0]) & set(data.labels[3])) >= 3


# --------------------------------------------------------------------------
# Small layouts written here


def _write_layout(root, videos, *, sub=None, mapping_at="mapping/mapping.txt", gt_suffix=""):
    """videos: {name: (features, [label names])}."""
    feat = root / "features" / sub if sub else root / "features"
    feat.mkdir(parents=True, exist_ok=True)
    (root / "groundTruth").mkdir(exist_ok=True)
    (root / mapping_at).parent.mkdir(parents=True, exist_ok=True)
    (root / mapping_at).write_text("0 SIL\n1 take_cup\n2 pour_milk\n-1 ignore_me\n")
    for name, (x, names) in videos.items():
        if name.endswith(".npy"):
            np.save(feat / name, x)
            name = name[:-4]
        else:
            np.savetxt(feat / f"{name}.txt", x)
        (root / "groundTruth" / f"{name}{gt_suffix}").write_text("\n".join(names) + "\n")


def test_layout_flat_and_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((3, 3))
    _write_layout(
        tmp_path,
        {"P01_tea": (a, ["SIL", "take_cup", "take_cup", "ignore_me"])},
        sub="tea",
    )
    _write_layout(tmp_path, {"P02_milk": (b, ["SIL", "pour_milk", "SIL"])}, sub="milk")
    data = load_action_segmentation(tmp_path)
    assert data.video_names == ["P02_milk", "P01_tea"]  # by activity, then name
    assert data.activities == ["milk", "tea"]
    np.testing.assert_allclose(data.features[1], a)
    assert data.labels[1].tolist() == [0, 1, 1, -1]
    assert data.labels[0].tolist() == [0, 2, 0]
    assert data.class_names == ["SIL", "take_cup", "pour_milk"]
    assert data.mapping["ignore_me"] == -1
    only = load_action_segmentation(tmp_path, activity=["tea"])
    assert only.video_names == ["P01_tea"]


def test_layout_flat_names_and_transposed_npy(tmp_path):
    rng = np.random.default_rng(1)
    long_ = rng.standard_normal((6, 2))  # 6 frames of 2 features, stored (2, 6)
    _write_layout(
        tmp_path,
        {
            "changing_tire_0001.npy": (long_.T, ["SIL"] * 3 + ["take_cup"] * 3),
            "P03_cam01_P03_tea": (rng.standard_normal((2, 2)), ["SIL", "SIL"]),
        },
        mapping_at="mapping.txt",
        gt_suffix=".txt",
    )
    data = load_action_segmentation(tmp_path, activity="changing_tire")
    assert data.video_names == ["changing_tire_0001"]
    np.testing.assert_array_equal(data.features[0], long_)
    assert data.activities == ["changing_tire"]
    tea = load_action_segmentation(tmp_path, activity="tea")
    assert tea.video_names == ["P03_cam01_P03_tea"]
    assert tea.features[0].shape == (2, 2)  # square: rows are frames


def test_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_action_segmentation(tmp_path / "none")
    _write_layout(tmp_path, {"v1": (np.zeros((3, 4)), ["SIL", "SIL"])})
    with pytest.raises(ValueError, match=r"'v1'.*3 frames.*2 labels"):
        load_action_segmentation(tmp_path)
    (tmp_path / "groundTruth" / "v1").write_text("SIL\nstir\nSIL\n")
    with pytest.raises(ValueError, match="class 'stir'"):
        load_action_segmentation(tmp_path)
    (tmp_path / "groundTruth" / "v1").unlink()
    with pytest.raises(ValueError, match="'v1'.*no ground-truth"):
        load_action_segmentation(tmp_path)
    (tmp_path / "mapping" / "mapping.txt").unlink()
    with pytest.raises(FileNotFoundError, match="mapping"):
        load_action_segmentation(tmp_path)


def test_read_mapping(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("0 a\n\n1 b c\n")
    assert read_mapping(path) == {"a": 0, "b c": 1}
    path.write_text("0 a\n0 b\n")
    with pytest.raises(ValueError, match="twice"):
        read_mapping(path)
    path.write_text("x a\n")
    with pytest.raises(ValueError, match="not an int"):
        read_mapping(path)
    path.write_text("0 a\n2 b\n")
    (tmp_path / "features").mkdir()
    (tmp_path / "groundTruth").mkdir()
    with pytest.raises(ValueError, match=r"0 \.\. n_classes - 1"):
        load_action_segmentation(tmp_path, mapping=path)


def test_mocap6_small_archive(tmp_path):
    x = np.arange(14.0).reshape(7, 2)
    path = tmp_path / "dataset.npz"
    np.savez(
        path, X=x, TrueZ=np.array([2, 2, 1, 1, 1, 3, 3]), doc_range=np.array([0, 2, 7]),
        true_state_names=np.array([b"Jog", b"Squat", b"Box"]),
    )
    data = load_mocap6(tmp_path)
    np.testing.assert_array_equal(data.features[0], x[:2])
    np.testing.assert_array_equal(data.features[1], x[2:])
    assert [y.tolist() for y in data.labels] == [[1, 1], [0, 0, 0, 2, 2]]
    assert data.class_names == ["Jog", "Squat", "Box"]
    assert data.video_names == ["sequence_0", "sequence_1"]
    np.savez(path, X=x, TrueZ=np.ones(7), doc_range=np.array([0, 5, 3]))
    with pytest.raises(ValueError, match="doc_range"):
        load_mocap6(path)
    np.savez(path, X=x, TrueZ=np.zeros(7), doc_range=np.array([0, 7]))
    with pytest.raises(ValueError, match="1-based"):
        load_mocap6(path)
    np.savez(path, X=x, doc_range=np.array([0, 7]))
    with pytest.raises(ValueError, match="TrueZ"):
        load_mocap6(path)
    with pytest.raises(FileNotFoundError):
        load_mocap6(tmp_path / "elsewhere.npz")


def test_phase_videos_round_trip(tmp_path):
    videos, labels = make_process_videos(
        3, 3, kind="frames", n_frames=(12, 16), size=32, background=0.1, noise=0.0,
        random_state=0,
    )
    paths = save_phase_videos(
        tmp_path, videos, labels, fps=8, names=["a", "b", "c"],
        class_names=["reach", "grasp", "pour"],
    )
    assert [p.name for p in paths] == ["a.mp4", "b.mp4", "c.mp4"]
    lazy = load_phase_videos(tmp_path)
    assert isinstance(lazy.videos, VideoCollection)
    assert lazy.video_names == ["a", "b", "c"]
    assert lazy.class_names == ["reach", "grasp", "pour"]
    eager = load_phase_videos(tmp_path, lazy=False)
    for i in range(3):
        np.testing.assert_array_equal(lazy.labels[i], labels[i])
        np.testing.assert_array_equal(eager.videos[i], read_video(paths[i]))
        np.testing.assert_array_equal(lazy.videos[i], eager.videos[i])
        assert eager.videos[i].shape == videos[i].shape
        assert np.abs(eager.videos[i].astype(int) - videos[i].astype(int)).mean() < 6
    small = load_phase_videos(tmp_path, size=16, lazy=False)
    assert small.videos[0].shape[1:] == (16, 16, 3)


def test_phase_videos_features_and_errors(tmp_path):
    videos, labels = make_process_videos(2, 2, n_frames=10, random_state=0)
    save_phase_videos(tmp_path, videos, labels)
    data = load_phase_videos(tmp_path, lazy=False)
    for i in range(2):
        np.testing.assert_array_equal(data.videos[i], videos[i])
    assert data.class_names is None
    (tmp_path / "labels" / "video_001.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match=r"'video_001'.*10 frames but 2 labels"):
        load_phase_videos(tmp_path, lazy=False)
    (tmp_path / "labels" / "video_001.txt").write_text("0\nx\n")
    with pytest.raises(ValueError, match="video_001.txt"):
        load_phase_videos(tmp_path)
    (tmp_path / "labels" / "video_001.txt").unlink()
    with pytest.raises(ValueError, match="'video_001'.*no label file"):
        load_phase_videos(tmp_path)
    with pytest.raises(ValueError, match=r"labels\[0\]"):
        save_phase_videos(tmp_path / "o", videos, [labels[0][:3], labels[1]])
    with pytest.raises(FileNotFoundError, match="videos"):
        load_phase_videos(tmp_path / "labels")
