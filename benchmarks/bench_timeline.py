"""Timeline quality of ``align_many`` beside DTW to a reference on the raw features.

Every video is put on the timeline of a reference video; a frame is right
when the reference's phase at its step is its own, and a frame without a
counterpart is right only when left off the timeline
(:func:`skalign.metrics.timeline_accuracy`, over the frames of all
non-reference videos). Rows:

- ``raw DTW``: the baseline. Exact DTW on the input features (cosine
  cost), to the medoid of the raw DTW costs.
- ``VAOT``: ``VideoAligner()`` at its defaults, fitted without labels on the
  same videos it puts on the timeline (unsupervised), its default decoder,
  the medoid of its own costs.
- ``VAOT, DTW decoder``: the same embeddings, exact DTW.
- ``VAOT, raw's reference``: the default decoder to the raw baseline's
  reference, which separates the choice of reference from the alignment.

Data: the five synthetic regimes of ``bench_decoders.py`` (6 videos of 5
phases, draws 1000 + seed: not the development draws), mocap6 and
Breakfast coffee from ``../shared/data`` (skipped when absent).

Run ``python benchmarks/bench_timeline.py [--seeds 3] [--epochs 50]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accuracy import DATA, load  # noqa: E402
from bench_decoders import REGIMES  # noqa: E402

from skalign import VideoAligner  # noqa: E402
from skalign._base import dtw_alignment  # noqa: E402
from skalign._timeline import build_timeline  # noqa: E402
from skalign.datasets import make_process_videos  # noqa: E402
from skalign.metrics import timeline_accuracy  # noqa: E402

ROWS = ("raw DTW", "VAOT", "VAOT, DTW decoder", "VAOT, raw's reference")


def datasets(seeds: int, root: Path):
    for regime, kw in REGIMES.items():
        draws = []
        for seed in range(seeds):
            videos, labels = make_process_videos(6, 5, n_frames=(60, 100), n_features=32,
                                                 random_state=1000 + seed, **kw)
            draws.append((videos, labels))
        yield f"synthetic {regime}", draws
    for name in ("mocap6", "breakfast-coffee"):
        if (root / name).exists():
            d = load(name, 0, root)
            yield name, [(d["eval"], d["eval_labels"])] * seeds


def scores(videos, labels, seed: int, epochs: int) -> dict[str, float]:
    raw = [np.asarray(v, np.float64) for v in videos]
    base = build_timeline([len(v) for v in raw], lambda i, j: dtw_alignment(raw[i], raw[j]))
    est = VideoAligner(max_epochs=epochs, device="cpu", random_state=seed).fit(videos)
    emb = est.transform(videos)
    learned = est.align_many(videos)
    dtw = build_timeline([len(e) for e in emb], lambda i, j: dtw_alignment(emb[i], emb[j]),
                         reference=learned.reference)
    same_ref = est.align_many(videos, reference=base.reference)
    return {
        "raw DTW": timeline_accuracy(base, labels),
        "VAOT": timeline_accuracy(learned, labels),
        "VAOT, DTW decoder": timeline_accuracy(dtw, labels),
        "VAOT, raw's reference": timeline_accuracy(same_ref, labels),
        "same reference": float(base.reference == learned.reference),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    print("| data | " + " | ".join(ROWS) + " | same medoid | s |")
    print("|---" * (len(ROWS) + 3) + "|")
    wins = 0
    total = 0
    for name, draws in datasets(args.seeds, args.data):
        t0 = time.perf_counter()
        results = [scores(v, y, seed, args.epochs) for seed, (v, y) in enumerate(draws)]
        cells = []
        for row in ROWS:
            vals = [r[row] for r in results]
            cells.append(f"{np.mean(vals):.3f} +- {np.std(vals):.3f}")
        same = np.mean([r["same reference"] for r in results])
        print(f"| {name} | " + " | ".join(cells) + f" | {same:.2f} | {time.perf_counter() - t0:.0f} |",
              flush=True)
        total += 1
        wins += np.mean([r["VAOT"] for r in results]) > np.mean([r["raw DTW"] for r in results])
    print(f"\nVAOT's timeline beats raw DTW on {wins} of {total} data sets.")


if __name__ == "__main__":
    main()
