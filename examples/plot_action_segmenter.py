"""
==========================================================
Learning to segment actions: ActionSegmenter vs k-means
==========================================================

:class:`skalign.ActionSegmenter` learns, without labels, a frame encoder
and ``K`` action embeddings (ASOT's training): the actions start at the
k-means centres of the frames, and every step trains the encoder to
predict the pseudo-labels of a temporally consistent, unbalanced optimal
transport between frames and actions. ``predict`` solves that transport
problem once more and gives each frame its action.

The baseline is k-means on the raw features, frame by frame. Both are
scored per video after Hungarian matching of clusters to classes, with
MoF, segmental F1 and mIoU (:func:`skalign.metrics.segmentation_report`).
The data are the five Breakfast "coffee" videos in ``shared/data`` when
present, synthetic process videos otherwise.
"""

# %%
# Finding the data
# ----------------
# The ``shared/data`` folder is taken from the ``SKALIGN_SHARED_DATA``
# environment variable, or found by walking up from this file.
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from skalign import ActionSegmenter
from skalign.datasets import load_action_segmentation, make_process_videos
from skalign.metrics import segmentation_report
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
n_actions = int(np.sum(np.unique(np.concatenate(labels)) >= 0))
print(f"  {sum(len(f) for f in features)} frames, {features[0].shape[1]} features a frame, "
      f"K = {n_actions} actions")

# %%
# Fitting the segmenter
# ---------------------
# ``K`` is given, as in the unsupervised segmentation literature. The
# settings are those of :class:`~skalign.ActionSegmenter` (ASOT's
# Breakfast settings: 40-dimensional embeddings, ``alpha=0.3``,
# ``rho=0.2``, ``lambda_actions=0.1`` in training; ``predict_alpha=0.6``,
# ``predict_epsilon=0.04`` in ``predict``), with a short training.

segmenter = ActionSegmenter(n_actions, max_epochs=12, n_frames=128, device="cpu", random_state=0)
start = time.perf_counter()
segmenter.fit(features)
print(f"fitted in {time.perf_counter() - start:.1f} s; loss "
      f"{segmenter.history_['loss'][0]:.3f} -> {segmenter.history_['loss'][-1]:.3f}")
learned = segmenter.predict(features)

# %%
# The baseline: k-means on the raw features
# -----------------------------------------
# One clustering of all frames of all videos (unit-normalised features, as
# the segmenter's cosine cost), each frame labelled by its nearest centre.


def unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


kmeans = KMeans(n_clusters=n_actions, n_init=10, random_state=0).fit(unit(np.concatenate(features)))
baseline = [kmeans.predict(unit(f)) for f in features]

# %%
# Scores
# ------


def show(title, pred):
    r = segmentation_report(pred, labels)
    f1 = "  ".join(f"F1@{int(k * 100)} {v:.3f}" for k, v in r["f1"].items())
    print(f"{title:<16} MoF {r['mof']:.3f}  {f1}  mIoU {r['miou']:.3f}")


show("k-means", baseline)
show("ActionSegmenter", learned)

# %%
# The longest video: clusters renamed to their matched classes
# (``match=True``), so that colours compare across rows. k-means labels
# flicker between clusters; the segmenter's transport keeps whole segments.

longest = int(np.argmax([len(y) for y in labels]))
fig, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
plot_segmentation(
    {"k-means": baseline[longest], "ActionSegmenter": learned[longest]}, labels[longest],
    class_names=class_names, match=True, ax=ax,
)
ax.set_title(names[longest])
