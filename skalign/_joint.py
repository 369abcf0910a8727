"""JointAlignSegment: video alignment and action segmentation learnt together (VASOT)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import (
    DECODERS,
    Alignment,
    AlignMixin,
    BaseVideoEstimator,
    decode_with,
    vaot_alignment,
)
from ._segmenter import SegmentMixin, _segment_constraints
from .losses import VAOT_TARGETS
from .losses._asot import _asot_loss
from .losses._vaot import _vaot_loss
from .metrics import kendalls_tau
from .ot import VIRTUAL_RULES
from .utils import with_n_jobs

__all__ = ["JointAlignSegment"]


class JointAlignSegment(SegmentMixin, AlignMixin, BaseVideoEstimator):
    r"""Learn one frame encoder for video alignment and action segmentation.

    VASOT: ``fit`` trains a frame encoder and ``n_actions`` action
    embeddings on pairs of videos ``(X, Y)`` of one activity with the loss
    of Eq. 7,

    .. math:: L = w_\text{align} L_{xy} + w_\text{seg} (L_{xa} + L_{ya}),

    where :math:`L_{xy}` is the VAOT alignment loss between the two videos
    (:func:`skalign.losses.vaot_loss`, pseudo-labels from
    :func:`skalign.ot.vaot`) and :math:`L_{xa}`, :math:`L_{ya}` are the ASOT
    segmentation losses of each video against the shared action embeddings
    (:func:`skalign.losses.asot_loss`). The action embeddings start at the
    k-means centres of the initial frame embeddings. The fitted model
    embeds frames (``transform``), aligns two videos (``align``, as
    :class:`skalign.VideoAligner`) and segments videos (``predict``, as
    :class:`skalign.ActionSegmenter`).

    Parameters
    ----------
    n_actions : int or "auto"
        Number of actions ``K``, background included.
        ``"auto"`` chooses ``K`` from the training videos, without labels,
        by ``n_actions_criterion``; ``search_`` says how.
    n_actions_range : tuple of int, default=(2, 12)
        Smallest and largest ``K`` of ``n_actions="auto"``, as in
        :class:`skalign.ActionSegmenter`.
    n_actions_criterion : {"changes", "elbow"}, default="changes"
        How ``n_actions="auto"`` chooses, as in
        :class:`skalign.ActionSegmenter`.
    w_align : float, default=1.0
        Weight of the alignment loss :math:`L_{xy}`.
    w_seg : float, default=1.0
        Weight of the segmentation losses :math:`L_{xa} + L_{ya}`.
    encoder : {"auto", "mlp", "temporal", "conv"} or torch.nn.Module, default="auto"
        As in :class:`skalign.VideoAligner`.
    features : "auto", FrameFeatures or None, default="auto"
        The pretrained feature stage for RGB frames and video files, as in
        :class:`skalign.VideoAligner`.
    embedding_dim : int, default=40
        Size of the embeddings of the named encoders.
    alpha, radius, rho, epsilon, lambda_actions, temperature : float
        Settings of the segmentation losses (defaults 0.3, 0.04, 0.2, 0.07,
        0.1, 0.1), as in :class:`skalign.ActionSegmenter`; ``temperature``
        is also the temperature of the alignment loss (Eq. 5).
    predict_alpha, predict_epsilon, predict_lambda_actions : float
        ASOT settings of ``predict`` (defaults 0.6, 0.04, 0.01).
    vaot_alpha : float, default=0.3
        Weight of the structural term of the alignment problem.
    vaot_radius : float, default=0.02
        Relative radius of the alignment's structural priors (Eq. 4).
    vaot_rho : float, default=0.35
        Weight of the alignment's temporal prior.
    vaot_epsilon : float, default=0.07
        Entropic regularisation of the alignment pseudo-labels.
    align_epsilon : float, default=0.04
        Entropic regularisation in ``align``.
    align_lambda : float or None, default=0.1
        Relaxes the second video's marginal in ``align`` (``lambda_y`` of
        :func:`skalign.ot.vaot`, semi-relaxed transport): a phase that lasts
        longer in the first video keeps its frames matched to that phase.
        ``None`` solves the paper's balanced problem.
    decoder : {"auto", "vaot", "dtw", "nn", "method"}, default="auto"
        How ``align`` decodes the embeddings, as in
        :class:`skalign.VideoAligner`; ``"auto"`` and ``"method"`` are the
        VAOT plan (with ``align_lambda``).
    zeta : float, default=0.5
        Cost of (or threshold for) the virtual frame.
    virtual : {"cost", "threshold"} or None, default="cost"
        Rule of the virtual frame of the alignment.
    targets : {"paper", "authors"}, default="paper"
        Normalisation of the alignment pseudo-labels (see
        :func:`skalign.losses.vaot_loss`).
    max_iter : int, default=25
        Outer iterations of both solvers.
    max_epochs : int, default=50
        Training epochs; in an epoch every video leads one pair about once.
    batch_size : int, default=2
        Video pairs per step.
    n_frames : int or None, default=256
        Frames sampled per video and step.
    lr : float, default=1e-3
        Learning rate of Adam.
    weight_decay : float, default=1e-4
        L2 penalty of Adam.
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value.
    precision : {"auto", "32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA; float32 on the CPU.
    device : str or torch.device, default="auto"
        Where to train and embed; resolved at each call.
    n_jobs : int or None, default=None
        CPU threads of every method, as in :class:`skalign.VideoAligner`.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder, the k-means start and all sampling.
    verbose : int, default=0
        ``1`` prints a line per epoch, ``2`` a progress bar.
    checkpoint, optimizer, callbacks, distributed : optional
        Checkpointing and resuming, the optimiser, engine callbacks and
        data-parallel training under ``torchrun``, as in
        :class:`skalign.VideoAligner`.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The trained encoder, in eval mode.
    action_embeddings_ : ndarray of shape (n_actions, embedding_dim)
        The trained, L2-normalised action embeddings.
    n_actions_ : int
        Number of actions: ``n_actions``, or the one ``"auto"`` chose.
    search_ : dict
        Only with ``n_actions="auto"``: what the choice rests on, as in
        :class:`skalign.ActionSegmenter`.
    history_ : skalign.engine.History
        Per-epoch records: ``loss``, ``align_loss``, ``seg_loss``
        (:math:`L_{xa} + L_{ya}`), ``matched``, ``lr``, ``n_steps``,
        ``duration``.
    frame_shape_ : tuple of int
        Shape of one frame, as in :class:`skalign.VideoAligner`.
    n_features_in_ : int
        Size of one frame, as in :class:`skalign.VideoAligner`.
    input_kind_ : {"features", "frames"}
        Kind of the fitted videos.
    embedding_dim_ : int
        Size of the embeddings.

    See Also
    --------
    skalign.ActionSegmenter : Segmentation alone (``w_align=0``).
    skalign.VideoAligner : Alignment alone.

    Notes
    -----
    Pickles hold the fitted encoder on the CPU. Unpickling runs code: load
    fitted estimators only from sources you trust.

    References
    ----------
    .. [1] Ali, Mahmood, Saeed, Konin, Zia, Tran, "Joint Self-Supervised
       Video Alignment and Action Segmentation", ICCV 2025, Sec. 3.2, Eq. 7.
    .. [2] Xu, Gould, "Temporally Consistent Unbalanced Optimal Transport
       for Unsupervised Action Segmentation", CVPR 2024.
    Examples
    --------
    >>> from skalign import JointAlignSegment
    >>> from skalign.datasets import make_process_videos
    >>> videos, labels = make_process_videos(4, 3, n_frames=(30, 40), random_state=0)
    >>> model = JointAlignSegment(3, embedding_dim=8, max_epochs=2, n_frames=16,
    ...                           device="cpu", random_state=0).fit(videos)
    >>> model.predict(videos[0]).shape
    (31,)
    >>> model.align(videos[0], videos[1]).matches.shape
    (31,)
    >>> 0.0 <= model.score(videos, labels) <= 1.0
    True
    """

    _parameter_constraints: dict = {
        **BaseVideoEstimator._base_constraints,
        **_segment_constraints,
        "w_align": [Interval(Real, 0, None, closed="left")],
        "w_seg": [Interval(Real, 0, None, closed="left")],
        "vaot_alpha": [Interval(Real, 0, 1, closed="both")],
        "vaot_radius": [Interval(Real, 0, 1, closed="right")],
        "vaot_rho": [Interval(Real, 0, None, closed="left")],
        "vaot_epsilon": [Interval(Real, 0, None, closed="neither")],
        "align_epsilon": [Interval(Real, 0, None, closed="neither")],
        "align_lambda": [Interval(Real, 0, None, closed="neither"), None],
        "decoder": [StrOptions(set(DECODERS))],
        "zeta": [Interval(Real, None, None, closed="neither")],
        "virtual": [StrOptions(set(VIRTUAL_RULES)), None],
        "targets": [StrOptions(set(VAOT_TARGETS))],
    }
    _pairs = True

    def __init__(
        self,
        n_actions: int | str,
        *,
        n_actions_range: tuple[int, int] = (2, 12),
        n_actions_criterion: str = "changes",
        w_align: float = 1.0,
        w_seg: float = 1.0,
        encoder: str | nn.Module = "auto",
        features: Any = "auto",
        embedding_dim: int = 40,
        alpha: float = 0.3,
        radius: float = 0.04,
        rho: float = 0.2,
        epsilon: float = 0.07,
        lambda_actions: float | None = 0.1,
        temperature: float = 0.1,
        predict_alpha: float = 0.6,
        predict_epsilon: float = 0.04,
        predict_lambda_actions: float | None = 0.01,
        vaot_alpha: float = 0.3,
        vaot_radius: float = 0.02,
        vaot_rho: float = 0.35,
        vaot_epsilon: float = 0.07,
        align_epsilon: float = 0.04,
        align_lambda: float | None = 0.1,
        decoder: str = "auto",
        zeta: float = 0.5,
        virtual: str | None = "cost",
        targets: str = "paper",
        max_iter: int = 25,
        max_epochs: int = 50,
        batch_size: int = 2,
        n_frames: int | None = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        grad_clip: float | None = None,
        precision: str = "auto",
        device: str | torch.device = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        checkpoint: str | None = None,
        optimizer: str = "adam",
        callbacks: Sequence[Any] | None = None,
        distributed: bool | str = "auto",
    ) -> None:
        self.n_actions = n_actions
        self.n_actions_range = n_actions_range
        self.n_actions_criterion = n_actions_criterion
        self.w_align = w_align
        self.w_seg = w_seg
        self.encoder = encoder
        self.features = features
        self.embedding_dim = embedding_dim
        self.alpha = alpha
        self.radius = radius
        self.rho = rho
        self.epsilon = epsilon
        self.lambda_actions = lambda_actions
        self.temperature = temperature
        self.predict_alpha = predict_alpha
        self.predict_epsilon = predict_epsilon
        self.predict_lambda_actions = predict_lambda_actions
        self.vaot_alpha = vaot_alpha
        self.vaot_radius = vaot_radius
        self.vaot_rho = vaot_rho
        self.vaot_epsilon = vaot_epsilon
        self.align_epsilon = align_epsilon
        self.align_lambda = align_lambda
        self.decoder = decoder
        self.zeta = zeta
        self.virtual = virtual
        self.targets = targets
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.n_frames = n_frames
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.precision = precision
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.distributed = distributed

    def _vaot_options(self) -> dict[str, Any]:
        return dict(
            alpha=float(self.vaot_alpha), radius=float(self.vaot_radius),
            epsilon=float(self.vaot_epsilon), rho=float(self.vaot_rho), zeta=float(self.zeta),
            temperature=float(self.temperature), virtual=self.virtual,
            max_iter=int(self.max_iter), targets=self.targets,
        )

    def _make_loss(self) -> Callable[[nn.Module, Any], Any]:
        seg = self._seg_options()
        align = self._vaot_options()
        w_align, w_seg = float(self.w_align), float(self.w_seg)

        def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            zx = model(batch.x.frames, batch.x.mask)
            zy = model(batch.y.frames, batch.y.mask)
            l_xy, matched = _vaot_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask, **align)
            l_xa, _ = _asot_loss(zx, model.actions, mask=batch.x.mask, **seg)
            l_ya, _ = _asot_loss(zy, model.actions, mask=batch.y.mask, **seg)
            loss = w_align * l_xy + w_seg * (l_xa + l_ya)
            return loss, {"align_loss": l_xy.detach(), "seg_loss": (l_xa + l_ya).detach(),
                          "matched": matched}

        return loss_fn

    def _align_embeddings(self, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
        return decode_with(self.decoder, emb_a, emb_b, own=self._vaot_plan, ot=self._vaot_plan)

    def _vaot_plan(self, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
        return vaot_alignment(
            emb_a, emb_b, epsilon=float(self.align_epsilon), virtual=self.virtual,
            alpha=float(self.vaot_alpha), radius=float(self.vaot_radius),
            rho=float(self.vaot_rho), zeta=float(self.zeta), max_iter=int(self.max_iter),
            lambda_y=None if self.align_lambda is None else float(self.align_lambda),
        )

    @with_n_jobs
    def fit(self, videos: Any, y: Any = None) -> JointAlignSegment:
        """Train the encoder and the action embeddings on pairs of videos.

        Parameters
        ----------
        videos : list of videos or VideoCollection
            At least two videos of one activity, of one kind (features or
            frames) and frame shape.
        y : None
            Ignored; no labels are used.

        Returns
        -------
        self : JointAlignSegment
            The fitted model.
        """
        return self._fit_segmenter(videos)

    @with_n_jobs
    def score(self, videos: Any, y: Any = None) -> float:
        """MoF of the segmentation when ``y`` is given, else Kendall's tau.

        With ground truth ``y`` the score is the mean over frames of
        ``predict`` after Hungarian matching per video
        (:func:`skalign.metrics.mof`); without it, the mean Kendall's tau
        of the embeddings over all ordered pairs of videos, as
        :meth:`skalign.VideoAligner.score`.

        Parameters
        ----------
        videos : list of videos
            Videos of the kind seen in ``fit`` (at least two without ``y``).
        y : list of array-like of int or None, default=None
            Ground-truth class of every frame, one array per video.

        Returns
        -------
        score : float
            MoF in ``[0, 1]`` or tau in ``[-1, 1]``; higher is better.
        """
        check_is_fitted(self, "action_embeddings_")
        if y is not None:
            return self._mof(videos, y)
        return float(kendalls_tau(self.transform(self._check_videos(videos, min_videos=2))))
