"""One video of any accepted kind as an array, and lazy collections of files."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from ._features import FEATURE_SUFFIXES, read_features
from ._video import read_video, video_info

__all__ = ["load_video", "VideoCollection"]

_KINDS = (
    "an ndarray (n_frames, n_features) of features, an ndarray "
    "(n_frames, height, width, 3) of uint8 frames, or a path to a video or "
    "feature file (.npy, .txt)"
)


#: Largest feature magnitude accepted: the square of every value stays
#: within float32's range (3.4e38), and the float32 encoders' sums of
#: products of features and weights stay finite.
MAX_ABS_FEATURE = 1e18


def _is_path(video: Any) -> bool:
    return isinstance(video, (str, os.PathLike))


def load_video(
    video: Any,
    *,
    name: str = "video",
    min_frames: int = 1,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    max_frames: int | None = None,
    frame_indices: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Turn one video of any kind skalign accepts into a checked ndarray.

    Parameters
    ----------
    video : ndarray, torch.Tensor, str or os.PathLike
        Per-frame features ``(n_frames, n_features)``; RGB frames
        ``(n_frames, height, width, 3)`` of dtype uint8; or a path to a
        video file (decoded with :func:`read_video`) or a feature file
        (``.npy`` / ``.txt``, read with :func:`read_features`).
    name : str, default="video"
        How error messages name the video, e.g. ``"videos[3]"``.
    min_frames : int, default=1
        Fewest frames accepted.
    fps, size, max_frames : optional
        Passed to :func:`read_video` for video files; ignored otherwise.
    frame_indices : array-like of int, default=None
        Return only these frames (for files, only these are decoded or
        read).

    Returns
    -------
    video : ndarray
        Features as a floating-point array (integers become float64, float
        dtypes are kept) or frames as uint8, not copied when already so.

    Raises
    ------
    FileNotFoundError
        If a path does not exist (the message names ``name`` and the path).
    ValueError
        If the video is of no accepted kind or shape, holds NaN or inf or a
        feature beyond ``+-1e18`` (``MAX_ABS_FEATURE``: features are embedded
        in float32, whose range ends at 3.4e38, and some encoders square
        them), has fewer than ``min_frames`` frames, or a file is corrupt;
        the message names the video (and the file).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign.io import load_video
    >>> load_video(np.zeros((5, 3), dtype=int)).dtype
    dtype('float64')
    >>> load_video(np.zeros((4, 8, 8, 3), dtype=np.uint8)).shape
    (4, 8, 8, 3)
    >>> load_video(np.zeros((4, 8, 8)), name="videos[2]")
    Traceback (most recent call last):
    ...
    ValueError: videos[2] has shape (4, 8, 8); a video must be an ndarray (n_frames, n_features) of features, an ndarray (n_frames, height, width, 3) of uint8 frames, or a path to a video or feature file (.npy, .txt).
    """
    if _is_path(video):
        path = Path(video)
        label = f"{name} ({path})" if name != str(video) else str(path)
        try:
            if path.suffix.lower() in FEATURE_SUFFIXES:
                arr = read_features(path, mmap=frame_indices is not None)
                if frame_indices is not None:
                    arr = _take_rows(arr, frame_indices, label)
            else:
                arr = read_video(
                    path, fps=fps, size=size, max_frames=max_frames,
                    frame_indices=frame_indices,
                )
        except FileNotFoundError as err:
            raise FileNotFoundError(f"{name}: {err}") from None
        except ValueError as err:
            msg = str(err)
            raise ValueError(msg if name in msg else f"{name}: {msg}") from err
        return _check_array(arr, label, min_frames)
    if isinstance(video, (bytes, bytearray)) or video is None:
        raise ValueError(f"{name} is {type(video).__name__}; a video must be {_KINDS}.")
    if hasattr(video, "detach") and hasattr(video, "cpu"):  # a torch tensor
        video = video.detach().cpu().numpy()
    try:
        arr = np.asarray(video)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{name} could not be turned into an array ({err}); a video must be {_KINDS}."
        ) from None
    if arr.dtype == object and arr.size and all(
        isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_))
        for v in arr.flat
    ):
        # An object array (or nested list) holding only numbers: features.
        arr = arr.astype(np.float64)
    arr = _check_array(arr, name, min_frames)
    if frame_indices is not None:
        arr = _take_rows(arr, frame_indices, name)
    return arr


def _take_rows(arr: np.ndarray, frame_indices: Any, label: str) -> np.ndarray:
    idx = np.asarray(frame_indices)
    if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
        raise ValueError("frame_indices must be a 1-D sequence of ints.")
    if idx.size and (idx.min() < 0 or idx.max() >= arr.shape[0]):
        raise ValueError(
            f"frame_indices holds {int(idx.min()) if idx.min() < 0 else int(idx.max())} "
            f"but {label} has {arr.shape[0]} frames."
        )
    return np.asarray(arr[idx])


def _check_array(arr: np.ndarray, name: str, min_frames: int) -> np.ndarray:
    if arr.ndim == 2:
        if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
            raise ValueError(
                f"{name} holds dtype {arr.dtype}; features must be real numbers."
            )
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64)
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has no feature (shape {arr.shape}).")
        finite = np.isfinite(arr)
        if not finite.all():
            n_bad = int(arr.size - finite.sum())
            frame = int(np.argwhere(~finite)[0, 0])
            raise ValueError(
                f"{name} holds {n_bad} non-finite value(s) (NaN or inf), the "
                f"first in frame {frame}; every feature must be finite."
            )
        big = np.abs(arr) > MAX_ABS_FEATURE
        if big.any():
            n_big = int(big.sum())
            frame, col = (int(k) for k in np.argwhere(big)[0])
            raise ValueError(
                f"{name} holds {n_big} feature value(s) beyond +-{MAX_ABS_FEATURE:.0e}, the "
                f"first ({float(arr[frame, col]):.3g}) in frame {frame}; features are embedded "
                "in float32 and must lie within that bound: rescale them (e.g. standardise "
                "each feature)."
            )
    elif arr.ndim == 4 and arr.shape[-1] == 3:
        if arr.dtype != np.uint8:
            raise ValueError(
                f"{name} has shape {arr.shape} and dtype {arr.dtype}; RGB "
                "frames must be uint8 in 0..255 (features must be 2-D)."
            )
        if arr.shape[1] == 0 or arr.shape[2] == 0:
            raise ValueError(f"{name} has empty frames (shape {arr.shape}).")
    elif arr.ndim == 4 and arr.shape[1] == 3:
        raise ValueError(
            f"{name} has shape {arr.shape}; frames must be channels-last "
            "(n_frames, height, width, 3): use np.moveaxis(video, 1, -1)."
        )
    else:
        raise ValueError(f"{name} has shape {arr.shape}; a video must be {_KINDS}.")
    if arr.shape[0] < min_frames:
        raise ValueError(
            f"{name} has {arr.shape[0]} frame(s); at least {min_frames} are needed."
        )
    return arr


class VideoCollection(Sequence):
    """A list of video or feature files, read only when an item is asked for.

    Pass it wherever skalign takes a list of videos: ``fit`` reads one video
    at a time, so a data set larger than memory can be used. Indexing with
    an int reads that video (through :func:`load_video`); indexing with a
    slice, a list or an array of ints, or a boolean mask gives another
    collection, without reading anything.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Video files (anything FFmpeg decodes) or feature files (``.npy``,
        ``.txt``), in order. Missing files are reported when read.
    fps : float, default=None
        Frame rate to resample video files to (see :func:`read_video`).
    size : int or (int, int), default=None
        Frame size ``(height, width)`` for video files.
    max_frames : int, default=None
        Read at most this many frames of each video file.

    Attributes
    ----------
    paths : tuple of pathlib.Path
        The files.

    Notes
    -----
    scikit-learn's cross-validation splits a list by building a new list of
    its items, which would read every video of a split. Like a pandas
    object, the collection also offers ``take`` and ``iloc``; scikit-learn
    (``train_test_split``, ``GridSearchCV``, ``cross_validate``) then uses
    them and gives each split as a collection that is still unread.
    Options apply to video files only; feature files are read as they are.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import VideoCollection, write_features
    >>> root = tempfile.mkdtemp()
    >>> paths = [write_features(os.path.join(root, f"v{i}.npy"), np.full((i + 2, 3), i))
    ...          for i in range(4)]
    >>> videos = VideoCollection(paths)
    >>> len(videos), videos[1].shape
    (4, (3, 3))
    >>> videos[::2]
    VideoCollection(['v0.npy', 'v2.npy'])
    >>> [v.shape[0] for v in videos[[3, 0]]]
    [5, 2]
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        fps: float | None = None,
        size: int | tuple[int, int] | None = None,
        max_frames: int | None = None,
    ):
        if _is_path(paths):
            raise TypeError(
                "paths must be an iterable of paths, got a single path; "
                "use VideoCollection.from_folder for a folder."
            )
        items = []
        for i, p in enumerate(paths):
            if not _is_path(p):
                raise TypeError(
                    f"paths[{i}] must be a str or os.PathLike, got {type(p).__name__}."
                )
            items.append(Path(p))
        self.paths = tuple(items)
        self.fps = fps
        self.size = size
        self.max_frames = max_frames

    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike,
        pattern: str = "*",
        **kwargs: Any,
    ) -> "VideoCollection":
        """A collection of the files in ``folder`` matching ``pattern``, sorted.

        Parameters
        ----------
        folder : str or os.PathLike
            The folder.
        pattern : str, default="*"
            A glob pattern, e.g. ``"*.mp4"``; hidden files and folders are
            skipped.
        **kwargs
            ``fps``, ``size``, ``max_frames`` as in the constructor.

        Returns
        -------
        collection : VideoCollection
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"folder not found: {folder}")
        paths = sorted(
            p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(".")
        )
        return cls(paths, **kwargs)

    def _params(self) -> dict[str, Any]:
        return dict(fps=self.fps, size=self.size, max_frames=self.max_frames)

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice | Sequence[int] | np.ndarray) -> "VideoCollection": ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            return self.load(int(index))
        if isinstance(index, slice):
            return VideoCollection(self.paths[index], **self._params())
        return self.take(index)

    def take(self, indices: Any, axis: int = 0) -> "VideoCollection":
        """The collection of the items at ``indices`` (ints or a boolean mask).

        Parameters
        ----------
        indices : array-like of int or bool
            Positions (negative ones count from the end) or a mask of
            ``len(self)`` booleans.
        axis : {0}, default=0
            Only 0; present for scikit-learn's indexing.

        Returns
        -------
        collection : VideoCollection
        """
        if axis != 0:
            raise ValueError(f"a VideoCollection has one axis; got axis={axis}.")
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(
                    f"boolean index of shape {idx.shape} for a collection of {len(self)} videos."
                )
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64)
        elif idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise IndexError(
                "a VideoCollection is indexed by an int, a slice, ints or a boolean mask; "
                f"got {indices!r}."
            )
        n = len(self)
        paths = []
        for i in idx.tolist():
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for {n} videos.")
            paths.append(self.paths[i])
        return VideoCollection(paths, **self._params())

    @property
    def iloc(self) -> "_ILoc":
        """Position-based indexing, as ``collection[...]``."""
        return _ILoc(self)

    def load(
        self, index: int, *, frame_indices: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Read one video, or some of its frames.

        Parameters
        ----------
        index : int
            Position in the collection (negative counts from the end).
        frame_indices : array-like of int, default=None
            Read only these frames: for a video file, decoding stops after
            the last one and only they are converted; a ``.npy`` file is
            memory-mapped.

        Returns
        -------
        video : ndarray
            As :func:`load_video` returns it.
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} videos.")
        i = index % n
        path = self.paths[i]
        return load_video(
            path,
            name=f"videos[{i}]",
            fps=self.fps,
            size=self.size,
            max_frames=self.max_frames,
            frame_indices=frame_indices,
        )

    def n_frames(self, index: int) -> int:
        """Number of frames of one video, without converting any frame.

        Parameters
        ----------
        index : int
            Position in the collection.

        Returns
        -------
        n_frames : int
            What ``len(collection[index])`` would be.
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} videos.")
        path = self.paths[index % n]
        if path.suffix.lower() in FEATURE_SUFFIXES:
            if path.suffix.lower() == ".npy":
                count = read_features(path, mmap=True).shape[0]
            else:
                count = read_features(path).shape[0]
        else:
            count = video_info(path, fps=self.fps).n_frames
        if self.max_frames is not None and path.suffix.lower() not in FEATURE_SUFFIXES:
            count = min(count, self.max_frames)
        return count

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.load(i)

    def __repr__(self) -> str:
        names = [p.name for p in self.paths]
        if len(names) > 6:
            shown = ", ".join(repr(n) for n in names[:3] + ["..."] + names[-2:])
            shown = shown.replace("'...'", "...")
        else:
            shown = ", ".join(repr(n) for n in names)
        opts = ", ".join(f"{k}={v!r}" for k, v in self._params().items() if v is not None)
        return f"VideoCollection([{shown}]" + (f", {opts})" if opts else ")")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VideoCollection):
            return NotImplemented
        return self.paths == other.paths and self._params() == other._params()

    __hash__ = None  # type: ignore[assignment]


class _ILoc:
    def __init__(self, collection: VideoCollection):
        self._collection = collection

    def __getitem__(self, index: Any) -> Any:
        return self._collection[index]
