"""How ``align`` should decode: every decoder on development draws, never the benchmark's.

The default decoder of ``VideoAligner.align`` and the temporal prior's
weight it uses were chosen here, on synthetic videos drawn with
``random_state`` 2000, 2001, 2002: draws that no table of
``bench_accuracy.py`` uses (it draws 1000 + seed), so no default is tuned on
the labels of the reported figures. Raw features (no training), 6 videos of
5 phases per draw, every ordered pair, in five regimes:

- ``in order``: every video goes through the phases in order;
- ``background``: 30 % of each video's frames belong to no phase;
- ``redundant``: half of the videos hold an extra action;
- ``swap+repeat``: half swap two phases, half repeat one;
- ``calibrated``: the regime of ``bench_accuracy.py``.

Decoders: exact DTW on the cosine cost, nearest neighbour, the balanced VAOT
plan, the semi-relaxed VAOT plan (``align_lambda=0.1``); then the
semi-relaxed plan at several ``rho``. Figures: frame alignment accuracy
(background frames count as right only when left unmatched), mean over
pairs and draws, and the mean over the regimes.

Run: ``python benchmarks/bench_decoders.py`` (163 s on 2 CPU cores).
"""

from __future__ import annotations

import warnings

import numpy as np
from bench_accuracy import SYNTHETIC  # the calibrated regime, defined once

from skalign import VideoAligner
from skalign._base import dtw_alignment, nn_alignment
from skalign.datasets import make_process_videos
from skalign.metrics import alignment_accuracy

REGIMES = {
    "in order": {},
    "background": {"background": 0.3},
    "redundant": {"redundant": 0.5},
    "swap+repeat": {"swap": 0.5, "repeat": 0.5},
    "calibrated": {k: v for k, v in SYNTHETIC.items() if k not in ("n_frames", "n_features")},
}
DEV_SEEDS = (2000, 2001, 2002)


def accuracy(decode, regime):
    scores = []
    for seed in DEV_SEEDS:
        videos, labels = make_process_videos(6, 5, n_frames=(60, 100), n_features=32,
                                             random_state=seed, **REGIMES[regime])
        videos = [np.asarray(v, np.float64) for v in videos]
        for i in range(6):
            for j in range(6):
                if i != j:
                    scores.append(alignment_accuracy(decode(videos[i], videos[j]), labels[i], labels[j]))
    return float(np.mean(scores))


def table(title, decoders):
    print(f"\n{title}")
    print(f"{'regime':12s} " + " ".join(f"{d:>13s}" for d in decoders))
    means = {d: [] for d in decoders}
    for regime in REGIMES:
        row = []
        for name, decode in decoders.items():
            means[name].append(accuracy(decode, regime))
            row.append(means[name][-1])
        print(f"{regime:12s} " + " ".join(f"{v:13.3f}" for v in row), flush=True)
    print(f"{'mean':12s} " + " ".join(f"{np.mean(v):13.3f}" for v in means.values()))


def main():
    warnings.simplefilter("ignore")  # a few unconverged plans; the accuracy is what counts here
    table("decoders (raw features)", {
        "dtw": dtw_alignment,
        "nn": nn_alignment,
        "vaot": VideoAligner(decoder="vaot", align_lambda=None)._align_embeddings,
        "vaot-rel 0.1": VideoAligner(decoder="vaot", align_lambda=0.1)._align_embeddings,
    })
    table("temporal prior of the semi-relaxed plan", {
        f"rho={rho}": VideoAligner(decoder="vaot", rho=rho)._align_embeddings
        for rho in (0.35, 0.2, 0.1, 0.0)
    })


if __name__ == "__main__":
    main()
