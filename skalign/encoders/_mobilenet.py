"""MobileNetV2 backbone whose parameters follow torchvision's names."""

from __future__ import annotations

import os

import torch
from torch import nn

from ._common import IMAGENET_MEAN, IMAGENET_STD, frames_to_nchw, load_matching_state, load_state_dict_file

__all__ = ["MobileNetV2Backbone"]

# (expansion t, output channels c, repeats n, first stride s), Sandler et al. Table 2.
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_N_BLOCKS = 19  # stem + 17 inverted residual blocks + final 1x1 convolution


def _conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> linear projection (1x1), with a skip when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn_relu6(cin, hidden, kernel=1))
        layers += [
            _conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_skip else self.conv(x)


class MobileNetV2Backbone(nn.Module):
    """MobileNetV2 (width 1.0) as a frame backbone, loadable from torchvision weights.

    The module tree, and so the state-dict names, follow torchvision's
    ``mobilenet_v2`` (``features.0.0.weight``, ``features.1.conv.0.0.weight``,
    ..., ``classifier.1.weight``): a checkpoint saved from torchvision, such
    as its ImageNet weights ``mobilenet_v2-b0353104.pth``, loads directly.
    torchvision itself is not needed.

    Frames are channel-last, ``uint8`` (scaled to ``[0, 1]``) or floats in
    ``[0, 1]``, and are normalised with the ImageNet mean and standard
    deviation. They are used at their own size (224 x 224 is the size the
    ImageNet weights were trained at; any size of at least 32 works).

    Parameters
    ----------
    weights : str, path-like or None, default=None
        A torchvision-format state dict, read with
        ``torch.load(weights_only=True)``; ``None`` keeps the random
        initialisation (He-normal convolutions, as torchvision).
    n_blocks : int, default=19
        How many of the 19 blocks of ``features`` to keep: 19 gives the
        1280-channel map at stride 32; 14 stops after the 96-channel blocks
        at stride 16. Weights of dropped blocks in the file are ignored.
    include_top : bool, default=False
        Keep the ImageNet classifier: ``forward`` then returns 1000 logits
        per frame (needs ``n_blocks=19``).

    Attributes
    ----------
    out_channels : int
        Channels of the output feature map.
    output_spatial : bool
        ``True`` (feature maps) unless ``include_top``.
    pretrained : bool
        Whether weights were loaded; pretrained backbones are frozen by
        default in :class:`TemporalEmbedder`.

    References
    ----------
    .. [1] Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted
       Residuals and Linear Bottlenecks", CVPR 2018, Table 2.

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import MobileNetV2Backbone
    >>> net = MobileNetV2Backbone()
    >>> frames = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    >>> tuple(net(frames).shape)
    (2, 1280, 2, 2)
    >>> sorted(net.state_dict())[:2]
    ['features.0.0.weight', 'features.0.1.bias']
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        n_blocks: int = _N_BLOCKS,
        include_top: bool = False,
    ) -> None:
        super().__init__()
        if not 1 <= int(n_blocks) <= _N_BLOCKS:
            raise ValueError(f"n_blocks must lie in [1, {_N_BLOCKS}], got {n_blocks}.")
        if include_top and int(n_blocks) != _N_BLOCKS:
            raise ValueError(f"include_top=True needs n_blocks={_N_BLOCKS}, got {n_blocks}.")
        blocks: list[nn.Module] = [_conv_bn_relu6(3, 32, stride=2)]
        width = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                blocks.append(_InvertedResidual(width, c, s if i == 0 else 1, t))
                width = c
        blocks.append(_conv_bn_relu6(width, 1280, kernel=1))
        blocks = blocks[: int(n_blocks)]
        self.features = nn.Sequential(*blocks)
        self.out_channels = _out_channels(self.features)
        self.include_top = bool(include_top)
        self.output_spatial = not self.include_top
        if self.include_top:
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._init_weights()
        self.pretrained = False
        if weights is not None:
            self.load_weights(weights)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def load_weights(self, path: str | os.PathLike) -> MobileNetV2Backbone:
        """Load a torchvision-format state dict from ``path`` (``weights_only=True``)."""
        load_matching_state(self, load_state_dict_file(path), f"weights file {str(path)!r}")
        self.pretrained = True
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, H, W, 3)`` to feature maps ``(N, out_channels, h, w)`` (or logits)."""
        img, lead = frames_to_nchw(x)
        img = (img - self.mean) / self.std
        f = self.features(img)
        if not self.include_top:
            return f.reshape(*lead, *f.shape[1:])
        logits = self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1))
        return logits.reshape(*lead, logits.shape[-1])


def _out_channels(features: nn.Sequential) -> int:
    for m in reversed(list(features.modules())):
        if isinstance(m, nn.BatchNorm2d):
            return m.num_features
    raise AssertionError("no BatchNorm2d in the backbone")  # pragma: no cover
