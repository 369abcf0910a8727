"""The ``skalign`` command, run as a user would (in a subprocess)."""

import argparse
import csv
import subprocess
import sys

import joblib
import numpy as np
import pytest

from skalign import VideoAligner
from skalign.cli import build_parser, main
from skalign.datasets import make_process_videos


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "skalign", *args], capture_output=True, text=True, cwd=cwd,
                          env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PATH": ""}, timeout=600)


@pytest.mark.slow
def test_demo_prints_figures_and_writes_a_picture(tmp_path):
    out = _run("demo", "--out", str(tmp_path), "--epochs", "3")
    assert out.returncode == 0, out.stderr
    assert "Kendall tau" in out.stdout and "VAOT embeddings" in out.stdout
    png = tmp_path / "alignment.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png.resolve()}" in out.stdout
    # progress while it trains, on stderr
    assert "epoch 1/3" in out.stderr and "epoch 3/3" in out.stderr


def test_help_lists_the_commands():
    out = _run("--help")
    assert out.returncode == 0
    for cmd in ("demo", "fit", "align"):
        assert cmd in out.stdout


def test_fit_then_align_with_csv(tmp_path):
    videos, labels = make_process_videos(4, 3, n_frames=(30, 40), n_features=8, random_state=0)
    paths = []
    for i, v in enumerate(videos):
        p = tmp_path / f"v{i}.npy"
        np.save(p, v)
        paths.append(str(p))
    model = tmp_path / "m.joblib"
    assert main(["fit", *paths, "-o", str(model), "--epochs", "1", "--device", "cpu"]) == 0
    fitted = joblib.load(model)
    assert isinstance(fitted, VideoAligner)
    pairs = tmp_path / "pairs.csv"
    assert main(["align", str(model), paths[0], paths[1], "--csv", str(pairs)]) == 0
    rows = list(csv.reader(pairs.open()))
    assert rows[0] == ["frame_a", "frame_b"]
    got = np.array([int(r[1]) for r in rows[1:]])
    assert np.array_equal(got, fitted.align(videos[0], videos[1]).matches)


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["align", str(tmp_path / "missing.joblib"), "a.npy", "b.npy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.joblib" in err
    bad = tmp_path / "bad.npy"
    bad.write_text("not an array")
    assert main(["fit", str(bad), str(bad)]) == 2
    assert "bad.npy" in capsys.readouterr().err
    with pytest.raises(Exception):
        main(["--debug", "fit", str(bad), str(bad)])


def test_fit_segment_then_segment_writes_the_predicted_labels(tmp_path, capsys):
    from skalign import ActionSegmenter

    videos, _ = make_process_videos(4, 3, n_frames=(30, 40), n_features=8, random_state=1)
    paths = []
    for i, v in enumerate(videos):
        p = tmp_path / f"clip{i}.npy"
        np.save(p, v)
        paths.append(str(p))
    model = tmp_path / "seg.joblib"
    assert main(["fit", *paths, "--segment", "3", "-o", str(model), "--epochs", "1", "--device", "cpu"]) == 0
    fitted = joblib.load(model)
    assert isinstance(fitted, ActionSegmenter) and fitted.n_actions == 3
    out = tmp_path / "labels"
    capsys.readouterr()
    assert main(["segment", str(model), *paths[:2], "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for i, line in enumerate(lines):
        written = np.array([int(t) for t in (out / f"clip{i}.txt").read_text().split()])
        # the oracle: the estimator's own predict on the array the file holds
        expected = fitted.predict(videos[i])
        assert np.array_equal(written, expected)
        n_segments = 1 + int(np.count_nonzero(np.diff(expected)))
        assert line.startswith(paths[i]) and f"{len(videos[i])} frames" in line
        assert f"{n_segments} segments" in line


def test_segment_rejects_a_model_that_cannot_predict(tmp_path, capsys):
    videos, _ = make_process_videos(2, 3, n_frames=(30, 40), n_features=8, random_state=0)
    clip = tmp_path / "clip.npy"
    np.save(clip, videos[0])
    not_a_model = tmp_path / "aligner.joblib"
    joblib.dump({"weights": np.zeros(3)}, not_a_model)  # loads, but has no predict
    assert main(["segment", str(not_a_model), str(clip), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot segment" in err and "aligner.joblib" in err
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"\x00 not a pickle")
    assert main(["segment", str(garbage), str(clip)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "garbage.joblib" in err
    assert not (tmp_path / "clip.txt").exists()


def test_segment_help_and_bad_segment_count(tmp_path, capsys):
    out = _run("segment", "--help")
    assert out.returncode == 0 and "--out" in out.stdout
    videos, _ = make_process_videos(2, 3, n_frames=(30, 40), n_features=8, random_state=0)
    paths = []
    for i, v in enumerate(videos):
        np.save(tmp_path / f"v{i}.npy", v)
        paths.append(str(tmp_path / f"v{i}.npy"))
    assert main(["fit", *paths, "--segment", "0", "-o", str(tmp_path / "m.joblib")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--segment" in err
    assert not (tmp_path / "m.joblib").exists()


def _feature_files(tmp_path, n=3):
    videos, _ = make_process_videos(n, 3, n_frames=(30, 40), n_features=8, random_state=0)
    paths = []
    for i, v in enumerate(videos):
        np.save(tmp_path / f"v{i}.npy", v)
        paths.append(str(tmp_path / f"v{i}.npy"))
    return paths


def test_fit_shows_epoch_progress_unless_quiet(tmp_path):
    paths = _feature_files(tmp_path)
    model = str(tmp_path / "m.joblib")
    out = _run("fit", *paths, "-o", model, "--epochs", "2", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "epoch 1/2" in out.stderr and "epoch 2/2" in out.stderr and "loss=" in out.stderr
    assert "epoch 1/" not in out.stdout and f"wrote {model}" in out.stdout
    quiet = _run("fit", *paths, "-o", model, "--epochs", "2", "--device", "cpu", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "epoch 1/" not in quiet.stderr and "fitting" not in quiet.stderr
    assert f"wrote {model}" in quiet.stdout


def test_every_option_has_help():
    parser = build_parser()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subparsers) == 1
    commands = subparsers[0].choices
    assert {"demo", "fit", "align", "segment"} <= set(commands)
    missing = []
    for name, p in [("skalign", parser), *((f"skalign {k}", v) for k, v in commands.items())]:
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip():
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    for choice in subparsers[0]._choices_actions:  # the one-line help of each command
        assert choice.help.strip()
    for name in ("demo", "fit"):
        options = {s for a in commands[name]._actions for s in a.option_strings}
        assert {"--quiet", "-q", "--verbose", "-v", "--epochs"} <= options


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_below_one_is_refused(tmp_path, capsys, epochs):
    paths = _feature_files(tmp_path, n=2)
    model = tmp_path / "m.joblib"
    assert main(["fit", *paths, "-o", str(model), "--epochs", epochs]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--epochs" in err and epochs in err
    assert not model.exists()
    assert main(["demo", "--out", str(tmp_path), "--epochs", epochs]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--epochs" in err
    assert not (tmp_path / "alignment.png").exists()


def test_version_and_quiet_verbose_conflict(capsys):
    import skalign

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skalign {skalign.__version__}"
    with pytest.raises(SystemExit) as info:
        main(["fit", "a.npy", "b.npy", "-q", "-v"])
    assert info.value.code == 2
