"""The papers' protocol: every aligner beside the raw features, every metric, every decoder.

Each ``VideoAligner`` method is trained with its **default settings** (only
``device="cpu"`` and ``random_state`` are set) on the videos of a data set,
without labels, and its frame embeddings are scored beside the input
features themselves (``raw``), the baseline every learned method has to
beat:

- ``tau``: Kendall's tau of nearest-neighbour alignments between videos
  (not on ``mocap6``, whose videos do the exercises in different orders);
- ``pc@0.1 / 0.5 / 1.0``: phase classification accuracy of an SVM trained
  on the embeddings of 10 / 50 / 100 % of the labelled videos;
- ``prog``: phase progression, R2 of linear regressions of the progress
  since each phase boundary;
- ``ap@5 / 10 / 15``: frame retrieval across videos;
- frame alignment accuracy over every ordered pair of evaluation videos
  under five decoders of the same embeddings: ``dtw`` (exact DTW path on
  the cosine cost), ``vaot`` (the balanced VAOT plan with the virtual frame,
  Ali et al. 2025), ``vaot-rel`` (the same with the second video's marginal
  relaxed, ``align_lambda=0.1``), ``nn`` (nearest neighbour, no order) and
  ``default`` (what the estimator's ``align`` does by default). Frames
  labelled -1 (background) count as right only when left unmatched.

Data sets:

- ``synthetic``: ``make_process_videos`` in a regime calibrated so that the
  raw features behave like the papers' ImageNet baseline (phase
  classification with 10 % of the labels about 0.5, DTW alignment at most
  0.8): strong per-video nuisance (``nuisance=1.5``) and noise (0.5),
  phase-length variation (``speed=0.7``), 10 % background frames and two
  adjacent phases swapped in a quarter of the videos. 10 training videos,
  6 held-out evaluation videos; a new draw per seed. Calibration, on one
  draw, raw features: pc@0.1 0.56, pc@1.0 0.88, DTW alignment 0.62.
- ``mocap6``: the 6 CMU motion-capture sequences of ``../shared/data``
  (12 joint angles, z-scored over the data set), 12 exercises in different
  orders;
- ``breakfast-coffee``: the 5 Breakfast "coffee" videos of
  ``../shared/data`` (64-dim features, background ``SIL`` as a class);
- ``rendered``: the same variations drawn as 64 x 64 RGB videos
  (``kind="frames"``: colour, lighting and camera shift per video,
  distractors) and put through the pretrained-backbone path,
  ``FrameFeatures()`` (ImageNet MobileNetV2 at 224, 1280 features a frame;
  needs its weights, see the install guide). Features are computed once per
  seed and kept in ``--cache`` when given.

The two real data sets are too small to hold videos out of the
self-supervised fit: the encoder trains on all videos (no labels, as in
unsupervised segmentation), and the classifier and regressor are scored by
leave-one-video-out (trained on the labels of the other videos, scored on
the held-out one, averaged over the folds).

Every figure is mean +- std over ``--seeds`` seeds (the raw features have
no seed). ``--json`` writes every figure to a file. Choose settings with
``--dev``: it draws other synthetic and rendered videos
(``random_state`` 2000 + seed instead of 1000 + seed), so that no default
is tuned on the labels of the reported figures; ``--set NAME=VALUE``
(JSON values) changes estimator parameters.

Run: ``python benchmarks/bench_accuracy.py [--seeds 3] [--datasets synthetic mocap6 breakfast-coffee rendered] [--cache DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from skalign import VideoAligner
from skalign._base import dtw_alignment, nn_alignment
from skalign.datasets import load_action_segmentation, load_mocap6, make_process_videos
from skalign.metrics import (
    alignment_accuracy,
    average_precision_at_k,
    kendalls_tau,
    phase_classification_accuracy,
    phase_progression,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
METHODS = ["raw", "vaot", "vava", "gta", "lac", "sdtw"]
DECODERS = ["dtw", "vaot", "vaot-rel", "nn", "default"]
FRACTIONS = (0.1, 0.5, 1.0)
COLUMNS = (["tau"] + [f"pc@{f}" for f in FRACTIONS] + ["prog", "ap@5", "ap@10", "ap@15"]
           + [f"al:{d}" for d in DECODERS])
#: The calibrated synthetic regime (see the module docstring).
SYNTHETIC = dict(n_frames=(60, 100), n_features=32, nuisance=1.5, noise=0.5, speed=0.7,
                 background=0.1, swap=0.25)
N_PHASES = 5
N_TRAIN, N_TEST = 10, 6


class Raw:
    """The input features as embeddings; ``default`` alignment is exact DTW."""

    def transform(self, video):
        return np.asarray(video, dtype=np.float64)


def _vaot_decoder(lam):
    """The VAOT plan of an unfitted default aligner, on given embeddings."""
    return VideoAligner(align_lambda=lam, decoder="vaot")._align_embeddings


def _decoders(est):
    default = est._align_embeddings if isinstance(est, VideoAligner) else dtw_alignment
    return {"dtw": dtw_alignment, "vaot": _vaot_decoder(None), "vaot-rel": _vaot_decoder(0.1),
            "nn": nn_alignment, "default": default}


def alignment_scores(est, emb, labels):
    """Mean alignment accuracy over the ordered pairs, per decoder."""
    out = {}
    for name, decode in _decoders(est).items():
        scores = [alignment_accuracy(decode(emb[i], emb[j]), labels[i], labels[j])
                  for i in range(len(emb)) for j in range(len(emb)) if i != j]
        out[f"al:{name}"] = float(np.mean(scores))
    return out


def probe_scores(train_emb, train_labels, test_emb, test_labels, seed):
    """Phase classification and progression of held-out videos."""
    pc = phase_classification_accuracy(train_emb, train_labels, test_emb, test_labels,
                                       fractions=FRACTIONS, random_state=seed)
    row = {f"pc@{f}": pc[f] for f in FRACTIONS}
    row["prog"] = phase_progression(train_emb, train_labels, test_emb, test_labels)
    return row


def leave_one_out_probes(emb, labels, seed):
    rows = []
    for k in range(len(emb)):
        rest = [i for i in range(len(emb)) if i != k]
        rows.append(probe_scores([emb[i] for i in rest], [labels[i] for i in rest],
                                 [emb[k]], [labels[k]], seed))
    return {c: float(np.mean([r[c] for r in rows])) for c in rows[0]}


def score(est, data, seed, with_tau):
    """Every metric of one fitted estimator (or ``Raw``) on one data set."""
    emb_eval = [est.transform(v) for v in data["eval"]]
    if data["train"] is None:
        row = leave_one_out_probes(emb_eval, data["eval_labels"], seed)
    else:
        emb_train = [est.transform(v) for v in data["train"]]
        row = probe_scores(emb_train, data["train_labels"], emb_eval, data["eval_labels"], seed)
    row["tau"] = kendalls_tau(emb_eval) if with_tau else np.nan
    ap = average_precision_at_k(emb_eval, data["eval_labels"], k=(5, 10, 15))
    row.update({f"ap@{k}": ap[k] for k in (5, 10, 15)})
    row.update(alignment_scores(est, emb_eval, data["eval_labels"]))
    return row


def rendered(draw, cache):
    """Rendered videos of the calibrated regime, as MobileNetV2 features."""
    from skalign import FrameFeatures

    path = None if cache is None else cache / f"rendered-{draw}.npz"
    if path is not None and path.exists():
        with np.load(path) as f:
            n = len(f.files) // 2
            return [f[f"x{i}"] for i in range(n)], [f[f"y{i}"] for i in range(n)]
    opts = {k: v for k, v in SYNTHETIC.items() if k not in ("n_features", "noise")}
    frames, labels = make_process_videos(N_TRAIN + N_TEST, N_PHASES, kind="frames", size=64,
                                         random_state=draw, **opts)
    feats = FrameFeatures(n_jobs=-1).fit_transform(frames)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{f"x{i}": x for i, x in enumerate(feats)},
                 **{f"y{i}": y for i, y in enumerate(labels)})
    return feats, labels


def load(name, draw, root, cache=None):
    """``{"train", "train_labels", "eval", "eval_labels"}``; ``train`` None: fit on ``eval``."""
    if name == "rendered":
        videos, labels = rendered(draw, cache)
        return {"train": videos[:N_TRAIN], "train_labels": labels[:N_TRAIN],
                "eval": videos[N_TRAIN:], "eval_labels": labels[N_TRAIN:]}
    if name == "synthetic":
        videos, labels = make_process_videos(N_TRAIN + N_TEST, N_PHASES, random_state=draw,
                                             **SYNTHETIC)
        return {"train": videos[:N_TRAIN], "train_labels": labels[:N_TRAIN],
                "eval": videos[N_TRAIN:], "eval_labels": labels[N_TRAIN:]}
    if name == "mocap6":
        b = load_mocap6(root / name / "dataset.npz")
        stacked = np.concatenate(b.features)
        mu, sd = stacked.mean(0), stacked.std(0)
        feats = [((f - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32) for f in b.features]
    else:
        b = load_action_segmentation(root / name)
        feats = [np.asarray(f, np.float32) for f in b.features]
    return {"train": None, "train_labels": None, "eval": feats,
            "eval_labels": [np.asarray(y, np.int64) for y in b.labels]}


def run(name, args):
    results = {m: [] for m in METHODS}
    seconds = {m: [] for m in METHODS}
    for seed in range(args.seeds):
        data = load(name, args.first_draw + seed, args.data, args.cache)
        fit_on = data["train"] if data["train"] is not None else data["eval"]
        for method in args.methods:
            if method == "raw" and seed > 0 and name in ("mocap6", "breakfast-coffee"):
                continue  # the same features every seed
            t0 = time.perf_counter()
            if method == "raw":
                est = Raw()
            else:
                est = VideoAligner(method, device="cpu", random_state=seed, **args.overrides)
                est.fit(fit_on)
            row = score(est, data, seed, with_tau=name != "mocap6")
            seconds[method].append(time.perf_counter() - t0)
            results[method].append(row)
            print(f"  {name} seed {seed} {method:5s} " + " ".join(
                f"{c}={row[c]:.3f}" for c in ("tau", "pc@0.1", "prog", "al:dtw", "al:default"))
                + f" ({seconds[method][-1]:.0f} s)", flush=True)
    return results, seconds


def fmt(values):
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return "-"
    if values.size == 1:
        return f"{values[0]:.3f}"
    return f"{np.nanmean(values):.3f}+-{np.nanstd(values):.3f}"


def print_table(name, results, seconds):
    print(f"\n[{name}] mean +- std over seeds; al:X = frame alignment accuracy, decoder X")
    print(f"{'method':7s} " + " ".join(f"{c:>12s}" for c in COLUMNS) + "  fit+score s")
    for method, rows in results.items():
        if rows:
            print(f"{method:7s} " + " ".join(f"{fmt([r[c] for r in rows]):>12s}" for c in COLUMNS)
                  + f"  {np.mean(seconds[method]):10.1f}")
    raw = results.get("raw")
    if not raw:
        return
    base = {c: np.nanmean([r[c] for r in raw]) for c in COLUMNS}
    print("beats the raw features? (means over seeds; align: the estimator's default align against "
          "exact DTW on the raw features, and against their semi-relaxed VAOT plan)")
    for method, rows in results.items():
        if method == "raw" or not rows:
            continue
        mean = {c: np.nanmean([r[c] for r in rows]) for c in COLUMNS}
        checks = [(c, mean[c], base[c]) for c in ("tau", "pc@0.1", "prog") if not np.isnan(mean[c])]
        checks += [("align vs raw DTW", mean["al:default"], base["al:dtw"]),
                   ("align vs raw vaot-rel", mean["al:default"], base["al:vaot-rel"])]
        print(f"  {method:5s} " + ", ".join(f"{name} {'yes' if got > ref else 'NO'} ({got:.3f} vs {ref:.3f})"
                                            for name, got, ref in checks))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["synthetic", "mocap6", "breakfast-coffee"],
                        choices=["synthetic", "mocap6", "breakfast-coffee", "rendered"])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="estimator parameters other than the defaults (for ablations)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--cache", type=Path, help="folder for the rendered videos' features")
    parser.add_argument("--dev", action="store_true",
                        help="development draws (random_state 2000 + seed) of the synthetic and rendered "
                             "videos, for choosing settings; the reported tables use 1000 + seed")
    args = parser.parse_args(argv)
    args.overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    args.first_draw = 2000 if args.dev else 1000
    if args.dev:
        print("development draws of the synthetic and rendered videos (random_state 2000 + seed)")
    if args.overrides:
        print(f"non-default parameters: {args.overrides}")
    t0 = time.perf_counter()
    everything = {}
    for name in args.datasets:
        if name in ("mocap6", "breakfast-coffee") and not (args.data / name).exists():
            print(f"\n[{name}] skipped: {args.data / name} not found")
            continue
        results, seconds = run(name, args)
        print_table(name, results, seconds)
        everything[name] = results
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
