"""Reading and writing video files with PyAV.

Decoding runs in FFmpeg through PyAV; the RGB conversion of each decoded
frame, not the decoding, is what costs most, so :func:`read_video` converts
only the frames it returns and reuses one scaler for all of them. Timing
comes from presentation timestamps (``pts``), never from the frame count a
container advertises, which some containers leave at 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_number

__all__ = ["iter_frames", "read_video", "write_video", "video_info", "VideoInfo"]

# Frames smaller than this many pixels decode single-threaded: starting the
# decoder's worker threads costs more than it saves on tiny clips.
_THREADED_MIN_PIXELS = 128 * 128

# ``codec`` names accepted by ``write_video`` -> FFmpeg encoder names.
_ENCODERS = {"h264": "libx264", "mpeg4": "mpeg4"}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`video_info` finds in a video file.

    Attributes
    ----------
    n_frames : int
        Number of frames :func:`read_video` returns for the same ``fps``.
    fps : float
        Frame rate of the returned sequence: the ``fps`` asked for, or the
        source's average rate measured from its timestamps.
    duration : float
        Seconds from the first frame's timestamp to the end of the last frame.
    height, width : int
        Size of the first decoded frame in pixels.
    codec : str
        Name of the decoder.
    sizes : tuple of (int, int)
        Every distinct frame size ``(height, width)``, in order of first
        appearance; more than one when the size changes mid-stream (then
        :func:`read_video` needs ``size``).
    """

    n_frames: int
    fps: float
    duration: float
    height: int
    width: int
    codec: str
    sizes: tuple[tuple[int, int], ...] = ()

    @property
    def sizes_vary(self) -> bool:
        """Whether the frame size changes within the video."""
        return len(self.sizes) > 1


def _as_path(path: str | os.PathLike) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike, got {type(path).__name__}."
        )
    return Path(path)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"video file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a video file.")


def _reason(err: BaseException) -> str:
    """PyAV's reason for a failure, without its errno prefix."""
    reason = getattr(err, "strerror", None) or str(err)
    return str(reason)


def _open_video(path: Path) -> tuple[Any, Any]:
    """Open ``path`` and return ``(container, video_stream)``."""
    import av

    _check_file(path)
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as err:
        raise ValueError(
            f"{path} could not be opened as a video: {_reason(err)}."
        ) from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} holds no video stream.")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if (ctx.width or 0) * (ctx.height or 0) >= _THREADED_MIN_PIXELS:
        stream.thread_type = "AUTO"
    return container, stream


def _check_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        hw = (int(size), int(size))
    elif (
        isinstance(size, Sequence)
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(
            f"size must be an int or a (height, width) pair of ints, got {size!r}."
        )
    if hw[0] < 1 or hw[1] < 1:
        raise ValueError(f"size must be positive, got {size!r}.")
    return hw


def _check_fps(fps: Any, name: str = "fps") -> float | None:
    return None if fps is None else check_number(fps, name, low=0, low_open=True)


def _timed_frames(path: Path, container: Any, stream: Any) -> Iterator[tuple[float, Any]]:
    """Decoded frames with their start time in seconds from the first frame.

    Timestamps missing or not increasing (broken files) are replaced by the
    previous time plus one nominal frame period.
    """
    import av

    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    period = 1.0 / float(rate) if rate else 0.0
    time_base = float(stream.time_base) if stream.time_base else 0.0
    origin = None
    prev = None
    try:
        for frame in container.decode(stream):
            if frame.pts is not None and time_base > 0:
                t = frame.pts * time_base
            else:
                t = None
            if origin is None:
                origin = t if t is not None else 0.0
            t = (t - origin) if t is not None else None
            if t is None or (prev is not None and t <= prev):
                t = 0.0 if prev is None else prev + period
            prev = t
            yield t, frame
    except av.FFmpegError as err:
        raise ValueError(f"{path} is corrupt or unreadable: {_reason(err)}.") from err


def _output_frames(
    path: Path, container: Any, stream: Any, fps: float | None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(source_index, frame)`` for each frame of the output sequence.

    Without ``fps`` every decoded frame is yielded once. With ``fps`` the
    output frame ``k`` shows the instant ``k / fps``: the last source frame
    whose timestamp is not after it (so frames are dropped when ``fps`` is
    below the source rate and repeated when above). The sequence ends with
    the last source frame's display interval.
    """
    frames = _timed_frames(path, container, stream)
    if fps is None:
        for i, (_, frame) in enumerate(frames):
            yield i, frame
        return
    # Half a tick of the stream's clock absorbs the rounding of timestamps.
    tol = 0.5 * float(stream.time_base) if stream.time_base else 1e-6
    k = 0
    prev_frame = None
    prev_t = 0.0
    index = -1
    steps: list[float] = []
    for t, frame in frames:
        if prev_frame is not None:
            steps.append(t - prev_t)
            while k / fps < t - tol:
                yield index, prev_frame
                k += 1
        prev_frame, prev_t = frame, t
        index += 1
    if prev_frame is None:
        return
    if steps:
        last = float(np.median(steps))
    else:
        rate = stream.average_rate or stream.guessed_rate
        last = 1.0 / float(rate) if rate else 1.0 / fps
    end = prev_t + last
    while k / fps < end - tol:
        yield index, prev_frame
        k += 1


class _Converter:
    """RGB conversion with one reused scaler (creating one per frame costs
    as much as the conversion itself)."""

    def __init__(self, size: tuple[int, int] | None):
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._size = size
        self._threads: int | None = 1

    def __call__(self, frame: Any) -> np.ndarray:
        height, width = self._size if self._size is not None else (None, None)
        kwargs = dict(width=width, height=height, format="rgb24")
        if self._threads is not None:
            try:
                out = self._reformatter.reformat(frame, threads=self._threads, **kwargs)
            except TypeError:  # PyAV without the ``threads`` argument
                self._threads = None
                out = self._reformatter.reformat(frame, **kwargs)
        else:
            out = self._reformatter.reformat(frame, **kwargs)
        return out.to_ndarray()


class _FrameBuffer:
    """A growing (n, h, w, 3) uint8 buffer, filled in place."""

    def __init__(self, capacity: int):
        self._capacity = max(int(capacity), 1)
        self._data: np.ndarray | None = None
        self.n = 0

    def append(self, img: np.ndarray) -> None:
        if self._data is None:
            self._data = np.empty((self._capacity,) + img.shape, dtype=np.uint8)
        elif self.n == len(self._data):
            grown = np.empty((2 * len(self._data),) + img.shape, dtype=np.uint8)
            grown[: self.n] = self._data
            self._data = grown
        self._data[self.n] = img
        self.n += 1

    def result(self) -> np.ndarray:
        assert self._data is not None
        if self.n == len(self._data):
            return self._data
        return self._data[: self.n].copy()


def read_video(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    frame_indices: Sequence[int] | np.ndarray | None = None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Decode a video file into an array of RGB frames.

    Parameters
    ----------
    path : str or os.PathLike
        A video file FFmpeg can read (mp4, avi, mkv, webm, ...).
    fps : float, default=None
        Resample to this frame rate: output frame ``k`` is the source frame
        on screen at time ``k / fps`` (from presentation timestamps), so
        frames are dropped below the source rate and repeated above it.
        ``None`` returns every decoded frame.
    size : int or (int, int), default=None
        Resize every frame to ``(height, width)``; an int gives a square.
        ``None`` keeps the decoded size.
    frame_indices : array-like of int, default=None
        Return exactly these frames of the sequence (after ``fps``
        resampling), in this order; repeats allowed. Decoding stops after
        the largest index and only the chosen frames are converted to RGB,
        so a few early frames are cheap.
    max_frames : int, default=None
        Keep at most the first ``max_frames`` frames of the sequence.
        ``frame_indices``, when given, index into this truncated sequence.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8
        The RGB frames.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a video, is corrupt, has no video stream or no
        decodable frame (the message names the path and PyAV's reason), if
        an index in ``frame_indices`` is past the last frame, or if the frame
        size changes mid-stream and no ``size`` is given (the message names
        the file and the first frame of the new size).

    See Also
    --------
    video_info : Frame count, rate and size, without RGB conversion.
    write_video : The inverse.

    Notes
    -----
    Timing comes from each frame's presentation timestamp times the stream's
    time base (mp4 time bases are like 1/15360, so timestamps are not frame
    indices), counted from the first frame. Threaded decoding is on for
    frames of at least 128 x 128 pixels; smaller clips decode faster on one
    thread.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import read_video, write_video
    >>> frames = np.zeros((30, 32, 32, 3), dtype=np.uint8)
    >>> frames[:, :, :, 0] = np.arange(30)[:, None, None] * 8
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
    >>> _ = write_video(path, frames, fps=30)
    >>> read_video(path).shape
    (30, 32, 32, 3)
    >>> read_video(path, fps=10).shape
    (10, 32, 32, 3)
    >>> read_video(path, size=(16, 24), frame_indices=[5, 0]).shape
    (2, 16, 24, 3)
    """
    path = _as_path(path)
    fps_value = _check_fps(fps)
    hw = _check_size(size)
    max_frames = _check_max_frames(max_frames)
    wanted = None
    if frame_indices is not None:
        wanted = np.asarray(frame_indices)
        if wanted.ndim != 1 or not (wanted.size == 0 or np.issubdtype(wanted.dtype, np.integer)):
            raise ValueError(
                "frame_indices must be a 1-D sequence of ints, got "
                f"shape {wanted.shape} and dtype {wanted.dtype}."
            )
        if wanted.size and wanted.min() < 0:
            raise ValueError(
                f"frame_indices must be non-negative, got {int(wanted.min())}."
            )
        wanted = wanted.astype(np.int64)

    if wanted is not None:
        container, stream = _open_video(path)
        try:
            return _read_indices(path, container, stream, fps_value, wanted, max_frames, _Converter(hw))
        finally:
            container.close()
    buffer: _FrameBuffer | None = None
    for batch in iter_frames(path, fps=fps_value, size=hw, max_frames=max_frames, batch_size=64):
        if buffer is None:
            buffer = _FrameBuffer(min(max_frames or 256, 4096))
        for img in batch:
            buffer.append(img)
    assert buffer is not None  # iter_frames raises on a video without frames
    return buffer.result()


def _check_max_frames(max_frames: Any) -> int | None:
    return None if max_frames is None else check_number(max_frames, "max_frames", low=1, integer=True)


def iter_frames(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    size: int | tuple[int, int] | None = None,
    max_frames: int | None = None,
    batch_size: int = 32,
) -> Iterator[np.ndarray]:
    """Decode a video file in batches of RGB frames, never holding more.

    The frames are those :func:`read_video` returns with the same options,
    in order; each is resized as it is decoded, so a long or high-resolution
    video streams into the next stage (a backbone, a feature file) at the
    memory of one batch of small frames.

    Parameters
    ----------
    path : str or os.PathLike
        A video file FFmpeg can read.
    fps, size, max_frames : optional
        As in :func:`read_video`.
    batch_size : int, default=32
        Frames per yielded array (the last may hold fewer).

    Yields
    ------
    frames : ndarray of shape (n, height, width, 3), dtype uint8
        The next ``n <= batch_size`` frames.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_video`, when the generator reaches the problem.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import iter_frames, write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
    >>> _ = write_video(path, np.zeros((30, 32, 32, 3), dtype=np.uint8), fps=30)
    >>> [b.shape for b in iter_frames(path, size=16, batch_size=12)]
    [(12, 16, 16, 3), (12, 16, 16, 3), (6, 16, 16, 3)]
    """
    path = _as_path(path)
    fps_value = _check_fps(fps)
    hw = _check_size(size)
    limit = _check_max_frames(max_frames)
    batch_size = check_number(batch_size, "batch_size", low=1, integer=True)
    container, stream = _open_video(path)
    try:
        convert = _Converter(hw)
        batch: np.ndarray | None = None
        n = n_total = 0
        last_index, last_img = -1, None
        first_shape = None
        for index, frame in _output_frames(path, container, stream, fps_value):
            if index != last_index:
                last_index, last_img = index, convert(frame)
                first_shape = _same_size(path, index, last_img, first_shape)
            if batch is None:
                batch = np.empty((int(batch_size),) + last_img.shape, dtype=np.uint8)
            batch[n] = last_img
            n += 1
            n_total += 1
            if n == len(batch):
                yield batch.copy()
                n = 0
            if limit is not None and n_total >= limit:
                break
        if n_total == 0:
            raise ValueError(f"{path} has no decodable video frame.")
        if n:
            yield batch[:n].copy()
    finally:
        container.close()


def _same_size(
    path: Path, index: int, img: np.ndarray, first: tuple[int, ...] | None
) -> tuple[int, ...]:
    """The frame shape of the video so far; a frame of another size raises."""
    if first is None or img.shape == first:
        return img.shape
    raise ValueError(
        f"{path}: the frame size changes mid-stream at frame {index}, from "
        f"{first[1]}x{first[0]} to {img.shape[1]}x{img.shape[0]} pixels (width x height); "
        "pass size=(height, width) to resize every frame to one size."
    )


def _read_indices(
    path: Path,
    container: Any,
    stream: Any,
    fps: float | None,
    wanted: np.ndarray,
    max_frames: int | None,
    convert: _Converter,
) -> np.ndarray:
    if wanted.size == 0:
        # Still decode one frame, so that a broken file fails loudly and the
        # empty result has the right frame size.
        for _, frame in _output_frames(path, container, stream, fps):
            img = convert(frame)
            return np.empty((0,) + img.shape, dtype=np.uint8)
        raise ValueError(f"{path} has no decodable video frame.")
    limit = int(wanted.max())
    needed = set(wanted.tolist())
    found: dict[int, np.ndarray] = {}
    n_seen = 0
    last_index, last_img = -1, None
    for k, (index, frame) in enumerate(_output_frames(path, container, stream, fps)):
        if max_frames is not None and k >= max_frames:
            break
        n_seen = k + 1
        if k in needed:
            if index != last_index:
                last_index, last_img = index, convert(frame)
            found[k] = last_img
        if k >= limit:
            break
    if n_seen == 0:
        raise ValueError(f"{path} has no decodable video frame.")
    if limit >= n_seen:
        raise ValueError(
            f"frame_indices asks for frame {limit} but {path} has {n_seen} "
            "frames" + (f" at fps={fps:g}" if fps is not None else "")
            + (f" within max_frames={max_frames}" if max_frames is not None else "")
            + "."
        )
    first_shape = None
    for k in sorted(found):
        first_shape = _same_size(path, k, found[k], first_shape)
    first = found[int(wanted[0])]
    height, width = first.shape[:2]
    out = np.empty((len(wanted), height, width, 3), dtype=np.uint8)
    for i, k in enumerate(wanted.tolist()):
        out[i] = found[k]
    return out


def video_info(path: str | os.PathLike, *, fps: float | None = None) -> VideoInfo:
    """Count the frames of a video and read its rate and size.

    The file is decoded (frame counts in container headers are missing or
    wrong for some files) but no frame is converted to RGB, which makes this
    several times faster than :func:`read_video`.

    Parameters
    ----------
    path : str or os.PathLike
        A video file FFmpeg can read.
    fps : float, default=None
        Count the frames :func:`read_video` returns with this ``fps``.

    Returns
    -------
    info : VideoInfo
        ``n_frames``, ``fps``, ``duration`` (seconds), ``height``, ``width``
        (of the first frame), ``codec`` and ``sizes`` (every frame size;
        ``info.sizes_vary`` when there are several).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a readable video (see :func:`read_video`).

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import video_info, write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
    >>> _ = write_video(path, np.zeros((45, 16, 16, 3), np.uint8), fps=15)
    >>> info = video_info(path)
    >>> info.n_frames, info.fps, info.duration
    (45, 15.0, 3.0)
    >>> video_info(path, fps=5).n_frames
    15
    """
    path = _as_path(path)
    fps_value = _check_fps(fps)
    container, stream = _open_video(path)
    try:
        n = 0
        times: list[float] = []
        sizes: dict[tuple[int, int], None] = {}
        if fps_value is None:
            for t, frame in _timed_frames(path, container, stream):
                n += 1
                times.append(t)
                sizes.setdefault((frame.height, frame.width))
        else:
            last = -1
            for index, frame in _output_frames(path, container, stream, fps_value):
                n += 1
                if index != last:
                    last = index
                    sizes.setdefault((frame.height, frame.width))
        codec = stream.codec_context.name
    finally:
        container.close()
    if n == 0:
        raise ValueError(f"{path} has no decodable video frame.")
    size_list = tuple(sizes)
    height, width = size_list[0]
    if fps_value is not None:
        return VideoInfo(n, fps_value, n / fps_value, height, width, codec, size_list)
    if n >= 2:
        step = float(np.median(np.diff(times)))
    else:
        rate = stream.average_rate or stream.guessed_rate
        step = 1.0 / float(rate) if rate else 0.0
    duration = times[-1] + step
    rate_out = n / duration if duration > 0 else 0.0
    return VideoInfo(
        n, float(round(rate_out, 6)), float(round(duration, 6)), height, width, codec, size_list
    )


def _as_rate(fps: Any) -> Fraction:
    if isinstance(fps, bool):
        raise ValueError(f"fps must be a positive number, got {fps!r}.")
    if isinstance(fps, Fraction):
        rate = fps
    elif isinstance(fps, (int, np.integer)):
        rate = Fraction(int(fps))
    else:
        value = _check_fps(fps)
        assert value is not None
        # PyAV needs an int or a Fraction; 29.97 becomes 2997/100 and
        # 30000/1001 given as a float comes back as 30000/1001.
        rate = Fraction(value).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}.")
    return rate


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Sequence[np.ndarray],
    fps: float | Fraction = 30,
    *,
    codec: str = "h264",
    quality: int | None = None,
) -> Path:
    """Encode RGB frames into a video file.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its suffix picks the container (``.mp4``, ``.mkv``,
        ``.avi``, ...). An existing file is overwritten.
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8
        The RGB frames.
    fps : int, float or fractions.Fraction, default=30
        Frame rate. Floats are turned into fractions (29.97 -> 2997/100).
    codec : {"h264", "mpeg4"}, default="h264"
        ``"h264"`` encodes with libx264, ``"mpeg4"`` with FFmpeg's MPEG-4
        part 2 encoder. Both write yuv420p, which every player reads.
    quality : int, default=None
        Constant-quality level: libx264's CRF (0-51, default 18) or the
        mpeg4 quantiser (1-31, default 2). Lower is better and larger.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If ``frames`` is not a non-empty uint8 array of RGB frames, or
        ``fps``, ``codec`` or ``quality`` is invalid.

    Notes
    -----
    yuv420p stores colour at half resolution, so libx264 needs an even
    width and height: frames with an odd height or width are padded with a
    copy of their last row or column before h264 encoding (the file is then
    one pixel taller or wider). The encoder is flushed at the end, so no
    trailing frame is lost.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import read_video, write_video
    >>> frames = np.full((10, 24, 32, 3), 128, dtype=np.uint8)
    >>> path = write_video(os.path.join(tempfile.mkdtemp(), "grey.mp4"), frames, fps=29.97)
    >>> back = read_video(path)
    >>> back.shape, int(np.abs(back.astype(int) - 128).max()) <= 2
    ((10, 24, 32, 3), True)
    """
    import av

    path = _as_path(path)
    if codec not in _ENCODERS:
        raise ValueError(f"codec must be one of {sorted(_ENCODERS)}, got {codec!r}.")
    rate = _as_rate(fps)
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 RGB values in 0..255, got dtype {arr.dtype}."
        )
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(
            f"frames must have shape (n_frames, height, width, 3), got {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"frames must not be empty, got shape {arr.shape}.")
    if quality is None:
        quality = 18 if codec == "h264" else 2
    lo, hi = (0, 51) if codec == "h264" else (1, 31)
    is_int = isinstance(quality, (int, np.integer)) and not isinstance(quality, bool)
    if not is_int or not lo <= quality <= hi:
        raise ValueError(
            f"quality for codec={codec!r} must be an int in [{lo}, {hi}], got {quality!r}."
        )
    if codec == "h264" and (arr.shape[1] % 2 or arr.shape[2] % 2):
        arr = np.pad(
            arr, ((0, 0), (0, arr.shape[1] % 2), (0, arr.shape[2] % 2), (0, 0)), mode="edge"
        )
    if codec == "h264":
        options = {"crf": str(int(quality))}
    else:
        # A constant quantiser: rate control clamped to [q, q].
        options = {"qmin": str(int(quality)), "qmax": str(int(quality))}
    try:
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(_ENCODERS[codec], rate=rate, options=options)
            stream.width = int(arr.shape[2])
            stream.height = int(arr.shape[1])
            stream.pix_fmt = "yuv420p"
            for img in arr:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):  # flush the delayed frames
                container.mux(packet)
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot write {path}: its folder does not exist.") from None
    except av.FFmpegError as err:
        raise ValueError(f"could not write {path}: {_reason(err)}.") from err
    return path
