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
from skalign.persist import load_model


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
    # The raw-feature baseline row, recomputed here: the papers' metrics of
    # the held-out videos and exact DTW alignment (tslearn's path).
    from tslearn.metrics import dtw_path_from_metric

    from skalign.metrics import (
        alignment_accuracy,
        average_precision_at_k,
        kendalls_tau,
        phase_classification_accuracy,
        phase_progression,
    )

    kw = dict(n_frames=(80, 120), n_features=32, process=0)
    train, train_labels = make_process_videos(12, 6, random_state=0, **kw)
    test, test_labels = make_process_videos(6, 6, random_state=1000, **kw)
    pc = phase_classification_accuracy(train, train_labels, test, test_labels, fractions=(0.1, 1.0),
                                       random_state=0)
    accs = []
    for i in range(6):
        for j in range(6):
            if i != j:
                a = test[i] / np.linalg.norm(test[i], axis=1, keepdims=True)
                b = test[j] / np.linalg.norm(test[j], axis=1, keepdims=True)
                cost = 1.0 - a.astype(np.float64) @ b.T.astype(np.float64)
                path, _ = dtw_path_from_metric(cost, metric="precomputed")
                matches = np.full(len(a), -1)
                for p, q in path:  # the closest frame of b among those on the path
                    if matches[p] < 0 or cost[p, q] < cost[p, matches[p]]:
                        matches[p] = q
                accs.append(alignment_accuracy(matches, test_labels[i], test_labels[j]))
    want = [kendalls_tau(test), pc[0.1], pc[1.0], phase_progression(train, train_labels, test, test_labels),
            average_precision_at_k(test, test_labels, k=5)[5], np.mean(accs)]
    line = next(ln for ln in out.stdout.splitlines() if "raw features (DTW)" in ln)
    got = [float(v) for v in line.split(")")[-1].split()]
    np.testing.assert_allclose(got, want, atol=6e-4)


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
    model = tmp_path / "m.skalign"
    assert main(["fit", *paths, "-o", str(model), "--epochs", "1", "--device", "cpu"]) == 0
    fitted = load_model(model)
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
    model = tmp_path / "seg.skalign"
    assert main(["fit", *paths, "--segment", "3", "-o", str(model), "--epochs", "1", "--device", "cpu"]) == 0
    fitted = load_model(model)
    assert isinstance(fitted, ActionSegmenter) and fitted.n_actions == 3
    out = tmp_path / "labels"
    capsys.readouterr()
    assert main(["segment", str(model), *paths[:2], "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for i, line in enumerate(lines):
        written = np.array([int(t) for t in (out / f"clip{i}.labels.txt").read_text().split()])
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
    assert main(["segment", str(not_a_model), str(clip), "--out", str(tmp_path), "--trust-pickle"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot segment" in err and "aligner.joblib" in err
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"\x00 not a pickle")
    assert main(["segment", str(garbage), str(clip)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "garbage.joblib" in err
    assert not (tmp_path / "clip.txt").exists() and not (tmp_path / "clip.labels.txt").exists()


def test_segment_help_and_bad_segment_count(tmp_path, capsys):
    out = _run("segment", "--help")
    assert out.returncode == 0 and "--out" in out.stdout
    videos, _ = make_process_videos(2, 3, n_frames=(30, 40), n_features=8, random_state=0)
    paths = []
    for i, v in enumerate(videos):
        np.save(tmp_path / f"v{i}.npy", v)
        paths.append(str(tmp_path / f"v{i}.npy"))
    for bad in ("0", "many"):
        assert main(["fit", *paths, "--segment", bad, "-o", str(tmp_path / "m.skalign")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "--segment must be a number of actions >= 1 or 'auto'" in err
    assert not (tmp_path / "m.skalign").exists()


def test_fit_segment_auto_chooses_k_and_says_so(tmp_path, capsys):
    from skalign import ActionSegmenter
    from skalign._segmenter import count_segments

    videos, _ = make_process_videos(3, 3, n_frames=(30, 40), n_features=8, random_state=1)
    paths = []
    for i, v in enumerate(videos):
        np.save(tmp_path / f"v{i}.npy", v)
        paths.append(str(tmp_path / f"v{i}.npy"))
    model = tmp_path / "seg.skalign"
    assert main(["fit", *paths, "--segment", "auto", "-o", str(model), "--epochs", "1", "--device",
                 "cpu", "-q"]) == 0
    out = capsys.readouterr().out
    fitted = load_model(model)
    assert fitted.n_actions == "auto" and list(fitted.search_["n_actions"]) == list(range(2, 13))
    counts = [count_segments(v) for v in videos]
    assert f"chose {fitted.n_actions_} actions" in out and " ".join(map(str, counts)) in out
    assert fitted.n_actions_ == int(np.clip(np.rint(np.median(counts)), 2, 12))
    # the oracle: the same fit in Python
    again = ActionSegmenter("auto", max_epochs=1, device="cpu", random_state=0).fit(videos)
    assert again.n_actions_ == fitted.n_actions_
    np.testing.assert_allclose(again.action_embeddings_, fitted.action_embeddings_, atol=1e-6)


def _feature_files(tmp_path, n=3):
    videos, _ = make_process_videos(n, 3, n_frames=(30, 40), n_features=8, random_state=0)
    paths = []
    for i, v in enumerate(videos):
        np.save(tmp_path / f"v{i}.npy", v)
        paths.append(str(tmp_path / f"v{i}.npy"))
    return paths


def test_fit_shows_epoch_progress_unless_quiet(tmp_path):
    paths = _feature_files(tmp_path)
    model = str(tmp_path / "m.skalign")
    out = _run("fit", *paths, "-o", model, "--epochs", "2", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "epoch 1/2" in out.stderr and "epoch 2/2" in out.stderr and "loss=" in out.stderr
    assert "epoch 1/" not in out.stdout and f"wrote {model}" in out.stdout
    quiet = _run("fit", *paths, "-o", model, "--epochs", "2", "--device", "cpu", "--quiet", "--force")
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


# ------------------------------------------------- issue 14: safe outputs, safe models
def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def fitted_models(tmp_path_factory):
    """Feature files and a fitted aligner and segmenter (.skalign), written once."""
    folder = tmp_path_factory.mktemp("models")
    paths = _feature_files(folder)
    common = ["--epochs", "1", "--device", "cpu", "--quiet"]
    assert main(["fit", *paths, "-o", str(folder / "al.skalign"), *common]) == 0
    assert main(["fit", *paths, "--segment", "3", "-o", str(folder / "seg.skalign"), *common]) == 0
    return folder, paths


def test_case1_segment_in_a_folder_of_txt_inputs_leaves_them_unchanged(tmp_path, fitted_models, monkeypatch,
                                                                       capsys):
    folder, paths = fitted_models
    for i, p in enumerate(paths):
        np.savetxt(tmp_path / f"f{i}.txt", np.load(p))
    monkeypatch.chdir(tmp_path)
    inputs = _snapshot(tmp_path)
    model = str(folder / "seg.skalign")
    assert main(["segment", model, "f0.txt", "f1.txt", "f2.txt"]) == 0  # default --out .
    assert {k: v for k, v in _snapshot(tmp_path).items() if k in inputs} == inputs
    labels = np.loadtxt(tmp_path / "f0.labels.txt", dtype=np.int64)
    assert np.array_equal(labels, load_model(model).predict(np.loadtxt(tmp_path / "f0.txt")))
    capsys.readouterr()
    # a second run: the label files exist, refused without --force, replaced with it
    assert main(["segment", model, "f0.txt"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "f0.labels.txt exists" in err and "--force" in err
    assert main(["segment", model, "f0.txt", "--force"]) == 0
    # an input that is another input's label file is never replaced
    before = _snapshot(tmp_path)
    assert main(["segment", model, "f1.txt", "f1.labels.txt", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert "f1.labels.txt is the input" in err and "never writes over" in err
    assert _snapshot(tmp_path) == before


def test_case1_same_stem_in_two_folders_is_refused_naming_both(tmp_path, fitted_models, capsys):
    folder, paths = fitted_models
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "x.npy", np.load(paths[0]))
    d1, d2 = str(tmp_path / "d1" / "x.npy"), str(tmp_path / "d2" / "x.npy")
    out = tmp_path / "labels"
    assert main(["segment", str(folder / "seg.skalign"), d1, d2, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and d1 in err and d2 in err and "x.labels.txt" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_case2_output_that_is_an_input_is_refused(tmp_path, fitted_models, capsys):
    folder, _ = fitted_models
    paths = _feature_files(tmp_path, n=2)
    before = _snapshot(tmp_path)
    assert main(["fit", *paths, "-o", paths[0], "--epochs", "1", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.count(paths[0]) == 2 and "never writes over" in err
    assert main(["align", str(folder / "al.skalign"), *paths, "--csv", paths[1], "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"--csv {paths[1]} is the input {paths[1]}" in err
    link = tmp_path / "link.npy"  # another name of an input
    link.symlink_to(paths[0])
    assert main(["align", str(folder / "al.skalign"), *paths, "--plot", str(link), "--force"]) == 2
    assert "is the input" in capsys.readouterr().err
    assert main(["align", str(folder / "al.skalign"), *paths, "--csv", str(folder / "al.skalign"),
                 "--force"]) == 2
    assert "is the input" in capsys.readouterr().err
    link.unlink()
    assert _snapshot(tmp_path) == before


def test_case2_existing_output_needs_force_and_is_replaced_atomically(tmp_path, fitted_models, capsys):
    folder, _ = fitted_models
    paths = _feature_files(tmp_path, n=2)
    existing = tmp_path / "existing.skalign"
    existing.write_bytes(b"keep me")
    args = ["fit", *paths, "-o", str(existing), "--epochs", "1", "--device", "cpu", "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "existing.skalign exists; pass --force" in err
    assert existing.read_bytes() == b"keep me"
    assert main([*args, "--force"]) == 0
    assert isinstance(load_model(existing), VideoAligner)
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("old")
    assert main(["align", str(folder / "al.skalign"), *paths, "--csv", str(csv_file)]) == 2
    assert csv_file.read_text() == "old"
    assert main(["align", str(folder / "al.skalign"), *paths, "--csv", str(csv_file), "--force"]) == 0
    assert csv_file.read_text().startswith("frame_a,frame_b")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or "tmp" in p.name]
    assert leftovers == []


def test_case2_interrupted_model_write_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    paths = _feature_files(tmp_path, n=2)
    existing = tmp_path / "m.skalign"
    existing.write_bytes(b"old model")
    import zipfile

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    argv = ["fit", *paths, "-o", str(existing), "--epochs", "1", "--device", "cpu", "-q", "--force"]
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == "skalign fit: interrupted"
    assert existing.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skalign", "v0.npy", "v1.npy"]


def test_case3_missing_folder_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from skalign import ActionSegmenter

    paths = _feature_files(tmp_path, n=2)
    calls = []
    monkeypatch.setattr(VideoAligner, "fit", lambda self, *a, **k: calls.append(1))
    monkeypatch.setattr(ActionSegmenter, "fit", lambda self, *a, **k: calls.append(1))
    for extra in ([], ["--segment", "2"]):
        assert main(["fit", *paths, "-o", str(tmp_path / "missing_dir" / "m.skalign"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "missing_dir" in err and "does not exist" in err
    assert main(["fit", *paths, "--checkpoint", str(tmp_path / "nope" / "c.ckpt")]) == 2
    assert "nope" in capsys.readouterr().err
    assert calls == []  # the fit never ran
    assert main(["segment", str(tmp_path / "m.skalign"), paths[0], "--out", paths[0]]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_case3_directory_as_output_is_a_one_line_error(tmp_path, fitted_models, monkeypatch, capsys):
    folder, _ = fitted_models
    paths = _feature_files(tmp_path, n=2)
    monkeypatch.chdir(tmp_path)
    for argv in (["fit", *paths, "-o", "."],
                 ["align", str(folder / "al.skalign"), *paths, "--csv", "."],
                 ["align", str(folder / "al.skalign"), *paths, "--plot", str(tmp_path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "is a directory" in err and "Traceback" not in err


def test_case3_sigint_during_fit_is_one_line_exit_130_and_no_output(tmp_path):
    import signal
    import time

    paths = _feature_files(tmp_path, n=3)
    model = tmp_path / "m.skalign"
    ckpt = tmp_path / "run.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "skalign", "fit", *paths, "-o", str(model),
                             "--epochs", "100000", "--device", "cpu", "--checkpoint", str(ckpt)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"OMP_NUM_THREADS": "1", "PATH": ""})
    lines = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
            if line.startswith("epoch 1/"):
                break
        proc.send_signal(signal.SIGINT)
        try:
            out, rest = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, rest = proc.communicate()
            pytest.fail("no exit 120 s after SIGINT; stderr:\n" + "".join(lines) + rest[-3000:])
    finally:
        proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    after = [ln for ln in rest.splitlines() if ln.strip() and not ln.startswith("epoch ")]
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert after[-1] == "skalign fit: interrupted"
    assert not model.exists() and "wrote" not in out
    # the checkpoint keeps the epochs done, and the same command resumes from it
    assert ckpt.is_file() and not (tmp_path / "run.ckpt.tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt", "v0.npy", "v1.npy", "v2.npy"]


def test_case3_fit_checkpoint_resumes_to_the_uninterrupted_model(tmp_path, capsys):
    paths = _feature_files(tmp_path, n=3)
    common = ["--device", "cpu", "--seed", "3"]
    ckpt = str(tmp_path / "run.ckpt")
    assert main(["fit", *paths, "-o", str(tmp_path / "full.skalign"), "--epochs", "3", "-q", *common]) == 0
    assert main(["fit", *paths, "-o", str(tmp_path / "part.skalign"), "--epochs", "1", "-q",
                 "--checkpoint", ckpt, *common]) == 0
    capsys.readouterr()
    assert main(["fit", *paths, "-o", str(tmp_path / "resumed.skalign"), "--epochs", "3",
                 "--checkpoint", ckpt, *common]) == 0
    err = capsys.readouterr().err
    assert f"resuming from the checkpoint {ckpt}" in err and "epoch 1/3" not in err and "epoch 3/3" in err
    full, resumed = load_model(tmp_path / "full.skalign"), load_model(tmp_path / "resumed.skalign")
    for (k, a), (_, b) in zip(full.encoder_.state_dict().items(), resumed.encoder_.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    assert main(["fit", *paths, "-o", ckpt, "--checkpoint", ckpt, "--force"]) == 2
    assert "same file" in capsys.readouterr().err


def _evil_pickle(path, marker):
    import pickle

    class_code = (open, (str(marker), "w"))  # unpickling calls open(marker, "w")

    class Evil:
        def __reduce__(self):
            return class_code

    path.write_bytes(pickle.dumps(Evil()))


def test_case4_pickle_model_is_refused_without_running_it(tmp_path, fitted_models, capsys):
    folder, paths = fitted_models
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.joblib"
    _evil_pickle(evil, marker)
    assert main(["align", str(evil), paths[0], paths[1]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "evil.joblib is a pickle" in err and "runs any code" in err
    assert "--trust-pickle" in err
    assert main(["segment", str(evil), paths[0], "--out", str(tmp_path)]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert not marker.exists()
    # with the flag a pickle is loaded (and so is its code: the flag's help says so)
    assert main(["align", str(evil), paths[0], paths[1], "--trust-pickle"]) == 2
    assert marker.exists()
    trusted = tmp_path / "trusted.joblib"
    joblib.dump(load_model(folder / "al.skalign"), trusted)
    assert main(["align", str(trusted), paths[0], paths[1], "--trust-pickle"]) == 0
    help_text = " ".join(_run("align", "--help").stdout.split())
    assert "--trust-pickle" in help_text and "RUNS THE CODE" in help_text
    # fit writes no pickles
    assert main(["fit", *paths, "-o", str(tmp_path / "m.joblib")]) == 2
    assert ".skalign format" in capsys.readouterr().err


def test_case9_cli_errors_name_the_file_not_the_index(tmp_path, fitted_models, capsys):
    folder, paths = fitted_models
    short, wide = tmp_path / "short.npy", tmp_path / "wide.npy"
    np.save(short, np.load(paths[0])[:1])
    np.save(wide, np.zeros((20, 32), dtype=np.float32))
    assert main(["fit", paths[0], str(short), "-o", str(tmp_path / "m.skalign"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{short} has 1 frame(s)" in err and "videos[" not in err
    assert main(["fit", paths[0], str(wide), "-o", str(tmp_path / "m.skalign"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{wide} has features of size 32, but {paths[0]} has" in err and "videos[" not in err
    assert main(["align", str(folder / "al.skalign"), paths[0], str(wide)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"skalign align: error: {wide} has features of size 32")
    assert main(["align", str(folder / "al.skalign"), str(short), paths[0]]) == 2
    assert f"{short} has 1 frame(s)" in capsys.readouterr().err
    assert main(["segment", str(folder / "seg.skalign"), str(wide), "--out", str(tmp_path)]) == 2
    assert f"{wide} has features of size 32" in capsys.readouterr().err


def test_case3_an_interrupt_python_could_not_raise_still_ends_training(tmp_path, monkeypatch, capsys):
    # Ctrl-C that landed where Python swallows KeyboardInterrupt (a finalizer):
    # the handler's flag is set, no exception was raised; the next step raises it.
    import contextlib

    from skalign import cli

    @contextlib.contextmanager
    def swallowed(self):
        self.hit = True
        yield

    monkeypatch.setattr(cli._Interrupt, "catching", swallowed)
    paths = _feature_files(tmp_path, n=3)
    model = tmp_path / "m.skalign"
    assert main(["fit", *paths, "-o", str(model), "--epochs", "100000", "--device", "cpu"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "skalign fit: interrupted"
    assert not model.exists()
