"""Input checks shared by the metrics: lists of per-video arrays."""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

import numpy as np

from .._validation import check_int  # noqa: F401  (re-exported for the metrics)


def check_video_list(
    videos: Any, name: str, *, min_videos: int = 1, item_ndim: int = 2
) -> list:
    """Return ``videos`` as a list, rejecting a lone array of frames.

    Parameters
    ----------
    videos : sequence
        One entry per video.
    name : str
        Argument name used in error messages.
    min_videos : int, default=1
        Fewest videos accepted.
    item_ndim : int, default=2
        Number of dimensions of one video's array; an ndarray with no more
        dimensions than this is one video, not a list, and is rejected.

    Returns
    -------
    videos : list
    """
    if isinstance(videos, np.ndarray) and videos.ndim <= item_ndim and videos.dtype != object:
        raise ValueError(
            f"{name} must be a list with one array per video; got a single "
            f"{videos.ndim}-D array. Wrap one video as [video]."
        )
    if isinstance(videos, (str, bytes)) or not hasattr(videos, "__len__"):
        raise ValueError(
            f"{name} must be a list with one array per video; got {type(videos).__name__}."
        )
    videos = list(videos)
    if len(videos) < min_videos:
        raise ValueError(
            f"{name} needs at least {min_videos} video(s); got {len(videos)}."
        )
    return videos


def check_embeddings(
    embeddings: Any, name: str = "embeddings", *, min_videos: int = 1
) -> list[np.ndarray]:
    """Validate a list of per-video embeddings ``(n_frames, n_dims)``.

    Parameters
    ----------
    embeddings : list of array-like of shape (n_frames, n_dims)
        One array per video; all share ``n_dims``.
    name : str, default="embeddings"
        Argument name used in error messages.
    min_videos : int, default=1
        Fewest videos accepted.

    Returns
    -------
    embeddings : list of ndarray of float64
    """
    videos = check_video_list(embeddings, name, min_videos=min_videos)
    out = []
    n_dims = None
    for i, video in enumerate(videos):
        try:
            arr = np.asarray(video, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}[{i}] is not a numeric array: {exc}") from None
        if arr.ndim != 2:
            raise ValueError(
                f"{name}[{i}] must be 2-D (n_frames, n_dims); got shape {arr.shape}."
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name}[{i}] has no frames.")
        if arr.shape[1] == 0:
            raise ValueError(f"{name}[{i}] has no embedding dimensions.")
        if n_dims is None:
            n_dims = arr.shape[1]
        elif arr.shape[1] != n_dims:
            raise ValueError(
                f"{name}[{i}] has {arr.shape[1]} dimensions; {name}[0] has {n_dims}."
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}[{i}] contains NaN or infinite values.")
        out.append(arr)
    return out


def check_label_array(labels: Any, name: str, *, min_value: int = -1) -> np.ndarray:
    """Validate one per-frame label array and return it as ``int64``.

    Parameters
    ----------
    labels : array-like of shape (n_frames,)
        Integer labels; float arrays holding whole numbers are accepted.
    name : str
        Argument name used in error messages (e.g. ``"labels[3]"``).
    min_value : int, default=-1
        Smallest label accepted.

    Returns
    -------
    labels : ndarray of int64
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_frames,); got shape {arr.shape}.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        if arr.size:
            raise ValueError(f"{name} must hold integer labels; got dtype {arr.dtype}.")
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer labels; got non-integer values.")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < min_value:
        raise ValueError(
            f"{name} holds the label {int(arr.min())}; labels must be >= {min_value}."
        )
    return arr


def check_labels(
    labels: Any, lengths: Sequence[int], name: str = "labels", *, min_value: int = -1
) -> list[np.ndarray]:
    """Validate a list of per-video labels against the videos' lengths.

    Parameters
    ----------
    labels : list of array-like of shape (n_frames,)
        One integer array per video; -1 marks frames to ignore.
    lengths : sequence of int
        Number of frames of each video.
    name : str, default="labels"
        Argument name used in error messages.
    min_value : int, default=-1
        Smallest label accepted.

    Returns
    -------
    labels : list of ndarray of int64
    """
    if labels is None:
        raise ValueError(f"{name} is required (a list of per-frame int arrays).")
    videos = check_video_list(labels, name, item_ndim=1)
    if len(videos) != len(lengths):
        raise ValueError(
            f"{name} has {len(videos)} videos; the embeddings have {len(lengths)}."
        )
    out = []
    for i, (lab, n) in enumerate(zip(videos, lengths)):
        arr = check_label_array(lab, f"{name}[{i}]", min_value=min_value)
        if arr.shape[0] != n:
            raise ValueError(f"{name}[{i}] has {arr.shape[0]} labels for {n} frames.")
        out.append(arr)
    return out


def check_fraction_list(values: Any, name: str, *, low_open: bool = True) -> tuple:
    """Validate a non-empty sequence of numbers in ``(0, 1]`` (or ``[0, 1]``)."""
    if isinstance(values, (Real, np.floating, np.integer)):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must not be empty.")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (Real, np.floating, np.integer)):
            raise ValueError(f"{name} must hold numbers; got {v!r}.")
        bad = (v <= 0 if low_open else v < 0) or v > 1 or not np.isfinite(v)
        if bad:
            interval = "(0, 1]" if low_open else "[0, 1]"
            raise ValueError(f"every value of {name} must lie in {interval}; got {v!r}.")
    return values
