"""Multi-layer perceptron over per-frame features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._common import l2_normalize, match_dtype

__all__ = ["MLPEncoder"]


class MLPEncoder(nn.Module):
    """Embed per-frame feature vectors with a multi-layer perceptron.

    ``Linear -> ReLU (-> Dropout)`` for every hidden layer, then a linear
    projection to ``embedding_dim``, L2-normalised when ``normalize``. This
    is the encoder of the self-supervised action-segmentation methods on
    pre-extracted features (ASOT, VASOT's segmentation branch).

    Parameters
    ----------
    n_features : int
        Size of the input feature vectors.
    embedding_dim : int, default=128
        Size of the output embeddings.
    hidden_sizes : sequence of int, default=(256,)
        Widths of the hidden layers (empty: one linear map).
    dropout : float, default=0.0
        Dropout after every hidden activation.
    normalize : bool, default=True
        L2-normalise the output embeddings.

    Attributes
    ----------
    context_offsets : tuple of int
        ``(0,)``: each frame is embedded on its own.
    sequence_level : bool
        ``False``: frames are independent of each other.

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4 (MLP encoder for segmentation).

    Examples
    --------
    >>> import torch
    >>> from skalign.encoders import MLPEncoder
    >>> enc = MLPEncoder(64, embedding_dim=16)
    >>> z = enc(torch.randn(2, 10, 64))
    >>> tuple(z.shape), bool(torch.allclose(z.norm(dim=-1), torch.ones(2, 10)))
    ((2, 10, 16), True)
    """

    context_offsets: tuple[int, ...] = (0,)
    sequence_level: bool = False

    def __init__(
        self,
        n_features: int,
        embedding_dim: int = 128,
        hidden_sizes: Sequence[int] = (256,),
        *,
        dropout: float = 0.0,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if int(n_features) < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features}.")
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
        self.n_features = int(n_features)
        self.embedding_dim = int(embedding_dim)
        self.normalize = bool(normalize)
        layers: list[nn.Module] = []
        width = self.n_features
        for h in hidden_sizes:
            layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(h)
        layers.append(nn.Linear(width, self.embedding_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ``x`` of shape ``(..., n_features)`` into ``(..., embedding_dim)``.

        ``mask`` is accepted for a uniform encoder interface and ignored
        (frames are embedded independently).
        """
        if x.shape[-1] != self.n_features:
            raise ValueError(
                f"expected per-frame features of size {self.n_features}, got input of shape "
                f"{tuple(x.shape)}."
            )
        z = self.net(match_dtype(x, self.net[0].weight))
        return l2_normalize(z) if self.normalize else z
