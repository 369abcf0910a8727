"""A small 2-D convolutional encoder for raw frames."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._common import frames_to_nchw, l2_normalize, match_dtype

__all__ = ["ConvEncoder"]


class ConvEncoder(nn.Module):
    """Embed raw frames with a few strided convolutions, trained from scratch.

    Each stage is ``Conv2d(3x3, stride 2) -> GroupNorm -> ReLU``; the last
    feature map is average-pooled to a ``pool_size x pool_size`` grid (so the
    coarse layout of the frame survives), flattened and projected linearly
    to ``embedding_dim``. GroupNorm keeps every frame's embedding independent
    of the other frames in the batch. ``uint8`` frames are scaled to
    ``[0, 1]`` and centred internally. Fast on the CPU at 64 x 64.

    Parameters
    ----------
    embedding_dim : int, default=128
        Size of the output embeddings.
    channels : sequence of int, default=(32, 64, 128)
        Output channels of the stages (each halves the resolution).
    in_channels : int, default=3
        Channels of the frames (last axis).
    pool_size : int, default=4
        Side of the pooled grid before the projection.
    normalize : bool, default=True
        L2-normalise the output embeddings.

    Attributes
    ----------
    context_offsets : tuple of int
        ``(0,)``: each frame is embedded on its own.
    sequence_level : bool
        ``False``.

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import ConvEncoder
    >>> enc = ConvEncoder(embedding_dim=8, channels=(8, 16))
    >>> frames = torch.randint(0, 256, (2, 5, 32, 32, 3), dtype=torch.uint8)
    >>> tuple(enc(frames).shape)
    (2, 5, 8)
    """

    context_offsets: tuple[int, ...] = (0,)
    sequence_level: bool = False

    def __init__(
        self,
        embedding_dim: int = 128,
        channels: Sequence[int] = (32, 64, 128),
        *,
        in_channels: int = 3,
        pool_size: int = 4,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim}.")
        if len(channels) == 0:
            raise ValueError("channels must name at least one stage.")
        if int(pool_size) < 1:
            raise ValueError(f"pool_size must be a positive integer, got {pool_size}.")
        self.embedding_dim = int(embedding_dim)
        self.in_channels = int(in_channels)
        self.normalize = bool(normalize)
        layers: list[nn.Module] = []
        width = self.in_channels
        for c in channels:
            c = int(c)
            layers += [
                nn.Conv2d(width, c, kernel_size=3, stride=2, padding=1, bias=False),
                nn.GroupNorm(min(8, c), c),
                nn.ReLU(inplace=True),
            ]
            width = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(int(pool_size))
        self.proj = nn.Linear(width * int(pool_size) ** 2, self.embedding_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embed frames ``(..., H, W, in_channels)`` into ``(..., embedding_dim)``.

        ``mask`` is accepted for a uniform encoder interface and ignored.
        """
        img, lead = frames_to_nchw(x, channels=self.in_channels)
        img = (match_dtype(img, self.proj.weight) - 0.5) / 0.25
        f = self.pool(self.features(img)).flatten(1)
        z = self.proj(f).reshape(*lead, self.embedding_dim)
        return l2_normalize(z) if self.normalize else z
