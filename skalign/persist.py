"""Model files that run no code when loaded.

:func:`save_model` writes a fitted (or unfitted) skalign estimator to one
file, a zip archive of two members:

- ``model.json``: the format tag, the estimator's class (one of
  :class:`~skalign.VideoAligner`, :class:`~skalign.ActionSegmenter`,
  :class:`~skalign.JointAlignSegment`), its parameters (``get_params``), the
  plain fitted attributes (``history_``, ``frame_shape_``, ``gap_open_``,
  ...) and the class and constructor arguments of the fitted encoder;
- ``weights.pt``: the encoder's weights and the fitted arrays
  (``action_embeddings_``, ...), read back with
  ``torch.load(weights_only=True)``, which unpickles tensors and plain
  containers only.

:func:`load_model` never imports a class the file names: the estimator and
the encoder are looked up in fixed allow-lists of skalign classes. Unlike a
pickle (``joblib.dump``), a model file from an untrusted source therefore
cannot run code when loaded. The file is written atomically (a temporary
file in the same folder, then a rename).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

from ._files import atomic_path

__all__ = ["save_model", "load_model", "is_model_file", "FORMAT"]

#: The format tag written to ``model.json``.
FORMAT = "skalign-model-1"
_JSON = "model.json"
_WEIGHTS = "weights.pt"


def _estimator_classes() -> dict[str, type]:
    from ._aligner import VideoAligner
    from ._joint import JointAlignSegment
    from ._segmenter import ActionSegmenter

    return {c.__name__: c for c in (VideoAligner, ActionSegmenter, JointAlignSegment)}


def _encoder_classes() -> dict[str, Any]:
    from ._base import make_temporal_head
    from .encoders import ConvEncoder, MLPEncoder

    return {"MLPEncoder": MLPEncoder, "ConvEncoder": ConvEncoder, "TemporalEmbedder": make_temporal_head}


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file in the format of :func:`save_model`.

    Only the archive's table of contents is read; nothing is unpickled.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool
    """
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            return _JSON in zf.namelist()
    except OSError:
        return False


# ------------------------------------------------------------------ values
def _plain(value: Any, what: str) -> Any:
    """``value`` as JSON (tuples tagged), or a ValueError naming ``what``."""
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return {"__float__": repr(value)}
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__ndarray__": [_plain(v, what) for v in value.ravel().tolist()],
                "dtype": str(value.dtype), "shape": list(value.shape)}
    from ._frame_features import FrameFeatures

    if type(value) is FrameFeatures:
        params = {k: _plain(v, f"{what}.{k}") for k, v in value.get_params().items()}
        return {"__frame_features__": params, "fitted": hasattr(value, "backbone_")}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_plain(v, what) for v in value]}
    if isinstance(value, list):
        return [_plain(v, what) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _plain(v, what) for k, v in value.items()}}
    try:
        import torch

        if isinstance(value, torch.device):
            return str(value)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    raise ValueError(
        f"{what} is a {type(value).__name__}, which a skalign model file cannot hold "
        "(numbers, strings, None, lists and tuples only)."
    )


def _unplain(value: Any) -> Any:
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_unplain(v) for v in value["__tuple__"])
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        if set(value) == {"__ndarray__", "dtype", "shape"}:
            import numpy as np

            flat = [_unplain(v) for v in value["__ndarray__"]]
            return np.array(flat, dtype=np.dtype(value["dtype"])).reshape(value["shape"])
        if set(value) == {"__dict__"}:
            return {k: _unplain(v) for k, v in value["__dict__"].items()}
        if set(value) == {"__frame_features__", "fitted"}:
            from ._frame_features import FrameFeatures

            stage = FrameFeatures(**{k: _unplain(v) for k, v in value["__frame_features__"].items()})
            # Fitting loads the backbone's weights (weights-only); nothing is learned.
            return stage.fit() if value["fitted"] is True else stage
        raise ValueError(f"unexpected JSON object {sorted(value)}")
    return value


# -------------------------------------------------------------------- save
def save_model(estimator: Any, path: str | os.PathLike) -> Path:
    """Write a skalign estimator to a file that runs no code when loaded.

    Parameters
    ----------
    estimator : VideoAligner, ActionSegmenter or JointAlignSegment
        Fitted or not. Its ``encoder`` must be a name (``"auto"``,
        ``"mlp"``, ``"temporal"``, ``"conv"``): an estimator built on a torch
        module (e.g. a :class:`~skalign.encoders.TemporalEmbedder` with a
        backbone) cannot be described without code; pickle it instead
        (``joblib.dump``) and load it only from sources you trust. A
        :class:`~skalign.FrameFeatures` stage is stored by its parameters;
        ``callbacks`` (hooks of a training run) are not stored;
        loading it loads the backbone's ImageNet weights again (which must
        be installed where the file is read).
    path : str or path-like
        The file to write (conventionally ``*.skalign``). It is written to a
        temporary file in the same folder and renamed: an interruption
        leaves the old file (if any) untouched and no partial file.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        When ``estimator`` is not one of the three skalign estimators.
    ValueError
        When a parameter or a fitted attribute cannot be stored (the message
        names it).

    Examples
    --------
    >>> import tempfile
    >>> from skalign import VideoAligner
    >>> from skalign.datasets import make_process_videos
    >>> from skalign.persist import load_model, save_model
    >>> videos, _ = make_process_videos(3, 3, n_frames=(20, 30), n_features=6, random_state=0)
    >>> est = VideoAligner(embedding_dim=8, max_epochs=1, device="cpu", random_state=0).fit(videos)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_model(est, f"{d}/model.skalign")
    ...     again = load_model(p)
    >>> bool((again.transform(videos[0]) == est.transform(videos[0])).all())
    True
    """
    import numpy as np
    import torch
    from torch import nn

    from .engine import History

    cls_name = type(estimator).__name__
    classes = _estimator_classes()
    if classes.get(cls_name) is not type(estimator):
        raise TypeError(
            f"save_model stores {', '.join(classes)}; got a {type(estimator).__module__}."
            f"{cls_name}."
        )
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "callbacks":
            # hooks of one training run, not part of the model
            params[name] = None
            continue
        if isinstance(value, nn.Module):
            raise ValueError(
                f"parameter {name}={type(value).__name__}(...) is a torch module, which a skalign "
                "model file cannot describe; use encoder='auto', 'mlp' or 'conv', or pickle the "
                "estimator (joblib.dump) and load it only from sources you trust."
            )
        params[name] = _plain(value, f"parameter {name}")
    fitted: dict[str, Any] = {}
    arrays: dict[str, torch.Tensor] = {}
    encoder_spec = None
    encoder_state: dict[str, torch.Tensor] = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if name == "encoder_":
            encoder_spec = _describe_encoder(value, estimator)
            encoder_state = {k: v.detach().cpu().clone() for k, v in value.state_dict().items()}
        elif isinstance(value, History):
            fitted[name] = {"__history__": _plain(value.to_list(), f"fitted attribute {name}")}
        elif isinstance(value, np.ndarray):
            if value.dtype == object:
                raise ValueError(f"fitted attribute {name} is an object array; it cannot be stored.")
            arrays[name] = torch.from_numpy(np.ascontiguousarray(value).copy())
            fitted[name] = {"__array__": str(value.dtype)}
        elif isinstance(value, torch.Tensor):
            arrays[name] = value.detach().cpu().clone()
            fitted[name] = {"__tensor__": True}
        else:
            fitted[name] = _plain(value, f"fitted attribute {name}")
    meta = {
        "format": FORMAT,
        "skalign_version": _version(),
        "estimator": cls_name,
        "params": params,
        "fitted": fitted,
        "encoder": encoder_spec,
    }
    weights = io.BytesIO()
    torch.save({"encoder": encoder_state, "arrays": arrays}, weights)
    text = json.dumps(meta, indent=1, sort_keys=True, allow_nan=False)
    return _write_atomic(Path(path), text, weights.getvalue())


def _version() -> str:
    from . import __version__

    return str(__version__)


def _describe_encoder(encoder: Any, estimator: Any) -> dict[str, Any]:
    """Class and constructor arguments of a fitted named encoder."""
    from .encoders import ConvEncoder, MLPEncoder, TemporalEmbedder

    if (type(encoder) is TemporalEmbedder and encoder.backbone is None
            and estimator.encoder in ("auto", "temporal")):
        return {"class": "TemporalEmbedder",
                "kwargs": {"n_features": int(encoder.head.in_channels),
                           "embedding_dim": int(encoder.embedding_dim)}}
    if type(encoder) is MLPEncoder and estimator.encoder in ("auto", "mlp"):
        return {"class": "MLPEncoder",
                "kwargs": {"n_features": int(encoder.n_features),
                           "embedding_dim": int(encoder.embedding_dim)}}
    if type(encoder) is ConvEncoder and estimator.encoder in ("auto", "conv"):
        return {"class": "ConvEncoder", "kwargs": {"embedding_dim": int(encoder.embedding_dim)}}
    raise ValueError(
        f"the fitted encoder is a {type(encoder).__name__}, which a skalign model file cannot "
        "describe; pickle the estimator (joblib.dump) instead."
    )


def _write_atomic(path: Path, text: str, weights: bytes) -> Path:
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_JSON, text)
        zf.writestr(_WEIGHTS, weights)
    return path


# -------------------------------------------------------------------- load
def load_model(path: str | os.PathLike) -> Any:
    """Read an estimator written by :func:`save_model`, running no code from the file.

    The JSON part is parsed with :mod:`json`; the weights with
    ``torch.load(weights_only=True)``; the estimator and encoder classes are
    taken from fixed allow-lists of skalign classes, never imported by the
    name the file gives.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.

    Returns
    -------
    estimator : VideoAligner, ActionSegmenter or JointAlignSegment
        With the saved parameters and, when it was fitted, the fitted state
        on the CPU: ``transform``, ``align`` and ``predict`` give the results
        of the saved estimator.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a skalign model file, or is damaged (the
        message names the file and what is wrong).
    """
    import numpy as np
    import torch

    from .engine import History

    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "does not exist"
        raise FileNotFoundError(f"model file {str(p)!r} {what}.")
    if not is_model_file(p):
        raise ValueError(
            f"{str(p)!r} is not a skalign model file (a zip archive with {_JSON}); files "
            "written by 'skalign fit' or skalign.persist.save_model are."
        )
    try:
        with zipfile.ZipFile(p) as zf:
            meta = json.loads(zf.read(_JSON).decode("utf-8"))
            blob = zf.read(_WEIGHTS) if _WEIGHTS in zf.namelist() else None
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model file {str(p)!r} could not be read: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"model file {str(p)!r} has format {got!r}; this skalign reads {FORMAT!r}.")
    from ._base import upgrade_params

    classes = _estimator_classes()
    cls_name = meta.get("estimator")
    if cls_name not in classes:
        raise ValueError(
            f"model file {str(p)!r} names the estimator {cls_name!r}; only {', '.join(classes)} "
            "are read."
        )
    if blob is None:
        raise ValueError(f"model file {str(p)!r} lacks {_WEIGHTS}.")
    try:
        weights = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        params = upgrade_params({k: _unplain(v) for k, v in dict(meta.get("params") or {}).items()})
        estimator = classes[cls_name](**params)
        fitted = dict(meta.get("fitted") or {})
        arrays = weights.get("arrays", {})
        for name, value in fitted.items():
            if not (name.endswith("_") and not name.startswith("_")):
                raise ValueError(f"attribute {name!r} is not a fitted attribute")
            if isinstance(value, dict) and set(value) == {"__history__"}:
                value = History(_unplain(value["__history__"]))
            elif isinstance(value, dict) and set(value) == {"__array__"}:
                value = arrays[name].numpy().astype(np.dtype(value["__array__"]), copy=False)
            elif isinstance(value, dict) and set(value) == {"__tensor__"}:
                value = arrays[name]
            else:
                value = _unplain(value)
            setattr(estimator, name, value)
        spec = meta.get("encoder")
        if spec is not None:
            encoders = _encoder_classes()
            if spec.get("class") not in encoders:
                raise ValueError(
                    f"encoder class {spec.get('class')!r} is not one of {', '.join(encoders)}"
                )
            kwargs = {k: int(v) for k, v in dict(spec.get("kwargs") or {}).items()}
            encoder = encoders[spec["class"]](**kwargs)
            encoder.load_state_dict(weights["encoder"], strict=True)
            encoder.eval()
            estimator.encoder_ = encoder
    except ValueError as exc:
        raise ValueError(f"model file {str(p)!r} is damaged: {exc}") from exc
    except (TypeError, KeyError, RuntimeError, AttributeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"model file {str(p)!r} is damaged: {type(exc).__name__}: {msg}") from exc
    except Exception as exc:  # unpickling errors of torch.load have many types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"model file {str(p)!r} could not be read: {msg}") from exc
    return estimator
