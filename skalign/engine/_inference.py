"""Running trained (or frozen) modules over whole videos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._device import resolve_device
from ._sampler import gather_frames

__all__ = ["cache_features", "embed_videos"]


def _to_tensor(video: Any, i: int) -> torch.Tensor:
    t = video if isinstance(video, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(video))
    if t.ndim < 1 or t.shape[0] < 1:
        raise ValueError(f"video {i} has no frames (shape {tuple(t.shape)}).")
    return t


class _EvalMode:
    """Put a module in eval mode and restore its training flags afterwards."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.flags = [(m, m.training) for m in self.module.modules()]
        self.module.eval()

    def __exit__(self, *exc: object) -> None:
        for m, flag in self.flags:
            m.training = flag


def cache_features(
    backbone: nn.Module,
    videos: Sequence[Any],
    *,
    batch_size: int = 128,
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
) -> list[torch.Tensor]:
    """Run a frame-wise module once over every frame of every video.

    This is the feature cache of frozen pretrained backbones: the backbone's
    outputs are computed once, kept on the CPU, and a trainable head then
    trains on them (``Trainer.fit(head, cache_features(backbone, videos),
    loss_fn)``) instead of running the backbone at every step.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch of frames ``(N, *frame_shape)`` to ``(N, *feature_shape)``.
        Run in eval mode without gradients; its training flags are restored.
    videos : list of torch.Tensor or numpy.ndarray
        Videos of shape ``(n_frames_i, *frame_shape)``.
    batch_size : int, default=128
        Frames per forward pass.
    device : str or torch.device, default="auto"
        Where the backbone runs (it is moved there).
    dtype : torch.dtype or None, default=None
        Storage dtype of the cache (e.g. ``torch.float16`` halves its
        memory); the backbone's output dtype by default.

    Returns
    -------
    features : list of torch.Tensor
        ``features[i]`` of shape ``(n_frames_i, *feature_shape)``, on the CPU.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import cache_features
    >>> backbone = torch.nn.Linear(3, 5)
    >>> feats = cache_features(backbone, [torch.randn(7, 3), torch.randn(4, 3)], device="cpu")
    >>> [tuple(f.shape) for f in feats]
    [(7, 5), (4, 5)]
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    dev = resolve_device(device)
    backbone.to(dev)
    out = []
    with _EvalMode(backbone), torch.no_grad():
        for i, video in enumerate(videos):
            t = _to_tensor(video, i)
            chunks = []
            for start in range(0, t.shape[0], int(batch_size)):
                f = backbone(t[start:start + int(batch_size)].to(dev, non_blocking=True))
                chunks.append(f.to("cpu", dtype=dtype or f.dtype))
            out.append(torch.cat(chunks))
    return out


def embed_videos(
    model: nn.Module,
    videos: Sequence[Any],
    *,
    context_offsets: Sequence[int] | None = None,
    batch_size: int = 256,
    device: str | torch.device = "auto",
) -> list[torch.Tensor]:
    """Embed every frame of every video with a trained encoder.

    The model receives batches shaped like training batches, ``(1, T, [C,]
    *frame_shape)``, and returns ``(1, T, embedding_dim)``. Frame-wise
    models run over chunks of ``batch_size`` frames; a model whose
    ``sequence_level`` attribute is true (a transformer over the frames of a
    video) sees each whole video at once. A model with ``backbone`` and
    ``head`` attributes (``skalign.encoders.TemporalEmbedder``) runs its
    backbone once per frame of a chunk and its context, then its head on the
    gathered features: the same result as ``model(frames)``, without
    running the backbone twice on a frame that is also a context frame.

    Parameters
    ----------
    model : torch.nn.Module
        The encoder, run in eval mode without gradients (its training flags
        are restored afterwards).
    videos : list of torch.Tensor or numpy.ndarray
        Videos of shape ``(n_frames_i, *frame_shape)``.
    context_offsets : sequence of int or None, default=None
        Context frames (see :func:`gather_frames`); the model's
        ``context_offsets`` attribute by default.
    batch_size : int, default=256
        Frames per forward pass for frame-wise models.
    device : str or torch.device, default="auto"
        Where the model runs.

    Returns
    -------
    embeddings : list of torch.Tensor
        ``embeddings[i]`` of shape ``(n_frames_i, embedding_dim)``, float32,
        on the CPU.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import embed_videos
    >>> model = torch.nn.Linear(3, 2)
    >>> [tuple(e.shape) for e in embed_videos(model, [torch.randn(9, 3)], device="cpu")]
    [(9, 2)]
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    dev = resolve_device(device)
    offsets = tuple(context_offsets if context_offsets is not None
                    else getattr(model, "context_offsets", (0,)))
    whole = bool(getattr(model, "sequence_level", False))
    model.to(dev)
    out = []
    with _EvalMode(model), torch.no_grad():
        for i, video in enumerate(videos):
            t = _to_tensor(video, i)
            n = t.shape[0]
            step = n if whole else int(batch_size)
            chunks = []
            for start in range(0, n, step):
                idx = torch.arange(start, min(start + step, n))
                chunks.append(_embed_chunk(model, t, idx, offsets, dev).float().cpu())
            out.append(torch.cat(chunks))
    return out


def _embed_chunk(model: nn.Module, video: torch.Tensor, idx: torch.Tensor,
                 offsets: tuple[int, ...], dev: torch.device) -> torch.Tensor:
    backbone = getattr(model, "backbone", None)
    head = getattr(model, "head", None)
    if backbone is None or not isinstance(head, nn.Module):
        return model(gather_frames(video, idx, offsets)[None].to(dev, non_blocking=True))[0]
    off = torch.tensor(offsets, dtype=torch.int64)
    full = (idx[:, None] + off[None, :]).clamp_(0, video.shape[0] - 1)      # (T, C)
    needed, inverse = torch.unique(full, return_inverse=True)
    feats = backbone(video[needed.to(video.device)].to(dev, non_blocking=True))
    return head(feats[inverse.to(dev)][None])[0]
