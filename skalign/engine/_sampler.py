"""Frame and video sampling for training steps.

Each step draws ``batch_size`` videos (or pairs of distinct videos) and, in
each video, ``n_frames`` frames: the video is cut into ``n_frames`` bins of
equal length and one frame is drawn uniformly in each bin, so the sampled
indices are sorted and spread over the whole video. This is the sampling of
the temporal-alignment papers (TCC, GTA, VAVA, VAOT): random, so no trivial
strided solution exists, yet covering every phase of the process.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from ._random import derive_generator

__all__ = [
    "bin_sample",
    "gather_frames",
    "FrameBatch",
    "PairBatch",
    "VideoSampler",
]

# Purposes of the derived random streams (keys of ``derive_generator``).
_STREAM_ORDER = 0
_STREAM_RANK = 1


def bin_sample(n_total: int, n_frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one random frame index in each of ``n_frames`` equal bins.

    The range ``[0, n_total)`` is cut at ``floor(b * n_total / n_frames)``
    for ``b = 0, ..., n_frames``; one index is drawn uniformly inside each
    bin. A video with ``n_total <= n_frames`` frames gives all its frames,
    ``0, ..., n_total - 1``: fewer than ``n_frames`` indices, never repeats.

    Parameters
    ----------
    n_total : int
        Number of frames in the video (at least 1).
    n_frames : int
        Number of frames to draw (at least 1).
    generator : torch.Generator, optional
        Source of randomness; a fresh unseeded one when omitted.

    Returns
    -------
    index : torch.Tensor of shape (min(n_total, n_frames),), int64
        Strictly increasing frame indices.

    References
    ----------
    .. [1] Hadji, Derpanis, Jepson, "Representation Learning via Global
       Temporal Alignment and Cycle-Consistency", CVPR 2021, Sec. 3.5
       (random rather than strided frames, to avoid trivial solutions).
    .. [2] Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019
       (one random frame per equal segment of the video).

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import bin_sample
    >>> idx = bin_sample(100, 4, torch.Generator().manual_seed(0))
    >>> [int(i) // 25 for i in idx]          # one index in each quarter
    [0, 1, 2, 3]
    >>> bin_sample(3, 8).tolist()
    [0, 1, 2]
    """
    n_total = int(n_total)
    n_frames = int(n_frames)
    if n_total < 1:
        raise ValueError(f"n_total must be at least 1, got {n_total}.")
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}.")
    if n_total <= n_frames:
        return torch.arange(n_total, dtype=torch.int64)
    edges = torch.arange(n_frames + 1, dtype=torch.int64) * n_total // n_frames
    lo, width = edges[:-1], edges[1:] - edges[:-1]
    u = torch.rand(n_frames, generator=generator, dtype=torch.float64)
    offset = torch.minimum((u * width).to(torch.int64), width - 1)
    return lo + offset


def gather_frames(
    video: torch.Tensor, index: torch.Tensor, context_offsets: Sequence[int] = (0,)
) -> torch.Tensor:
    """Pick frames ``index`` of ``video``, each with its context frames.

    Parameters
    ----------
    video : torch.Tensor of shape (n_total, *frame_shape)
        Per-frame features or frames.
    index : torch.Tensor of shape (T,), int64
        Frame indices.
    context_offsets : sequence of int, default=(0,)
        Offsets of the frames an encoder looks at for one output frame,
        e.g. ``(-15, 0)`` for a context frame 15 steps earlier. Indices are
        clamped to ``[0, n_total - 1]``.

    Returns
    -------
    frames : torch.Tensor
        ``(T, *frame_shape)`` when ``context_offsets == (0,)``, else
        ``(T, len(context_offsets), *frame_shape)``.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import gather_frames
    >>> v = torch.arange(10.0)[:, None]
    >>> gather_frames(v, torch.tensor([0, 5]), (-2, 0))[..., 0].tolist()
    [[0.0, 0.0], [3.0, 5.0]]
    """
    offsets = tuple(int(o) for o in context_offsets)
    index = index.to(device=video.device, dtype=torch.int64)
    if offsets == (0,):
        return video[index]
    off = torch.tensor(offsets, dtype=torch.int64, device=video.device)
    full = (index[:, None] + off[None, :]).clamp_(0, video.shape[0] - 1)
    return video[full]


@dataclass
class FrameBatch:
    """Sampled frames of ``B`` videos, padded to a common length ``T``.

    Attributes
    ----------
    frames : torch.Tensor of shape (B, T, [C,] *frame_shape)
        The frames (with ``C`` context frames when the encoder asks for them).
        Padded positions repeat the video's last sampled frame.
    index : torch.Tensor of shape (B, T), int64
        Frame index of each sampled frame in its video.
    mask : torch.Tensor of shape (B, T), bool
        ``True`` for real frames, ``False`` for padding (videos shorter than
        ``n_frames``).
    lengths : torch.Tensor of shape (B,), int64
        Number of frames of each whole video.
    video : torch.Tensor of shape (B,), int64
        Position of each video in the training list.
    """

    frames: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    video: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> FrameBatch:
        """The same batch with every tensor on ``device``."""
        return FrameBatch(
            *(t.to(device, non_blocking=non_blocking) for t in
              (self.frames, self.index, self.mask, self.lengths, self.video))
        )

    @property
    def n_sampled(self) -> torch.Tensor:
        """Number of real (unpadded) frames per video, shape (B,)."""
        return self.mask.sum(1)

    @property
    def positions(self) -> torch.Tensor:
        """Sampled frame index divided by the video length, in ``[0, 1)``."""
        return self.index.to(torch.float32) / self.lengths[:, None].to(torch.float32)


@dataclass
class PairBatch:
    """``B`` pairs of distinct videos: ``x[b]`` is paired with ``y[b]``."""

    x: FrameBatch
    y: FrameBatch

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PairBatch:
        """The same batch with every tensor on ``device``."""
        return PairBatch(self.x.to(device, non_blocking), self.y.to(device, non_blocking))


def _collate(
    videos: Sequence[torch.Tensor],
    ids: torch.Tensor,
    n_frames: int | None,
    context_offsets: tuple[int, ...],
    generator: torch.Generator,
) -> FrameBatch:
    indices = []
    for v in ids.tolist():
        n_total = videos[v].shape[0]
        if n_frames is None:
            indices.append(torch.arange(n_total, dtype=torch.int64))
        else:
            indices.append(bin_sample(n_total, n_frames, generator))
    T = max(len(i) for i in indices)
    index = torch.empty(len(indices), T, dtype=torch.int64)
    mask = torch.zeros(len(indices), T, dtype=torch.bool)
    for b, idx in enumerate(indices):
        index[b, : len(idx)] = idx
        index[b, len(idx):] = idx[-1]
        mask[b, : len(idx)] = True
    frames = torch.stack(
        [gather_frames(videos[v], index[b], context_offsets) for b, v in enumerate(ids.tolist())]
    )
    lengths = torch.tensor([videos[v].shape[0] for v in ids.tolist()], dtype=torch.int64)
    return FrameBatch(frames, index, mask, lengths, ids.clone())


class VideoSampler:
    """Plans the training steps of an epoch and draws their frames.

    An epoch visits the videos in a random order; each visited video is one
    element of a batch (``pairs=False``) or the first video of a pair whose
    second video is drawn uniformly among the *other* videos
    (``pairs=True``). Under data-parallel training the epoch's order is
    shared by all ranks and cut into ``world_size`` disjoint parts, so each
    rank trains on different videos; partners and frames are drawn from a
    stream of the rank's own.

    Parameters
    ----------
    lengths : sequence of int
        Number of frames of each video.
    n_frames : int or None, default=32
        Frames drawn per video per step (one per equal bin, see
        :func:`bin_sample`); ``None`` takes every frame. Videos shorter than
        ``n_frames`` give all their frames and are padded (see
        :class:`FrameBatch`).
    batch_size : int, default=2
        Videos (or pairs) per step and rank.
    pairs : bool, default=True
        Whether a batch holds pairs of distinct videos (:class:`PairBatch`)
        or single videos (:class:`FrameBatch`).
    context_offsets : sequence of int, default=(0,)
        Context frames gathered with every sampled frame (see
        :func:`gather_frames`).
    steps_per_epoch : int or None, default=None
        Steps per epoch; by default ``ceil(n_videos / (batch_size *
        world_size))``, so that every video leads about once per epoch (the
        order wraps around to fill the last step).
    rank, world_size : int, default=0, 1
        This process's rank and the number of data-parallel processes.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import VideoSampler
    >>> videos = [torch.randn(n, 3) for n in (40, 50, 60)]
    >>> sampler = VideoSampler([40, 50, 60], n_frames=8, batch_size=2)
    >>> batches = list(sampler.iter_epoch(videos, seed=0, epoch=0))
    >>> len(batches), tuple(batches[0].x.frames.shape)
    (2, (2, 8, 3))
    >>> bool((batches[0].x.video != batches[0].y.video).all())
    True
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        n_frames: int | None = 32,
        batch_size: int = 2,
        pairs: bool = True,
        context_offsets: Sequence[int] = (0,),
        steps_per_epoch: int | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.lengths = [int(n) for n in lengths]
        if len(self.lengths) == 0:
            raise ValueError("videos must hold at least one video, got an empty list.")
        for i, n in enumerate(self.lengths):
            if n < 1:
                raise ValueError(f"video {i} has no frames.")
        if pairs and len(self.lengths) < 2:
            raise ValueError(
                f"pairs=True needs at least 2 videos to pair, got {len(self.lengths)}."
            )
        if n_frames is not None and int(n_frames) < 1:
            raise ValueError(f"n_frames must be a positive integer or None, got {n_frames}.")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
        if steps_per_epoch is not None and int(steps_per_epoch) < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch}.")
        if not 0 <= int(rank) < int(world_size):
            raise ValueError(f"rank must lie in [0, world_size), got rank={rank}, world_size={world_size}.")
        self.n_frames = None if n_frames is None else int(n_frames)
        self.batch_size = int(batch_size)
        self.pairs = bool(pairs)
        self.context_offsets = tuple(int(o) for o in context_offsets)
        self.rank = int(rank)
        self.world_size = int(world_size)
        if steps_per_epoch is None:
            steps_per_epoch = math.ceil(len(self.lengths) / (self.batch_size * self.world_size))
        self.steps_per_epoch = int(steps_per_epoch)

    @property
    def n_videos(self) -> int:
        """Number of videos."""
        return len(self.lengths)

    def plan_epoch(self, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Videos of every step of the epoch for this rank.

        Parameters
        ----------
        seed : int
            The run's seed.
        epoch : int
            Epoch number (0-based).

        Returns
        -------
        first : torch.Tensor of shape (steps_per_epoch, batch_size), int64
            The videos of each step (first video of each pair).
        second : torch.Tensor of the same shape, or None
            The partner videos when ``pairs=True``, never equal to ``first``.
        """
        n, B, W, S = self.n_videos, self.batch_size, self.world_size, self.steps_per_epoch
        order_gen = derive_generator(seed, epoch, _STREAM_ORDER)
        total = S * B * W
        n_perm = math.ceil(total / n)
        order = torch.cat([torch.randperm(n, generator=order_gen) for _ in range(n_perm)])[:total]
        first = order.view(S, W, B)[:, self.rank, :].contiguous()
        if not self.pairs:
            return first, None
        rank_gen = self._rank_generator(seed, epoch)
        second = torch.randint(0, n - 1, (S, B), generator=rank_gen)
        second = second + (second >= first).to(second.dtype)
        return first, second

    def _rank_generator(self, seed: int, epoch: int) -> torch.Generator:
        return derive_generator(seed, epoch, _STREAM_RANK, self.rank)

    def iter_epoch(
        self, videos: Sequence[torch.Tensor], seed: int, epoch: int
    ) -> Iterator[FrameBatch | PairBatch]:
        """Yield the batches of one epoch (on the videos' device).

        Parameters
        ----------
        videos : sequence of torch.Tensor
            The videos, ``videos[i]`` of shape ``(lengths[i], *frame_shape)``.
        seed : int
            The run's seed.
        epoch : int
            Epoch number; the same ``(seed, epoch, rank)`` gives the same
            batches.

        Yields
        ------
        batch : FrameBatch or PairBatch
        """
        if len(videos) != self.n_videos:
            raise ValueError(f"expected {self.n_videos} videos, got {len(videos)}.")
        first, second = self.plan_epoch(seed, epoch)
        # Frames use a stream separate from the partner draws.
        frame_gen = derive_generator(seed, epoch, _STREAM_RANK, self.rank, 1)
        for s in range(self.steps_per_epoch):
            x = _collate(videos, first[s], self.n_frames, self.context_offsets, frame_gen)
            if second is None:
                yield x
            else:
                y = _collate(videos, second[s], self.n_frames, self.context_offsets, frame_gen)
                yield PairBatch(x, y)
