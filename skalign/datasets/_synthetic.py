"""Synthetic videos of one process, with known per-frame phases.

A *process* is an ordered list of phases (pour, stir, ...). Every video of
it goes through the phases, each at its own pace, and each frame is known to
belong to a phase at some progress in [0, 1) through it. The videos carry the
temporal variations real recordings of a process show (VAVA, Fig. 1, and
ASOT/VAOT): background frames, redundant actions, swapped phases and phases
done again.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy.signal import lfilter
from sklearn.utils import check_random_state

from .._validation import check_number

__all__ = ["make_process_videos", "ProcessSegment"]

# Latent code sizes of the feature map: phase identity, progress, nuisance.
_PHASE_DIM = 8
_N_FREQ = 3  # progress as cos / sin at 1..3 half-turns
_STYLE_DIM = 4  # per-video nuisance, constant within a video
_DRIFT_DIM = 4  # per-frame nuisance, a slow random walk
_HIDDEN = 128
_DRIFT_FRAMES = 10.0  # correlation time of the drift, in frames
_MIN_SEGMENT = 2  # fewest frames of a phase, repeat or redundant action


class ProcessSegment(NamedTuple):
    """One contiguous run of frames of a synthetic video.

    Attributes
    ----------
    kind : str
        ``"phase"`` (a phase of the process), ``"repeat"`` (a phase done a
        second time), ``"redundant"`` (an action only this video has) or
        ``"background"`` (frames unrelated to the process).
    phase : int
        The phase (0-based) for ``"phase"`` and ``"repeat"``; -1 otherwise.
    start, stop : int
        The frames ``start:stop``.
    """

    kind: str
    phase: int
    start: int
    stop: int


def _nonneg(value: Any, name: str) -> float:
    return check_number(value, name, low=0)


def _check_share(value: Any, name: str, upper_open: bool = False) -> float:
    return check_number(value, name, low=0, high=1, high_open=upper_open)


def _check_n_frames(n_frames: Any) -> tuple[int, int]:
    if isinstance(n_frames, numbers.Integral) and not isinstance(n_frames, bool):
        lo = hi = int(n_frames)
    elif (
        isinstance(n_frames, Sequence)
        and len(n_frames) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in n_frames)
    ):
        lo, hi = int(n_frames[0]), int(n_frames[1])
    else:
        raise ValueError(
            f"n_frames must be an int or a (low, high) pair of ints, got {n_frames!r}."
        )
    if lo < 1 or hi < lo:
        raise ValueError(f"n_frames must satisfy 1 <= low <= high, got {n_frames!r}.")
    return lo, hi


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    share = total * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        order = np.argsort(-(share - out), kind="stable")
        out[order[:rest]] += 1
    return out


def _chosen(n_videos: int, share: float, rng: np.random.Generator) -> set[int]:
    """The videos that get a variation: ``ceil(share * n_videos)`` of them."""
    if share <= 0:
        return set()
    count = min(n_videos, int(np.ceil(share * n_videos - 1e-9)))
    return set(rng.choice(n_videos, size=count, replace=False).tolist())


class _Process:
    """Everything fixed for a process: durations, codes, feature map, looks."""

    def __init__(self, seed: int, n_phases: int, n_features: int, size: int):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5CA1, n_phases]))
        # Typical share of each phase in a video, unequal but none tiny.
        self.weights = rng.dirichlet(np.full(n_phases, 4.0))
        self.phase_codes = rng.standard_normal((n_phases, _PHASE_DIM))
        # Feature map: a random two-layer tanh network of the latent code.
        map_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xFEA7, n_features]))
        dim = _PHASE_DIM + 2 * _N_FREQ + _STYLE_DIM + _DRIFT_DIM
        self.w1 = map_rng.standard_normal((dim, _HIDDEN)) * (1.5 / np.sqrt(dim))
        self.b1 = map_rng.standard_normal(_HIDDEN) * 0.5
        self.w2 = map_rng.standard_normal((_HIDDEN, n_features)) / np.sqrt(_HIDDEN)
        ref = np.concatenate(
            [
                self.phase_codes[map_rng.integers(n_phases, size=4096)],
                _progress_code(map_rng.random(4096)),
                map_rng.standard_normal((4096, _STYLE_DIM + _DRIFT_DIM)),
            ],
            axis=1,
        )
        raw = np.tanh(ref @ self.w1 + self.b1) @ self.w2
        self.mean = raw.mean(axis=0)
        self.scale = raw.std(axis=0) + 1e-12
        # Looks of the rendered frames.
        look = np.random.default_rng(np.random.SeedSequence([int(seed), 0xF4A3, n_phases]))
        self.anchors = look.uniform(0.25, 0.75, size=(n_phases + 1, 2)) * size
        hues = (look.permutation(n_phases) + look.random()) / n_phases
        self.colors = np.stack([_hue_to_rgb(h) for h in hues]) * 255.0
        self.arm_start = look.uniform(0, 2 * np.pi, size=n_phases)
        turn_sign = look.choice([-1.0, 1.0], size=n_phases)
        self.arm_turn = turn_sign * look.uniform(0.6, 1.0, n_phases) * np.pi
        self.background = np.array([45.0, 45.0, 55.0])

    def features(self, code: np.ndarray) -> np.ndarray:
        return (np.tanh(code @ self.w1 + self.b1) @ self.w2 - self.mean) / self.scale


def _progress_code(p: np.ndarray) -> np.ndarray:
    freqs = np.arange(1, _N_FREQ + 1) * np.pi
    ang = p[:, None] * freqs[None, :]
    return np.concatenate([np.cos(ang), np.sin(ang)], axis=1)


def _hue_to_rgb(h: float) -> np.ndarray:
    """A saturated colour of hue ``h`` in [0, 1) (HSV with S = V = 0.9)."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return 0.9 - 0.9 * 0.9 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _plan(
    n_total: int,
    process: _Process,
    n_phases: int,
    swapped: bool,
    repeated: bool,
    redundant: bool,
    background: float,
    speed: float,
    rng: np.random.Generator,
) -> list[ProcessSegment]:
    occ: list[tuple[str, int]] = [("phase", k) for k in range(n_phases)]
    if swapped:
        j = int(rng.integers(n_phases - 1))
        occ[j], occ[j + 1] = occ[j + 1], occ[j]
    if repeated:
        # Going back: the phase at j is done again after the next one.
        if n_phases > 1:
            j = int(rng.integers(n_phases - 1))
            occ.insert(j + 2, ("repeat", occ[j][1]))
        else:
            occ.insert(1, ("repeat", 0))
    if redundant:
        occ.insert(int(rng.integers(len(occ) + 1)), ("redundant", -1))
    w = np.array(
        [
            process.weights[k] if kind == "phase"
            else 0.5 * process.weights[k] if kind == "repeat"
            else process.weights.mean()
            for kind, k in occ
        ]
    )
    w = w * np.exp(speed * rng.standard_normal(len(w)))
    n_bg = int(round(background * n_total))
    if background > 0:
        n_bg = max(n_bg, 1)
    n_act = n_total - n_bg
    if n_act < _MIN_SEGMENT * len(occ):
        raise ValueError(
            f"n_frames={n_total} is too short for {len(occ)} actions of at least "
            f"{_MIN_SEGMENT} frames plus {n_bg} background frames; raise n_frames "
            "or lower background."
        )
    lengths = _MIN_SEGMENT + _allocate(n_act - _MIN_SEGMENT * len(occ), w)
    # Background runs in up to three of the gaps (start, between, end).
    bg_at: dict[int, int] = {}
    if n_bg:
        n_gaps = len(occ) + 1
        m = int(min(n_bg, rng.integers(1, min(3, n_gaps) + 1)))
        gaps = rng.choice(n_gaps, size=m, replace=False)
        cuts = np.sort(rng.choice(np.arange(1, n_bg), size=m - 1, replace=False)) if m > 1 else []
        parts = np.diff(np.concatenate([[0], cuts, [n_bg]])).astype(int)
        bg_at = dict(zip(gaps.tolist(), parts.tolist()))
    segments = []
    t = 0
    for i in range(len(occ) + 1):
        if i in bg_at:
            segments.append(ProcessSegment("background", -1, t, t + bg_at[i]))
            t += bg_at[i]
        if i < len(occ):
            kind, k = occ[i]
            segments.append(ProcessSegment(kind, k, t, t + int(lengths[i])))
            t += int(lengths[i])
    assert t == n_total
    return segments


def _progress(length: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """Progress through a run of ``length`` frames, at a pace of its own."""
    pace = np.exp(0.5 * speed * rng.standard_normal())
    return ((np.arange(length) + 0.5) / length) ** pace


def _feature_video(
    segments: list[ProcessSegment],
    process: _Process,
    speed: float,
    noise: float,
    nuisance: float,
    rng: np.random.Generator,
) -> np.ndarray:
    n = segments[-1].stop
    content = np.empty((n, _PHASE_DIM + 2 * _N_FREQ))
    redundant_code = rng.standard_normal(_PHASE_DIM)
    for seg in segments:
        length = seg.stop - seg.start
        if seg.kind == "background":
            # Idle frames: a code off the process, nearly still.
            code = np.concatenate(
                [rng.standard_normal(_PHASE_DIM), _progress_code(rng.random(1))[0]]
            )
            content[seg.start : seg.stop] = code + 0.1 * rng.standard_normal((length, code.size))
            continue
        phase = process.phase_codes[seg.phase] if seg.phase >= 0 else redundant_code
        content[seg.start : seg.stop, :_PHASE_DIM] = phase
        content[seg.start : seg.stop, _PHASE_DIM:] = _progress_code(_progress(length, speed, rng))
    style = nuisance * rng.standard_normal(_STYLE_DIM)
    a = np.exp(-1.0 / _DRIFT_FRAMES)
    steps = rng.standard_normal((n, _DRIFT_DIM))
    steps[0] /= np.sqrt(1 - a * a)  # start in the stationary distribution
    drift = nuisance * lfilter([np.sqrt(1 - a * a)], [1.0, -a], steps, axis=0)
    code = np.concatenate([content, np.broadcast_to(style, (n, _STYLE_DIM)), drift], axis=1)
    x = process.features(code)
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32)


def _frame_video(
    segments: list[ProcessSegment],
    process: _Process,
    size: int,
    speed: float,
    noise: float,
    nuisance: float,
    rng: np.random.Generator,
) -> np.ndarray:
    n = segments[-1].stop
    s = float(size)
    # Per-video nuisance: scene colour and lighting, camera offset, distractors.
    bg = process.background + nuisance * rng.normal(0, 20, 3)
    light = nuisance * rng.normal(0, 25, 2)
    shift = nuisance * rng.normal(0, s / 20, 2)
    centre = np.full((n, 2), np.nan)  # (y, x); NaN = no actor
    color = np.zeros((n, 3))
    angle = np.zeros(n)
    square = np.zeros(n, dtype=bool)
    red_color = rng.uniform(60, 255, 3)
    red_path = rng.uniform(0.2, 0.8, (2, 2)) * s
    for seg in segments:
        sl = slice(seg.start, seg.stop)
        if seg.kind == "background":
            continue
        p = _progress(seg.stop - seg.start, speed, rng)
        if seg.phase >= 0:
            a, b = process.anchors[seg.phase], process.anchors[seg.phase + 1]
            color[sl] = process.colors[seg.phase]
            angle[sl] = process.arm_start[seg.phase] + p * process.arm_turn[seg.phase]
        else:
            a, b = red_path
            color[sl] = red_color
            angle[sl] = 4 * np.pi * p
            square[sl] = True
        centre[sl] = a + p[:, None] * (b - a) + shift
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.empty((n, size, size, 3), dtype=np.float32)
    gradient = (light[0] * (yy / s - 0.5) + light[1] * (xx / s - 0.5))[..., None]
    img[:] = (bg + gradient)[None]

    def paint(alpha: np.ndarray, rgb: Any) -> None:
        # img += alpha * (rgb - img), in place, in float32
        a = alpha.astype(np.float32, copy=False)[..., None]
        diff = np.asarray(rgb, dtype=np.float32)[:, None, None, :] - img
        diff *= a
        np.add(img, diff, out=img)

    n_distract = int(round(2 * nuisance))
    for _ in range(n_distract):
        half = rng.uniform(0.03, 0.06) * s
        start = rng.uniform(0, s, 2)
        vel = rng.normal(0, s / 60, 2)
        pos = start + np.arange(n)[:, None] * vel
        pos = (s - np.abs(np.mod(pos, 2 * s) - s)).astype(np.float32)  # bounce off the borders
        dist = np.maximum(np.abs(yy - pos[:, 0, None, None]), np.abs(xx - pos[:, 1, None, None]))
        paint(np.clip(half - dist + 0.5, 0, 1), np.broadcast_to(rng.uniform(30, 255, 3), (n, 3)))
    on = ~np.isnan(centre[:, 0])
    if on.any():
        cy = np.where(on, centre[:, 0], -1e4).astype(np.float32)[:, None, None]
        cx = np.where(on, centre[:, 1], -1e4).astype(np.float32)[:, None, None]
        radius = 0.11 * s
        disk = radius - np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        box = radius * 0.9 - np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        body = np.where(square[:, None, None], box, disk)
        paint(np.clip(body + 0.5, 0, 1), color)
        # The arm: a bar from the centre whose angle shows the pose.
        length, width = 0.24 * s, 0.035 * s
        dy = np.sin(angle).astype(np.float32)[:, None, None]
        dx = np.cos(angle).astype(np.float32)[:, None, None]
        along = np.clip((yy - cy) * dy + (xx - cx) * dx, 0, length)
        dist = np.sqrt((yy - cy - along * dy) ** 2 + (xx - cx - along * dx) ** 2)
        paint(np.clip(width - dist + 0.5, 0, 1), np.broadcast_to([235.0, 235.0, 235.0], (n, 3)))
    if noise > 0:
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise * 255.0)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_process_videos(
    n_videos: int = 10,
    n_phases: int = 5,
    *,
    kind: str = "features",
    n_frames: int | tuple[int, int] = (60, 120),
    n_features: int = 32,
    size: int = 64,
    background: float = 0.0,
    redundant: float = 0.0,
    swap: float = 0.0,
    repeat: float = 0.0,
    speed: float = 0.5,
    noise: float = 0.1,
    nuisance: float = 1.0,
    process: int = 0,
    return_segments: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]] | tuple[
    list[np.ndarray], list[np.ndarray], list[list[ProcessSegment]]
]:
    """Generate videos of one process with known per-frame phases.

    Each video goes through ``n_phases`` phases in order. Every frame is
    drawn from a latent code of (phase, progress through the phase) and of
    nuisance factors that have nothing to do with the process, so a good
    per-frame embedding keeps the first and drops the second.

    Parameters
    ----------
    n_videos : int, default=10
        Number of videos.
    n_phases : int, default=5
        Number of phases of the process.
    kind : {"features", "frames"}, default="features"
        ``"features"``: float32 vectors ``(n_frames, n_features)``, the
        latent code through a fixed random two-layer tanh network, so raw
        features align poorly and a learned encoder can do better.
        ``"frames"``: uint8 RGB images ``(n_frames, size, size, 3)``: a disk
        whose colour is the phase's, whose position moves along the phase's
        path with progress and whose arm turns with it (the pose); a square
        for redundant actions, no actor in background frames; coloured
        squares drifting across the scene as distractors.
    n_frames : int or (int, int), default=(60, 120)
        Length of every video, or the range ``(low, high)`` (inclusive) its
        length is drawn from. Background frames, repeats and redundant
        actions take their frames out of this length.
    n_features : int, default=32
        Feature size for ``kind="features"``.
    size : int, default=64
        Frame height and width for ``kind="frames"``.
    background : float in [0, 1), default=0.0
        Share of each video's frames that belong to no phase (a phone call
        while changing a tire), in one to three runs at the start, between
        phases or at the end; labelled -1.
    redundant : float in [0, 1], default=0.0
        Share of the videos (rounded up) that contain one extra action that
        no other video has (putting on gloves first), at a random place;
        labelled -1.
    swap : float in [0, 1], default=0.0
        Share of the videos (rounded up) in which two adjacent phases come
        in the opposite order. Needs ``n_phases >= 2``.
    repeat : float in [0, 1], default=0.0
        Share of the videos (rounded up) in which one phase is done again
        right after the next one (phase 1, 2, 1, 3, ...), its progress
        starting over; labelled with the phase.
    speed : float, default=0.5
        How much the pace varies: phase lengths are the process's typical
        shares times ``exp(speed * N(0, 1))``, and progress within a run is
        ``u ** exp(speed / 2 * N(0, 1))`` for evenly spaced ``u``.
        ``0`` gives every video the same proportions.
    noise : float, default=0.1
        Standard deviation of i.i.d. Gaussian noise, in units of the
        features' standard deviation (``"features"``) or of the pixel range
        255 (``"frames"``).
    nuisance : float, default=1.0
        Strength of the factors unrelated to the process: for features, a
        per-video style vector and a per-frame slow random walk, fed through
        the same map as the phase code (scale 1 matches the phase code's);
        for frames, the scene's colour and lighting, a camera shift and
        ``round(2 * nuisance)`` distractors. ``0`` removes them.
    process : int, default=0
        Which process: the phases' typical lengths, their codes, the
        feature map and the rendered looks. Calls with the same
        ``process``, ``n_phases`` and ``n_features`` draw videos of the
        same process, whatever their ``random_state``; use this to draw a
        training and a test set.
    return_segments : bool, default=False
        Also return each video's runs as :class:`ProcessSegment` lists.
    random_state : int, RandomState instance or None, default=None
        Draws the videos (lengths, variations, pace, nuisance, noise).
        An int gives the same data on every call.

    Returns
    -------
    videos : list of ndarray
        ``n_videos`` arrays, float32 ``(n_frames_i, n_features)`` or uint8
        ``(n_frames_i, size, size, 3)``.
    labels : list of ndarray of int64
        Per-frame phase in ``0 .. n_phases - 1``; -1 for background and
        redundant frames.
    segments : list of list of ProcessSegment
        Only with ``return_segments=True``: each video's runs in order.

    Raises
    ------
    ValueError
        If an argument is out of range, or ``n_frames`` leaves fewer than two
        frames for some action.

    References
    ----------
    .. [1] Liu, W., Tekin, B., Coskun, H., Vineet, V., Fua, P., Pollefeys,
       M. "Learning to Align Sequential Actions in the Wild." CVPR 2022,
       Fig. 1 (background, redundant and non-monotonic frames).
    .. [2] Xu, M., Gould, S. "Temporally Consistent Unbalanced Optimal
       Transport for Unsupervised Action Segmentation." CVPR 2024 (order
       variations and repeated actions).
    .. [3] Ali, Mahmood, Saeed, Konin, Zia, Tran. "Joint Self-Supervised Video
       Alignment and Action Segmentation." ICCV 2025 (background/redundant
       frames and repeated actions in video alignment).

    Examples
    --------
    >>> from skalign.datasets import make_process_videos
    >>> videos, labels = make_process_videos(4, 3, n_frames=30, random_state=0)
    >>> [v.shape for v in videos]
    [(30, 32), (30, 32), (30, 32), (30, 32)]
    >>> [int(k) for k in dict.fromkeys(labels[0])]
    [0, 1, 2]
    >>> videos, labels = make_process_videos(
    ...     2, 3, kind="frames", n_frames=20, size=32, background=0.2, random_state=0)
    >>> videos[0].shape, videos[0].dtype, int((labels[0] == -1).sum())
    ((20, 32, 32, 3), dtype('uint8'), 4)
    """
    n_videos = check_number(n_videos, "n_videos", low=1, integer=True)
    n_phases = check_number(n_phases, "n_phases", low=1, integer=True)
    if kind not in ("features", "frames"):
        raise ValueError(f"kind must be 'features' or 'frames', got {kind!r}.")
    lo, hi = _check_n_frames(n_frames)
    n_features = check_number(n_features, "n_features", low=1, integer=True)
    size = check_number(size, "size", low=8, integer=True)
    background = _check_share(background, "background", upper_open=True)
    redundant = _check_share(redundant, "redundant")
    swap = _check_share(swap, "swap")
    repeat = _check_share(repeat, "repeat")
    speed = _nonneg(speed, "speed")
    noise = _nonneg(noise, "noise")
    nuisance = _nonneg(nuisance, "nuisance")
    process_id = check_number(process, "process", low=0, integer=True)
    if swap > 0 and n_phases < 2:
        raise ValueError("swap needs n_phases >= 2 (two phases to exchange).")

    proc = _Process(process_id, n_phases, n_features, size)
    seed = check_random_state(random_state).randint(0, 2**31 - 1, size=2)
    rng = np.random.default_rng(np.random.SeedSequence(seed.tolist()))
    lengths = rng.integers(lo, hi + 1, size=n_videos)
    swapped = _chosen(n_videos, swap, rng)
    repeated = _chosen(n_videos, repeat, rng)
    with_redundant = _chosen(n_videos, redundant, rng)
    children = np.random.SeedSequence(seed.tolist()).spawn(n_videos)
    video_rngs = [np.random.default_rng(s) for s in children]

    videos, labels, plans = [], [], []
    for i in range(n_videos):
        vrng = video_rngs[i]
        segs = _plan(
            int(lengths[i]), proc, n_phases, i in swapped, i in repeated,
            i in with_redundant, background, speed, vrng,
        )
        y = np.empty(int(lengths[i]), dtype=np.int64)
        for seg in segs:
            y[seg.start : seg.stop] = seg.phase
        if kind == "features":
            x = _feature_video(segs, proc, speed, noise, nuisance, vrng)
        else:
            x = _frame_video(segs, proc, size, speed, noise, nuisance, vrng)
        videos.append(x)
        labels.append(y)
        plans.append(segs)
    if return_segments:
        return videos, labels, plans
    return videos, labels
