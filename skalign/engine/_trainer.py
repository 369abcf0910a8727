"""The training loop shared by every skalign estimator.

``Trainer.fit`` runs ``fit_loop -> run_single_epoch -> train_step``: the
estimators provide a torch module and a loss function and never write a
loop of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._callbacks import Callback, ProgressBar
from ._checkpoint import load_checkpoint, save_checkpoint
from ._device import Precision, resolve_device, resolve_precision
from ._distributed import (
    DistributedEnv,
    all_reduce_mean,
    broadcast_int,
    detect_distributed,
    init_distributed,
)
from ._history import History
from ._random import derive_generator, make_seed
from ._sampler import FrameBatch, PairBatch, VideoSampler

__all__ = ["Trainer", "LossFn"]

LossFn = Callable[[nn.Module, Any], Any]

_STREAM_STEP = 2
_OPTIMIZERS = ("adam", "adamw")


class _LossModule(nn.Module):
    """Model and loss in one module, so that DDP sees the whole step."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model_ = model
        self._loss_fn = (loss_fn,)  # a tuple: never registered as a submodule

    def forward(self, batch: Any) -> Any:
        return self._loss_fn[0](self.model_, batch)


def _make_grad_scaler() -> Any:
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()  # torch < 2.3


def _split_output(out: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    if isinstance(out, tuple):
        if len(out) != 2 or not isinstance(out[1], dict):
            raise ValueError(
                "loss_fn must return a scalar tensor or a (scalar tensor, dict of figures) tuple."
            )
        loss, figures = out
    else:
        loss, figures = out, {}
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"loss_fn must return a scalar tensor, got {type(loss).__name__}"
                         + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "")
                         + ".")
    return loss.reshape(()), figures


def _as_videos(videos: Sequence[Any]) -> list[torch.Tensor]:
    if isinstance(videos, (torch.Tensor, np.ndarray)):
        raise ValueError("videos must be a list of videos (one array per video), got a single array.")
    out = []
    for i, v in enumerate(videos):
        t = v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
        if t.ndim < 1 or t.shape[0] < 1:
            raise ValueError(f"video {i} has no frames (shape {tuple(t.shape)}).")
        out.append(t)
    if not out:
        raise ValueError("videos must hold at least one video, got an empty list.")
    shape, dtype = out[0].shape[1:], out[0].dtype
    for i, t in enumerate(out[1:], start=1):
        if t.shape[1:] != shape:
            raise ValueError(
                f"video {i} has frames of shape {tuple(t.shape[1:])}, but video 0 has "
                f"{tuple(shape)}; every video needs the same frame shape."
            )
        if t.dtype != dtype:
            raise ValueError(f"video {i} has dtype {t.dtype}, but video 0 has {dtype}.")
    return out


class Trainer:
    """Trains a torch module on sampled video frames with a given loss.

    Every step draws ``batch_size`` videos or pairs of distinct videos
    (:class:`VideoSampler`), ``n_frames`` frames per video, one random frame
    per equal bin, and minimises ``loss_fn(model, batch)`` with Adam.

    Parameters
    ----------
    max_epochs : int, default=100
        Number of epochs. An epoch lets every video lead one batch element
        about once (see :class:`VideoSampler`).
    batch_size : int, default=2
        Videos (``pairs=False``) or video pairs (``pairs=True``) per step and
        process.
    n_frames : int or None, default=32
        Frames sampled per video per step; ``None`` takes whole videos.
    pairs : bool, default=True
        Whether the loss sees :class:`PairBatch` (two distinct videos per
        element, for alignment losses) or :class:`FrameBatch` (single
        videos, for segmentation losses).
    steps_per_epoch : int or None, default=None
        Overrides the number of steps per epoch.
    lr : float, default=1e-4
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay: an L2 penalty for ``"adam"``, decoupled for ``"adamw"``.
    optimizer : {"adam", "adamw"}, default="adam"
        The optimiser.
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value; the mean norm before
        clipping is recorded as ``grad_norm``.
    device : str or torch.device, default="auto"
        Training device; ``"auto"`` is CUDA when present, else the CPU.
        Under ``torchrun`` with CUDA each process uses ``cuda:LOCAL_RANK``.
    precision : {"auto", "32", "bf16", "fp16"}, default="auto"
        Mixed precision (CUDA only): ``"auto"`` is bfloat16 autocast where
        supported, float16 with a gradient scaler otherwise, and float32 on
        the CPU. See :func:`resolve_precision`.
    distributed : {"auto", True, False}, default="auto"
        ``"auto"`` trains with ``DistributedDataParallel`` when launched by
        ``torchrun`` (``WORLD_SIZE > 1``) or when a process group exists.
    context_offsets : sequence of int or None, default=None
        Context frames gathered with every sampled frame; ``None`` reads the
        model's ``context_offsets`` attribute, ``(0,)`` when it has none.
    callbacks : sequence of Callback, default=()
        Hooks called during training.
    checkpoint : str, path-like or None, default=None
        File overwritten after every epoch with the model, the optimiser,
        the gradient scaler, the epoch, the history and the run's seed
        (written by rank 0 only).
    resume : str, path-like or None, default=None
        A checkpoint to continue from: training goes on at the epoch after
        the saved one, with the saved seed, and gives the same result as the
        uninterrupted run (same device, precision and world size).
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the run; all randomness (video order, partners, frames, and
        the global torch RNG seen by dropout inside a step, which is forked
        and restored around each step) derives from it.
    verbose : int, default=0
        ``1`` prints a line per epoch, ``2`` a progress bar per step.
    ddp_kwargs : dict or None, default=None
        Extra arguments of ``DistributedDataParallel`` (e.g.
        ``find_unused_parameters=True``).

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained module (not wrapped), on ``device_``, in eval mode.
    history_ : History
        One record per epoch.
    optimizer_ : torch.optim.Optimizer
        The optimiser.
    device_ : torch.device
        The training device.
    precision_ : Precision
        The resolved precision.
    seed_ : int
        The run's seed.
    sampler_ : VideoSampler
        The sampler of the run.
    rank, world_size : int
        Position in a data-parallel run (0 and 1 otherwise).
    epoch : int
        Epochs completed.
    steps_per_epoch_ : int
        Steps in each epoch.
    stop_training : bool
        Set by a callback to stop after the current epoch.

    Notes
    -----
    ``loss_fn(model, batch)`` receives the module itself (never the DDP
    wrapper) and a batch already on ``device``; it returns a scalar tensor,
    or a scalar tensor and a dict of scalar figures that are averaged per
    epoch into the history. It runs under ``torch.autocast`` when mixed
    precision is on; parts that need float32 should cast. Every trainable
    parameter must belong to ``model`` (the optimiser and the checkpoints
    see only ``model``).

    Under ``torchrun`` every process calls ``fit`` with the same videos and
    the same ``random_state``; the epoch's video order is cut between the
    ranks, ``batch_size`` is per rank, and the loss function must return
    the same figure names on every rank. Pass ``distributed=False`` to
    train independently in each process.

    Examples
    --------
    >>> import torch
    >>> from skalign.engine import Trainer
    >>> videos = [torch.linspace(0, 1, n)[:, None] for n in (20, 30, 40)]
    >>> model = torch.nn.Linear(1, 1)
    >>> def loss_fn(model, batch):   # fit y = 2 x on the sampled frames
    ...     x = batch.frames
    ...     return ((model(x) - 2 * x) ** 2).mean()
    >>> trainer = Trainer(max_epochs=30, batch_size=3, n_frames=8, pairs=False,
    ...                   lr=0.1, device="cpu", random_state=0).fit(model, videos, loss_fn)
    >>> trainer.history_[-1]["loss"] < trainer.history_[0]["loss"]
    True
    """

    def __init__(
        self,
        *,
        max_epochs: int = 100,
        batch_size: int = 2,
        n_frames: int | None = 32,
        pairs: bool = True,
        steps_per_epoch: int | None = None,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        grad_clip: float | None = None,
        device: str | torch.device = "auto",
        precision: str = "auto",
        distributed: bool | str = "auto",
        context_offsets: Sequence[int] | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None,
        random_state: Any = None,
        verbose: int = 0,
        ddp_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.n_frames = n_frames
        self.pairs = pairs
        self.steps_per_epoch = steps_per_epoch
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.grad_clip = grad_clip
        self.device = device
        self.precision = precision
        self.distributed = distributed
        self.context_offsets = context_offsets
        self.callbacks = list(callbacks)
        self.checkpoint = checkpoint
        self.resume = resume
        self.random_state = random_state
        self.verbose = verbose
        self.ddp_kwargs = ddp_kwargs
        self.rank = 0
        self.world_size = 1
        self.epoch = 0
        self.stop_training = False

    # ------------------------------------------------------------------ setup
    def _check_params(self) -> None:
        if int(self.max_epochs) < 0:
            raise ValueError(f"max_epochs must be a non-negative integer, got {self.max_epochs}.")
        if not float(self.lr) > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if float(self.weight_decay) < 0:
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}.")
        if self.grad_clip is not None and not float(self.grad_clip) > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}.")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}.")
        if self.distributed not in ("auto", True, False):
            raise ValueError(f"distributed must be 'auto', True or False, got {self.distributed!r}.")

    def _setup_device(self) -> DistributedEnv:
        device = resolve_device(self.device)
        env = DistributedEnv()
        if self.distributed is not False:
            launched = detect_distributed()
            if launched.is_distributed and device.type == "cuda":
                # one process per GPU: pick this process's device before joining
                device = torch.device("cuda", launched.local_rank % torch.cuda.device_count())
                torch.cuda.set_device(device)
            env = init_distributed(device)
            if self.distributed is True and not env.is_distributed:
                raise ValueError(
                    "distributed=True but no process group or WORLD_SIZE > 1 was found; "
                    "launch with torchrun."
                )
        self.device_ = device
        self.precision_: Precision = resolve_precision(self.precision, device)
        self.rank, self.world_size = env.rank, env.world_size
        return env

    def _make_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cls = torch.optim.Adam if self.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=float(self.lr), weight_decay=float(self.weight_decay))

    # -------------------------------------------------------------------- fit
    def fit(self, model: nn.Module, videos: Sequence[Any], loss_fn: LossFn) -> Trainer:
        """Train ``model`` on ``videos`` by minimising ``loss_fn``.

        Parameters
        ----------
        model : torch.nn.Module
            The module to train (moved to the training device in place).
            Parameters with ``requires_grad=False`` stay fixed.
        videos : list of torch.Tensor or numpy.ndarray
            Videos of shape ``(n_frames_i, *frame_shape)``, all with the same
            frame shape and dtype (per-frame features, frames, or cached
            backbone features). They stay where they are; sampled batches
            are moved to the device.
        loss_fn : callable
            ``loss_fn(model, batch) -> loss`` or ``(loss, figures)``.

        Returns
        -------
        self : Trainer
        """
        self._check_params()
        videos = _as_videos(videos)
        if isinstance(loss_fn, nn.Module) and any(True for _ in loss_fn.parameters()):
            raise ValueError(
                "loss_fn has trainable parameters; put them in the model so that the "
                "optimiser and the checkpoints see them."
            )
        env = self._setup_device()
        device = self.device_
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters (all have requires_grad=False).")
        self.model_ = model
        self.optimizer_ = self._make_optimizer(params)
        self.scaler_ = None
        if self.precision_.use_grad_scaler:
            self.scaler_ = _make_grad_scaler()
        self.history_ = History()
        start_epoch = 0
        seed = broadcast_int(make_seed(self.random_state), device)
        if self.resume is not None:
            state = load_checkpoint(self.resume)
            model.load_state_dict(state["model"])
            self.optimizer_.load_state_dict(state["optimizer"])
            if self.scaler_ is not None and state.get("scaler"):
                self.scaler_.load_state_dict(state["scaler"])
            self.history_ = History(state["history"])
            start_epoch = int(state["epoch"])
            seed = int(state["seed"])
        self.seed_ = seed
        self.epoch = start_epoch
        offsets = self.context_offsets
        if offsets is None:
            offsets = getattr(model, "context_offsets", (0,))
        self.sampler_ = VideoSampler(
            [v.shape[0] for v in videos],
            n_frames=self.n_frames,
            batch_size=self.batch_size,
            pairs=self.pairs,
            context_offsets=offsets,
            steps_per_epoch=self.steps_per_epoch,
            rank=env.rank,
            world_size=env.world_size,
        )
        self.steps_per_epoch_ = self.sampler_.steps_per_epoch
        step_module: nn.Module = _LossModule(model, loss_fn)
        if env.is_distributed:
            from torch.nn.parallel import DistributedDataParallel

            kwargs = dict(self.ddp_kwargs or {})
            if device.type == "cuda":
                kwargs.setdefault("device_ids", [device.index])
            step_module = DistributedDataParallel(step_module, **kwargs)
        self._step_module = step_module
        self._params = params
        self._videos = videos
        callbacks = list(self.callbacks)
        if int(self.verbose) > 0 and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(ProgressBar(verbose=int(self.verbose)))
        self._active_callbacks = callbacks
        self.fit_loop(start_epoch)
        return self

    def _call(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for cb in self._active_callbacks:
            getattr(cb, hook)(self, *args, **kwargs)

    def fit_loop(self, start_epoch: int = 0) -> None:
        """Run epochs ``start_epoch + 1, ..., max_epochs`` with callbacks and checkpoints."""
        self.stop_training = False
        self._call("on_train_begin")
        for epoch in range(start_epoch, int(self.max_epochs)):
            self._call("on_epoch_begin", epoch + 1)
            record = self.run_single_epoch(epoch)
            self.history_.append(record)
            self.epoch = epoch + 1
            if self.checkpoint is not None and self.rank == 0:
                self.save(self.checkpoint)
            self._call("on_epoch_end", record)
            if self.stop_training:
                break
        self.model_.eval()
        self._call("on_train_end")

    def run_single_epoch(self, epoch: int) -> dict[str, Any]:
        """Run the steps of one epoch (0-based ``epoch``); return its record."""
        self.model_.train()
        t0 = time.perf_counter()
        step_gen = derive_generator(self.seed_, epoch, _STREAM_STEP, self.rank)
        total = torch.zeros((), dtype=torch.float64, device=self.device_)
        sums: dict[str, torch.Tensor] = {}
        n_steps = 0
        for batch in self.sampler_.iter_epoch(self._videos, self.seed_, epoch):
            step_seed = int(torch.randint(0, 2**62, (1,), generator=step_gen).item())
            loss, figures = self.train_step(batch, step_seed)
            total += loss.double()
            for k, v in figures.items():
                v = torch.as_tensor(v, dtype=torch.float64, device=self.device_).detach().reshape(())
                sums[k] = sums.get(k, torch.zeros((), dtype=torch.float64, device=self.device_)) + v
            n_steps += 1
        keys = sorted(sums)
        packed = torch.stack([total] + [sums[k] for k in keys]) / max(n_steps, 1)
        packed = all_reduce_mean(packed).cpu().tolist()
        record: dict[str, Any] = {"epoch": epoch + 1, "loss": packed[0]}
        record.update({k: v for k, v in zip(keys, packed[1:])})
        if not np.isfinite(record["loss"]):
            raise FloatingPointError(
                f"the training loss became non-finite in epoch {epoch + 1}; "
                "lower lr, set grad_clip, or check the input for NaN/inf."
            )
        record["lr"] = float(self.optimizer_.param_groups[0]["lr"])
        record["n_steps"] = n_steps
        record["duration"] = time.perf_counter() - t0
        return record

    def train_step(
        self, batch: FrameBatch | PairBatch, step_seed: int
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """One optimisation step on ``batch``; return the detached loss and figures.

        The global torch RNG is forked, seeded with ``step_seed`` for the
        step (dropout and any other global draw inside ``loss_fn``) and
        restored afterwards.
        """
        device = self.device_
        batch = batch.to(device, non_blocking=True)
        self.optimizer_.zero_grad(set_to_none=True)
        cuda = device.type == "cuda"
        with torch.random.fork_rng(devices=[device.index] if cuda else []):
            torch.default_generator.manual_seed(step_seed)
            if cuda:
                torch.cuda.manual_seed(step_seed)
            dtype = self.precision_.autocast_dtype
            with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
                out = self._step_module(batch)
            loss, figures = _split_output(out)
            scaler = self.scaler_
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(self.optimizer_)
            else:
                loss.backward()
            if self.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(self._params, float(self.grad_clip))
                figures = {**figures, "grad_norm": norm.detach()}
            if scaler is not None:
                scaler.step(self.optimizer_)
                scaler.update()
            else:
                self.optimizer_.step()
        loss = loss.detach().float()
        figures = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in figures.items()}
        self._call("on_batch_end", batch=batch, loss=loss, figures=figures)
        return loss, figures

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds (tensors and plain containers only)."""
        return {
            "epoch": int(self.epoch),
            "model": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "optimizer": self.optimizer_.state_dict(),
            "scaler": self.scaler_.state_dict() if self.scaler_ is not None else {},
            "history": self.history_.to_list(),
            "seed": int(self.seed_),
            "extra": {"world_size": int(self.world_size), "precision": self.precision_.name},
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint of the current state to ``path``."""
        save_checkpoint(path, self.state_dict())
