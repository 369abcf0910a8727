"""Reading and writing videos and per-frame feature files.

Videos are decoded with PyAV (FFmpeg) into uint8 RGB arrays of shape
``(n_frames, height, width, 3)``; feature files (``.npy``, ``.txt``) hold one
frame a row. :func:`load_video` turns any video skalign accepts (features,
frames or a path) into a checked array, and :class:`VideoCollection` reads
files only when an item is asked for, so data sets larger than memory can be
passed to ``fit``. :func:`write_synced_video` shows videos put on one
timeline side by side in one video file.
"""

from ._collection import VideoCollection, load_video
from ._features import FEATURE_SUFFIXES, read_features, write_features
from ._sync import write_synced_video
from ._video import VideoInfo, iter_frames, read_video, video_info, write_video

__all__ = [
    "FEATURE_SUFFIXES",
    "VideoCollection",
    "VideoInfo",
    "iter_frames",
    "load_video",
    "read_features",
    "read_video",
    "video_info",
    "write_features",
    "write_synced_video",
    "write_video",
]
