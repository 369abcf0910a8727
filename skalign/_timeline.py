"""Many videos of one process on one timeline (``align_many``).

A reference video's frames are the steps of the timeline. Every other
video is aligned to the reference twice with the estimator's own
decoder: its frames onto the reference (where each of its frames lies on
the timeline) and the reference onto it (which of its frames to show at
each step). Frames either alignment leaves unmatched (background, a step
one video skips) are marked -1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._base import Alignment

__all__ = ["Timeline", "build_timeline", "pair_cost"]

#: Cost of a frame left unmatched in :func:`pair_cost`: ``1 - cos`` of
#: orthogonal embeddings, i.e. a frame unrelated to every frame of the other
#: video.
UNMATCHED_COST = 1.0


@dataclass(frozen=True, eq=False)
class Timeline:
    """Videos of one process on a common time axis.

    The axis is the frames of a reference video: step ``t`` is the
    reference's frame ``t``.

    Attributes
    ----------
    reference : int
        Index of the reference video.
    frames : list of ndarray of int64 of shape (n_steps,)
        For each video, the frame shown at each step of the timeline, or -1
        where the video has no counterpart of the reference's frame (a step
        it skips). Held frames repeat an index and frames of a video that
        is slower than the reference are jumped over; with ``monotone``
        (the default of ``align_many``) every map is non-decreasing over its
        non-negative entries. ``frames[reference]`` is ``0, 1, ...``.
    steps : list of ndarray of int64 of shape (n_frames_i,)
        For each video, the step of the timeline of each of its frames, or
        -1 for a frame with no counterpart in the reference (background, a
        step the reference skips). ``steps[reference]`` is ``0, 1, ...``.
    costs : ndarray of shape (n_videos, n_videos) or None
        The symmetric pairwise alignment costs (:func:`pair_cost`) the
        medoid reference was chosen by; None when the reference was given.

    See Also
    --------
    skalign.VideoAligner.align_many : Builds a timeline.
    skalign.metrics.timeline_accuracy : Its quality against phase labels.
    skalign.plotting.plot_timeline : All videos' phases on the common axis.
    skalign.io.write_synced_video : The videos side by side, in sync.
    """

    reference: int
    frames: list[np.ndarray]
    steps: list[np.ndarray]
    costs: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_steps(self) -> int:
        """Length of the timeline: the reference's number of frames."""
        return int(len(self.frames[self.reference]))

    @property
    def n_videos(self) -> int:
        """Number of videos on the timeline."""
        return len(self.frames)

    def phases(self, labels: Sequence[Any]) -> np.ndarray:
        """The label each video shows at each step.

        Parameters
        ----------
        labels : list of array-like of int
            One label per frame of every video (e.g. ``predict`` of a
            segmenter, or ground truth).

        Returns
        -------
        phases : ndarray of int64 of shape (n_videos, n_steps)
            ``labels[i][frames[i][t]]``, and -2 where video ``i`` has no
            counterpart at step ``t`` (-1 stays the background label).
        """
        labels = _check_labels(labels, self)
        out = np.full((self.n_videos, self.n_steps), -2, dtype=np.int64)
        for i, (idx, lab) in enumerate(zip(self.frames, labels)):
            shown = idx >= 0
            out[i, shown] = lab[idx[shown]]
        return out


def _check_labels(labels: Sequence[Any], timeline: Timeline) -> list[np.ndarray]:
    if len(labels) != timeline.n_videos:
        raise ValueError(f"labels holds {len(labels)} arrays but the timeline {timeline.n_videos} videos.")
    out = []
    for i, (lab, steps) in enumerate(zip(labels, timeline.steps)):
        arr = np.asarray(lab)
        if arr.ndim != 1 or len(arr) != len(steps) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"labels[{i}] must hold one int label per frame of videos[{i}] ({len(steps)} frames), "
                f"got shape {arr.shape} and dtype {arr.dtype}."
            )
        out.append(arr.astype(np.int64))
    return out


def pair_cost(alignment: Alignment) -> float:
    """Mean cost of an alignment over the frames of its first video.

    A matched frame costs its ``1 - cos`` to its match; an unmatched frame
    costs ``UNMATCHED_COST`` (1, as an unrelated frame), so a decoder cannot
    make two videos look alike by leaving their frames unmatched.

    Parameters
    ----------
    alignment : Alignment
        ``matches`` and ``cost`` of an alignment of ``a`` to ``b``.

    Returns
    -------
    cost : float
        In ``[0, 2]``.
    """
    m = alignment.matches
    rows = np.arange(len(m))
    per_frame = np.where(m >= 0, alignment.cost[rows, np.maximum(m, 0)], UNMATCHED_COST)
    return float(per_frame.mean())


def _monotone(index: np.ndarray) -> np.ndarray:
    """The closest non-decreasing map (least squares) over the shown entries."""
    from sklearn.isotonic import isotonic_regression

    shown = index >= 0
    if shown.sum() < 2:
        return index
    out = index.copy()
    fitted = isotonic_regression(index[shown].astype(np.float64), increasing=True)
    out[shown] = np.rint(fitted).astype(np.int64)
    return out


def build_timeline(
    lengths: Sequence[int],
    align: Callable[[int, int], Alignment],
    *,
    reference: Any = None,
    monotone: bool = True,
) -> Timeline:
    """Put embedded videos on the timeline of a reference video.

    Parameters
    ----------
    lengths : sequence of int
        Number of frames of each video.
    align : callable
        ``align(i, j) -> Alignment``: video ``i`` aligned to video ``j``
        (an estimator's decoder on their embeddings).
    reference : int or None
        Index of the reference video; None takes the medoid: the video of
        least total :func:`pair_cost` to the others (symmetrised), which
        costs ``n (n - 1)`` alignments.
    monotone : bool
        Make every ``frames`` map non-decreasing (isotonic regression of its
        shown entries, rounded), so playback never steps back.

    Returns
    -------
    Timeline
    """
    n = len(lengths)
    costs = None
    pairs: dict[tuple[int, int], Alignment] = {}
    if reference is None:
        costs = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if i != j:
                    pairs[i, j] = align(i, j)
                    costs[i, j] = pair_cost(pairs[i, j])
        costs = (costs + costs.T) / 2
        reference = int(np.argmin(costs.sum(1)))
    r = int(reference)
    frames, steps = [], []
    for i in range(n):
        if i == r:
            frames.append(np.arange(lengths[r], dtype=np.int64))
            steps.append(np.arange(lengths[r], dtype=np.int64))
            continue
        to_ref = pairs[i, r] if (i, r) in pairs else align(i, r)
        from_ref = pairs[r, i] if (r, i) in pairs else align(r, i)
        shown = np.asarray(from_ref.matches, dtype=np.int64)
        frames.append(_monotone(shown) if monotone else shown)
        steps.append(np.asarray(to_ref.matches, dtype=np.int64))
    return Timeline(reference=r, frames=frames, steps=steps, costs=costs)
