"""The TCC / VAOT frame embedder: a frame with its context, a temporal head."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._common import l2_normalize, match_dtype

__all__ = ["TemporalHead", "TemporalEmbedder", "sinusoidal_encoding"]

_HEADS = ("conv", "transformer")


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sine-cosine positional encoding (Vaswani et al., 2017, Sec. 3.5).

    Parameters
    ----------
    positions : torch.Tensor of shape (...,)
        Positions (any real values).
    dim : int
        Encoding size (even).

    Returns
    -------
    encoding : torch.Tensor of shape (..., dim)
        ``sin(p / 10000^(2i/dim))`` at even and ``cos(...)`` at odd entries.

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import sinusoidal_encoding
    >>> sinusoidal_encoding(torch.tensor([0.0]), 4).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}.")
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device)
                     * (-math.log(10000.0) / dim))
    angle = positions.to(torch.float32)[..., None] * freq
    enc = torch.stack([angle.sin(), angle.cos()], dim=-1)
    return enc.flatten(-2)


class TemporalHead(nn.Module):
    """Embed each frame from its backbone features and those of its context frames.

    Input features ``(B, T, C, channels[, h, w])``: ``C = n_context`` frames
    per output frame, the last being the frame itself. The head runs
    temporal convolutions over the context axis (3-D ``3 x 3 x 3``
    convolutions over context and space for feature maps, 1-D convolutions
    over the context for feature vectors), each followed by batch norm and
    ReLU, a global max pooling, fully connected ReLU layers and a linear
    projection to ``embedding_dim``. With ``head="transformer"`` (LAC) the
    last fully connected output gets a sine-cosine positional encoding over
    the ``T`` frames and goes through a transformer encoder before the
    projection. The output is L2-normalised.

    Parameters
    ----------
    in_channels : int
        Channels of the backbone features.
    spatial : bool, default=True
        Whether the features are maps ``(channels, h, w)`` (3-D
        convolutions) or vectors ``(channels,)`` (1-D convolutions).
    n_context : int, default=2
        Frames seen per output frame.
    context_stride : int, default=15
        Steps between context frames: frame ``t`` is embedded with frames
        ``t - k * context_stride``, ``k = 1, ..., n_context - 1`` (clamped at
        0).
    embedding_dim : int, default=128
        Size of the output embeddings.
    conv_channels : sequence of int, default=(512, 512)
        Output channels of the temporal convolutions.
    fc_sizes : sequence of int, default=(512, 512)
        Widths of the fully connected layers after pooling.
    head : {"conv", "transformer"}, default="conv"
        ``"conv"`` is the TCC embedder; ``"transformer"`` adds the LAC
        transformer encoder over the frames of a video.
    n_heads : int, default=8
        Attention heads (transformer).
    n_layers : int, default=2
        Transformer layers.
    dim_feedforward : int, default=1024
        Hidden width of the transformer's feed-forward blocks.
    dropout : float, default=0.1
        Dropout before the fully connected layers and inside the transformer.
    normalize : bool, default=True
        L2-normalise the output.

    Attributes
    ----------
    context_offsets : tuple of int
        Offsets of the frames gathered per output frame, e.g. ``(-15, 0)``.
    sequence_level : bool
        ``True`` with the transformer: an embedding depends on the other
        frames of the sequence.

    References
    ----------
    .. [1] Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019
       (context frames, 3-D convolutional embedder).
    .. [2] Hadji, Derpanis, Jepson, "Representation Learning via Global
       Temporal Alignment and Cycle-Consistency", CVPR 2021, Sec. 3.5.
    .. [3] Oei et al., "Self-Supervised Contrastive Learning for Videos using
       Differentiable Local Alignment", 2025, Sec. 4 and Table 6.

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import TemporalHead
    >>> head = TemporalHead(16, spatial=True, context_stride=3, embedding_dim=8,
    ...                     conv_channels=(8,), fc_sizes=(8,))
    >>> head.context_offsets
    (-3, 0)
    >>> tuple(head(torch.randn(2, 5, 2, 16, 3, 3)).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        in_channels: int,
        *,
        spatial: bool = True,
        n_context: int = 2,
        context_stride: int = 15,
        embedding_dim: int = 128,
        conv_channels: Sequence[int] = (512, 512),
        fc_sizes: Sequence[int] = (512, 512),
        head: str = "conv",
        n_heads: int = 8,
        n_layers: int = 2,
        dim_feedforward: int = 1024,
        dropout: float = 0.1,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if head not in _HEADS:
            raise ValueError(f"head must be one of {_HEADS}, got {head!r}.")
        for name, value in (("in_channels", in_channels), ("n_context", n_context),
                            ("embedding_dim", embedding_dim)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}.")
        if int(context_stride) < 0:
            raise ValueError(f"context_stride must be non-negative, got {context_stride}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
        self.in_channels = int(in_channels)
        self.spatial = bool(spatial)
        self.n_context = int(n_context)
        self.context_stride = int(context_stride)
        self.embedding_dim = int(embedding_dim)
        self.head = head
        self.normalize = bool(normalize)
        self.context_offsets = tuple(
            -k * self.context_stride for k in range(self.n_context - 1, -1, -1)
        )
        self.sequence_level = head == "transformer"

        conv: list[nn.Module] = []
        width = self.in_channels
        Conv, Norm = (nn.Conv3d, nn.BatchNorm3d) if self.spatial else (nn.Conv1d, nn.BatchNorm1d)
        for c in conv_channels:
            conv += [Conv(width, int(c), kernel_size=3, padding=1), Norm(int(c)), nn.ReLU(inplace=True)]
            width = int(c)
        self.temporal_conv = nn.Sequential(*conv)
        fc: list[nn.Module] = [nn.Dropout(float(dropout))] if dropout > 0 else []
        for h in fc_sizes:
            fc += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
            width = int(h)
        self.fc = nn.Sequential(*fc)
        self.transformer = None
        if self.sequence_level:
            if width % int(n_heads) or width % 2:
                raise ValueError(
                    f"the last fc size ({width}) must be even and divisible by n_heads ({n_heads})."
                )
            layer = nn.TransformerEncoderLayer(width, int(n_heads), int(dim_feedforward),
                                               float(dropout), batch_first=True)
            self.transformer = nn.TransformerEncoder(layer, int(n_layers), enable_nested_tensor=False)
        self.proj = nn.Linear(width, self.embedding_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Features ``(B, T, C, channels[, h, w])`` to embeddings ``(B, T, embedding_dim)``.

        ``mask`` (``(B, T)``, ``True`` for real frames) hides padded frames
        from the transformer's attention; the convolutional head ignores it.
        With ``n_context == 1`` the context axis may be left out.
        """
        feat_ndim = 3 if self.spatial else 1
        if self.n_context == 1 and x.ndim == 2 + feat_ndim:
            x = x.unsqueeze(2)
        if x.ndim != 3 + feat_ndim or x.shape[2] != self.n_context or x.shape[3] != self.in_channels:
            want = "(B, T, C, channels, h, w)" if self.spatial else "(B, T, C, channels)"
            raise ValueError(
                f"expected features of shape {want} with C={self.n_context} and "
                f"channels={self.in_channels}, got {tuple(x.shape)}."
            )
        x = match_dtype(x, self.proj.weight)
        B, T = x.shape[:2]
        f = x.flatten(0, 1).transpose(1, 2)            # (B*T, channels, C[, h, w])
        f = self.temporal_conv(f)
        f = f.amax(dim=tuple(range(2, f.ndim)))        # global max pooling
        f = self.fc(f).view(B, T, -1)
        if self.transformer is not None:
            pos = torch.arange(T, device=f.device, dtype=torch.float32)
            f = f + sinusoidal_encoding(pos, f.shape[-1]).to(f.dtype)
            pad = None if mask is None else ~mask.to(device=f.device, dtype=torch.bool)
            f = self.transformer(f, src_key_padding_mask=pad)
        z = self.proj(f)
        return l2_normalize(z) if self.normalize else z


class TemporalEmbedder(nn.Module):
    """Backbone + :class:`TemporalHead`: the TCC / VAOT frame embedder.

    Every frame is embedded together with ``n_context - 1`` context frames
    ``context_stride`` steps apart before it (clamped at the first frame):
    the backbone maps each of these frames to features, the temporal head
    fuses them into one L2-normalised embedding of size ``embedding_dim``.

    A pretrained backbone is frozen by default (``freeze_backbone="auto"``):
    its parameters get ``requires_grad=False``, it stays in eval mode, and
    its outputs can be computed once per video and cached, so that only the
    head trains::

        feats = skalign.engine.cache_features(embedder.backbone, videos)
        Trainer(...).fit(embedder.head, feats, loss_fn)

    after which ``embedder`` (backbone then head) embeds new frames exactly
    as the head saw the cached features.

    Parameters
    ----------
    backbone : torch.nn.Module or None
        Maps frames ``(N, *frame_shape)`` to features ``(N, channels[, h,
        w])``; it should expose ``out_channels`` and ``output_spatial`` (as
        :class:`MobileNetV2Backbone` and :class:`ResNet50Backbone` do).
        ``None``: the input is already per-frame features (vectors of size
        ``in_channels``).
    in_channels : int or None, default=None
        Channels of the backbone features; read from
        ``backbone.out_channels`` when omitted.
    spatial : bool or None, default=None
        Whether backbone features are maps; read from
        ``backbone.output_spatial`` (``False`` without a backbone).
    freeze_backbone : bool or "auto", default="auto"
        Freeze the backbone; ``"auto"`` freezes it when
        ``backbone.pretrained`` is true.
    n_context, context_stride, embedding_dim, conv_channels, fc_sizes : see TemporalHead
        Passed to :class:`TemporalHead`.
    head, n_heads, n_layers, dim_feedforward, dropout, normalize : see TemporalHead
        Passed to :class:`TemporalHead`.

    Attributes
    ----------
    head : TemporalHead
        The trainable head.
    frozen_backbone : bool
        Whether the backbone is frozen (and its features may be cached).
    context_offsets : tuple of int
        Offsets of the frames gathered per output frame.
    sequence_level : bool
        ``True`` with the transformer head.

    References
    ----------
    .. [1] Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019.
    .. [2] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4.

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import MobileNetV2Backbone, TemporalEmbedder
    >>> emb = TemporalEmbedder(MobileNetV2Backbone(n_blocks=4), context_stride=2,
    ...                        embedding_dim=16, conv_channels=(32,), fc_sizes=(32,))
    >>> frames = torch.randint(0, 256, (2, 6, 2, 32, 32, 3), dtype=torch.uint8)  # (B, T, C, H, W, 3)
    >>> z = emb(frames)
    >>> tuple(z.shape), bool(torch.allclose(z.norm(dim=-1), torch.ones(2, 6)))
    ((2, 6, 16), True)
    """

    def __init__(
        self,
        backbone: nn.Module | None,
        *,
        in_channels: int | None = None,
        spatial: bool | None = None,
        freeze_backbone: bool | str = "auto",
        n_context: int = 2,
        context_stride: int = 15,
        embedding_dim: int = 128,
        conv_channels: Sequence[int] = (512, 512),
        fc_sizes: Sequence[int] = (512, 512),
        head: str = "conv",
        n_heads: int = 8,
        n_layers: int = 2,
        dim_feedforward: int = 1024,
        dropout: float = 0.1,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if freeze_backbone not in ("auto", True, False):
            raise ValueError(f"freeze_backbone must be 'auto', True or False, got {freeze_backbone!r}.")
        if in_channels is None:
            in_channels = getattr(backbone, "out_channels", None)
            if in_channels is None:
                raise ValueError("in_channels is required when the backbone has no out_channels attribute.")
        if spatial is None:
            spatial = bool(getattr(backbone, "output_spatial", False)) if backbone is not None else False
        self.backbone = backbone
        if freeze_backbone == "auto":
            freeze_backbone = bool(getattr(backbone, "pretrained", False))
        self.frozen_backbone = bool(freeze_backbone) and backbone is not None
        if self.frozen_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)
            backbone.eval()
        self.head = TemporalHead(
            int(in_channels), spatial=spatial, n_context=n_context, context_stride=context_stride,
            embedding_dim=embedding_dim, conv_channels=conv_channels, fc_sizes=fc_sizes, head=head,
            n_heads=n_heads, n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
            normalize=normalize,
        )
        self.context_offsets = self.head.context_offsets
        self.sequence_level = self.head.sequence_level
        self.embedding_dim = self.head.embedding_dim

    def train(self, mode: bool = True) -> TemporalEmbedder:
        """Set training mode; a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.frozen_backbone:
            self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frames ``(B, T, C, *frame_shape)`` to embeddings ``(B, T, embedding_dim)``.

        ``C = n_context`` frames per output frame, as gathered by
        ``skalign.engine.gather_frames`` with ``context_offsets``; with
        ``n_context == 1`` the context axis may be left out.
        """
        if self.backbone is None:
            return self.head(x, mask)
        C = self.head.n_context
        if x.ndim < 3:
            raise ValueError(f"expected frames of shape (B, T, C, ...), got {tuple(x.shape)}.")
        if C == 1 and x.shape[2] != 1:
            x = x.unsqueeze(2)
        if x.shape[2] != C:
            raise ValueError(
                f"expected {C} context frames on axis 2 (shape (B, T, C, ...)), got {tuple(x.shape)}."
            )
        B, T = x.shape[:2]
        frames = x.flatten(0, 2)
        if self.frozen_backbone:
            with torch.no_grad():
                f = self.backbone(frames)
        else:
            f = self.backbone(frames)
        return self.head(f.view(B, T, C, *f.shape[1:]), mask)
