"""Machinery shared by skalign's estimators.

An estimator of skalign learns a frame encoder with a self-supervised loss
and then uses the encoder's embeddings. Everything that is not the loss
lives here: checking the videos (with errors that name the video),
choosing and seeding the encoder, resolving the device, fitting through
:class:`skalign.engine.Trainer`, embedding through
:func:`skalign.engine.embed_videos`, and pickling with the state on the
CPU. A sibling estimator declares its parameters, the loss of its method
and, where it has them, extra trainable modules.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._frame_features import FrameFeatures
from .encoders import ConvEncoder, MLPEncoder, TemporalEmbedder
from .engine import Trainer, cache_features, derive_seed, embed_videos, resolve_device
from .io import FEATURE_SUFFIXES, VideoCollection, load_video
from .metrics import kendalls_tau
from .ot import decode_matches, vaot
from .sequence import dtw
from .utils import with_n_jobs

__all__ = [
    "DECODERS",
    "AlignMixin",
    "Alignment",
    "BaseVideoEstimator",
    "check_video_list",
    "cosine_cost",
    "dtw_alignment",
    "encode_frames",
    "is_single_video",
    "nn_alignment",
    "vaot_alignment",
]

#: Encoders selected by name; "auto" picks by the kind of input.
ENCODERS = ("auto", "mlp", "temporal", "conv")

# Streams of the fit's seed (``derive_seed(seed, stream)``).
_STREAM_INIT = 0
_STREAM_TRAIN = 1


#: Marginal error (L1, unit mass) of an alignment plan above which ``align``
#: warns: far above the solver's ``marginal_tol``, far below the failures it
#: is for (0.24 to 1.9 for epsilon 1e-4 and less, or costs of range 1e3 and
#: more), and above what the paper's 25 iterations leave (at most 0.085 on
#: the demo's held-out pairs).
ALIGN_WARN_L1 = 0.2


# --------------------------------------------------------------------- videos
def is_single_video(video: Any) -> bool:
    """Whether ``video`` is one video (an array or a path), not a list of them.

    Besides arrays and paths, a nested list of numbers (``[[0.1, 0.2],
    [0.3, 0.4]]``: rows of features) and an object array of two or more
    dimensions (or of numbers) are one video: a list of videos holds 2-D
    arrays or paths, never rows of numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from skalign._base import is_single_video
    >>> is_single_video([[0.1, 0.2], [0.3, 0.4]]), is_single_video([np.zeros((3, 2))])
    (True, False)
    """
    def _is_number(value: Any) -> bool:
        return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))

    if isinstance(video, (str, os.PathLike, torch.Tensor)):
        return True
    if isinstance(video, np.ndarray):
        if video.dtype != object or video.ndim != 1:
            return True
        return video.size > 0 and all(_is_number(v) for v in video.flat)
    if isinstance(video, (list, tuple)) and len(video) > 0:
        first = video[0]
        if isinstance(first, np.ndarray):
            return first.ndim == 1 and first.size > 0 and first.dtype.kind in "biuf"
        return (isinstance(first, (list, tuple)) and len(first) > 0
                and all(_is_number(v) for v in first))
    return False


def holds_frames(video: Any) -> bool:
    """Whether one video is RGB frames or a video file (not features)."""
    if isinstance(video, (str, os.PathLike)):
        return os.path.splitext(os.fspath(video))[1].lower() not in FEATURE_SUFFIXES
    ndim = getattr(video, "ndim", None)
    return ndim == 4 if ndim is not None else False


def _first_video(videos: Any) -> Any:
    if isinstance(videos, VideoCollection):
        return videos.paths[0] if len(videos) else None
    try:
        return videos[0] if len(videos) else None
    except (TypeError, KeyError, IndexError):
        return None


def make_temporal_head(n_features: int, embedding_dim: int) -> TemporalEmbedder:
    """The papers' embedder on per-frame feature vectors (``encoder="temporal"``).

    Each frame is embedded with one context frame 15 frames before it
    (clamped at the first frame), through two 1-D temporal convolutions of
    512 channels, global max pooling, two fully connected layers of 512 and
    a linear projection to ``embedding_dim``, L2-normalised: TCC's embedder
    as used by GTA, VAVA and VAOT, on pooled instead of spatial features.
    """
    return TemporalEmbedder(None, in_channels=int(n_features), spatial=False, n_context=2,
                            context_stride=15, embedding_dim=int(embedding_dim))


def _describe(frame_shape: tuple[int, ...]) -> str:
    if len(frame_shape) == 1:
        return f"features of size {frame_shape[0]}"
    return f"frames of {frame_shape[0]}x{frame_shape[1]} pixels"


def _iter_videos(
    videos: Any,
    *,
    name: str,
    min_frames: int,
    frame_shape: tuple[int, ...] | None,
    fitted_on: str,
) -> Iterator[np.ndarray]:
    """Load and check the videos one at a time (lazily for collections).

    Features come out as float32, frames as uint8. Every video must have the
    frame shape of the first (or ``frame_shape``, the fitted one).
    """
    ref = frame_shape
    ref_name = fitted_on
    for i in range(len(videos)):
        label = f"{name}[{i}]"
        if isinstance(videos, VideoCollection):
            label = f"{label} ({videos.paths[i]})"
            arr = load_video(videos.load(i), name=label, min_frames=min_frames)
        else:
            arr = load_video(videos[i], name=label, min_frames=min_frames)
        arr = _check_frames(arr, label, ref, ref_name)
        if ref is None:
            ref, ref_name = tuple(arr.shape[1:]), f"{label} has"
        yield arr


def _check_frames(
    arr: np.ndarray, label: str, ref: tuple[int, ...] | None, ref_name: str
) -> np.ndarray:
    """Features as float32; frames of the shape ``ref`` (when given).

    ``ref_name`` completes "but ...": e.g. ``"videos[0] has"``.
    """
    if ref is not None and tuple(arr.shape[1:]) != ref:
        got = tuple(arr.shape[1:])
        same_kind = len(got) == len(ref)
        raise ValueError(
            f"{label} has {_describe(got)}, but {ref_name} {_describe(ref)}; "
            + ("every video needs the same frame size." if same_kind
               else "every video must be of the same kind (features or frames).")
        )
    if arr.ndim == 2 and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


def check_video_list(
    videos: Any,
    *,
    name: str = "videos",
    min_videos: int = 1,
    min_frames: int = 1,
    frame_shape: tuple[int, ...] | None = None,
    fitted_on: str = "the fitted videos have",
    lazy: bool = False,
) -> Any:
    """Check a list of videos and load them as arrays.

    Parameters
    ----------
    videos : list, tuple or VideoCollection
        Videos of any kind :func:`skalign.io.load_video` accepts.
    name : str, default="videos"
        How errors name the list; a video is ``name[i]``.
    min_videos : int, default=1
        Fewest videos accepted.
    min_frames : int, default=1
        Fewest frames per video.
    frame_shape : tuple of int or None, default=None
        The frame shape every video must have (``(n_features,)`` or
        ``(height, width, 3)``); by default that of the first video.
    fitted_on : str, default="the fitted videos have"
        How errors name where ``frame_shape`` comes from (it completes
        "but ...").
    lazy : bool, default=False
        Return an iterator that loads and checks one video at a time
        instead of a list (files of a collection are read when reached).

    Returns
    -------
    videos : list of ndarray or iterator of ndarray
        Features as float32 ``(n_frames, n_features)``, frames as uint8
        ``(n_frames, height, width, 3)``.

    Raises
    ------
    ValueError
        A lone array, path or nested list of numbers instead of a list, too
        few videos, or a bad video (the message names it, e.g.
        ``videos[3]``, and its file), e.g. features beyond ``+-1e18``, which
        float32 encoders cannot embed (see :func:`skalign.io.load_video`).
    FileNotFoundError
        A path that does not exist (named likewise).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign._base import check_video_list
    >>> [v.dtype for v in check_video_list([np.zeros((5, 3)), np.ones((4, 3), dtype=int)])]
    [dtype('float32'), dtype('float32')]
    >>> check_video_list([np.zeros((5, 3)), np.zeros((4, 2))])
    Traceback (most recent call last):
    ...
    ValueError: videos[1] has features of size 2, but videos[0] has features of size 3; every video needs the same frame size.
    """
    if is_single_video(videos):
        raise ValueError(
            f"{name} must be a list of videos (one array or path per video), got a single "
            f"{type(videos).__name__}; wrap one video as [video]."
        )
    if not isinstance(videos, VideoCollection):
        if isinstance(videos, np.ndarray):
            videos = list(videos)
        if not isinstance(videos, Sequence):
            raise ValueError(
                f"{name} must be a list of videos or a VideoCollection, got "
                f"{type(videos).__name__}."
            )
    if len(videos) < min_videos:
        if len(videos) == 0:
            raise ValueError(f"{name} is empty; at least {min_videos} video(s) are needed.")
        raise ValueError(
            f"{name} holds {len(videos)} video(s); at least {min_videos} are needed."
        )
    it = _iter_videos(
        videos, name=name, min_frames=min_frames, frame_shape=frame_shape, fitted_on=fitted_on
    )
    return it if lazy else list(it)


# -------------------------------------------------------------------- results
@dataclass(frozen=True)
class Alignment:
    """Frame-to-frame alignment of two videos.

    Attributes
    ----------
    plan : ndarray of shape (n_frames_a + 1, n_frames_b + 1) or (n_frames_a, n_frames_b)
        The soft alignment (transport plan); with a virtual frame it is the
        last row and column.
    matches : ndarray of int64 of shape (n_frames_a,)
        For each frame of ``a``, the index of its frame in ``b``, or -1 when
        it is unmatched (assigned to the virtual frame).
    cost : ndarray of shape (n_frames_a, n_frames_b)
        The frame cost the plan was computed from, ``1 - cos`` of the
        embeddings (before any temporal prior).

    Examples
    --------
    >>> import numpy as np
    >>> from skalign._base import vaot_alignment
    >>> t = np.linspace(0, 1.5, 12)
    >>> emb = np.stack([np.cos(t), np.sin(t)], axis=1)
    >>> res = vaot_alignment(emb, emb, epsilon=0.01, virtual="cost")
    >>> res.plan.shape, res.cost.shape
    ((13, 13), (12, 12))
    >>> res.matches.tolist() == list(range(12))
    True
    """

    plan: np.ndarray
    matches: np.ndarray
    cost: np.ndarray


def cosine_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - cos`` between the rows of ``a`` and of ``b`` (float64).

    Parameters
    ----------
    a : array-like of shape (N, D)
    b : array-like of shape (M, D)

    Returns
    -------
    cost : ndarray of shape (N, M)
        In ``[0, 2]``; the visual cost of VAOT (Sec. 3.1.2).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return 1.0 - a @ b.T


def vaot_alignment(
    emb_a: np.ndarray, emb_b: np.ndarray, *, epsilon: float, virtual: str | None, **solver: Any
) -> Alignment:
    """Align two embedded videos with :func:`skalign.ot.vaot`.

    Parameters
    ----------
    emb_a, emb_b : ndarray of shape (N, D) and (M, D)
        Frame embeddings.
    epsilon : float
        Entropic regularisation of the solver.
    virtual : {"cost", "threshold"} or None
        Rule of the virtual frame.
    **solver
        ``alpha``, ``radius``, ``rho``, ``zeta``, ``max_iter``, ... of
        :func:`skalign.ot.vaot`.

    Returns
    -------
    Alignment
        Plan, matches (decoded with :func:`skalign.ot.decode_matches`) and
        the cosine cost.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When the solve did not converge *and* the returned plan's
        marginals are off by more than ``ALIGN_WARN_L1`` (0.2: a fifth of
        the mass misplaced; L1 over the first video's frames, and the
        second's when balanced), e.g. for ``epsilon`` far below the cost's
        range. The paper's 25 outer iterations often stop short of the
        solver's own ``marginal_tol``: on the demo's held-out pairs their
        plans were off by 5e-4 to 0.085, and their matches are sound, so
        those do not warn (``OTResult.converged`` still says False). The
        message says what to change; :meth:`AlignMixin.align` adds which
        videos.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    cost = cosine_cost(emb_a, emb_b)
    result = vaot(cost, epsilon=epsilon, virtual=virtual, **solver)
    plan = result.plan
    off = 0.0
    if not result.converged:
        # Marginals of the returned plan (every frame of a carries the same
        # mass; those of b too unless relaxed with lambda_y).
        n, m = cost.shape
        if virtual == "cost":
            off = np.abs(plan.sum(1) - 1.0 / (n + 1)).sum()
            if solver.get("lambda_y") is None:
                off += np.abs(plan.sum(0) - 1.0 / (m + 1)).sum()
        else:
            off = np.abs(plan[:n].sum(1) - 1.0 / n).sum()
            if virtual is None and solver.get("lambda_y") is None:
                off += np.abs(plan.sum(0) - 1.0 / m).sum()
    def _solver_advice(message: str) -> str:
        # The solver's reason without its first sentence (the error, said above).
        if message.startswith("The marginals of the plan"):
            return message.split(". ", 1)[-1]
        return message or "Raise max_iter or epsilon."

    if off > ALIGN_WARN_L1:
        warnings.warn(
            f"The VAOT alignment did not converge (epsilon={epsilon:g}); the plan's marginals are off by "
            f"{off:.3g} (L1). " + _solver_advice(result.message)
            + " With an estimator: raise align_epsilon (the papers use 0.04; the cosine cost lies in [0, 2]) "
            "or max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    matches = decode_matches(plan, virtual=virtual is not None).astype(np.int64)
    return Alignment(plan=plan, matches=matches, cost=cost)


def dtw_alignment(emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    """The exact DTW path on the cosine cost: every frame of ``a`` matched.

    ``plan`` holds 1 on the path; a frame of ``a`` warped onto several
    frames of ``b`` is matched to the closest of them.

    Parameters
    ----------
    emb_a, emb_b : ndarray of shape (N, D) and (M, D)
        Frame embeddings.

    Returns
    -------
    Alignment
    """
    cost = cosine_cost(emb_a, emb_b)
    plan = np.zeros_like(cost)
    for i, j in dtw(cost).path:
        plan[i, j] = 1.0
    matches = np.where(plan > 0, cost, np.inf).argmin(1).astype(np.int64)
    return Alignment(plan=plan, matches=matches, cost=cost)


def nn_alignment(emb_a: np.ndarray, emb_b: np.ndarray) -> Alignment:
    """Every frame of ``a`` matched to its nearest frame of ``b`` (cosine).

    No order is kept: the decoder of the papers' nearest-neighbour metrics
    (Kendall's tau, cycle consistency), and the one that tells how much
    the order constraint of DTW or of a plan adds.

    Parameters
    ----------
    emb_a, emb_b : ndarray of shape (N, D) and (M, D)
        Frame embeddings.

    Returns
    -------
    Alignment
    """
    cost = cosine_cost(emb_a, emb_b)
    matches = cost.argmin(1).astype(np.int64)
    plan = np.zeros_like(cost)
    plan[np.arange(len(matches)), matches] = 1.0
    return Alignment(plan=plan, matches=matches, cost=cost)


def upgrade_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters of an estimator written by an earlier skalign, in place.

    An aligner written before ``decoder`` existed (it has ``align_lambda``
    but no ``decoder``) gets ``decoder="method"``, so it aligns as it did.
    Used by unpickling and by :func:`skalign.persist.load_model`.
    """
    if "align_lambda" in params and "decoder" not in params:
        params["decoder"] = "method"
    return params


#: How ``align`` turns two embedded videos into frame matches
#: (``decoder=``): see :class:`skalign.VideoAligner`.
DECODERS = ("auto", "method", "dtw", "vaot", "nn")


def decode_with(
    decoder: str,
    emb_a: np.ndarray,
    emb_b: np.ndarray,
    *,
    own: Callable[[np.ndarray, np.ndarray], Alignment],
    ot: Callable[[np.ndarray, np.ndarray], Alignment],
) -> Alignment:
    """Align two embedded videos with one of ``DECODERS``.

    ``own`` is the estimator's method's alignment (``"method"``), ``ot``
    its VAOT plan with its solver settings (``"vaot"``, and ``"auto"``).
    """
    if decoder == "dtw":
        return dtw_alignment(emb_a, emb_b)
    if decoder == "nn":
        return nn_alignment(emb_a, emb_b)
    if decoder in ("vaot", "auto"):
        return ot(emb_a, emb_b)
    return own(emb_a, emb_b)


# ----------------------------------------------------------------- estimator
def encode_frames(model: nn.Module, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on a training batch's frames ``(B, T, ...)``.

    Sequence-level models (a transformer over the frames of a video) also
    get the padding mask; frame-wise models get the frames only.
    """
    if getattr(model, "sequence_level", False):
        return model(frames, mask)
    return model(frames)


def _to_cpu(value: Any) -> Any:
    """A CPU copy of a module or tensor that lives elsewhere; others as they are."""
    if isinstance(value, nn.Module):
        tensors = list(value.parameters()) + list(value.buffers())
        if all(t.device.type == "cpu" for t in tensors):
            return value
        return copy.deepcopy(value).cpu()
    if isinstance(value, torch.Tensor) and value.device.type != "cpu":
        return value.detach().cpu()
    return value


class BaseVideoEstimator(TransformerMixin, BaseEstimator):
    """Base of the estimators that learn a frame encoder from videos.

    A subclass sets ``_parameter_constraints`` (starting from
    ``_base_constraints``), ``_pairs`` (whether the loss sees pairs of
    videos), and implements ``_make_loss`` (the method's objective as a
    ``loss_fn(model, batch)`` of :class:`skalign.engine.Trainer`) and
    ``_min_frames``. It may override ``_make_model`` to train modules
    beside the encoder (e.g. action embeddings) and ``_finish_fit`` to keep
    them. Its ``fit`` calls :meth:`_fit_encoder`.

    The shared parameters, stored by ``__init__`` of the subclass, are
    ``encoder``, ``embedding_dim``, ``max_epochs``, ``batch_size``,
    ``n_frames``, ``lr``, ``weight_decay``, ``grad_clip``, ``precision``,
    ``device``, ``n_jobs``, ``random_state`` and ``verbose``.

    Fitted attributes: ``encoder_`` (the trained module, in eval mode),
    ``history_`` (:class:`skalign.engine.History`), ``frame_shape_``,
    ``n_features_in_``, ``input_kind_`` and ``embedding_dim_``.
    """

    _base_constraints: dict = {
        "encoder": [StrOptions(set(ENCODERS)), nn.Module],
        "features": [StrOptions({"auto"}), FrameFeatures, None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_frames": [Interval(Integral, 2, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "precision": [StrOptions({"auto", "32", "bf16", "fp16"})],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoint": [str, os.PathLike, None],
        "optimizer": [StrOptions({"adam", "adamw"})],
        "callbacks": [list, tuple, None],
        "distributed": [StrOptions({"auto"}), bool],
    }
    _pairs: bool = True

    # ----------------------------------------------------------- subclass API
    def _min_frames(self) -> int:
        """Fewest frames a video needs for the method."""
        return 2

    def _make_loss(self) -> Callable[[nn.Module, Any], Any]:
        """The training objective ``loss_fn(model, batch)``. A loss whose
        value depends on the training step may carry ``resume_at(steps)``,
        called before a fit resumed from a checkpoint after ``steps``."""
        raise NotImplementedError

    def _make_model(self, encoder: nn.Module, videos: list[Any], seed: int) -> nn.Module:
        """The module the trainer optimises: the trainable encoder (the head
        of an encoder with a frozen backbone) by default; a subclass may wrap
        it with modules of its own, initialised from the training ``videos``
        (what the trainable encoder embeds) and ``seed``. The loss function
        receives it."""
        return encoder

    def _finish_fit(self, model: nn.Module, videos: list[np.ndarray]) -> None:
        """Keep what the subclass needs from the trained ``model``."""

    # -------------------------------------------------------------- checking
    def _feature_stage(self, videos: Any) -> FrameFeatures | None:
        """The fitted :class:`FrameFeatures` that ``fit`` applies to ``videos``:
        one when they hold RGB frames or video files and the encoder takes
        feature vectors; ``None`` otherwise."""
        explicit = isinstance(self.features, FrameFeatures)
        if self.features is None or is_single_video(videos) or not holds_frames(_first_video(videos)):
            return None
        if isinstance(self.encoder, nn.Module) and not explicit:
            return None
        if self.encoder == "conv":
            if explicit:
                raise ValueError(
                    "encoder='conv' embeds RGB frames, but features=FrameFeatures(...) turns "
                    "them into feature vectors first; use encoder='auto' (or 'temporal', "
                    "'mlp') with the feature stage, or features=None with encoder='conv'."
                )
            return None
        stage = copy.deepcopy(self.features) if explicit else FrameFeatures(device=self.device)
        return stage.fit()

    def _run_feature_stage(self, videos: Any) -> tuple[FrameFeatures | None, Any]:
        """``(stage, videos)`` for training: the fitted feature stage (or
        None) and the videos through it. Pretrained features are decoded
        and run through the backbone once, one batch of small frames at a
        time; the encoder trains on them."""
        stage = self._feature_stage(videos)
        if stage is not None:
            if not stage.verbose and int(self.verbose) > 0:
                stage.verbose = int(self.verbose)
            videos = stage.transform(videos)
        return stage, videos

    def _as_features(self, videos: Any) -> Any:
        """Videos of RGB frames or video files through the fitted feature
        stage (when there is one); feature arrays and files as they are."""
        stage = getattr(self, "features_", None)
        if stage is None:
            return videos
        if is_single_video(videos):
            return stage.transform(videos) if holds_frames(videos) else videos
        first = _first_video(videos)
        return stage.transform(videos) if first is not None and holds_frames(first) else videos

    def _check_videos(self, videos: Any, *, name: str = "videos", min_videos: int = 1,
                      reset: bool = False, lazy: bool = False) -> Any:
        """Load and check videos; unless ``reset`` (in ``fit``), their frames
        must have the shape of the fitted ones and frames go through the
        fitted feature stage."""
        if not reset:
            videos = self._as_features(videos)
        return check_video_list(
            videos, name=name, min_videos=min_videos, min_frames=self._min_frames(),
            frame_shape=None if reset else self.frame_shape_,
            fitted_on=f"{type(self).__name__} was fitted on",
            lazy=lazy,
        )

    def _check_one(self, video: Any, name: str) -> np.ndarray:
        """Load and check one video, named ``name`` in errors."""
        video = self._as_features(video)
        arr = load_video(video, name=name, min_frames=self._min_frames())
        return _check_frames(arr, name, self.frame_shape_,
                             f"{type(self).__name__} was fitted on")

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    # --------------------------------------------------------------- encoder
    def _build_encoder(self, frame_shape: tuple[int, ...], seed: int, staged: bool = False) -> nn.Module:
        """The encoder before training: named ones seeded from ``seed``, a
        given module copied (its weights are the starting point). ``staged``:
        the features come from the pretrained feature stage."""
        kind = "features" if len(frame_shape) == 1 else "frames"
        if isinstance(self.encoder, nn.Module):
            return copy.deepcopy(self.encoder)
        name = self.encoder
        if name == "auto":
            name = ("temporal" if staged else "mlp") if kind == "features" else "conv"
        if name in ("mlp", "temporal") and kind != "features":
            raise ValueError(
                f"encoder={name!r} embeds per-frame features, but the videos hold frames of "
                f"shape {frame_shape} and features=None; use features='auto' (pretrained "
                "features), encoder='conv' or 'auto'."
            )
        if name == "conv" and kind != "frames":
            raise ValueError(
                "encoder='conv' embeds RGB frames, but the videos hold features of size "
                f"{frame_shape[0]}; use encoder='mlp' or 'auto'."
            )
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(derive_seed(seed, _STREAM_INIT))
            if name == "mlp":
                return MLPEncoder(frame_shape[0], int(self.embedding_dim))
            if name == "temporal":
                return make_temporal_head(frame_shape[0], int(self.embedding_dim))
            return ConvEncoder(int(self.embedding_dim))

    # ------------------------------------------------------------------- fit
    def _checkpoint_suffix(self) -> str:
        """Appended to ``checkpoint`` for this training run (one run per
        candidate of ``n_actions="auto"``)."""
        return ""

    def _fit_encoder(self, videos: Any, *, stage: Any = "fit") -> BaseVideoEstimator:
        """Validate, build the encoder, train it with the method's loss.

        ``stage``: the fitted feature stage ``videos`` already went through
        (or None when they needed none); by default it is chosen and run
        here."""
        self._validate_params()
        device = self._device()
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        min_videos = 2 if self._pairs else 1
        frozen = isinstance(self.encoder, nn.Module) and bool(
            getattr(self.encoder, "frozen_backbone", False)
        )
        if isinstance(stage, str):
            stage, videos = self._run_feature_stage(videos)
        self.features_ = stage
        if frozen and isinstance(videos, VideoCollection):
            # Read one file at a time: only the backbone's features are kept.
            stream = self._check_videos(videos, min_videos=min_videos, reset=True, lazy=True)
            first = next(stream)
            data: Any = _chain(first, stream)
        else:
            data = self._check_videos(videos, min_videos=min_videos, reset=True)
            first = data[0]
        frame_shape = tuple(first.shape[1:])
        encoder = self._build_encoder(frame_shape, seed, staged=stage is not None)
        if frozen:
            # A frozen pretrained backbone runs once per frame; the head
            # trains on its cached features.
            train_videos = cache_features(encoder.backbone, data, device=device)
            trainable = encoder.head
        else:
            train_videos, trainable = data, encoder
        model = self._make_model(trainable, train_videos, seed)
        checkpoint, resume, resumed_steps = self._checkpoint_to_resume(model)
        trainer = Trainer(
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            n_frames=None if self.n_frames is None else int(self.n_frames),
            pairs=self._pairs,
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            grad_clip=self.grad_clip,
            device=device,
            precision=self.precision,
            optimizer=self.optimizer,
            distributed=self.distributed,
            callbacks=list(self.callbacks or ()),
            context_offsets=getattr(trainable, "context_offsets", (0,)),
            random_state=derive_seed(seed, _STREAM_TRAIN),
            verbose=int(self.verbose),
            checkpoint=checkpoint,
            resume=resume,
        )
        loss_fn = self._make_loss()
        if resume is not None and hasattr(loss_fn, "resume_at"):
            # A loss that follows the training step (VAVA's prior weight)
            # continues where the checkpoint stopped.
            loss_fn.resume_at(resumed_steps)
        trainer.fit(model, train_videos, loss_fn)
        encoder.eval()
        self.encoder_ = encoder
        self.history_ = trainer.history_
        self.frame_shape_ = frame_shape
        self.n_features_in_ = int(np.prod(frame_shape))
        self.input_kind_ = "features" if len(frame_shape) == 1 and stage is None else "frames"
        self.embedding_dim_ = int(getattr(encoder, "embedding_dim", self.embedding_dim))
        self._finish_fit(model, train_videos)
        return self

    def _checkpoint_to_resume(self, model: nn.Module) -> tuple[str | None, str | None, int]:
        """``(checkpoint, resume, steps done)``: the checkpoint file to write
        after every epoch, the same file when it exists and was written by
        this model (the fit resumes from it, read weights-only), and the
        training steps it holds."""
        checkpoint = getattr(self, "checkpoint", None)
        if checkpoint is None:
            return None, None, 0
        checkpoint = os.fspath(checkpoint) + self._checkpoint_suffix()
        parent = os.path.dirname(os.path.abspath(checkpoint))
        if os.path.isdir(checkpoint):
            raise ValueError(f"checkpoint {checkpoint!r} is a directory; give a file name.")
        if not os.path.isdir(parent):
            raise FileNotFoundError(
                f"checkpoint {checkpoint!r}: its folder {parent!r} does not exist; create it first."
            )
        if not os.path.exists(checkpoint):
            return checkpoint, None, 0
        from .engine import load_checkpoint

        state = load_checkpoint(checkpoint)
        saved = state["model"] if isinstance(state["model"], dict) else {}
        if {k: tuple(v.shape) for k, v in saved.items()} != {
            k: tuple(v.shape) for k, v in model.state_dict().items()
        }:
            raise ValueError(
                f"checkpoint {checkpoint!r} was written by a different model (other "
                "method, encoder, embedding size or input size); delete it or choose "
                "another checkpoint file."
            )
        if int(state["epoch"]) > int(self.max_epochs):
            raise ValueError(
                f"checkpoint {checkpoint!r} holds {int(state['epoch'])} epochs, more than "
                f"max_epochs={int(self.max_epochs)}; raise max_epochs or choose another "
                "checkpoint file."
            )
        return checkpoint, checkpoint, sum(int(r.get("n_steps", 0)) for r in state["history"])

    # ------------------------------------------------------------- transform
    def _embed(self, videos: list[np.ndarray]) -> list[np.ndarray]:
        out = embed_videos(self.encoder_, videos, device=self._device())
        return [e.numpy() for e in out]

    @with_n_jobs
    def transform(self, videos: Any) -> np.ndarray | list[np.ndarray]:
        """Embed every frame.

        Parameters
        ----------
        videos : video or list of videos
            One video (an array or a path) or a list of videos (or a
            :class:`skalign.io.VideoCollection`) of the kind seen in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_frames, embedding_dim_) or list of ndarray
            float32 embeddings; a list for a list of videos.
        """
        check_is_fitted(self, "encoder_")
        if is_single_video(videos):
            return self._embed([self._check_one(videos, "video")])[0]
        return self._embed(self._check_videos(videos))

    @with_n_jobs
    def fit_transform(self, videos: Any, y: Any = None, **fit_params: Any) -> list[np.ndarray]:
        """Fit on ``videos`` and embed them.

        Parameters
        ----------
        videos : list of videos
            As in ``fit``.
        y : None
            Ignored.
        **fit_params
            Passed to ``fit``.

        Returns
        -------
        embeddings : list of ndarray of shape (n_frames_i, embedding_dim_)
        """
        return self.fit(videos, y, **fit_params).transform(videos)

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        """Input is a list of videos of different lengths, not one 2-D array
        (scikit-learn's common checks do not apply; see
        :mod:`skalign.utils.estimator_checks`); no target is needed."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        tags.requires_fit = True
        return tags

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        """State with every module and tensor on the CPU.

        A model fitted on CUDA unpickles on a machine without a GPU.
        """
        state = super().__getstate__()
        return {k: _to_cpu(v) for k, v in state.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickle; parameters added to skalign after it was written
        (``n_jobs``, ``checkpoint``, ...) take their defaults, so that
        ``get_params``, ``clone`` and ``set_params`` work on it. An aligner
        pickled before ``decoder`` existed gets ``decoder="method"``, so it
        aligns as it did."""
        import inspect

        upgrade_params(state)
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name != "self" and param.default is not inspect.Parameter.empty:
                state.setdefault(name, param.default)
        super().__setstate__(state)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


class AlignMixin:
    """``align`` and ``score`` for estimators with a frame encoder.

    The estimator provides ``transform`` and ``_align_embeddings(emb_a,
    emb_b) -> Alignment``.
    """

    def _named_align(self, x: np.ndarray, y: np.ndarray, which: str, stacklevel: int = 4) -> Alignment:
        """``_align_embeddings``, its ConvergenceWarning naming the videos
        (``stacklevel`` 4 points past this method, a public method and its
        n_jobs wrapper)."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            out = self._align_embeddings(x, y)
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warnings.warn(f"align({which}): {w.message}", ConvergenceWarning, stacklevel=stacklevel)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
        return out

    @with_n_jobs
    def align(self, a: Any, b: Any) -> Alignment | list[Alignment]:
        """Align the frames of video ``a`` to those of video ``b``.

        Parameters
        ----------
        a, b : video, or lists of videos of the same length
            Videos of the kind seen in ``fit``; lists are aligned pair by
            pair.

        Returns
        -------
        alignment : Alignment or list of Alignment
            ``plan``, ``matches`` (index in ``b`` of each frame of ``a``,
            -1 when unmatched) and ``cost``.

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            When the solver's plan for a pair does not hold its marginals
            (e.g. ``align_epsilon`` far too small for the cosine cost in
            [0, 2]); the message names the pair (``a`` and ``b``, or
            ``a[i]`` and ``b[i]`` for lists) and what to change.
        """
        check_is_fitted(self, "encoder_")
        if is_single_video(a) and is_single_video(b):
            emb_a, emb_b = self._embed([self._check_one(a, "a"), self._check_one(b, "b")])
            return self._named_align(emb_a, emb_b, "videos a and b")
        if is_single_video(a) or is_single_video(b):
            raise ValueError(
                "a and b must both be one video or both lists of videos of the same length."
            )
        va = self._check_videos(a, name="a")
        vb = self._check_videos(b, name="b")
        if len(va) != len(vb):
            raise ValueError(f"a holds {len(va)} videos but b holds {len(vb)}; they are aligned pairwise.")
        ea, eb = self._embed(va), self._embed(vb)
        return [self._named_align(x, y, f"videos a[{i}] and b[{i}]") for i, (x, y) in enumerate(zip(ea, eb))]

    @with_n_jobs
    def align_many(self, videos: Any, reference: int | None = None, *, monotone: bool = True) -> Any:
        """Put many videos of the process on one timeline.

        The timeline is the frames of a reference video. Every other video
        is aligned to it in both directions with the estimator's decoder
        (``decoder=``, as in :meth:`align`): its frames onto the reference
        give where each of them lies on the timeline (``steps``), and the
        reference's frames onto it give which of its frames to show at
        each step (``frames``). Frames an alignment leaves unmatched
        (background, a step one of the videos skips) are -1.

        Parameters
        ----------
        videos : list of videos or VideoCollection
            At least two videos of the kind seen in ``fit``.
        reference : int or None, default=None
            Index of the reference video. None takes the medoid of the
            pairwise alignment costs (mean ``1 - cos`` of matched frames,
            1 for an unmatched frame; symmetrised): the video that is
            closest to all others. It costs ``n (n - 1)`` alignments; give
            an index to align only ``2 (n - 1)`` pairs.
        monotone : bool, default=True
            Make every ``frames`` map non-decreasing (the least-squares
            isotonic fit of its matched entries), so playback of a video on
            the timeline never steps back.

        Returns
        -------
        timeline : skalign.Timeline
            ``reference``, ``frames`` (per video, the frame shown at each of
            the ``n_steps`` steps), ``steps`` (per video, the step of each
            frame) and ``costs`` (the pairwise costs when the medoid was
            chosen).

        See Also
        --------
        skalign.metrics.timeline_accuracy : Its quality against phase labels.
        skalign.plotting.plot_timeline : All videos' phases on the common axis.
        skalign.io.write_synced_video : The videos side by side, in sync.

        Examples
        --------
        >>> from skalign import VideoAligner
        >>> from skalign.datasets import make_process_videos
        >>> videos, labels = make_process_videos(4, 3, n_frames=(30, 40), random_state=0)
        >>> aligner = VideoAligner(embedding_dim=8, max_epochs=1, n_frames=16,
        ...                        device="cpu", random_state=0).fit(videos)
        >>> timeline = aligner.align_many(videos)
        >>> timeline.n_steps == len(videos[timeline.reference])
        True
        >>> [len(f) for f in timeline.frames] == [timeline.n_steps] * 4
        True
        """
        from ._timeline import build_timeline

        check_is_fitted(self, "encoder_")
        vids = self._check_videos(videos, min_videos=2)
        if reference is not None:
            if not isinstance(reference, (int, np.integer)) or isinstance(reference, bool) \
                    or not -len(vids) <= reference < len(vids):
                raise ValueError(
                    f"reference must be the index of one of the {len(vids)} videos or None (the "
                    f"medoid), got {reference!r}."
                )
            reference = int(reference) % len(vids)
        emb = self._embed(vids)
        return build_timeline(
            [len(e) for e in emb],
            lambda i, j: self._named_align(emb[i], emb[j], f"videos[{i}] and videos[{j}]", stacklevel=6),
            reference=reference, monotone=bool(monotone),
        )

    @with_n_jobs
    def score(self, videos: Any, y: Any = None) -> float:
        """Mean Kendall's tau of the embeddings over all ordered pairs of videos.

        The default score of the aligners, so that ``GridSearchCV`` works
        without a scorer; see :func:`skalign.metrics.kendalls_tau` (stride
        5, squared Euclidean nearest neighbours).

        Parameters
        ----------
        videos : list of videos
            At least two videos.
        y : None
            Ignored.

        Returns
        -------
        tau : float
            In ``[-1, 1]``; higher is better.
        """
        check_is_fitted(self, "encoder_")
        return float(kendalls_tau(self.transform(self._check_videos(videos, min_videos=2))))
