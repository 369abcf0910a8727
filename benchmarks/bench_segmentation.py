"""Unsupervised action segmentation on real data: ASOT, VASOT and two baselines.

Data sets (from ``../shared/data``):

- ``breakfast-coffee``: 5 Breakfast "coffee" videos, the standard 64-dim
  per-frame features, 7 actions including the background ``SIL``;
- ``mocap6``: 6 CMU motion-capture sequences, 12 joint-angle channels
  (z-scored over the data set for every method), 12 exercises that recur in
  different orders.

Methods, each with ``K`` = the number of actions of the activity (7 for
coffee, 12 for mocap6):

- ``ActionSegmenter`` (ASOT): MLP encoder and action embeddings trained on
  the videos themselves (transductive, as in unsupervised segmentation),
  then ``fit_predict``;
- ``JointAlignSegment`` (VASOT, Eq. 7, ``w_align = w_seg = 1``);
- ``k-means``: scikit-learn ``KMeans`` on the raw features of all frames;
- ``equal split``: every video cut into ``K`` segments of equal length.

Metrics: MoF, segmental F1 at IoU 0.10 / 0.25 / 0.50 and mIoU
(:func:`skalign.metrics.segmentation_report`), clusters matched to classes
in every video on its own (Hungarian), background included; data-set
figures pool the frames (MoF) or segments of all videos. Every figure is
the mean +- std over the seeds (``random_state`` of the estimator or of
k-means; the equal split has no seed).

The estimators use their defaults except ``max_epochs`` (``--epochs``, 30)
and ``n_frames`` (``--n-frames``, 128 sampled frames per video and step, to
keep the VAOT pair solves of ``JointAlignSegment`` cheap on a CPU).

Run: ``python benchmarks/bench_segmentation.py [--seeds 3] [--epochs 30] [--n-frames 128]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from skalign._joint import JointAlignSegment
from skalign._segmenter import ActionSegmenter
from skalign.datasets import load_action_segmentation, load_mocap6
from skalign.metrics import segmentation_report

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
METRICS = ("mof", "f1@10", "f1@25", "f1@50", "miou")
#: ``K`` per data set: the 7 actions of the Breakfast "coffee" activity (SIL,
#: take_cup, pour_coffee, pour_milk, pour_sugar, spoon_sugar, stir_coffee; the
#: 5 videos here show 5 of them), as in the usual protocol; the 12 exercises.
N_ACTIONS = {"breakfast-coffee": 7, "mocap6": 12}
METHODS = ("ActionSegmenter", "JointAlignSegment", "k-means", "equal split")


def load(name: str, root: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[str], int]:
    if name == "breakfast-coffee":
        b = load_action_segmentation(root / name)
        feats = [np.asarray(f, np.float32) for f in b.features]
    else:
        b = load_mocap6(root / name / "dataset.npz")
        stacked = np.concatenate(b.features)
        mu, sd = stacked.mean(0), stacked.std(0)
        feats = [((f - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32) for f in b.features]
    labels = [np.asarray(y, np.int64) for y in b.labels]
    return feats, labels, list(b.video_names), N_ACTIONS[name]


def equal_split(videos: list[np.ndarray], k: int) -> list[np.ndarray]:
    return [np.minimum(np.arange(len(v)) * k // len(v), k - 1) for v in videos]


def predict(method: str, videos: list[np.ndarray], k: int, seed: int, epochs: int,
            n_frames: int) -> list:
    if method == "equal split":
        return equal_split(videos, k)
    if method == "k-means":
        km = KMeans(k, n_init=10, random_state=seed).fit(np.concatenate(videos))
        return [km.predict(v) for v in videos]
    common = dict(max_epochs=epochs, n_frames=n_frames, device="cpu", random_state=seed)
    est = (ActionSegmenter(k, **common) if method == "ActionSegmenter"
           else JointAlignSegment(k, **common))
    return est.fit_predict(videos)


def flat(report: dict) -> dict[str, float]:
    f1 = report["f1"]
    return {"mof": report["mof"], "f1@10": f1[0.1], "f1@25": f1[0.25], "f1@50": f1[0.5],
            "miou": report["miou"]}


def fmt(values: list[float]) -> str:
    return f"{np.mean(values):.3f} +- {np.std(values):.3f}"


def run(name: str, root: Path, seeds: int, epochs: int, n_frames: int) -> None:
    videos, labels, names, k = load(name, root)
    n_seen = len(np.unique(np.concatenate(labels)))
    print(f"\n## {name}: {len(videos)} videos, {sum(map(len, videos))} frames, "
          f"{videos[0].shape[1]} features, K = {k} ({n_seen} classes occur)")
    overall = {m: {x: [] for x in METRICS} for m in METHODS}
    per_video = {m: [{x: [] for x in METRICS} for _ in videos] for m in METHODS}
    seconds = {m: [] for m in METHODS}
    for method in METHODS:
        for seed in range(1 if method == "equal split" else seeds):
            t0 = time.perf_counter()
            pred = predict(method, videos, k, seed, epochs, n_frames)
            seconds[method].append(time.perf_counter() - t0)
            rep = segmentation_report(pred, labels)
            for x, v in flat(rep).items():
                overall[method][x].append(v)
            for i, r in enumerate(rep["per_video"]):
                for x, v in flat(r).items():
                    per_video[method][i][x].append(v)
    print("\nData set (frames pooled), mean +- std over seeds:\n")
    print("| method | " + " | ".join(METRICS) + " | fit+predict s |")
    print("|---" * (len(METRICS) + 2) + "|")
    for m in METHODS:
        cells = [fmt(overall[m][x]) for x in METRICS]
        print(f"| {m} | " + " | ".join(cells) + f" | {np.mean(seconds[m]):.1f} |")
    print("\nPer video, MoF / F1@50 / mIoU (mean over seeds):\n")
    print("| video | " + " | ".join(METHODS) + " |")
    print("|---" * (len(METHODS) + 1) + "|")
    for i, vname in enumerate(names):
        cells = ["/".join(f"{np.mean(per_video[m][i][x]):.2f}" for x in ("mof", "f1@50", "miou"))
                 for m in METHODS]
        print(f"| {vname} ({len(videos[i])} fr) | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-frames", type=int, default=128)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="+", default=["breakfast-coffee", "mocap6"])
    args = parser.parse_args()
    for name in args.datasets:
        if not (args.data / name).exists():
            print(f"{name}: not found under {args.data}, skipped")
            continue
        run(name, args.data, args.seeds, args.epochs, args.n_frames)


if __name__ == "__main__":
    main()
