"""VideoAligner: self-supervised frame embeddings learnt by aligning videos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import Alignment, AlignMixin, BaseVideoEstimator, encode_frames, vaot_alignment
from .losses import VAOT_TARGETS
from .losses._vaot import _vaot_loss
from .ot import VIRTUAL_RULES

__all__ = ["VideoAligner", "ALIGNMENT_METHODS"]


@dataclass(frozen=True)
class _Method:
    """One alignment method: its training objective and its frame alignment.

    Attributes
    ----------
    make_loss : callable
        ``make_loss(estimator) -> loss_fn(model, batch)`` for
        :class:`skalign.engine.Trainer` (pairs of videos).
    align : callable
        ``align(estimator, emb_a, emb_b) -> Alignment`` on embeddings.
    paper : str
        The paper the method follows.
    """

    make_loss: Callable[[Any], Callable[[nn.Module, Any], Any]]
    align: Callable[[Any, np.ndarray, np.ndarray], Alignment]
    paper: str


def _vaot_make_loss(est: VideoAligner) -> Callable[[nn.Module, Any], Any]:
    options = dict(
        alpha=float(est.alpha), radius=float(est.radius), epsilon=float(est.epsilon),
        rho=float(est.rho), zeta=float(est.zeta), temperature=float(est.temperature),
        virtual=est.virtual, max_iter=int(est.max_iter), targets=est.targets,
    )

    def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        zx = encode_frames(model, batch.x.frames, batch.x.mask)
        zy = encode_frames(model, batch.y.frames, batch.y.mask)
        loss, matched = _vaot_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask, **options)
        return loss, {"matched": matched}

    return loss_fn


def _vaot_align(est: VideoAligner, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    return vaot_alignment(
        emb_a, emb_b, epsilon=float(est.align_epsilon), virtual=est.virtual,
        alpha=float(est.alpha), radius=float(est.radius), rho=float(est.rho),
        zeta=float(est.zeta), max_iter=int(est.max_iter),
    )


#: The alignment methods, by the name ``VideoAligner(method=...)`` takes.
ALIGNMENT_METHODS: dict[str, _Method] = {
    "vaot": _Method(
        make_loss=_vaot_make_loss,
        align=_vaot_align,
        paper="Ali et al., Joint Self-Supervised Video Alignment and Action Segmentation, ICCV 2025",
    ),
}


class VideoAligner(AlignMixin, BaseVideoEstimator):
    r"""Learn per-frame video embeddings without labels by aligning videos.

    ``fit`` trains a frame encoder on pairs of videos of the same process:
    every step samples ``batch_size`` pairs of distinct videos and
    ``n_frames`` frames of each (one random frame per equal bin), and
    minimises the method's self-supervised loss. The fitted aligner embeds
    frames (``transform``), aligns two videos frame to frame (``align``) and
    scores embeddings by Kendall's tau (``score``).

    ``method="vaot"`` (VAOT): pseudo-labels from the balanced fused
    Gromov-Wasserstein problem with structural priors, the temporal prior
    :math:`\rho R` and a virtual frame for background and redundant frames
    (:func:`skalign.ot.vaot`); the loss is the cross-entropy between the row
    softmax of :math:`X Y^\top / \tau` and the pseudo-labels
    (:func:`skalign.losses.vaot_loss`, Eq. 5-6).

    Parameters
    ----------
    method : {"vaot"}, default="vaot"
        The alignment method (see ``ALIGNMENT_METHODS``).
    encoder : {"auto", "mlp", "conv"} or torch.nn.Module, default="auto"
        ``"auto"`` embeds per-frame features with
        :class:`~skalign.encoders.MLPEncoder` (one hidden layer of 256) and
        uint8 RGB frames with :class:`~skalign.encoders.ConvEncoder`, both
        trained from scratch. A module is copied and trained from its
        current weights; one with a frozen pretrained backbone
        (:class:`~skalign.encoders.TemporalEmbedder`) trains its head on
        backbone features computed once per frame.
    embedding_dim : int, default=128
        Size of the embeddings of the named encoders.
    alpha : float, default=0.3
        Weight of the structural (Gromov-Wasserstein) term.
    radius : float, default=0.02
        Relative radius of the structural priors (Eq. 4).
    rho : float, default=0.35
        Weight of the temporal prior (Sec. 3.1.3).
    zeta : float, default=0.5
        Cost of (or threshold for) the virtual frame.
    epsilon : float, default=0.07
        Entropic regularisation of the pseudo-labels during training.
    align_epsilon : float, default=0.04
        Entropic regularisation in ``align``.
    temperature : float, default=0.1
        Temperature of the softmax (Eq. 5).
    virtual : {"cost", "threshold"} or None, default="cost"
        Rule of the virtual frame (see :func:`skalign.ot.vaot`); ``None``
        matches every frame.
    max_iter : int, default=25
        Outer iterations of the optimal-transport solver.
    targets : {"paper", "authors"}, default="paper"
        Normalisation of the pseudo-labels: ``"paper"`` leaves frames matched
        to the virtual frame out of the loss, ``"authors"`` keeps them with
        the mass they send to real frames (see
        :func:`skalign.losses.vaot_loss`).
    max_epochs : int, default=50
        Training epochs; in an epoch every video leads one pair about once,
        so an epoch has ``ceil(n_videos / batch_size)`` steps.
    batch_size : int, default=4
        Video pairs per step.
    n_frames : int or None, default=32
        Frames sampled per video and step; ``None`` takes whole videos.
    lr : float, default=1e-3
        Learning rate of Adam. The paper's code trains a head on a
        pretrained ResNet-50 at 1e-5 to 1e-4; the encoders here are trained
        from scratch and learn in a few hundred steps at 1e-3.
    weight_decay : float, default=1e-5
        L2 penalty of Adam (the authors' value).
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value.
    precision : {"auto", "32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA (``"auto"``: bfloat16 where supported);
        float32 on the CPU. The loss is computed in float32.
    device : str or torch.device, default="auto"
        Where to train and embed; ``"auto"`` is CUDA when present, else the
        CPU. It is resolved at each call, so an aligner fitted on a GPU
        embeds on the CPU after unpickling on a machine without one.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder's initial weights and all sampling. The same
        ``random_state`` gives the same embeddings on the CPU.
    verbose : int, default=0
        ``1`` prints a line per epoch, ``2`` a progress bar.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The trained encoder, in eval mode.
    history_ : skalign.engine.History
        Per-epoch records: ``loss``, ``matched`` (share of the sampled frames
        of the first video of each pair that the pseudo-labels match to a
        real frame rather than to the virtual frame), ``lr``, ``n_steps``,
        ``duration``.
    frame_shape_ : tuple of int
        Shape of one frame of the fitted videos: ``(n_features,)`` for
        features, ``(height, width, 3)`` for RGB frames.
    n_features_in_ : int
        ``n_features`` for feature videos; ``height * width * 3`` for frame
        videos (the size of one frame; see ``frame_shape_``).
    input_kind_ : {"features", "frames"}
        Kind of the fitted videos.
    embedding_dim_ : int
        Size of the embeddings.

    See Also
    --------
    skalign.losses.vaot_loss : The training objective.
    skalign.ot.vaot : The optimal-transport problem behind ``align``.
    skalign.metrics.kendalls_tau_scorer : Scorer for ``GridSearchCV``.

    Notes
    -----
    Pickles hold the fitted encoder on the CPU. Unpickling runs code: load
    fitted estimators only from sources you trust.

    References
    ----------
    .. [1] Ali, Mahmood, Saeed, Konin, Zia, Tran, "Joint Self-Supervised
       Video Alignment and Action Segmentation", ICCV 2025, Sec. 3.1
       (Eq. 3-6) and Sec. 4.

    Examples
    --------
    >>> from skalign import VideoAligner
    >>> from skalign.datasets import make_process_videos
    >>> videos, labels = make_process_videos(6, 3, n_frames=(30, 40), random_state=0)
    >>> aligner = VideoAligner(embedding_dim=16, max_epochs=2, device="cpu",
    ...                        random_state=0).fit(videos)
    >>> [len(v) for v in videos[:2]]
    [31, 31]
    >>> aligner.transform(videos[0]).shape
    (31, 16)
    >>> res = aligner.align(videos[0], videos[1])   # the virtual frame is last
    >>> res.matches.shape, res.plan.shape
    ((31,), (32, 32))
    >>> -1.0 <= aligner.score(videos) <= 1.0
    True
    """

    _parameter_constraints: dict = {
        **BaseVideoEstimator._base_constraints,
        "method": [StrOptions(set(ALIGNMENT_METHODS))],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "radius": [Interval(Real, 0, 1, closed="right")],
        "rho": [Interval(Real, 0, None, closed="left")],
        "zeta": [Interval(Real, None, None, closed="neither")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "align_epsilon": [Interval(Real, 0, None, closed="neither")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "virtual": [StrOptions(set(VIRTUAL_RULES)), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "targets": [StrOptions(set(VAOT_TARGETS))],
    }

    def __init__(
        self,
        method: str = "vaot",
        *,
        encoder: str | nn.Module = "auto",
        embedding_dim: int = 128,
        alpha: float = 0.3,
        radius: float = 0.02,
        rho: float = 0.35,
        zeta: float = 0.5,
        epsilon: float = 0.07,
        align_epsilon: float = 0.04,
        temperature: float = 0.1,
        virtual: str | None = "cost",
        max_iter: int = 25,
        targets: str = "paper",
        max_epochs: int = 50,
        batch_size: int = 4,
        n_frames: int | None = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        grad_clip: float | None = None,
        precision: str = "auto",
        device: str | torch.device = "auto",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.method = method
        self.encoder = encoder
        self.embedding_dim = embedding_dim
        self.alpha = alpha
        self.radius = radius
        self.rho = rho
        self.zeta = zeta
        self.epsilon = epsilon
        self.align_epsilon = align_epsilon
        self.temperature = temperature
        self.virtual = virtual
        self.max_iter = max_iter
        self.targets = targets
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.n_frames = n_frames
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _make_loss(self) -> Callable[[nn.Module, Any], Any]:
        return ALIGNMENT_METHODS[self.method].make_loss(self)

    def _align_embeddings(self, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
        return ALIGNMENT_METHODS[self.method].align(self, emb_a, emb_b)

    def fit(self, videos: Any, y: Any = None) -> VideoAligner:
        """Train the frame encoder on videos of one process.

        Parameters
        ----------
        videos : list of videos or VideoCollection
            At least two videos, all feature arrays ``(n_frames, n_features)``
            with the same ``n_features``, or all uint8 RGB frame arrays
            ``(n_frames, height, width, 3)`` of the same size, or paths to
            feature or video files.
        y : None
            Ignored; no labels are used.

        Returns
        -------
        self : VideoAligner
            The fitted aligner.
        """
        return self._fit_encoder(videos)
