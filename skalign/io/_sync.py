"""Many videos side by side, in sync, in one video file.

A timeline (``VideoAligner.align_many``) says which frame of every video to
show at each of its steps. :func:`write_synced_video` streams the videos
through one decoder each, composes one grid frame per step and encodes it
at once, so memory holds a few small frames per video and one output
frame, whatever the length or resolution of the videos.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .._files import atomic_path
from .._text import clock as _clock
from .._files import same_file as _same_file
from .._validation import check_number
from ._video import (
    _ENCODERS,
    _as_path,
    _as_rate,
    _check_fps,
    _check_max_frames,
    _check_size,
    _Converter,
    _open_video,
    _reason,
    iter_frames,
    video_info,
)

__all__ = ["write_synced_video"]

#: Containers the output may be written in (each holds h264).
SYNC_SUFFIXES = (".avi", ".mkv", ".mov", ".mp4")

# Frames each decoder yields at a time (at tile size): the memory held per
# video is this many tiles.
_DECODE_BATCH = 4
# The "no counterpart" marker: the last shown frame at this brightness (or a
# flat grey before any frame was shown), inside a red border.
_DARKEN = 0.35
_NO_FRAME_GREY = 96
_MARKER_RGB = (255, 0, 0)
# Colour strip of a background label (-1): light grey, as
# skalign.plotting.class_color(-1).
_BACKGROUND_RGB = (204, 204, 204)
# The colours of matplotlib's "tab20" in the order skalign.plotting.class_color
# gives them to classes 0..19 (the ten dark shades, then the ten light ones),
# so that strips and plots agree without importing matplotlib.
_PALETTE = np.array(
    [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
        [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
        [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
    ],
    dtype=np.uint8,
)


def write_synced_video(
    videos: Sequence[str | os.PathLike | np.ndarray],
    frames: Any,
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    out_fps: float | Fraction | None = None,
    tile: int | tuple[int, int] = 180,
    columns: int | None = None,
    labels: Sequence[Any] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    quality: int | None = None,
    threads: int | None = None,
) -> Path:
    """Write videos side by side in a grid, each showing its frame of a timeline.

    Output frame ``t`` shows, for every video ``i``, its frame
    ``frames[i][t]``; where that is -1 (no counterpart at step ``t``) the
    tile shows the "no counterpart" marker (see Notes).

    Parameters
    ----------
    videos : sequence of str, os.PathLike or ndarray
        Video files FFmpeg can read, or RGB frames of shape
        ``(n_frames, height, width, 3)`` and dtype uint8; files and arrays
        may be mixed.
    frames : Timeline or sequence of array-like of int
        For each video, the index of its frame to show at each of the
        ``n_steps`` steps, or -1 where it has none: a list of 1-D int arrays
        of one length, or an object with such a list as its ``frames``
        attribute (a :class:`skalign.Timeline` from ``align_many``). Indices
        count the frames as :func:`iter_frames` decodes them with the same
        ``fps`` and ``max_frames`` (the rows of an array).
    path : str or os.PathLike
        Output file, ``.mp4``, ``.mkv``, ``.avi`` or ``.mov``, in an
        existing folder. It is written under a temporary name and renamed
        when complete, so an error or an interruption leaves no partial
        file (and an existing file untouched).
    fps : float, default=None
        The rate the video files were decoded at when the indices were
        computed (see :func:`read_video`); ``None``: every decoded frame.
        Arrays are used as they are.
    max_frames : int, default=None
        Only the first ``max_frames`` frames of each video exist for the
        indices, as in :func:`read_video` (arrays included).
    out_fps : float or fractions.Fraction, default=None
        Frame rate of the output, one step a frame. Default: ``fps`` when
        given, else the rate in the first video file's header (measured
        with :func:`video_info` when the header has none), else 30.
    tile : int or (int, int), default=180
        Size of each video's tile: its height, the width following the
        first video's aspect ratio (rounded to an even number of pixels),
        or ``(height, width)``. Frames are resized to it, not cropped.
    columns : int, default=None
        Tiles per row of the grid (at most ``len(videos)``); default
        ``ceil(sqrt(len(videos)))``. Video ``i`` is in row
        ``i // columns``, column ``i % columns``.
    labels : sequence of array-like of int, default=None
        For each video, one phase label per frame (-1: background). A strip
        under each tile shows the label of the frame shown, in the colour
        :func:`skalign.plotting.class_color` gives it (background: light
        grey); the strip is black under a "no counterpart" tile.
    overwrite : bool, default=False
        Replace ``path`` when it exists.
    progress : bool, default=False
        Draw a progress line on stderr: steps written, steps a second, and
        the time left.
    quality : int, default=None
        libx264's constant rate factor, 0 (lossless luma and chroma planes)
        to 51; default 18, as :func:`write_video`.
    threads : int, default=None
        Threads of the h264 encoder; ``None`` lets FFmpeg choose (about one
        per core). The decoders choose their own.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    FileNotFoundError
        If a video file does not exist (the message names ``videos[i]``).
    TypeError
        If ``videos``, ``frames`` or ``labels`` is not a list (a single
        video must be wrapped in a list).
    ValueError
        Before anything is decoded: if ``path`` is one of the video files,
        exists and ``overwrite`` is False, is in a folder that does not
        exist or has another suffix; if ``frames`` does not hold one 1-D
        int array of values ``>= -1`` per video, all of one length
        ``>= 1``; if ``labels`` does not hold one label per frame (for a
        file: fewer labels than the largest index asks for); if an array
        video is not uint8 RGB frames or an index is past its last frame.
        While streaming (the output is then removed): if an index is past
        the last decoded frame of a file, or a file's labels are more than
        its frames (checked by decoding the rest of the file after the last
        step, only when ``labels`` is given); if a file is corrupt or
        unreadable. Each message names ``videos[i]`` and the file.

    See Also
    --------
    skalign.VideoAligner.align_many : Builds the timeline.
    iter_frames : How the frames are decoded and counted.
    write_video : Writes one video from frames in memory.

    Notes
    -----
    Each file is decoded once, front to back, by one :func:`iter_frames`
    generator resized straight to the tile size, ``4`` frames at a time;
    frames between two shown ones are decoded and dropped. When an index
    is smaller than the previous one of the same video (a map that is not
    non-decreasing), that video's decoder is reopened and decodes again
    from the first frame: correct, but each backward jump costs up to one
    pass over the file. Memory: a few tiles per video and one grid frame.

    The "no counterpart" marker is the video's last shown frame darkened
    to 35 % brightness (a flat dark grey, RGB 96, if none was shown yet)
    inside a red (255, 0, 0) border about ``tile_height / 20`` pixels wide
    (at least 4, even).

    The grid has ``ceil(len(videos) / columns)`` rows of cells without
    gaps; a cell is a tile and, with ``labels``, a strip about
    ``tile_height / 15`` pixels high (at least 6, even) under it. The
    frame is padded with black to an even width and height, as yuv420p
    needs; unused cells are black. Encoding is h264 (libx264, yuv420p).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skalign.io import read_video, write_synced_video
    >>> a = np.zeros((5, 32, 48, 3), dtype=np.uint8)
    >>> b = np.full((4, 32, 48, 3), 200, dtype=np.uint8)
    >>> maps = [[0, 1, 2, 3, 4], [0, 0, 1, -1, 3]]
    >>> out = write_synced_video([a, b], maps, os.path.join(tempfile.mkdtemp(), "sync.mp4"),
    ...                          tile=32, out_fps=10)
    >>> read_video(out).shape
    (5, 32, 96, 3)
    """
    out = _check_output(path)
    sources = _check_videos(videos, out)
    if out.exists() and not overwrite:
        raise ValueError(
            f"{out} already exists; pass overwrite=True to replace it, or choose another path."
        )
    maps = _check_maps(frames, sources)
    fps_value = _check_fps(fps)
    limit = _check_max_frames(max_frames)
    for src in sources:
        if src.array is not None and limit is not None:
            src.array = src.array[:limit]
    for i, src in enumerate(sources):
        if src.array is not None:
            top = int(maps[i].max())
            if top >= len(src.array):
                t = int(np.argmax(maps[i] >= len(src.array)))
                raise ValueError(_past_end(i, t, top, src.name, len(src.array), None, limit))
    label_arrays = _check_labels(labels, maps, sources)
    if out_fps is not None and not isinstance(out_fps, Fraction):
        check_number(out_fps, "out_fps", low=0, low_open=True)
    if quality is None:
        quality = 18
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= quality <= 51:
        raise ValueError(f"quality must be an int in [0, 51] (libx264's CRF), got {quality!r}.")
    if threads is not None:
        threads = check_number(threads, "threads", low=1, integer=True)
    if columns is not None:
        columns = check_number(columns, "columns", low=1, integer=True)
    n = len(sources)
    columns = min(columns if columns is not None else math.ceil(math.sqrt(n)), n)
    if isinstance(tile, (int, np.integer)) and not isinstance(tile, bool):
        tile_h = check_number(tile, "tile", low=2, integer=True)
        tile_w = None
    else:
        try:
            hw = _check_size(tile)
        except ValueError:
            raise ValueError(
                f"tile must be a height (int) or a (height, width) pair of ints, got {tile!r}."
            ) from None
        assert hw is not None
        tile_h, tile_w = hw

    # Only headers from here on: the first video's aspect ratio and rate.
    size, header_rate = _probe(sources, need_rate=out_fps is None and fps_value is None)
    if tile_w is None:
        tile_w = max(2, 2 * round(tile_h * size[1] / size[0] / 2))
    if out_fps is None:
        out_fps = fps_value if fps_value is not None else header_rate
    rate = _as_rate(out_fps if out_fps is not None else 30)

    return _write(
        out, sources, maps, label_arrays, fps_value, limit, rate, (tile_h, tile_w),
        columns, int(quality), threads, progress,
    )


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


class _Source:
    """One input video: a file or an array, and how messages name it."""

    def __init__(self, index: int, video: Any) -> None:
        self.index = index
        self.path: Path | None = None
        self.array: np.ndarray | None = None
        if isinstance(video, (str, os.PathLike)):
            self.path = Path(video)
            self.name = f"videos[{index}] ({self.path})"
        else:
            self.name = f"videos[{index}]"


def _check_output(path: Any) -> Path:
    out = _as_path(path)
    if out.suffix.lower() not in SYNC_SUFFIXES:
        raise ValueError(
            f"cannot write the synced video to {out}: its suffix must be one of "
            f"{', '.join(SYNC_SUFFIXES)} (containers PyAV writes h264 into); "
            f"use e.g. {out.with_suffix('.mp4').name!r}."
        )
    if not out.parent.is_dir():
        raise ValueError(
            f"cannot write the synced video to {out}: its folder {out.parent} does not "
            "exist; create it first."
        )
    if out.is_dir():
        raise ValueError(f"cannot write the synced video to {out}: it is a directory.")
    return out


def _check_videos(videos: Any, out: Path) -> list[_Source]:
    if isinstance(videos, (str, os.PathLike, np.ndarray)) or not isinstance(videos, Sequence):
        raise TypeError(
            "videos must be a list of video files or frame arrays (one per video), got "
            f"{type(videos).__name__}; wrap a single video in a list."
        )
    if len(videos) == 0:
        raise ValueError("videos is empty; pass at least one video file or frame array.")
    sources = []
    for i, video in enumerate(videos):
        src = _Source(i, video)
        if src.path is not None:
            if _same_file(src.path, out):
                raise ValueError(
                    f"the output path {out} is {src.name}, an input; write the synced "
                    "video to another file."
                )
            if not src.path.exists():
                raise FileNotFoundError(f"{src.name}: video file not found.")
            if src.path.is_dir():
                raise ValueError(f"{src.name} is a directory, not a video file.")
        else:
            arr = np.asarray(video)
            if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3 or 0 in arr.shape:
                raise ValueError(
                    f"{src.name} must be a video file or RGB frames of shape "
                    f"(n_frames, height, width, 3) and dtype uint8, got shape {arr.shape} "
                    f"and dtype {arr.dtype}."
                )
            src.array = arr
        sources.append(src)
    return sources


def _check_maps(frames: Any, sources: list[_Source]) -> list[np.ndarray]:
    maps = getattr(frames, "frames", frames)
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        maps = list(maps)
    if isinstance(maps, (str, bytes)) or not isinstance(maps, Sequence):
        raise TypeError(
            "frames must be a Timeline or a list of 1-D int arrays (one per video), got "
            f"{type(frames).__name__}."
        )
    if len(maps) != len(sources):
        raise ValueError(
            f"frames holds {len(maps)} frame maps but there are {len(sources)} videos; "
            "pass one map per video, in the order of videos."
        )
    out = []
    for i, m in enumerate(maps):
        arr = np.asarray(m)
        name = sources[i].name
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"frames[{i}] (for {name}) must be a non-empty 1-D array of frame indices, "
                f"got shape {arr.shape}."
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"frames[{i}] (for {name}) must hold ints (frame indices, -1 for none), "
                f"got dtype {arr.dtype}."
            )
        if arr.min() < -1:
            t = int(np.argmax(arr < -1))
            raise ValueError(
                f"frames[{i}][{t}] is {int(arr[t])} (for {name}); an index must be a frame "
                "number >= 0, or -1 where the video has no counterpart."
            )
        if len(arr) != len(out[0] if out else arr):
            raise ValueError(
                f"frames[{i}] (for {name}) has {len(arr)} steps but frames[0] has "
                f"{len(out[0])}; every map must have one entry per step of the timeline."
            )
        out.append(arr.astype(np.int64))
    return out


def _check_labels(
    labels: Any, maps: list[np.ndarray], sources: list[_Source]
) -> list[np.ndarray] | None:
    if labels is None:
        return None
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        labels = list(labels)
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise TypeError(
            f"labels must be a list of 1-D int arrays (one per video), got {type(labels).__name__}."
        )
    if len(labels) != len(sources):
        raise ValueError(
            f"labels holds {len(labels)} arrays but there are {len(sources)} videos; pass "
            "one label per frame of every video."
        )
    out = []
    for i, (lab, m, src) in enumerate(zip(labels, maps, sources)):
        arr = np.asarray(lab)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"labels[{i}] (for {src.name}) must be a 1-D array of int labels, got shape "
                f"{arr.shape} and dtype {arr.dtype}."
            )
        if arr.size and arr.min() < -1:
            raise ValueError(
                f"labels[{i}] (for {src.name}) holds {int(arr.min())}; labels are >= 0, "
                "or -1 for background."
            )
        if src.array is not None and len(arr) != len(src.array):
            raise ValueError(
                f"labels[{i}] holds {len(arr)} labels but {src.name} has {len(src.array)} "
                "frames; pass one label per frame."
            )
        top = int(m.max())
        if top >= len(arr):
            raise ValueError(
                f"labels[{i}] holds {len(arr)} labels but frames[{i}] shows frame {top} of "
                f"{src.name}; pass one label per decoded frame (same fps and max_frames)."
            )
        out.append(arr.astype(np.int64))
    return out


def _past_end(
    i: int, t: int, k: int, name: str, count: int, fps: float | None, max_frames: int | None
) -> str:
    how = "".join(
        [f" at fps={fps:g}" if fps is not None else "",
         f" within max_frames={max_frames}" if max_frames is not None else ""]
    )
    return (
        f"frames[{i}][{t}] asks for frame {k} of {name}, which has {count} frames{how}; "
        "the frame maps must count frames as decoded with the same fps and max_frames."
    )


def _probe(sources: list[_Source], need_rate: bool) -> tuple[tuple[int, int], float | None]:
    """The first video's frame size, and the first file's frame rate, from
    array shapes and container headers (no frame decoded unless a header
    lacks them)."""
    size = None
    rate = None
    for src in sources:
        if src.array is not None:
            if size is None:
                size = (int(src.array.shape[1]), int(src.array.shape[2]))
            continue
        if size is not None and (rate is not None or not need_rate):
            break
        assert src.path is not None
        try:
            container, stream = _open_video(src.path)
        except ValueError as err:
            raise ValueError(f"{src.name}: {err}") from None
        try:
            ctx = stream.codec_context
            header_size = (int(ctx.height or 0), int(ctx.width or 0))
            header_rate = stream.average_rate or stream.guessed_rate
        finally:
            container.close()
        if size is None:
            if min(header_size) > 0:
                size = header_size
            else:
                decoder = iter_frames(src.path, batch_size=1)
                try:
                    first = next(decoder)
                except ValueError as err:
                    raise ValueError(f"{src.name}: {err}") from None
                finally:
                    decoder.close()  # type: ignore[attr-defined]
                size = (int(first.shape[1]), int(first.shape[2]))
        if rate is None and need_rate:
            rate = float(header_rate) if header_rate else video_info(src.path).fps or None
    assert size is not None
    return size, rate


# --------------------------------------------------------------------------
# streaming
# --------------------------------------------------------------------------


class _Frames:
    """The frames of one video at tile size, fetched by index.

    A file is read by one :func:`iter_frames` generator; asking for an
    index before the current one reopens it.
    """

    def __init__(
        self, src: _Source, size: tuple[int, int], fps: float | None, max_frames: int | None
    ) -> None:
        self.src = src
        self.size = size
        self.fps, self.max_frames = fps, max_frames
        self.index = -1  # index of ``image``, -1 before the first
        self.image: np.ndarray | None = None
        self.n_opened = 0
        self._it: Iterator[np.ndarray] | None = None
        self._batch: np.ndarray | None = None
        self._pos = 0  # position in ``_batch`` of the next frame
        self._next = 0  # index of the next frame the decoder gives
        self._convert = _Converter(size) if src.array is not None else None

    def get(self, k: int, step: int) -> np.ndarray:
        if k == self.index:
            assert self.image is not None
            return self.image
        if self.src.array is not None:
            img = self.src.array[k]
            if img.shape[:2] != self.size:
                import av

                assert self._convert is not None
                img = self._convert(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24"))
        else:
            if self._it is None or k < self._next:  # backwards: decode again from the start
                self._open()
            img = self._advance(k, step)
        self.index, self.image = k, img
        return img

    def _open(self) -> None:
        self.close()
        assert self.src.path is not None
        self._it = iter_frames(
            self.src.path, fps=self.fps, size=self.size, max_frames=self.max_frames,
            batch_size=_DECODE_BATCH,
        )
        self._batch, self._pos, self._next = None, 0, 0
        self.n_opened += 1

    def _pull(self) -> bool:
        """Read the next batch; False at the end of the video."""
        assert self._it is not None
        try:
            batch = next(self._it)
        except StopIteration:
            return False
        except ValueError as err:
            raise ValueError(f"{self.src.name}: {err}") from None
        self._batch, self._pos = batch, 0
        return True

    def _advance(self, k: int, step: int) -> np.ndarray:
        while True:
            left = 0 if self._batch is None else len(self._batch) - self._pos
            if k < self._next + left:
                assert self._batch is not None
                self._pos += k - self._next
                img = self._batch[self._pos]
                self._pos += 1
                self._next = k + 1
                return img
            self._next += left
            self._batch = None
            if not self._pull():
                raise ValueError(
                    _past_end(self.src.index, step, k, self.src.name, self._next, self.fps, self.max_frames)
                )

    def count(self) -> int:
        """Decode the rest of a file and return its number of frames."""
        if self.src.array is not None:
            return len(self.src.array)
        if self._it is None:
            self._open()
        while True:
            self._next += 0 if self._batch is None else len(self._batch) - self._pos
            self._batch = None
            if not self._pull():
                return self._next

    def close(self) -> None:
        if self._it is not None:
            self._it.close()  # type: ignore[attr-defined]  # closes the container
        self._it, self._batch = None, None


def _missing_tile(image: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """The "no counterpart" marker: ``image`` darkened, in a red border."""
    h, w = size
    if image is None:
        tile = np.full((h, w, 3), _NO_FRAME_GREY, dtype=np.uint8)
    else:
        tile = np.empty_like(image)
        np.multiply(image, _DARKEN, out=tile, casting="unsafe")  # no float copy of the frame
    b = min(_border(h), h // 2, w // 2)
    tile[:b], tile[h - b:] = _MARKER_RGB, _MARKER_RGB
    tile[:, :b], tile[:, w - b:] = _MARKER_RGB, _MARKER_RGB
    return tile


def _border(tile_h: int) -> int:
    return max(4, 2 * round(tile_h / 40))


def _strip_height(tile_h: int) -> int:
    return max(6, 2 * round(tile_h / 30))


def _label_rgb(label: int) -> np.ndarray:
    if label < 0:
        return np.array(_BACKGROUND_RGB, dtype=np.uint8)
    return _PALETTE[label % len(_PALETTE)]


def _write(
    out: Path,
    sources: list[_Source],
    maps: list[np.ndarray],
    labels: list[np.ndarray] | None,
    fps: float | None,
    max_frames: int | None,
    rate: Fraction,
    size: tuple[int, int],
    columns: int,
    quality: int,
    threads: int | None,
    progress: bool,
) -> Path:
    import av

    tile_h, tile_w = size
    strip = _strip_height(tile_h) if labels is not None else 0
    cell_h = tile_h + strip
    rows = math.ceil(len(sources) / columns)
    height, width = rows * cell_h, columns * tile_w
    canvas = np.zeros((height + height % 2, width + width % 2, 3), dtype=np.uint8)
    origins = [((i // columns) * cell_h, (i % columns) * tile_w) for i in range(len(sources))]
    readers = [_Frames(src, size, fps, max_frames) for src in sources]
    shown: list[tuple[int, int] | None] = [None] * len(sources)  # what each cell holds
    n_steps = len(maps[0])
    bar = _StepProgress(n_steps) if progress else None
    options = {"crf": str(quality)}
    if threads is not None:
        options["threads"] = str(threads)
    try:
        with atomic_path(out) as tmp:
            try:
                with av.open(str(tmp), mode="w") as container:
                    stream = container.add_stream(_ENCODERS["h264"], rate=rate, options=options)
                    stream.width, stream.height = canvas.shape[1], canvas.shape[0]
                    stream.pix_fmt = "yuv420p"
                    for t in range(n_steps):
                        for i, reader in enumerate(readers):
                            k = int(maps[i][t])
                            # A cell holds frame k, or the marker over frame ``reader.index``.
                            state = (k, k) if k >= 0 else (-1, reader.index)
                            if state == shown[i]:
                                continue
                            y, x = origins[i]
                            if k >= 0:
                                canvas[y:y + tile_h, x:x + tile_w] = reader.get(k, t)
                            else:
                                canvas[y:y + tile_h, x:x + tile_w] = _missing_tile(reader.image, size)
                            if labels is not None:
                                colour = _label_rgb(int(labels[i][k])) if k >= 0 else 0
                                canvas[y + tile_h:y + cell_h, x:x + tile_w] = colour
                            shown[i] = state
                        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                        for packet in stream.encode(frame):
                            container.mux(packet)
                        if bar is not None:
                            bar.update(t + 1)
                    for packet in stream.encode(None):  # flush the delayed frames
                        container.mux(packet)
                    if labels is not None:
                        for i, reader in enumerate(readers):
                            if sources[i].path is not None:
                                n = reader.count()
                                if n != len(labels[i]):
                                    raise ValueError(
                                        f"labels[{i}] holds {len(labels[i])} labels but "
                                        f"{sources[i].name} has {n} frames; pass one label "
                                        "per decoded frame (same fps and max_frames)."
                                    )
            except av.FFmpegError as err:
                raise ValueError(f"could not write {out}: {_reason(err)}.") from err
    finally:
        for reader in readers:
            reader.close()
        if bar is not None:
            bar.close()
    return out


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------


class _StepProgress:
    """A bar on one stderr line, redrawn at most 4 times a second."""

    def __init__(self, n_steps: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.n, self.width = n_steps, width
        self.stream = stream
        self.t0 = self.t_drawn = time.perf_counter()
        self.drawn = False

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.n and now - self.t_drawn < 0.25:
            return
        self.t_drawn = now
        spent = now - self.t0
        rate = done / spent if spent > 0 else 0.0
        eta = (self.n - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / self.n)
        bar = "#" * filled + "." * (self.width - filled)
        out = self.stream if self.stream is not None else sys.stderr
        out.write(
            f"\rsynced video [{bar}] {done}/{self.n} steps, {rate:.1f} steps/s, "
            f"ETA {_clock(eta)} "
        )
        out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            out = self.stream if self.stream is not None else sys.stderr
            out.write("\n")
            out.flush()
