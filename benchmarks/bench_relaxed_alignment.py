"""Alignment accuracy of ``vaot``, balanced against semi-relaxed (``lambda_y``).

Aligns every ordered pair of videos of a data set on the cosine cost of
their features (no training) with :func:`skalign.ot.vaot` at
``epsilon=0.04`` and the paper's other defaults:

- balanced (the paper), with the cost-rule virtual frame and without it;
- with the second video's marginal KL-relaxed (``lambda_y`` in --lambdas),
  with and without the virtual frame;
- the exact DTW path, for reference.

and prints the alignment accuracy (:func:`skalign.metrics.alignment_accuracy`:
frames matched to a frame of the same phase; background frames count as
right only when left unmatched) and the share of frames left unmatched.

Data: synthetic process videos with 25% background frames
(``make_process_videos``, 6 seeds, one pair each, ``zeta`` 0.3 and 0.5), and
when ``../shared/data`` is there, the six CMU mocap6 sequences (features
standardised over all frames) and the five Breakfast "coffee" videos.

Run: ``python benchmarks/bench_relaxed_alignment.py [--lambdas 0.3,0.1]``
(about a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from skalign._aligner import _dtw_align
from skalign._base import cosine_cost
from skalign.datasets import load_action_segmentation, load_mocap6, make_process_videos
from skalign.metrics import alignment_accuracy
from skalign.ot import decode_matches, vaot

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _score(pairs, settings) -> dict:
    """Mean accuracy and unmatched share per setting over the pairs
    ``(features_a, features_b, labels_a, labels_b)``."""
    out = {}
    for name, kw in settings:
        acc, unmatched = [], []
        for xa, xb, la, lb in pairs:
            if kw is None:
                # The aligners' DTW: each frame to its cheapest frame on the path.
                m = _dtw_align(None, xa, xb).matches
            else:
                m = decode_matches(vaot(cosine_cost(xa, xb), epsilon=0.04, **kw).plan,
                                   virtual=kw["virtual"] is not None)
            acc.append(alignment_accuracy(m, la, lb))
            unmatched.append(np.mean(m == -1))
        out[name] = (float(np.mean(acc)), float(np.mean(unmatched)))
    return out


def _settings(lambdas, zeta):
    rows = [("balanced, virtual frame", dict(virtual="cost", zeta=zeta)),
            ("balanced, no virtual frame", dict(virtual=None))]
    for lam in lambdas:
        rows.append((f"lambda_y={lam:g}, virtual frame", dict(virtual="cost", zeta=zeta, lambda_y=lam)))
        rows.append((f"lambda_y={lam:g}, no virtual frame", dict(virtual=None, lambda_y=lam)))
    rows.append(("DTW path", None))
    return rows


def _print(title, result) -> None:
    print(f"\n{title}")
    print(f"  {'setting':36s} {'align acc':>10s} {'unmatched':>10s}")
    for name, (acc, unmatched) in result.items():
        print(f"  {name:36s} {acc:10.3f} {unmatched:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambdas", default="0.3,0.1")
    args = parser.parse_args()
    lambdas = [float(s) for s in args.lambdas.split(",") if s]

    for zeta in (0.5, 0.3):
        pairs = []
        for seed in range(6):
            videos, labels = make_process_videos(2, 6, n_frames=120, n_features=32, background=0.25,
                                                 nuisance=0.0, noise=0.05, random_state=seed, process=seed)
            pairs.append((videos[0], videos[1], labels[0], labels[1]))
        _print(f"synthetic: 6 pairs of 120-frame videos, 25% background, zeta {zeta}",
               _score(pairs, _settings(lambdas, zeta)))

    if not DATA.is_dir():
        print(f"\n{DATA} not found: the mocap6 and Breakfast rows are skipped.")
        return
    mocap = load_mocap6(DATA / "mocap6")
    stacked = np.concatenate(mocap.features)
    mean, std = stacked.mean(0), stacked.std(0)
    feats = [(f - mean) / np.where(std > 0, std, 1.0) for f in mocap.features]
    pairs = [(feats[i], feats[j], mocap.labels[i], mocap.labels[j])
             for i, j in itertools.permutations(range(len(feats)), 2)]
    _print("CMU mocap6: 6 sequences, 30 ordered pairs, standardised joint angles",
           _score(pairs, _settings(lambdas, 0.5)))

    bf = load_action_segmentation(DATA / "breakfast-coffee", activity="coffee")
    pairs = [(bf.features[i], bf.features[j], bf.labels[i], bf.labels[j])
             for i, j in itertools.permutations(range(len(bf.features)), 2)]
    _print("Breakfast coffee: 5 videos, 20 ordered pairs, 64-dim features",
           _score(pairs, _settings(lambdas, 0.5)))


if __name__ == "__main__":
    main()
