"""Frame encoders: plain torch modules that map frames to embeddings.

Every encoder takes training-shaped batches, ``(B, T, [C,] *frame_shape)``
(``C`` context frames when the encoder asks for them through its
``context_offsets`` attribute), and returns ``(B, T, embedding_dim)``:

- :class:`MLPEncoder` for per-frame feature vectors;
- :class:`ConvEncoder`, a small convolutional network for raw ``uint8``
  frames, trained from scratch;
- :class:`MobileNetV2Backbone` (torchvision-format weights, torchvision not
  needed) and :class:`ResNet50Backbone` (needs torchvision), ImageNet
  backbones;
- :class:`TemporalEmbedder`, backbone + :class:`TemporalHead`: the TCC /
  VAOT embedder with context frames, a temporal convolutional head and an
  optional transformer (LAC).
"""

from ._conv import ConvEncoder
from ._mlp import MLPEncoder
from ._mobilenet import MobileNetV2Backbone
from ._resnet import ResNet50Backbone
from ._temporal import TemporalEmbedder, TemporalHead, sinusoidal_encoding

__all__ = [
    "ConvEncoder",
    "MLPEncoder",
    "MobileNetV2Backbone",
    "ResNet50Backbone",
    "TemporalEmbedder",
    "TemporalHead",
    "sinusoidal_encoding",
]
