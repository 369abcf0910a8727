"""ResNet-50 backbone through torchvision (optional dependency)."""

from __future__ import annotations

import os

import torch
from torch import nn

from ._common import IMAGENET_MEAN, IMAGENET_STD, frames_to_nchw, load_matching_state, load_state_dict_file

__all__ = ["ResNet50Backbone"]

_LAYERS = ("layer1", "layer2", "layer3", "layer4")
_CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}


class ResNet50Backbone(nn.Module):
    """ResNet-50 cut after a residual stage, built by torchvision.

    The video-alignment papers (TCC, GTA, VAVA, LAC, VAOT) use ImageNet
    ResNet-50 features of the ``conv4`` stage (torchvision's ``layer3``, 1024
    channels at stride 16). torchvision is an optional dependency: building
    this backbone without it raises ``ImportError``.

    Parameters
    ----------
    weights : str, path-like or None, default=None
        A torchvision ``resnet50`` state dict, read with
        ``torch.load(weights_only=True)``; entries of the dropped stages and
        the classifier are ignored.
    layer : {"layer1", "layer2", "layer3", "layer4"}, default="layer3"
        The last stage kept.

    Attributes
    ----------
    out_channels : int
        Channels of the output map (1024 for ``layer3``).
    output_spatial : bool
        ``True``.
    pretrained : bool
        Whether weights were loaded.

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (ResNet-50 encoder).

    Examples
    --------
    >>> from skalign.encoders import ResNet50Backbone
    >>> try:
    ...     net = ResNet50Backbone(layer="layer1")
    ... except ImportError:       # torchvision is not installed
    ...     net = None
    """

    def __init__(self, weights: str | os.PathLike | None = None, *, layer: str = "layer3") -> None:
        super().__init__()
        if layer not in _LAYERS:
            raise ValueError(f"layer must be one of {_LAYERS}, got {layer!r}.")
        try:
            from torchvision.models import resnet50
        except ImportError as exc:
            raise ImportError(
                "ResNet50Backbone needs torchvision (pip install torchvision); "
                "MobileNetV2Backbone needs nothing beyond torch."
            ) from exc
        net = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        keep = _LAYERS[: _LAYERS.index(layer) + 1]
        for name in keep:
            setattr(self, name, getattr(net, name))
        self._stages = keep
        self.out_channels = _CHANNELS[layer]
        self.output_spatial = True
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.pretrained = False
        if weights is not None:
            load_matching_state(self, load_state_dict_file(weights), f"weights file {str(weights)!r}")
            self.pretrained = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, H, W, 3)`` to feature maps ``(N, out_channels, h, w)``."""
        img, lead = frames_to_nchw(x)
        f = self.maxpool(self.relu(self.bn1(self.conv1((img - self.mean) / self.std))))
        for name in self._stages:
            f = getattr(self, name)(f)
        return f.reshape(*lead, *f.shape[1:])
