"""
==========================================================
Many takes on one timeline, a synced grid, and K from data
==========================================================

Recordings of one process differ in speed, pauses and steps left out.
:meth:`skalign.VideoAligner.align_many` puts all of them on the timeline of
one reference video (by default the medoid: the take closest to all
others); :func:`skalign.plotting.plot_timeline` draws every take's phases
on that axis, and :func:`skalign.io.write_synced_video` (or ``skalign sync
MODEL VIDEOS... --out grid.mp4``) writes the takes side by side in one
video, each showing its frame of the same moment.

The last part lets :class:`skalign.ActionSegmenter` choose the number of
actions itself (``n_actions="auto"``): the median number of segments the
training videos show.
"""

# %%
# Render takes of a four-phase process as mp4 files
# -------------------------------------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from skalign import ActionSegmenter, VideoAligner
from skalign._base import dtw_alignment
from skalign._timeline import build_timeline
from skalign.datasets import make_process_videos
from skalign.io import read_video, video_info, write_synced_video, write_video
from skalign.metrics import mof, timeline_accuracy
from skalign.plotting import plot_timeline

frames, labels = make_process_videos(
    6, 4, kind="frames", n_frames=(40, 70), size=48, speed=0.8, noise=0.02, random_state=0
)
folder = Path(tempfile.mkdtemp())
paths = [str(write_video(folder / f"take{i}.mp4", v, fps=15)) for i, v in enumerate(frames)]
videos = [read_video(p) for p in paths]
print(f"{len(paths)} takes of {min(map(len, videos))} to {max(map(len, videos))} frames")

# %%
# One timeline for all takes
# --------------------------
# A small convolutional encoder learns from the pixels without labels
# (VAOT); the phase labels are used only to score the timeline. The
# baseline is dynamic time warping of the raw pixels to the medoid of
# their DTW costs. These renders are clean and their phases differ in
# colour, so the pixels alone align them well: the printed figures say
# whether the learned timeline beats them here (the user guide's
# "Many videos on one timeline" has the measurements on harder data).
aligner = VideoAligner(encoder="conv", features=None, embedding_dim=16, max_epochs=15,
                       device="cpu", random_state=0).fit(videos)
timeline = aligner.align_many(videos)
pixels = [v.reshape(len(v), -1).astype(np.float64) for v in videos]
baseline = build_timeline([len(p) for p in pixels],
                          lambda i, j: dtw_alignment(pixels[i], pixels[j]))
print(f"reference: take{timeline.reference} ({timeline.n_steps} steps)")
print(f"timeline accuracy: VAOT {timeline_accuracy(timeline, labels):.3f}, "
      f"DTW on raw pixels {timeline_accuracy(baseline, labels):.3f}")

fig, axes = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
plot_timeline(timeline, labels, ax=axes[0], names=[f"take{i}" for i in range(6)], legend=False)
axes[0].set_title("VAOT: true phases of the frame each take shows")
plot_timeline(baseline, labels, ax=axes[1], names=[f"take{i}" for i in range(6)])
axes[1].set_title("DTW on raw pixels")
fig.tight_layout()

# %%
# The takes side by side, in sync
# -------------------------------
# The grid is streamed: one decoder per file and one output frame in
# memory. A tile with a red border is a take with no counterpart of the
# reference's frame at that step; the strip under each tile is the phase
# of the frame it shows.
grid = write_synced_video(paths, timeline, folder / "grid.mp4", tile=96, labels=labels)
info = video_info(grid)
print(f"{grid.name}: {info.n_frames} frames of {info.width}x{info.height}")
shots = read_video(grid)[[5, timeline.n_steps // 2, timeline.n_steps - 5]]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, shot, step in zip(axes, shots, (5, timeline.n_steps // 2, timeline.n_steps - 5)):
    ax.imshow(shot)
    ax.set_title(f"step {step}")
    ax.axis("off")
fig.tight_layout()

# %%
# Let the segmenter choose the number of actions
# ----------------------------------------------
# ``n_actions="auto"`` counts the segments of every training video (the
# abrupt changes of its input features, plus one), takes the median count
# and fits once. Here on feature videos of a five-phase process; the bars
# are how many videos counted each number of segments.
feats, phases = make_process_videos(10, 5, random_state=1)
seg = ActionSegmenter("auto", max_epochs=30, device="cpu", random_state=0).fit(feats)
print(f"segments counted per video: {seg.search_['segments'].tolist()}")
print(f"chosen K = {seg.n_actions_} (true 5), MoF {mof(seg.predict(feats), phases):.3f}")
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(seg.search_["n_actions"], seg.search_["votes"], color="grey")
ax.axvline(seg.n_actions_, color="black", ls="--", label=f"chosen K = {seg.n_actions_}")
ax.set_xlabel("number of segments counted")
ax.set_ylabel("videos")
ax.legend()
fig.tight_layout()
plt.show()
