"""ActionSegmenter: unsupervised action segmentation by optimal transport (ASOT)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import BaseVideoEstimator, cosine_cost, encode_frames, is_single_video
from .engine import derive_seed, embed_videos
from .losses._asot import _asot_loss
from .metrics import mof
from .ot import asot
from .utils import with_n_jobs

__all__ = ["ActionSegmenter", "SEGMENTATION_METHODS", "choose_n_actions", "count_segments"]

#: The segmentation methods, by the name ``ActionSegmenter(method=...)`` takes.
SEGMENTATION_METHODS = ("asot",)

# Most frames k-means sees when it initialises the action embeddings.
_KMEANS_MAX_FRAMES = 50_000
_STREAM_KMEANS = 2


#: Robust z-score (median and MAD of a video's frame-to-frame changes) above
#: which a change is an action boundary in :func:`count_segments`.
CHANGE_Z = 4.0


def count_segments(video: Any, *, z: float = CHANGE_Z) -> int:
    """Number of segments of a video: its abrupt changes plus one.

    The change at frame ``t`` is the distance between the unit input
    vectors of frames ``t`` and ``t + 1``. Its robust z-score uses the
    median and the median absolute deviation of the video's changes; a
    boundary is a local maximum of the changes whose z-score is at least
    ``z``. Within an action features move smoothly (progress, slow drift,
    noise), and between actions they jump: this counts the jumps.

    Parameters
    ----------
    video : array-like of shape (n_frames, ...)
        Input features (or pixels) of one video.
    z : float, default=4.0
        Least robust z-score of a boundary.

    Returns
    -------
    n_segments : int
        At least 1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> codes = rng.standard_normal((3, 16))  # three actions of 20, 30 and 25 frames
    >>> video = np.repeat(codes, [20, 30, 25], axis=0) + 0.05 * rng.standard_normal((75, 16))
    >>> count_segments(video)
    3
    """
    x = np.asarray(video, dtype=np.float64).reshape(len(video), -1)
    if len(x) < 4:
        return 1
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    d = np.linalg.norm(np.diff(x, axis=0), axis=1)
    med = np.median(d)
    score = (d - med) / (np.median(np.abs(d - med)) + 1e-12)
    inner = score[1:-1]
    peaks = (inner > score[:-2]) & (inner >= score[2:]) & (inner >= z)
    return int(peaks.sum()) + 1


def choose_n_actions(candidates: Sequence[int], costs: Sequence[float]) -> tuple[int, np.ndarray]:
    """The elbow of a decreasing cost curve (Kneedle).

    Both axes are scaled to ``[0, 1]``, the first candidate's cost at 1 and
    the last one's at 0; the elbow is the candidate furthest below the
    straight line between them (Satopaa et al., 2011). More actions always
    fit the frames better; the elbow is where adding one stops paying.

    Parameters
    ----------
    candidates : sequence of int
        Increasing numbers of actions.
    costs : sequence of float
        The segmentation cost of each.

    Returns
    -------
    n_actions : int
        The chosen candidate.
    knee : ndarray of shape (n_candidates,)
        Height of the line above the scaled cost at each candidate; the
        chosen one has the largest. All zero (and the first candidate
        chosen) when the costs do not decrease from first to last.

    References
    ----------
    .. [1] Satopaa, Albrecht, Irwin, Raghavan, "Finding a 'Kneedle' in a
       Haystack: Detecting Knee Points in System Behavior", ICDCS
       Workshops 2011.

    Examples
    --------
    >>> choose_n_actions([2, 3, 4, 5, 6], [1.0, 0.6, 0.3, 0.28, 0.27])[0]
    4
    """
    k = np.asarray(candidates, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    drop = c[0] - c[-1]
    if len(k) < 2 or not drop > 0:
        return int(k[0]), np.zeros(len(k))
    x = (k - k[0]) / (k[-1] - k[0])
    y = (c - c[-1]) / drop
    knee = (1.0 - x) - y
    return int(k[int(np.argmax(knee))]), knee


class SegmentationModel(nn.Module):
    """A frame encoder and ``K`` trainable action embeddings.

    Parameters
    ----------
    encoder : torch.nn.Module
        The trainable frame encoder.
    actions : torch.Tensor of shape (K, D)
        Initial action embeddings.
    """

    def __init__(self, encoder: nn.Module, actions: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.actions = nn.Parameter(actions.detach().clone().float())

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, T, D)`` of a training batch's frames."""
        return encode_frames(self.encoder, frames, mask)


_segment_constraints: dict = {
    "n_actions": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "n_actions_range": [tuple, list],
    "n_actions_criterion": [StrOptions({"changes", "elbow"})],
    "alpha": [Interval(Real, 0, 1, closed="both")],
    "radius": [Interval(Real, 0, 1, closed="right")],
    "rho": [Interval(Real, 0, None, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "lambda_actions": [Interval(Real, 0, None, closed="neither"), None],
    "temperature": [Interval(Real, 0, None, closed="neither")],
    "predict_alpha": [Interval(Real, 0, 1, closed="both")],
    "predict_epsilon": [Interval(Real, 0, None, closed="neither")],
    "predict_lambda_actions": [Interval(Real, 0, None, closed="neither"), None],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
}


class SegmentMixin:
    """Action embeddings, their k-means start, and ``predict``/``score``.

    For estimators of :class:`~skalign._base.BaseVideoEstimator` with the
    parameters of :data:`_segment_constraints`. ``fit`` calls
    :meth:`_fit_segmenter`.
    """

    # ------------------------------------------------------------- training
    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        """A segmenter labels frames with actions without supervision: a
        clusterer of frames, in scikit-learn's terms."""
        tags = super().__sklearn_tags__()
        tags.estimator_type = "clusterer"
        return tags

    def _fit_segmenter(self, videos: Any) -> Any:
        """Validate, then train encoder and action embeddings (once per
        candidate ``K`` for ``n_actions="auto"``)."""
        if isinstance(self.n_actions, str):
            self._validate_params()
            return self._fit_auto(videos)
        self._k_fit = None
        return self._fit_encoder(videos)

    def _actions_range(self) -> range:
        r = self.n_actions_range
        if (len(r) != 2 or not all(isinstance(k, Integral) and not isinstance(k, bool) for k in r)
                or not 1 <= r[0] < r[1]):
            raise ValueError(
                f"n_actions_range must be (smallest, largest) numbers of actions with "
                f"1 <= smallest < largest, got {r!r}."
            )
        return range(int(r[0]), int(r[1]) + 1)

    def _fit_auto(self, videos: Any) -> Any:
        """``n_actions="auto"``: choose ``K`` by ``n_actions_criterion`` (the
        changes of the input features, then one fit; or one fit per ``K``
        and the elbow of the segmentation cost)."""
        candidates = self._actions_range()
        stage, videos = self._run_feature_stage(videos)  # once for all fits
        if self.n_actions_criterion == "changes":
            inputs = self._check_videos(videos, reset=True)
            segments = np.array([count_segments(v) for v in inputs], dtype=np.int64)
            chosen = int(np.clip(np.rint(np.median(segments)), candidates[0], candidates[-1]))
            clipped = np.clip(segments, candidates[0], candidates[-1])
            self._k_fit = chosen
            try:
                self._fit_encoder(videos, stage=stage)
            finally:
                self._k_fit = None
            self.search_ = {"n_actions": np.array(list(candidates)),
                            "votes": np.array([int((clipped == k).sum()) for k in candidates]),
                            "segments": segments}
            return self
        fits, costs = {}, []
        try:
            for k in candidates:
                self._k_fit = k
                self._fit_encoder(videos, stage=stage)
                costs.append(self._segmentation_cost(videos))
                fits[k] = {name: value for name, value in vars(self).items()
                           if name.endswith("_") and not name.startswith("_")}
                if int(self.verbose) > 0:
                    import logging

                    logging.getLogger("skalign").info("n_actions=%d: segmentation cost %.4f", k, costs[-1])
        finally:
            self._k_fit = None
        chosen, knee = choose_n_actions(list(candidates), costs)
        for name, value in fits[chosen].items():
            setattr(self, name, value)
        self.search_ = {"n_actions": np.array(list(candidates)), "cost": np.array(costs),
                        "knee": knee}
        return self

    def _segmentation_cost(self, videos: Any) -> float:
        """Within-action dispersion of the training videos' *input* frames
        under ``predict``: the mean ``1 - cos`` of each frame's input
        features (the feature stage's output for frames and files, pixels
        for a pixel encoder) to the mean direction of its action's frames,
        pooled over videos. The same space for every ``K``, unlike the
        learned embeddings, which each fit shapes into its own ``K``
        clusters. Equal to ``1 - sum_k |s_k| / N`` with ``s_k`` the sum of
        the unit input vectors of action ``k``."""
        sums = np.zeros((int(self.n_actions_), int(self.n_features_in_)))
        n = 0
        vids = self._check_videos(videos)
        for video, emb in zip(vids, self._embed(vids)):
            x = np.asarray(video, dtype=np.float64).reshape(len(video), -1)
            x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            np.add.at(sums, self._proba(emb).argmax(1), x)
            n += len(x)
        return float(1.0 - np.linalg.norm(sums, axis=1).sum() / n)

    def _checkpoint_suffix(self) -> str:
        k = getattr(self, "_k_fit", None)
        return "" if k is None else f".k{k}"

    @with_n_jobs
    def fit_predict(self, videos: Any, y: Any = None) -> list[np.ndarray]:
        """Fit on ``videos`` and segment them.

        Parameters
        ----------
        videos : list of videos
            As in ``fit``.
        y : None
            Ignored.

        Returns
        -------
        labels : list of ndarray of int64
            Action index of every frame of every video.
        """
        return self.fit(videos).predict(videos)

    def _initial_actions(self, trainable: nn.Module, videos: list[Any], seed: int) -> torch.Tensor:
        """k-means centres of the initial (normalised) frame embeddings of
        the training ``videos`` (what ``trainable`` embeds: the cached
        features of a frozen backbone, or the videos)."""
        emb = embed_videos(trainable, list(videos), device=self._device())
        seed = derive_seed(seed, _STREAM_KMEANS) % (2**32)
        Z = torch.cat([F.normalize(e.float(), dim=-1) for e in emb]).numpy().astype(np.float64)
        K = int(self.n_actions if getattr(self, "_k_fit", None) is None else self._k_fit)
        if len(Z) < K:
            raise ValueError(
                f"n_actions={K} exceeds the {len(Z)} frames of the videos; k-means needs at "
                "least one frame per action."
            )
        rng = np.random.default_rng(seed)
        if len(Z) > _KMEANS_MAX_FRAMES:
            Z = Z[np.sort(rng.choice(len(Z), _KMEANS_MAX_FRAMES, replace=False))]
        km = KMeans(n_clusters=K, n_init=3, random_state=int(seed)).fit(Z)
        return F.normalize(torch.from_numpy(km.cluster_centers_).float(), dim=-1)

    def _make_model(self, encoder: nn.Module, videos: list[Any], seed: int) -> nn.Module:
        return SegmentationModel(encoder, self._initial_actions(encoder, videos, seed))

    def _seg_options(self) -> dict[str, Any]:
        return dict(
            alpha=float(self.alpha), radius=float(self.radius), epsilon=float(self.epsilon),
            rho=float(self.rho), temperature=float(self.temperature), max_iter=int(self.max_iter),
            lambda_actions=None if self.lambda_actions is None else float(self.lambda_actions),
        )

    def _finish_fit(self, model: nn.Module, videos: list[np.ndarray]) -> None:
        actions = F.normalize(model.actions.detach().float().cpu(), dim=-1)
        self.action_embeddings_ = actions.numpy()
        self.n_actions_ = int(actions.shape[0])

    # ----------------------------------------------------------- prediction
    def _proba(self, emb: np.ndarray) -> np.ndarray:
        """Rows of the prediction-time ASOT plan, each scaled to sum to one."""
        cost = cosine_cost(emb, self.action_embeddings_)
        lam = self.predict_lambda_actions
        plan = asot(
            cost, alpha=float(self.predict_alpha), radius=float(self.radius),
            epsilon=float(self.predict_epsilon), rho=float(self.rho),
            lambda_actions=None if lam is None else float(lam), max_iter=int(self.max_iter),
        ).plan
        return plan / np.maximum(plan.sum(1, keepdims=True), np.finfo(np.float64).tiny)

    def _embed_any(self, videos: Any) -> tuple[list[np.ndarray], bool]:
        check_is_fitted(self, "action_embeddings_")
        if is_single_video(videos):
            return self._embed([self._check_one(videos, "video")]), True
        return self._embed(self._check_videos(videos)), False

    @with_n_jobs
    def predict_proba(self, videos: Any) -> np.ndarray | list[np.ndarray]:
        """Soft assignment of every frame to the actions.

        Parameters
        ----------
        videos : video or list of videos
            One video or a list of videos of the kind seen in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_frames, n_actions) or list of ndarray
            The rows of the prediction-time ASOT plan, each scaled to sum to
            one (float64); a list for a list of videos.
        """
        emb, single = self._embed_any(videos)
        out = [self._proba(e) for e in emb]
        return out[0] if single else out

    @with_n_jobs
    def predict(self, videos: Any) -> np.ndarray | list[np.ndarray]:
        """Segment videos: the action of every frame.

        The frames are embedded, and the ASOT plan between them and the
        action embeddings (cost ``1 - cos + rho R``, prediction-time
        settings ``predict_alpha``, ``predict_epsilon``,
        ``predict_lambda_actions``) is decoded by its row-wise argmax.

        Parameters
        ----------
        videos : video or list of videos
            One video or a list of videos of the kind seen in ``fit``.

        Returns
        -------
        labels : ndarray of int64 of shape (n_frames,) or list of ndarray
            Action index in ``[0, n_actions)`` of each frame; a list for a
            list of videos.
        """
        proba = self.predict_proba(videos)
        if isinstance(proba, np.ndarray):
            return proba.argmax(1).astype(np.int64)
        return [p.argmax(1).astype(np.int64) for p in proba]

    def _mof(self, videos: Any, y: Any) -> float:
        if is_single_video(videos):
            raise ValueError("videos must be a list of videos; wrap one video as [video].")
        if y is None:
            raise ValueError("y (per-frame ground-truth labels, one array per video) is required.")
        return float(mof(self.predict(videos), list(y)))


class ActionSegmenter(SegmentMixin, BaseVideoEstimator):
    r"""Unsupervised action segmentation of videos of one activity.

    ``fit`` learns a frame encoder and ``n_actions`` action embeddings
    without labels (ASOT): the action embeddings start at the k-means
    centres of the initial frame embeddings; every step samples
    ``batch_size`` videos and ``n_frames`` frames of each, computes
    pseudo-labels with the temporally consistent unbalanced optimal
    transport of :func:`skalign.ot.asot` (cost ``1 - cos + rho R``, no
    gradient), and minimises the cross-entropy between them and the
    softmax of the frame-action similarities over ``temperature``
    (:func:`skalign.losses.asot_loss`). ``predict`` solves the same problem
    with the prediction-time settings and takes each frame's action.

    Parameters
    ----------
    n_actions : int or "auto"
        Number of actions ``K`` (clusters), background included.
        ``"auto"`` chooses ``K`` from the training videos, without labels,
        by ``n_actions_criterion``; ``search_`` says how.
    n_actions_range : tuple of int, default=(2, 12)
        Smallest and largest ``K`` that ``n_actions="auto"`` may choose
        (both included); ignored for an int ``n_actions``.
    n_actions_criterion : {"changes", "elbow"}, default="changes"
        How ``n_actions="auto"`` chooses. ``"changes"``: the median over
        the training videos of their number of segments (the frame-to-frame
        changes of their input features with a robust z-score of 4 or more,
        plus one; see :ref:`many_videos`), then one fit.
        ``"elbow"``: one fit per ``K`` and the elbow (Kneedle) of the
        segmentation cost, the dispersion of the input features within the
        predicted actions.
    method : {"asot"}, default="asot"
        The segmentation method.
    encoder : {"auto", "mlp", "temporal", "conv"} or torch.nn.Module, default="auto"
        As in :class:`skalign.VideoAligner`: an MLP on per-frame features,
        the papers' temporal head on the pretrained features of RGB frames
        and video files, ``"conv"`` from scratch on pixels; a module is
        copied and trained from its current weights.
    features : "auto", FrameFeatures or None, default="auto"
        The pretrained feature stage for RGB frames and video files, as in
        :class:`skalign.VideoAligner`.
    embedding_dim : int, default=40
        Size of the embeddings of the named encoders (ASOT's Breakfast
        setting).
    alpha : float, default=0.3
        Weight of the structural term in training.
    radius : float, default=0.04
        Relative radius of the frame band prior (training and prediction).
    rho : float, default=0.2
        Weight of the temporal prior ``R_ik = |i/N - k/K|`` (training and
        prediction).
    epsilon : float, default=0.07
        Entropic regularisation of the pseudo-labels.
    lambda_actions : float or None, default=0.1
        KL weight of the unbalanced action marginal in training; None
        balances actions.
    temperature : float, default=0.1
        Temperature of the softmax of the similarities.
    predict_alpha : float, default=0.6
        Weight of the structural term in ``predict``.
    predict_epsilon : float, default=0.04
        Entropic regularisation in ``predict``.
    predict_lambda_actions : float or None, default=0.01
        KL weight of the action marginal in ``predict``.
    max_iter : int, default=25
        Mirror-descent iterations of the solver.
    max_epochs : int, default=50
        Training epochs; an epoch has ``ceil(n_videos / batch_size)`` steps.
    batch_size : int, default=2
        Videos per step.
    n_frames : int or None, default=256
        Frames sampled per video and step (one per equal bin); ``None``
        takes whole videos.
    lr : float, default=1e-3
        Learning rate of Adam.
    weight_decay : float, default=1e-4
        L2 penalty of Adam (ASOT's value).
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value.
    precision : {"auto", "32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA; float32 on the CPU. The loss runs in
        float32.
    device : str or torch.device, default="auto"
        Where to train and embed; resolved at each call.
    n_jobs : int or None, default=None
        CPU threads of every method, as in :class:`skalign.VideoAligner`.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder, the k-means start and all sampling. The same
        ``random_state`` gives the same segmentation on the CPU.
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
        The trained, L2-normalised action embeddings (float32).
    n_actions_ : int
        Number of actions: ``n_actions``, or the one ``"auto"`` chose.
    search_ : dict
        Only with ``n_actions="auto"``; arrays. Always ``"n_actions"``, the
        candidates. With ``"changes"``: ``"segments"`` (the number of
        segments counted in each training video) and ``"votes"`` (how many
        videos counted each candidate, counts clipped to the range). With
        ``"elbow"``: ``"cost"`` (the segmentation cost of each fit) and
        ``"knee"`` (height of the chord above the scaled cost; the chosen
        ``K`` has the largest).
    history_ : skalign.engine.History
        Per-epoch records: ``loss``, ``n_used`` (actions the pseudo-labels
        of a step use), ``lr``, ``n_steps``, ``duration``.
    frame_shape_ : tuple of int
        Shape of one frame of the fitted videos.
    n_features_in_ : int
        Size of one frame.
    input_kind_ : {"features", "frames"}
        Kind of the fitted videos.
    embedding_dim_ : int
        Size of the embeddings.

    See Also
    --------
    skalign.losses.asot_loss : The training objective.
    skalign.ot.asot : The optimal-transport problem behind ``predict``.
    skalign.metrics.mof_scorer : Scorer for ``GridSearchCV``.

    Notes
    -----
    Pickles hold the fitted encoder on the CPU. Unpickling runs code: load
    fitted estimators only from sources you trust.

    References
    ----------
    .. [1] Xu, Gould, "Temporally Consistent Unbalanced Optimal Transport
       for Unsupervised Action Segmentation", CVPR 2024.
    .. [2] Ali, Mahmood, Saeed, Konin, Zia, Tran, "Joint Self-Supervised
       Video Alignment and Action Segmentation", ICCV 2025, Sec. 3.2.
    Examples
    --------
    >>> import numpy as np
    >>> from skalign import ActionSegmenter
    >>> from skalign.datasets import make_process_videos
    >>> videos, labels = make_process_videos(4, 3, n_frames=(30, 40), random_state=0)
    >>> seg = ActionSegmenter(3, embedding_dim=8, max_epochs=2, n_frames=16,
    ...                       device="cpu", random_state=0).fit(videos)
    >>> seg.predict(videos[0]).shape
    (31,)
    >>> bool(np.allclose(seg.predict_proba(videos[0]).sum(1), 1.0))
    True
    >>> 0.0 <= seg.score(videos, labels) <= 1.0
    True
    """

    _parameter_constraints: dict = {
        **BaseVideoEstimator._base_constraints,
        **_segment_constraints,
        "method": [StrOptions(set(SEGMENTATION_METHODS))],
    }
    _pairs = False

    def __init__(
        self,
        n_actions: int | str,
        method: str = "asot",
        *,
        n_actions_range: tuple[int, int] = (2, 12),
        n_actions_criterion: str = "changes",
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
        self.method = method
        self.n_actions_range = n_actions_range
        self.n_actions_criterion = n_actions_criterion
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

    def _make_loss(self) -> Callable[[nn.Module, Any], Any]:
        options = self._seg_options()

        def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            z = model(batch.frames, batch.mask)
            loss, n_used = _asot_loss(z, model.actions, mask=batch.mask, **options)
            return loss, {"n_used": n_used}

        return loss_fn

    @with_n_jobs
    def fit(self, videos: Any, y: Any = None) -> ActionSegmenter:
        """Train the encoder and the action embeddings on videos of one activity.

        Parameters
        ----------
        videos : list of videos or VideoCollection
            At least one video: feature arrays ``(n_frames, n_features)`` of
            the same ``n_features``, uint8 RGB frame arrays of the same size,
            or paths to feature or video files.
        y : None
            Ignored; no labels are used.

        Returns
        -------
        self : ActionSegmenter
            The fitted segmenter.
        """
        return self._fit_segmenter(videos)

    @with_n_jobs
    def score(self, videos: Any, y: Any) -> float:
        """Mean over frames (MoF) of the segmentation against ``y``.

        Predicted actions are matched to classes in every video on its own by
        the Hungarian method, as :func:`skalign.metrics.mof` (and
        :data:`skalign.metrics.mof_scorer`) do by default.

        Parameters
        ----------
        videos : list of videos
            Videos of the kind seen in ``fit``.
        y : list of array-like of int
            Ground-truth class of every frame, one array per video (-1:
            not scored).

        Returns
        -------
        mof : float
            In ``[0, 1]``; higher is better.
        """
        return self._mof(videos, y)
