"""``skalign features`` and ``skalign fit``/``align`` on video files, as a user runs them."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from skalign import FrameFeatures
from skalign.cli import main
from skalign.datasets import make_process_videos
from skalign.io import write_video
from skalign.persist import load_model


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    frames, _ = make_process_videos(6, 3, kind="frames", n_frames=(20, 26), size=48, random_state=0)
    return [str(write_video(folder / f"clip{i}.mp4", f, fps=25)) for i, f in enumerate(frames)]


def test_features_writes_one_npy_per_video_and_skips_what_is_done(weights, clips, tmp_path, capsys):
    out = tmp_path / "feats"
    args = ["features", *clips[:3], "--out", str(out), "--weights", weights, "--size", "64",
            "--device", "cpu"]
    assert main(args) == 0
    text = capsys.readouterr()
    assert "wrote 3 feature files" in text.out and "frames/s" in text.err  # progress by default
    ff = FrameFeatures(weights=weights, size=64, device="cpu").fit()
    for clip in clips[:3]:
        stem = os.path.splitext(os.path.basename(clip))[0]
        np.testing.assert_array_equal(np.load(out / f"{stem}.npy"), ff.transform(clip))
    assert main(args + ["-q"]) == 0
    text = capsys.readouterr()
    assert "wrote 0 feature files" in text.out and "3 already up to date" in text.out
    assert text.err == ""


def test_features_killed_half_way_resumes(weights, clips, tmp_path):
    out = tmp_path / "feats"
    out.mkdir()
    cmd = [sys.executable, "-m", "skalign", "features", *clips, "--out", str(out), "--weights", weights,
           "--size", "64", "--device", "cpu", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 300
    while not (out / "clip0.npy").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.name for p in out.glob("*.npy")}
    assert "clip0.npy" in done
    print(f"killed with {len(done)} of {len(clips)} written")
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"wrote {len(clips) - len(done)} feature files" in again.stdout
    assert f"({len(done)} already up to date)" in again.stdout
    assert sorted(p.name for p in out.glob("*.npy")) == [f"clip{i}.npy" for i in range(len(clips))]


def test_fit_on_video_files_caches_features_then_aligns(weights, clips, tmp_path, capsys):
    model, cache = tmp_path / "m.skalign", tmp_path / "cache"
    args = ["fit", *clips[:4], "-o", str(model), "--epochs", "1", "--device", "cpu", "--weights", weights,
            "--size", "64", "--cache-dir", str(cache)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("frames/s") == 4 and "epoch 1/1" in err
    assert len(list(cache.glob("*.npy"))) == 4
    assert main(args + ["--force"]) == 0
    assert capsys.readouterr().err.count("cached") == 4
    fitted = load_model(model)
    assert fitted.features_.size == 64 and fitted.input_kind_ == "frames"
    pairs = tmp_path / "pairs.csv"
    assert main(["align", str(model), clips[4], clips[5], "--csv", str(pairs)]) == 0
    got = np.array([int(r[1]) for r in list(csv.reader(pairs.open()))[1:]])
    np.testing.assert_array_equal(got, fitted.align(clips[4], clips[5]).matches)


def test_fit_with_the_conv_encoder_reads_frames_at_size(clips, tmp_path, capsys):
    model = tmp_path / "m.skalign"
    assert main(["fit", *clips[:3], "-o", str(model), "--epochs", "1", "--device", "cpu",
                 "--encoder", "conv", "--size", "32", "-q"]) == 0
    fitted = load_model(model)
    assert fitted.features_ is None and fitted.frame_shape_ == (32, 32, 3)
    assert main(["align", str(model), clips[3], clips[4]]) == 0
    assert "frames," in capsys.readouterr().out


def test_missing_weights_file_is_one_line(clips, tmp_path, capsys):
    assert main(["fit", *clips[:2], "-o", str(tmp_path / "m.skalign"), "--weights",
                 str(tmp_path / "none.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.pth: file not found" in err
    assert not (tmp_path / "m.skalign").exists()


def test_sync_writes_the_grid_of_the_models_timeline(weights, clips, tmp_path, capsys):
    from skalign.io import read_video, video_info

    model = tmp_path / "m.skalign"
    assert main(["fit", *clips[:4], "-o", str(model), "--epochs", "1", "--device", "cpu", "--weights",
                 weights, "--size", "64", "--no-cache", "-q"]) == 0
    grid, table = tmp_path / "grid.mp4", tmp_path / "timeline.csv"
    assert main(["sync", str(model), *clips[2:6], "--out", str(grid), "--csv", str(table),
                 "--reference", clips[3], "--tile", "48"]) == 0
    text = capsys.readouterr()
    assert f"the frames of {clips[3]}" in text.out and f"wrote {grid}" in text.out
    assert "steps/s" in text.err or "%" in text.err  # progress on stderr
    timeline = load_model(model).align_many(clips[2:6], reference=1)
    rows = list(csv.reader(table.open()))
    assert rows[0] == ["step", *clips[2:6]]
    got = np.array([[int(x) for x in r[1:]] for r in rows[1:]])
    np.testing.assert_array_equal(got, np.stack(timeline.frames, axis=1))
    assert video_info(grid).n_frames == timeline.n_steps == len(read_video(clips[3]))
    assert read_video(grid).shape[1:3] == (96, 96)  # 2 x 2 tiles of 48 pixels
    # the output exists now: refused without --force, the file untouched
    before = grid.stat().st_mtime_ns
    assert main(["sync", str(model), *clips[2:4], "--out", str(grid)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and grid.stat().st_mtime_ns == before


def test_sync_refuses_before_any_work(weights, clips, tmp_path, capsys):
    feats = tmp_path / "f.npy"
    np.save(feats, np.zeros((10, 4), np.float32))
    model = tmp_path / "m.skalign"
    cases = [
        (["sync", str(model), clips[0], clips[1], "--out", clips[1]], "is the input"),
        (["sync", str(model), clips[0], str(feats), "--out", str(tmp_path / "g.mp4")], "is a feature file"),
        (["sync", str(model), clips[0], "--out", str(tmp_path / "g.mp4")], "at least two video files"),
        (["sync", str(model), clips[0], clips[1], "--out", str(tmp_path / "g.png")], "write a video file"),
        (["sync", str(model), clips[0], clips[1], "--out", str(tmp_path / "no" / "g.mp4")],
         "does not exist"),
        (["sync", str(model), clips[0], clips[1], "--out", str(tmp_path / "g.mp4"), "--reference", "7"],
         "--reference 7 is not the index"),
        (["sync", str(model), clips[0], clips[1], "--out", str(tmp_path / "g.mp4")], "model file not found"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)
    assert not list(tmp_path.glob("g.*"))
    # a model fitted on feature files has no frames to show
    np.save(tmp_path / "g0.npy", np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32))
    np.save(tmp_path / "g1.npy", np.random.default_rng(1).standard_normal((12, 4)).astype(np.float32))
    assert main(["fit", str(tmp_path / "g0.npy"), str(tmp_path / "g1.npy"), "-o", str(model), "--epochs",
                 "1", "--device", "cpu", "-q"]) == 0
    assert main(["sync", str(model), clips[0], clips[1], "--out", str(tmp_path / "g.mp4")]) == 2
    assert "fitted on feature files" in capsys.readouterr().err


def test_sync_phases_draws_the_joint_models_actions(weights, clips, tmp_path, capsys):
    from skalign import FrameFeatures, JointAlignSegment
    from skalign.io import read_video
    from skalign.io._sync import _strip_height
    from skalign.persist import save_model

    stage = FrameFeatures(weights=weights, size=64, device="cpu")
    joint = JointAlignSegment(2, features=stage, embedding_dim=8, max_epochs=1, device="cpu",
                              random_state=0).fit(clips[:3])
    model = save_model(joint, tmp_path / "joint.skalign")
    grid = tmp_path / "grid.mp4"
    assert main(["sync", str(model), *clips[:2], "--out", str(grid), "--tile", "48", "--phases",
                 "-q"]) == 0
    assert capsys.readouterr().err == ""
    height = 48 + _strip_height(48)
    assert read_video(grid).shape[1] == height + height % 2
