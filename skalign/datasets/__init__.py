"""Synthetic process videos and loaders of standard data layouts.

:func:`make_process_videos` draws videos of one process (as features or as
rendered frames) whose per-frame phases are known, with the temporal
variations of real recordings: background frames, redundant actions,
swapped and repeated phases. The loaders read the layouts real data sets
come in: per-frame features with ground truth (Breakfast, 50 Salads,
YouTube Instructions, Desktop Assembly), the CMU motion-capture sequences,
and folders of videos with per-frame phase labels.
"""

from ._loaders import (
    load_action_segmentation,
    load_mocap6,
    load_phase_videos,
    read_mapping,
    save_phase_videos,
)
from ._synthetic import ProcessSegment, make_process_videos

__all__ = [
    "ProcessSegment",
    "load_action_segmentation",
    "load_mocap6",
    "load_phase_videos",
    "make_process_videos",
    "read_mapping",
    "save_phase_videos",
]
