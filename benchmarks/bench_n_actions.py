"""``n_actions="auto"``: the chosen number of actions against the true one.

For every data set, ``ActionSegmenter("auto")`` (defaults: ``K`` from 2 to
12, the median count of segments per video; ``--criterion elbow``: one fit
per ``K`` and the elbow of the segmentation cost) is fitted without labels;
beside it
``ActionSegmenter(K_true)`` with the same seed (the fit ``"auto"`` made for
``K_true``), k-means on the input features with ``K_true`` and the equal
split with ``K_true`` (baselines that are given the true ``K``), and the
equal split with the chosen ``K``. MoF is per video after Hungarian
matching (:func:`skalign.metrics.mof`), so a wrong ``K`` costs the frames
of the actions it merges or splits.

Data: synthetic videos (``make_process_videos``, 10 videos, ``K`` from 3 to
10, draws 1000 + seed, not the draws the criterion was chosen on), mocap6
(12 exercises) and Breakfast coffee (5 of the 7 actions occur) from
``../shared/data``, skipped when absent. ``K_true`` of the real sets is the
number of classes that occur in their labels.

Run ``python benchmarks/bench_n_actions.py [--seeds 1] [--epochs 50]
[--estimator JointAlignSegment] [--datasets mocap6 breakfast]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segmentation import DATA, equal_split, load  # noqa: E402

from skalign import ActionSegmenter, JointAlignSegment  # noqa: E402
from skalign.datasets import make_process_videos  # noqa: E402
from skalign.metrics import mof  # noqa: E402


def datasets(seed: int, root: Path):
    for k in range(3, 11):
        videos, labels = make_process_videos(10, k, random_state=1000 + 100 * seed + k)
        yield f"synthetic K={k}", videos, labels, k
    for name in ("mocap6", "breakfast-coffee"):
        if (root / name).exists():
            videos, labels, _, _ = load(name, root)
            flat = np.concatenate(labels)
            yield name, videos, labels, len(np.unique(flat[flat >= 0]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--estimator", choices=("ActionSegmenter", "JointAlignSegment"),
                        default="ActionSegmenter")
    parser.add_argument("--criterion", choices=("changes", "elbow"), default="changes")
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="only the data sets whose names start with one of these")
    args = parser.parse_args(argv)
    cls = ActionSegmenter if args.estimator == "ActionSegmenter" else JointAlignSegment
    print(f"{args.estimator}(n_actions='auto', n_actions_criterion={args.criterion!r}) against the "
          "true K\n")
    print("| data | true K | chosen K | MoF auto | MoF true K | k-means true K | equal split true K "
          "| equal split chosen K | s |")
    print("|---" * 9 + "|")
    errors = []
    for seed in range(args.seeds):
        for name, videos, labels, k_true in datasets(seed, args.data):
            if args.datasets and not any(name.startswith(d) for d in args.datasets):
                continue
            t0 = time.perf_counter()
            common = dict(max_epochs=args.epochs, device="cpu", random_state=seed)
            auto = cls("auto", n_actions_criterion=args.criterion, **common).fit(videos)
            seconds = time.perf_counter() - t0
            fixed = cls(k_true, **common).fit(videos)
            km = KMeans(k_true, n_init=10, random_state=seed).fit(np.concatenate(videos))
            row = [mof(auto.predict(videos), labels), mof(fixed.predict(videos), labels),
                   mof([km.predict(v) for v in videos], labels),
                   mof(equal_split(videos, k_true), labels),
                   mof(equal_split(videos, auto.n_actions_), labels)]
            errors.append(auto.n_actions_ - k_true)
            print(f"| {name} | {k_true} | {auto.n_actions_} | " + " | ".join(f"{x:.3f}" for x in row)
                  + f" | {seconds:.0f} |", flush=True)
            if "cost" in auto.search_:
                costs = " ".join(f"{k}:{c:.3f}" for k, c in zip(auto.search_["n_actions"], auto.search_["cost"]))
                print(f"|   cost per K: {costs} |", flush=True)
            else:
                print(f"|   segments per video: {' '.join(map(str, auto.search_['segments']))} |", flush=True)
    errors = np.array(errors)
    print(f"\nchosen K - true K: exact {np.mean(errors == 0):.2f}, within 1 {np.mean(np.abs(errors) <= 1):.2f}, "
          f"mean {errors.mean():+.2f}, mean absolute {np.abs(errors).mean():.2f} over {len(errors)} data sets")


if __name__ == "__main__":
    main()
