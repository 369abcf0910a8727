"""
==========================================================
Segmenting videos into actions with ASOT
==========================================================

Unsupervised action segmentation gives every frame of a video one of ``K``
actions. The simplest rule gives each frame its most similar action,
frame by frame. ASOT (:func:`skalign.ot.asot`) instead transports frames
to actions with a fused Gromov-Wasserstein problem whose band prior keeps
temporally close frames on the same action, which yields whole segments
instead of flickering labels.

Two parts:

1. real Breakfast "coffee" features, with the ``K`` actions found by
   k-means on the raw features (synthetic videos when the data is absent);
2. the frame-to-action affinities of a trained ASOT model, shipped with
   the ASOT authors' code, to check :func:`~skalign.ot.asot` against the
   figures those authors' solver gives on the same matrices.
"""

# %%
# Finding the data
# ----------------
# The real data lives in ``shared/data`` beside the project. The folder is
# taken from the ``SKALIGN_SHARED_DATA`` environment variable, or found by
# walking up from this file.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from skalign.datasets import load_action_segmentation, make_process_videos, read_mapping
from skalign.metrics import segmentation_report
from skalign.ot import asot
from skalign.plotting import plot_segmentation


def find_shared_data():
    """The ``shared/data`` folder, or None when it is nowhere to be found."""
    if os.environ.get("SKALIGN_SHARED_DATA"):
        folder = Path(os.environ["SKALIGN_SHARED_DATA"])
        return folder if folder.is_dir() else None
    try:
        start = Path(__file__).resolve().parent
    except NameError:  # run interactively
        start = Path.cwd().resolve()
    for folder in [start, *start.parents]:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return None


shared = find_shared_data()
coffee = None if shared is None else shared / "breakfast-coffee"
if coffee is not None and coffee.is_dir():
    data = load_action_segmentation(coffee, activity="coffee")
    features, labels, names = data.features, data.labels, data.video_names
    class_names = data.class_names
    print(f"Breakfast coffee: {len(features)} videos from {coffee}")
else:
    features, labels = make_process_videos(
        5, 5, n_frames=(300, 600), background=0.1, noise=1.0, random_state=0
    )
    names = [f"synthetic {i}" for i in range(len(features))]
    class_names = None
    print("shared/data not found: synthetic process videos instead")
for name, f, y in zip(names, features, labels):
    print(f"  {name}: {f.shape[0]} frames, classes {sorted(set(y.tolist()))}")

# %%
# Actions from k-means, cost from cosine similarity
# -------------------------------------------------
# ``K`` is the number of classes of the activity (as in the unsupervised
# segmentation literature, ``K`` is given). The actions are the k-means
# centroids of all frames (unit-normalised); the cost of frame ``i`` and
# action ``k`` is one minus their cosine similarity.


def unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


classes = np.unique(np.concatenate(labels))
n_actions = int(np.sum(classes >= 0))
kmeans = KMeans(n_clusters=n_actions, n_init=10, random_state=0).fit(unit(np.concatenate(features)))
actions = unit(kmeans.cluster_centers_)
costs = [1.0 - unit(f) @ actions.T for f in features]

# %%
# Frame-by-frame argmax versus ASOT
# ---------------------------------
# ASOT runs with the settings its paper uses to predict (``epsilon=0.04``,
# ``alpha=0.6``, ``lambda_actions=0.01``, ``radius=0.04``): frames are
# balanced, actions may receive any mass (KL penalty). Predictions are
# matched to the classes by the Hungarian algorithm per video, then scored
# with MoF, segmental F1 at IoU 0.1 / 0.25 / 0.5 and mIoU.

argmax = [c.argmin(axis=1) for c in costs]
asot_pred = [
    asot(c, epsilon=0.04, alpha=0.6, lambda_actions=0.01, radius=0.04).plan.argmax(axis=1)
    for c in costs
]


def show(title, pred, gt):
    r = segmentation_report(pred, gt)
    f1 = "  ".join(f"F1@{int(k * 100)} {v:.3f}" for k, v in r["f1"].items())
    print(f"{title:<10} MoF {r['mof']:.3f}  {f1}  mIoU {r['miou']:.3f}")


show("argmax", argmax, labels)
show("ASOT", asot_pred, labels)

# %%
# The longest video, with clusters renamed to their matched classes
# (``match=True``) so that colours compare across rows:

longest = int(np.argmax([len(y) for y in labels]))
fig, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
plot_segmentation(
    {"argmax": argmax[longest], "ASOT": asot_pred[longest]}, labels[longest],
    class_names=class_names, match=True, ax=ax,
)
ax.set_title(names[longest])

# %%
# ASOT on the affinities of a trained model
# -----------------------------------------
# ``asot-examples`` holds frame-to-action affinity matrices that a trained
# ASOT model produced for one Breakfast "salat" video and one Desktop
# Assembly video. With the cost ``1 - affinity`` and the settings of the
# authors' example script (25 mirror-descent iterations, balanced frames,
# unbalanced actions, no temporal prior), the authors' solver gives the
# reference MoF and mIoU below (from ``shared/data/README.md``; their F1 is
# a sampled variant, so it is not compared here).

examples = None if shared is None else shared / "asot-examples"
cases = [
    ("P36_webcam01_P36_salat", "mapping_salat.txt", dict(radius=0.04, lambda_actions=0.06),
     dict(mof=0.739, miou=0.479)),
    ("2020-04-19_14-03-25", "mapping_da.txt", dict(radius=0.02, lambda_actions=0.09),
     dict(mof=0.771, miou=0.581)),
]
if examples is not None and examples.is_dir():
    for video, mapping_file, settings, reference in cases:
        affinity = np.load(examples / "affinity" / f"{video}.npy")
        mapping = read_mapping(examples / "gt" / mapping_file)
        gt_lines = (examples / "gt" / video).read_text().split()
        gt = np.array([mapping[name] for name in gt_lines])
        plan = asot(1.0 - affinity, epsilon=0.01, alpha=0.6, **settings).plan
        pred = plan.argmax(axis=1)
        print(f"{video}: {affinity.shape[0]} frames, {affinity.shape[1]} actions")
        show("  argmax", [affinity.argmax(axis=1)], [gt])
        show("  ASOT", [pred], [gt])
        print(f"  reference (authors' solver): MoF {reference['mof']:.3f}  mIoU {reference['miou']:.3f}")
        fig, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
        plot_segmentation(
            {"argmax": affinity.argmax(axis=1), "ASOT": pred}, gt, match=True, ax=ax,
            class_names={i: n for n, i in mapping.items()},
            legend=affinity.shape[1] <= 10,  # 22 Desktop Assembly actions: no legend
        )
        ax.set_title(video)
else:
    print("asot-examples not found: this part is skipped")
