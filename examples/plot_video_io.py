"""
=================================
Writing and reading video files
=================================

skalign reads videos with PyAV (FFmpeg) into ``uint8`` arrays of shape
``(n_frames, height, width, 3)`` and writes such arrays back to files.
This example renders a synthetic process video, writes it to an mp4 file
with :func:`skalign.io.write_video`, and reads it back with
:func:`skalign.io.read_video`: whole, resampled to another frame rate,
resized, and frame by frame; then it aligns mp4 files with a
:class:`~skalign.VideoAligner` learnt from them.
"""

# %%
# Render and write a video
# ------------------------
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from skalign.datasets import make_process_videos
from skalign.io import VideoCollection, load_video, read_video, video_info, write_video

(frames,), (labels,) = make_process_videos(
    1, 4, kind="frames", n_frames=90, size=64, noise=0.0, random_state=0
)
print(f"rendered: {frames.shape}, {frames.dtype}")

folder = Path(tempfile.mkdtemp())
path = write_video(folder / "process.mp4", frames, fps=30)
print(f"wrote {path.name}: {path.stat().st_size / 1024:.1f} KiB")

# %%
# What the file holds
# -------------------
# :func:`~skalign.io.video_info` reads the stream's frame count, rate and
# size without converting frames to RGB.

info = video_info(path)
print(info)

# %%
# Read it back
# ------------
# h264 in yuv420p is lossy (colours are stored at half resolution, and the
# encoder quantises), so the decoded frames differ somewhat from the
# rendered ones, most at sharp coloured edges.

decoded = read_video(path)
error = np.abs(decoded.astype(int) - frames.astype(int))
print(f"decoded: {decoded.shape}; mean absolute error {error.mean():.2f} of 255, "
      f"99th percentile {np.percentile(error, 99):.0f}")

# %%
# ``fps`` resamples by presentation time (output frame ``k`` is the frame on
# screen at ``k / fps`` seconds), ``size`` resizes, ``frame_indices``
# decodes only the frames asked for.

print("at 10 fps:", read_video(path, fps=10).shape)
print("resized:  ", read_video(path, size=(32, 48)).shape)
some = read_video(path, frame_indices=[0, 30, 60, 89])
print("4 frames: ", some.shape)

fig, axes = plt.subplots(2, 4, figsize=(8, 4.4), layout="constrained")
for col, index in enumerate([0, 30, 60, 89]):
    axes[0, col].imshow(frames[index])
    axes[0, col].set_title(f"frame {index}, phase {labels[index]}", fontsize="small")
    axes[1, col].imshow(some[col])
    axes[1, col].set_title("decoded", fontsize="small")
for ax in axes.flat:
    ax.set_axis_off()

# %%
# Many files, read on demand
# --------------------------
# :class:`~skalign.io.VideoCollection` is a list of files that reads a
# video only when an item is asked for; skalign's functions that take a
# list of videos accept it, and :func:`~skalign.io.load_video` turns any
# accepted video (array or path) into a checked array.

paths = [write_video(folder / f"clip{i}.mp4", frames[i * 30:(i + 1) * 30], fps=30) for i in range(3)]
videos = VideoCollection(paths, size=32)
print(videos, [v.shape for v in videos])
print("load_video:", load_video(paths[0], max_frames=10).shape)

# %%
# Align your own mp4 files
# ------------------------
# A folder of mp4 files of one process is all :class:`~skalign.VideoAligner`
# needs: here eight rendered videos are written as mp4, passed as a
# :class:`~skalign.io.VideoCollection` (read lazily at 32 x 32 pixels), and
# a small conv encoder (``encoder="conv"``) learns to embed their frames
# from scratch, without labels (:ref:`sphx_glr_auto_examples_plot_real_videos.py`
# shows the pretrained-feature path, the default for frames). Then two
# of them are aligned frame to frame.
from skalign import VideoAligner
from skalign.metrics import alignment_accuracy
from skalign.plotting import plot_alignment

clips, clip_labels = make_process_videos(
    8, 4, kind="frames", n_frames=(40, 60), size=32, noise=0.02, random_state=1
)
clip_paths = [write_video(folder / f"own{i}.mp4", v, fps=15) for i, v in enumerate(clips)]
own = VideoCollection(clip_paths)
aligner = VideoAligner(encoder="conv", embedding_dim=32, max_epochs=8, batch_size=4,
                       random_state=0).fit(own)
res = aligner.align(own[0], own[1])
print(f"aligned {clip_paths[0].name} to {clip_paths[1].name}: "
      f"alignment accuracy {alignment_accuracy(res.matches, clip_labels[0], clip_labels[1]):.3f}")
plot_alignment(res, frames_a=own[0], frames_b=own[1])
plt.show()

shutil.rmtree(folder)  # the example's files are no longer needed
