"""Alignment accuracy of every VideoAligner method, in four regimes of synthetic videos.

Synthetic process videos (``skalign.datasets.make_process_videos``, per-frame
features) in four regimes:

- ``monotonic``: every video goes through the phases in order;
- ``background``: 30 % of the frames of each video belong to no phase;
- ``redundant``: half of the videos hold an extra action no other has;
- ``nonmonotonic``: half of the videos swap two adjacent phases and half
  repeat a phase.

For each regime and seed, ``--train`` videos train every method with the
same encoder (``MLPEncoder``, same size), the same budget (epochs, batch
size, frames per step, learning rate) and the same seed; ``--test`` held-out
videos of the same process are scored:

- Kendall's tau (``monotonic`` only: it assumes one order);
- phase classification accuracy of an SVM trained on the embeddings of 10 /
  50 / 100 % of the training videos;
- AP@5/10/15 of frame retrieval across the test videos;
- alignment accuracy over every ordered pair of test videos, with each
  method's own ``align`` (background frames count as right only when left
  unmatched). ``vaot-rel`` is the fitted ``vaot`` model aligned with
  ``align_lambda=0.1`` (the second video's marginal relaxed).

``raw`` scores the input features themselves, aligned with the exact DTW
path on their cosine cost. The table prints mean +- std over the seeds.
``--mocap`` adds the CMU mocap6 sequences of ``../shared/data/mocap6`` (the
same exercises in different orders): each method trains on the six
sequences and the alignment accuracy is averaged over the ordered pairs.

Run: ``python benchmarks/bench_accuracy.py [--seeds 3] [--epochs 6] [--no-mocap | --mocap-only]``
(about 10 minutes on 2 CPU cores with the defaults).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from skalign._aligner import ALIGNMENT_METHODS, VideoAligner, _dtw_align
from skalign.datasets import load_mocap6, make_process_videos
from skalign.metrics import (
    alignment_accuracy,
    average_precision_at_k,
    kendalls_tau,
    phase_classification_accuracy,
)

REGIMES = {
    "monotonic": {},
    "background": {"background": 0.3},
    "redundant": {"redundant": 0.5},
    "nonmonotonic": {"swap": 0.5, "repeat": 0.5},
}
METHODS = ["raw", "vaot", "vava", "gta", "lac", "sdtw"]
# The fitted vaot model aligned with the second video's marginal relaxed
# (align_lambda): same embeddings, so only the alignment column differs.
RELAXED = "vaot-rel"
RELAXED_LAMBDA = 0.1
ROWS = METHODS[:2] + [RELAXED] + METHODS[2:]
COLUMNS = ["tau", "pc@0.1", "pc@0.5", "pc@1.0", "ap@5", "ap@10", "ap@15", "align"]


class _Raw:
    """The input features as embeddings, aligned by exact DTW on the cosine cost."""

    def transform(self, video):
        return np.asarray(video, dtype=np.float64)

    def align(self, a, b):
        return _dtw_align(self, np.asarray(a, np.float64), np.asarray(b, np.float64))


def _aligner(method, args, seed):
    if method == "raw":
        return _Raw()
    return VideoAligner(
        method, embedding_dim=args.dim, max_epochs=args.epochs, batch_size=4,
        n_frames=args.n_frames, lr=1e-3, device="cpu", random_state=seed,
    )


def _pair_accuracy(est, videos, labels):
    scores = []
    for i in range(len(videos)):
        for j in range(len(videos)):
            if i != j:
                res = est.align(videos[i], videos[j])
                scores.append(alignment_accuracy(res, labels[i], labels[j]))
    return float(np.mean(scores))


def evaluate(est, train, train_labels, test, test_labels, regime, seed):
    emb_train = [est.transform(v) for v in train]
    emb_test = [est.transform(v) for v in test]
    row = {}
    row["tau"] = kendalls_tau(emb_test) if regime == "monotonic" else np.nan
    pc = phase_classification_accuracy(emb_train, train_labels, emb_test, test_labels,
                                       fractions=(0.1, 0.5, 1.0), random_state=seed)
    for f in (0.1, 0.5, 1.0):
        row[f"pc@{f}"] = pc[f]
    ap = average_precision_at_k(emb_test, test_labels, k=(5, 10, 15))
    for k in (5, 10, 15):
        row[f"ap@{k}"] = ap[k]
    row["align"] = _pair_accuracy(est, test, test_labels)
    return row


def _fmt(values):
    values = np.asarray(values, dtype=float)
    if np.all(np.isnan(values)):
        return "-"
    return f"{np.nanmean(values):.3f}+-{np.nanstd(values):.3f}"


def run_synthetic(args):
    results = {}
    for regime, opts in REGIMES.items():
        for seed in range(args.seeds):
            videos, labels = make_process_videos(
                args.train + args.test, args.phases, n_frames=(args.min_frames, args.max_frames),
                n_features=args.features, random_state=1000 + seed, **opts,
            )
            train, test = videos[: args.train], videos[args.train:]
            tl, sl = labels[: args.train], labels[args.train:]
            for method in METHODS:
                t0 = time.perf_counter()
                est = _aligner(method, args, seed)
                if method != "raw":
                    est.fit(train)
                row = evaluate(est, train, tl, test, sl, regime, seed)
                results.setdefault((regime, method), []).append(row)
                print(f"  {regime:12s} seed {seed} {method:5s} align={row['align']:.3f} "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
                if method == "vaot":
                    est.set_params(align_lambda=RELAXED_LAMBDA)
                    relaxed = dict(row, align=_pair_accuracy(est, test, sl))
                    results.setdefault((regime, RELAXED), []).append(relaxed)
    return results


def run_mocap(args, path):
    data = load_mocap6(path)
    videos = [np.asarray(v, np.float32) for v in data.features]
    # Standardise the joint angles over all frames.
    stacked = np.concatenate(videos)
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-6
    videos = [(v - mu) / sd for v in videos]
    out = {}
    for method in METHODS:
        scores = []
        for seed in range(args.seeds):
            est = _aligner(method, args, seed)
            if method != "raw":
                est.fit(videos)
            scores.append(_pair_accuracy(est, videos, list(data.labels)))
            if method == "vaot":
                est.set_params(align_lambda=RELAXED_LAMBDA)
                out.setdefault(RELAXED, []).append(_pair_accuracy(est, videos, list(data.labels)))
            if method == "raw":
                break
        out[method] = scores
        print(f"  mocap6 {method:8s} {_fmt(scores)}", flush=True)
        if method == "vaot":
            print(f"  mocap6 {RELAXED:8s} {_fmt(out[RELAXED])}", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=8)
    parser.add_argument("--test", type=int, default=4)
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--min-frames", type=int, default=40)
    parser.add_argument("--max-frames", type=int, default=60)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--n-frames", type=int, default=24)
    parser.add_argument("--mocap", default=str(Path(__file__).resolve().parents[2] / "shared/data/mocap6"))
    parser.add_argument("--no-mocap", action="store_true")
    parser.add_argument("--mocap-only", action="store_true")
    args = parser.parse_args(argv)
    assert set(METHODS) - {"raw"} <= set(ALIGNMENT_METHODS)
    t0 = time.perf_counter()
    results = {} if args.mocap_only else run_synthetic(args)
    if results:
        _print_table(results, args)
    mocap = Path(args.mocap)
    if not args.no_mocap and (mocap / "dataset.npz").exists():
        print("\n[mocap6] alignment accuracy between sequences (raw: one run)")
        run_mocap(args, mocap)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


def _print_table(results, args):
    print(f"\nSynthetic videos: {args.train} train / {args.test} test per regime, {args.phases} phases, "
          f"{args.min_frames}-{args.max_frames} frames, {args.epochs} epochs, {args.seeds} seeds "
          f"(mean +- std over seeds)")
    for regime in REGIMES:
        print(f"\n[{regime}]")
        print(f"{'method':8s} " + " ".join(f"{c:>13s}" for c in COLUMNS))
        for method in ROWS:
            rows = results[(regime, method)]
            print(f"{method:8s} " + " ".join(f"{_fmt([r[c] for r in rows]):>13s}" for c in COLUMNS))


if __name__ == "__main__":
    main()
