"""
==========================================================
One model to align and segment: JointAlignSegment
==========================================================

:class:`skalign.JointAlignSegment` (VASOT) trains one frame encoder with
two objectives at once: the VAOT alignment loss between two videos of the
same activity, and the ASOT segmentation loss of each video against ``K``
shared action embeddings. The fitted model aligns any two videos
(``align``, as :class:`skalign.VideoAligner`) and segments any video
(``predict``, as :class:`skalign.ActionSegmenter`).

Here it is fitted without labels on synthetic process videos with known
phases, and the labels serve only to score: alignment accuracy and
Kendall's tau for the alignment, MoF, F1 and mIoU for the segmentation,
against the same tools on the raw features.
"""

# %%
# Videos and the fit
# ------------------
import time
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from skalign import JointAlignSegment
from skalign.datasets import make_process_videos
from skalign.metrics import alignment_accuracy, kendalls_tau, segmentation_report
from skalign.ot import decode_matches, vaot
from skalign.plotting import plot_alignment, plot_segmentation

kw = dict(n_frames=(60, 100), n_features=24, background=0.1, noise=1.0, process=3)
train, _ = make_process_videos(8, 4, random_state=0, **kw)
test, test_labels = make_process_videos(4, 4, random_state=1, **kw)
print(f"{len(train)} training and {len(test)} held-out videos, 4 phases, 24 features a frame")

model = JointAlignSegment(
    n_actions=4, w_align=1.0, w_seg=1.0, embedding_dim=24, max_epochs=10, n_frames=48, batch_size=4,
    device="cpu", random_state=0,
)
start = time.perf_counter()
model.fit(train)
h = model.history_
print(f"fitted in {time.perf_counter() - start:.1f} s; alignment loss "
      f"{h['align_loss'][0]:.3f} -> {h['align_loss'][-1]:.3f}, segmentation loss "
      f"{h['seg_loss'][0]:.3f} -> {h['seg_loss'][-1]:.3f}")

# %%
# Alignment of held-out videos
# ----------------------------
# ``align`` solves the VAOT problem between the embeddings of two videos;
# frames matched to the virtual frame are left unmatched (-1). The
# baseline solves the same problem on the raw (unit-normalised) features.


def unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


raw_acc, joint_acc = [], []
for i, j in combinations(range(len(test)), 2):
    raw = decode_matches(vaot(1.0 - unit(test[i]) @ unit(test[j]).T, epsilon=0.04).plan)
    raw_acc.append(alignment_accuracy(raw, test_labels[i], test_labels[j]))
    joint_acc.append(alignment_accuracy(model.align(test[i], test[j]), test_labels[i], test_labels[j]))
print(f"{'held-out videos':<20} {'Kendall tau':>11} {'alignment acc.':>15}")
print(f"{'raw features':<20} {kendalls_tau(test):11.3f} {np.mean(raw_acc):15.3f}")
print(f"{'JointAlignSegment':<20} {kendalls_tau(model.transform(test)):11.3f} "
      f"{np.mean(joint_acc):15.3f}")

# %%
# Segmentation of the same videos
# -------------------------------
# ``predict`` transports the frames to the learnt action embeddings (ASOT)
# and gives each frame its action; the baseline is k-means on the raw
# features. Scores after per-video Hungarian matching.

pred = model.predict(test)
kmeans = KMeans(n_clusters=4, n_init=10, random_state=0).fit(unit(np.concatenate(train)))
baseline = [kmeans.predict(unit(v)) for v in test]
for title, p in [("k-means (raw)", baseline), ("JointAlignSegment", pred)]:
    r = segmentation_report(p, test_labels)
    f1 = "  ".join(f"F1@{int(k * 100)} {v:.3f}" for k, v in r["f1"].items())
    print(f"{title:<18} MoF {r['mof']:.3f}  {f1}  mIoU {r['miou']:.3f}")

# %%
# Both outputs for the first two held-out videos: the alignment plan with
# its matches (the virtual frame last), and the segmentations against the
# true phases.

fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
plot_alignment(model.align(test[0], test[1]), ax=ax, names=("video 0", "video 1"))

fig, axes = plt.subplots(2, 1, figsize=(8, 3.6), layout="constrained")
for k, ax in enumerate(axes):
    plot_segmentation({"k-means": baseline[k], "joint": pred[k]}, test_labels[k], match=True, ax=ax)
    ax.set_title(f"video {k}")
