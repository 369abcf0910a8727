"""The torch training engine shared by skalign's estimators.

Samplers of frames and video pairs, device and mixed-precision selection, a
``Trainer`` (``fit_loop -> run_single_epoch -> train_step``) with callbacks,
a per-epoch ``History``, checkpoints and resume, data-parallel training
under ``torchrun``, and helpers that run modules over whole videos (the
feature cache of frozen backbones). Plain torch: no scikit-learn here.
"""

from ._callbacks import Callback, LambdaCallback, ProgressBar
from ._checkpoint import load_checkpoint, save_checkpoint
from ._device import Precision, resolve_device, resolve_precision
from ._distributed import DistributedEnv, detect_distributed, init_distributed
from ._history import History
from ._inference import cache_features, embed_videos
from ._random import derive_generator, derive_seed, make_seed
from ._sampler import FrameBatch, PairBatch, VideoSampler, bin_sample, gather_frames
from ._trainer import Trainer

__all__ = [
    "Callback",
    "DistributedEnv",
    "FrameBatch",
    "History",
    "LambdaCallback",
    "PairBatch",
    "Precision",
    "ProgressBar",
    "Trainer",
    "VideoSampler",
    "bin_sample",
    "cache_features",
    "derive_generator",
    "derive_seed",
    "detect_distributed",
    "embed_videos",
    "gather_frames",
    "init_distributed",
    "load_checkpoint",
    "make_seed",
    "resolve_device",
    "resolve_precision",
    "save_checkpoint",
]
