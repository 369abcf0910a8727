"""VideoAligner: self-supervised frame embeddings learnt by aligning videos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import (
    DECODERS,
    Alignment,
    AlignMixin,
    BaseVideoEstimator,
    cosine_cost,
    decode_with,
    dtw_alignment,
    encode_frames,
    vaot_alignment,
)
from .losses import VAOT_TARGETS
from .losses._common import squared_distances
from .losses._gta import gta_loss
from .losses._lac import inverse_distance_similarity, lac_loss
from .losses._sdtw import sdtw_loss
from .losses._vaot import _vaot_loss
from .losses._vava import vava_loss, vava_plan, vava_psi
from .ot import VIRTUAL_RULES
from .sequence import expected_alignment
from .utils import with_n_jobs

__all__ = ["ALIGNMENT_METHODS", "VideoAligner"]


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
    make_model : callable or None
        ``make_model(estimator, encoder) -> module`` when the method trains
        parameters beside the encoder (LAC's gap penalties); ``None`` trains
        the encoder alone.
    defaults : dict
        The method's values of the parameters that default to ``None``.
    """

    make_loss: Callable[[Any], Callable[[nn.Module, Any], Any]]
    align: Callable[[Any, np.ndarray, np.ndarray], Alignment]
    paper: str
    make_model: Callable[[Any, nn.Module], nn.Module] | None = None
    defaults: dict[str, Any] | None = None


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
        lambda_y=None if est.align_lambda is None else float(est.align_lambda),
    )


def _param(est: Any, name: str) -> Any:
    """The estimator's value of ``name``, or the method's default when it is ``None``."""
    value = getattr(est, name)
    if value is None:
        value = (ALIGNMENT_METHODS[est.method].defaults or {})[name]
    return value


def _pair_embeddings(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    return (encode_frames(model, batch.x.frames, batch.x.mask),
            encode_frames(model, batch.y.frames, batch.y.mask))


def _dtw_align(est: Any, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    return dtw_alignment(emb_a, emb_b)


def _sdtw_make_loss(est: Any) -> Callable[[nn.Module, Any], Any]:
    options = dict(gamma=float(_param(est, "gamma")), idm_weight=float(est.idm_weight),
                   sigma=float(_param(est, "idm_window")), margin=float(est.idm_margin))

    def loss_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        zx, zy = _pair_embeddings(model, batch)
        return sdtw_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask, **options)

    return loss_fn


def _gta_make_loss(est: Any) -> Callable[[nn.Module, Any], Any]:
    options = dict(gamma=float(_param(est, "gamma")), temperature=float(est.temperature),
                   alpha=float(est.cycle_temperature), lambda_g=float(est.lambda_g),
                   lambda_s=float(est.lambda_s))

    def loss_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        zx, zy = _pair_embeddings(model, batch)
        return gta_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask, **options)

    return loss_fn


class _GapModel(nn.Module):
    """The encoder with LAC's learnable gap penalties, trained together."""

    def __init__(self, encoder: nn.Module, gap_open: float, gap_extend: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.gap_open = nn.Parameter(torch.tensor(float(gap_open)))
        self.gap_extend = nn.Parameter(torch.tensor(float(gap_extend)))
        self.sequence_level = bool(getattr(encoder, "sequence_level", False))

    def forward(self, *args: Any) -> torch.Tensor:
        return self.encoder(*args)


def _lac_make_model(est: Any, encoder: nn.Module) -> nn.Module:
    return _GapModel(encoder, est.gap_open, est.gap_extend)


def _lac_make_loss(est: Any) -> Callable[[nn.Module, Any], Any]:
    options = dict(gamma=float(_param(est, "gamma")), temperature=float(est.temperature),
                   alpha=float(est.lac_alpha), beta=float(est.lac_beta),
                   sigma=float(est.lac_sigma))

    def loss_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        zx, zy = _pair_embeddings(model, batch)
        return lac_loss(
            zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask,
            positions_x=batch.x.positions, positions_y=batch.y.positions,
            gap_open=model.gap_open, gap_extend=model.gap_extend, **options,
        )

    return loss_fn


def _lac_align(est: Any, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    """The (nearly hard) local Smith-Waterman path with the learnt gap penalties.

    ``plan`` is the expected alignment of the smooth Smith-Waterman score at
    a small temperature; a frame of ``a`` is matched to its column of
    largest mass when at least half of it lies on the path, else -1.
    """
    ta = torch.as_tensor(np.asarray(emb_a, dtype=np.float64))[None]
    tb = torch.as_tensor(np.asarray(emb_b, dtype=np.float64))[None]
    sim = inverse_distance_similarity(ta, tb)[0].numpy()
    gap_open, gap_extend = getattr(est, "gap_open_", est.gap_open), getattr(est, "gap_extend_", est.gap_extend)
    plan = np.asarray(expected_alignment(sim, method="smith_waterman", gamma=0.01,
                                         gap_open=float(gap_open), gap_extend=float(gap_extend)))
    mass = plan.sum(1)
    matches = np.where(mass >= 0.5, plan.argmax(1), -1).astype(np.int64)
    return Alignment(plan=plan, matches=matches, cost=cosine_cost(emb_a, emb_b))


def _vava_options(est: Any) -> dict[str, Any]:
    return dict(sigma=float(est.prior_sigma), zeta=float(est.zeta), lambda1=float(est.lambda1),
                lambda2=float(est.lambda2), virtual=est.virtual is not None,
                max_iter=int(est.max_iter))


class _VavaLoss:
    """VAVA's objective with the prior weight ``psi`` decaying over the
    training steps (Liu et al., CVPR 2022, Eq. 8); evaluation passes
    (``torch.no_grad``) do not advance it."""

    def __init__(self, est: Any) -> None:
        self.options = dict(_vava_options(est), contrastive_weight=float(est.contrastive_weight),
                            delta=float(_param(est, "idm_window")), margin=float(est.idm_margin))
        self.decay = float(est.psi_decay)
        self.step = 0

    def __call__(self, model: nn.Module, batch: Any) -> torch.Tensor:
        zx, zy = _pair_embeddings(model, batch)
        psi = vava_psi(self.step, self.decay)
        if torch.is_grad_enabled():
            self.step += 1
        return vava_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask, psi=psi, **self.options)

    def resume_at(self, done: int) -> None:
        """Continue the prior's decay after ``done`` steps (a resumed fit)."""
        self.step = int(done)


def _vava_make_loss(est: Any) -> Callable[[nn.Module, Any], Any]:
    return _VavaLoss(est)


def _vava_align(est: Any, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    """The VAVA plan with the prior weight reached at the end of training."""
    try:
        steps = int(sum(est.history_["n_steps"]))
    except (AttributeError, KeyError, TypeError):
        steps = 0
    ta = torch.as_tensor(np.asarray(emb_a, dtype=np.float64))
    tb = torch.as_tensor(np.asarray(emb_b, dtype=np.float64))
    cost = squared_distances(ta, tb)  # in row blocks: O(N M) memory, not O(N M D)
    plan = vava_plan(cost, psi=vava_psi(steps, float(est.psi_decay)), **_vava_options(est)).numpy()
    n, m = cost.shape
    if est.virtual is None:
        matches = plan.argmax(1).astype(np.int64)
    else:
        best = plan[:n].argmax(1)
        matches = np.where(best == m, -1, best).astype(np.int64)
    return Alignment(plan=plan, matches=matches, cost=cosine_cost(emb_a, emb_b))


#: The alignment methods, by the name ``VideoAligner(method=...)`` takes.
ALIGNMENT_METHODS: dict[str, _Method] = {
    "vaot": _Method(
        make_loss=_vaot_make_loss,
        align=_vaot_align,
        paper="Ali et al., Joint Self-Supervised Video Alignment and Action Segmentation, ICCV 2025",
    ),
    "vava": _Method(
        make_loss=_vava_make_loss,
        align=_vava_align,
        paper="Liu et al., Learning to Align Sequential Actions in the Wild, CVPR 2022",
        defaults={"idm_window": 15.0},
    ),
    "gta": _Method(
        make_loss=_gta_make_loss,
        align=_dtw_align,
        paper=("Hadji et al., Representation Learning via Global Temporal Alignment and "
               "Cycle-Consistency, CVPR 2021"),
        defaults={"gamma": 0.1},
    ),
    "lac": _Method(
        make_loss=_lac_make_loss,
        align=_lac_align,
        paper=("Oei et al., Self-Supervised Contrastive Learning for Videos using "
               "Differentiable Local Alignment, 2025"),
        make_model=_lac_make_model,
        defaults={"gamma": 0.8},
    ),
    "sdtw": _Method(
        make_loss=_sdtw_make_loss,
        align=_dtw_align,
        paper="Haresh et al., Learning by Aligning Videos in Time, CVPR 2021",
        defaults={"gamma": 0.1, "idm_window": 10.0},
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
    (:func:`skalign.losses.vaot_loss`, Eq. 5-6); ``align`` returns the VAOT
    plan with the virtual frame last.

    ``method="vava"`` (VAVA): optimal transport with the consistency and
    optimality priors mixed with a weight :math:`\psi` that decays during
    training, a virtual frame, the IDM and KL terms and the contrastive
    regularisation (``skalign.losses._vava.vava_loss``, Eq. 4-17);
    ``align`` returns the VAVA plan (virtual frame last, unmatched frames
    -1).

    ``method="gta"`` (GTA): smoothDTW over the contrastive cost both ways
    plus global cycle consistency (``skalign.losses._gta.gta_loss``,
    Eq. 9-14); ``method="sdtw"`` (LAV baseline): soft-DTW plus the IDM
    regulariser (``skalign.losses._sdtw.sdtw_loss``). For both, ``align``
    returns the exact DTW path on the cosine cost (every frame matched).

    ``method="lac"`` (LAC): affine Smith-Waterman with gap penalties learnt
    with the encoder, plus the Gaussian-weighted contrastive loss
    (``skalign.losses._lac.lac_loss``, Eq. 7-8); ``align`` returns the
    local Smith-Waterman path with the learnt penalties, frames outside it
    -1.

    Parameters
    ----------
    method : {"vaot", "vava", "gta", "lac", "sdtw"}, default="vaot"
        The alignment method (see ``ALIGNMENT_METHODS``). Each parameter
        below says which methods read it; the others ignore it.
    encoder : {"auto", "mlp", "temporal", "conv"} or torch.nn.Module, default="auto"
        ``"auto"`` embeds per-frame features given by the user with
        :class:`~skalign.encoders.MLPEncoder` (one hidden layer of 256), and
        RGB frames or video files with the papers' head (``"temporal"``: a
        :class:`~skalign.encoders.TemporalHead` over each frame and a context
        frame 15 frames before, 1-D temporal convolutions of 512 channels,
        two fully connected layers of 512, L2-normalised output) on the
        pretrained features of ``features``. ``"conv"`` trains a
        :class:`~skalign.encoders.ConvEncoder` from scratch on the pixels.
        A module is copied and trained from its current weights; one with a
        frozen pretrained backbone
        (:class:`~skalign.encoders.TemporalEmbedder`) trains its head on
        backbone features computed once per frame.
    features : "auto", FrameFeatures or None, default="auto"
        The pretrained feature stage for RGB frames and video files (not
        used on feature arrays or files, nor with ``encoder="conv"``):
        ``"auto"`` is :class:`~skalign.FrameFeatures` with its defaults
        (MobileNetV2 ImageNet features at 224 x 224, on ``device``); pass
        one to choose the backbone, decoding (``size``, ``fps``,
        ``max_frames``) and a feature cache (``cache_dir``). ``None`` feeds
        frames to the encoder as they are. Fitted as ``features_``.
    embedding_dim : int, default=128
        Size of the embeddings of the named encoders.
    alpha : float, default=0.3
        Weight of the structural (Gromov-Wasserstein) term (vaot).
    radius : float, default=0.02
        Relative radius of the structural priors (vaot, Eq. 4).
    rho : float, default=0.35
        Weight of the temporal prior (vaot, Sec. 3.1.3).
    zeta : float, default=0.5
        Cost of (or threshold for) the virtual frame (vaot, vava).
    epsilon : float, default=0.07
        Entropic regularisation of the pseudo-labels during training (vaot).
    align_epsilon : float, default=0.04
        Entropic regularisation in ``align`` (vaot).
    align_lambda : float or None, default=0.1
        Relaxes the second video's marginal in the VAOT plan of ``align``
        (``decoder="auto"`` or ``"vaot"``; ``lambda_y`` of
        :func:`skalign.ot.vaot`, semi-relaxed transport): a phase that lasts
        longer in the first video keeps its frames matched to that phase.
        ``None`` solves the paper's balanced problem.
    decoder : {"auto", "vaot", "dtw", "nn", "method"}, default="auto"
        How ``align`` turns the two videos' embeddings into frame matches:

        - ``"vaot"``: the VAOT plan of the cosine cost (Ali et al. 2025,
          Eq. 3-4) with the temporal prior, the virtual frame (frames
          matched to it are -1) and ``align_lambda``, whatever ``method``
          trained the embeddings;
        - ``"dtw"``: the exact DTW path on the cosine cost, every frame
          matched (how the GTA and LAV papers align);
        - ``"nn"``: each frame's nearest frame, no order;
        - ``"method"``: the method's own decoder: the VAOT plan (vaot), the
          VAVA plan (vava), the local Smith-Waterman path (lac), DTW (gta,
          sdtw);
        - ``"auto"``: ``"vaot"``. With the default ``align_lambda=0.1``
          it matched phases best on average over the embeddings of every
          method and the raw features, on the synthetic, mocap and
          Breakfast data of ``benchmarks/bench_accuracy.py`` (see
          :ref:`baselines`).

        Only ``align`` reads it: change it on a fitted aligner with
        ``set_params``, no refit needed.
    temperature : float, default=0.1
        Softmax temperature: of Eq. 5 (vaot), :math:`\beta` of the
        contrastive cost (gta, Eq. 8), :math:`\tau` of Eq. 7 (lac; the
        LAC authors use 0.8).
    virtual : {"cost", "threshold"} or None, default="cost"
        Rule of the virtual frame (see :func:`skalign.ot.vaot`); ``None``
        matches every frame (vaot; vava uses its virtual frame unless
        ``None``).
    max_iter : int, default=25
        Outer iterations of the optimal-transport solver (vaot), Sinkhorn
        iterations (vava; the authors use 20).
    targets : {"paper", "authors"}, default="paper"
        Normalisation of the pseudo-labels: ``"paper"`` leaves frames matched
        to the virtual frame out of the loss, ``"authors"`` keeps them with
        the mass they send to real frames (see
        :func:`skalign.losses.vaot_loss`) (vaot).
    gamma : float or None, default=None
        Smoothing temperature of the dynamic programme: soft-DTW (sdtw),
        smoothMin (gta), smooth maximum of Smith-Waterman (lac). ``None``
        takes the paper's value: 0.1 (sdtw, gta), 0.8 (lac).
    idm_weight : float, default=0.5
        Weight of the IDM regulariser (sdtw, LAV's value).
    idm_window : float or None, default=None
        Window, in sampled frames, separating close from far frames in the
        intra-video contrastive terms (sdtw, vava); ``None``: 10 (sdtw,
        LAV) or 15 (vava, its authors' value).
    idm_margin : float, default=2.0
        Margin of those terms (sdtw, vava).
    cycle_temperature : float, default=1.0
        Temperature :math:`\alpha` of the cycle distributions (gta, Eq. 10).
    lambda_g : float, default=1.0
        Weight of the cycle-consistency loss (gta, Eq. 14).
    lambda_s : float, default=0.1
        Weight of the smoothDTW losses (gta, Eq. 14).
    gap_open : float, default=1.0
        Initial gap-open penalty, learnt with the encoder (lac).
    gap_extend : float, default=1.0
        Initial gap-extend penalty, learnt with the encoder (lac).
    lac_alpha : float, default=0.01
        Weight :math:`\alpha` of the local-alignment terms (lac, Eq. 8).
    lac_beta : float, default=1.0
        Weight :math:`\beta` of the Smith-Waterman scores (lac, Eq. 8).
    lac_sigma : float, default=0.1
        Standard deviation, in relative position, of the Gaussian targets
        (lac, Eq. 7).
    lambda1 : float, default=1.0
        Weight of the IDM prior term (vava, Eq. 13).
    lambda2 : float, default=0.1
        Weight of the KL term (vava, Eq. 13).
    prior_sigma : float, default=2.0
        Standard deviation of the Gaussian priors (vava, Eq. 4, 6).
    psi_decay : float, default=0.999
        Decay of the prior weight :math:`\psi` (vava, Eq. 8): after ``s``
        steps :math:`\psi = \mathrm{decay}^{\lfloor\sqrt{s+1}\rfloor}`.
    contrastive_weight : float, default=0.5
        Weight :math:`\gamma` of the contrastive regularisation (vava,
        Eq. 17).
    max_epochs : int, default=50
        Training epochs; in an epoch every video leads one pair about once,
        so an epoch has ``ceil(n_videos / batch_size)`` steps.
    batch_size : int, default=4
        Video pairs per step.
    n_frames : int or None, default=32
        Frames sampled per video and step; ``None`` takes whole videos.
    lr : float, default=1e-4
        Learning rate of Adam, the papers' value (their code trains a head
        on a pretrained ResNet-50 at 1e-5 to 1e-4). On the data of
        ``benchmarks/bench_accuracy.py`` it kept more phase information
        than 1e-3 (phase classification with 10 % of the labels, VAOT:
        0.43 to 0.56 on the calibrated synthetic videos, 0.26 to 0.39 on
        mocap6); 1e-3 orders frames in time faster.
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
    n_jobs : int or None, default=None
        CPU threads for ``fit``, ``transform``, ``align``, ``predict`` and
        ``score`` (torch, numba, BLAS), by scikit-learn's convention:
        ``None`` is one thread unless inside ``joblib.parallel_config``,
        ``-1`` every core. One thread is as fast for small work and keeps
        a busy machine from stalling (:mod:`skalign.utils`); give more for
        large batches on a quiet machine. On a CUDA device, ``None`` leaves
        the CPU's threads as they are.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder's initial weights and all sampling. The same
        ``random_state`` gives the same embeddings on the CPU.
    verbose : int, default=0
        ``1`` prints a line per epoch, ``2`` a progress bar.
    checkpoint : str, path-like or None, default=None
        A file that ``fit`` overwrites (atomically) after every epoch with the
        training state: weights, optimiser, epoch, history and seed. When the
        file exists, ``fit`` resumes from it: training goes on at the epoch
        after the saved one and ends with the weights of the uninterrupted
        fit (bit-exact on the CPU; same device, precision and videos). The
        file is read weights-only (``torch.load(weights_only=True)``); one
        written by a different model, or holding more than ``max_epochs``
        epochs, is refused. It belongs to one fit: use a new file for other
        videos or parameters. ``None`` writes no checkpoint.
    optimizer : {"adam", "adamw"}, default="adam"
        The optimiser of the encoder (``weight_decay`` is L2 regularisation
        with Adam, decoupled with AdamW).
    callbacks : list of skalign.engine.Callback or None, default=None
        Called by the training engine at the start and end of training,
        epochs and steps (:class:`skalign.engine.Callback`): log figures,
        stop early (``trainer.stop_training = True``), save extra state.
    distributed : {"auto", True, False}, default="auto"
        Data-parallel training: ``"auto"`` trains on every process when the
        script runs under ``torchrun`` (one process per GPU, or gloo on
        CPUs), with no change to the code: each rank samples its own pairs,
        gradients are averaged, every rank ends with the same model and only
        rank 0 writes the checkpoint. ``False`` trains in this process only.

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
    gap_open_ : float
        The learnt gap-open penalty (``method="lac"`` only).
    gap_extend_ : float
        The learnt gap-extend penalty (``method="lac"`` only).

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
        "align_lambda": [Interval(Real, 0, None, closed="neither"), None],
        "decoder": [StrOptions(set(DECODERS))],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "virtual": [StrOptions(set(VIRTUAL_RULES)), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "targets": [StrOptions(set(VAOT_TARGETS))],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "idm_weight": [Interval(Real, 0, None, closed="left")],
        "idm_window": [Interval(Real, 0, None, closed="left"), None],
        "idm_margin": [Interval(Real, 0, None, closed="left")],
        "cycle_temperature": [Interval(Real, 0, None, closed="neither")],
        "lambda_g": [Interval(Real, 0, None, closed="left")],
        "lambda_s": [Interval(Real, 0, None, closed="left")],
        "gap_open": [Interval(Real, None, None, closed="neither")],
        "gap_extend": [Interval(Real, None, None, closed="neither")],
        "lac_alpha": [Interval(Real, 0, None, closed="left")],
        "lac_beta": [Interval(Real, 0, None, closed="left")],
        "lac_sigma": [Interval(Real, 0, None, closed="neither")],
        "lambda1": [Interval(Real, 0, None, closed="left")],
        "lambda2": [Interval(Real, 0, None, closed="neither")],
        "prior_sigma": [Interval(Real, 0, None, closed="neither")],
        "psi_decay": [Interval(Real, 0, 1, closed="right")],
        "contrastive_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        method: str = "vaot",
        *,
        encoder: str | nn.Module = "auto",
        features: Any = "auto",
        embedding_dim: int = 128,
        alpha: float = 0.3,
        radius: float = 0.02,
        rho: float = 0.35,
        zeta: float = 0.5,
        epsilon: float = 0.07,
        align_epsilon: float = 0.04,
        align_lambda: float | None = 0.1,
        decoder: str = "auto",
        temperature: float = 0.1,
        virtual: str | None = "cost",
        max_iter: int = 25,
        targets: str = "paper",
        gamma: float | None = None,
        idm_weight: float = 0.5,
        idm_window: float | None = None,
        idm_margin: float = 2.0,
        cycle_temperature: float = 1.0,
        lambda_g: float = 1.0,
        lambda_s: float = 0.1,
        gap_open: float = 1.0,
        gap_extend: float = 1.0,
        lac_alpha: float = 0.01,
        lac_beta: float = 1.0,
        lac_sigma: float = 0.1,
        lambda1: float = 1.0,
        lambda2: float = 0.1,
        prior_sigma: float = 2.0,
        psi_decay: float = 0.999,
        contrastive_weight: float = 0.5,
        max_epochs: int = 50,
        batch_size: int = 4,
        n_frames: int | None = 32,
        lr: float = 1e-4,
        weight_decay: float = 1e-5,
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
        self.method = method
        self.encoder = encoder
        self.features = features
        self.embedding_dim = embedding_dim
        self.alpha = alpha
        self.radius = radius
        self.rho = rho
        self.zeta = zeta
        self.epsilon = epsilon
        self.align_epsilon = align_epsilon
        self.align_lambda = align_lambda
        self.decoder = decoder
        self.temperature = temperature
        self.virtual = virtual
        self.max_iter = max_iter
        self.targets = targets
        self.gamma = gamma
        self.idm_weight = idm_weight
        self.idm_window = idm_window
        self.idm_margin = idm_margin
        self.cycle_temperature = cycle_temperature
        self.lambda_g = lambda_g
        self.lambda_s = lambda_s
        self.gap_open = gap_open
        self.gap_extend = gap_extend
        self.lac_alpha = lac_alpha
        self.lac_beta = lac_beta
        self.lac_sigma = lac_sigma
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.prior_sigma = prior_sigma
        self.psi_decay = psi_decay
        self.contrastive_weight = contrastive_weight
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

    def _make_loss(self) -> Callable[[nn.Module, Any], Any]:
        return ALIGNMENT_METHODS[self.method].make_loss(self)

    def _align_embeddings(self, emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
        method = ALIGNMENT_METHODS[self.method]
        return decode_with(self.decoder, emb_a, emb_b,
                           own=lambda a, b: method.align(self, a, b),
                           ot=lambda a, b: _vaot_align(self, a, b))

    def _make_model(self, encoder: nn.Module, videos: list[Any], seed: int) -> nn.Module:
        make_model = ALIGNMENT_METHODS[self.method].make_model
        return encoder if make_model is None else make_model(self, encoder)

    def _finish_fit(self, model: nn.Module, videos: list[np.ndarray]) -> None:
        if isinstance(model, _GapModel):
            self.gap_open_ = float(model.gap_open.detach().cpu())
            self.gap_extend_ = float(model.gap_extend.detach().cpu())

    @with_n_jobs
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
