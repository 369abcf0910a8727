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
