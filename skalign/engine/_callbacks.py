"""Hooks into the training loop."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from .._text import clock as _seconds

if TYPE_CHECKING:  # pragma: no cover
    from ._trainer import Trainer

__all__ = ["Callback", "ProgressBar", "LambdaCallback"]


class Callback:
    """Base class of training callbacks; every hook does nothing by default.

    The trainer calls, in this order: ``on_train_begin`` once, then per
    epoch ``on_epoch_begin``, ``on_batch_end`` after every optimisation
    step, ``on_epoch_end`` with the epoch's record (already in
    ``trainer.history_``), and ``on_train_end`` once. A callback may set
    ``trainer.stop_training = True`` to end training after the current
    epoch. Under data-parallel training every rank calls its callbacks.

    Examples
    --------
    >>> from skalign.engine import Callback
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, trainer, record):
    ...         print(round(record["loss"], 3))
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Called before each epoch; ``epoch`` is 1-based."""

    def on_batch_end(
        self, trainer: Trainer, *, batch: Any, loss: Any, figures: dict[str, Any]
    ) -> None:
        """Called after each optimisation step.

        ``batch`` is the step's batch (on the device), ``loss`` the detached
        0-d loss tensor (``float(loss)`` synchronises with a GPU) and
        ``figures`` the loss function's figures.
        """

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called after each epoch with its History record."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch."""


class LambdaCallback(Callback):
    """A callback made of plain functions (each optional).

    Parameters
    ----------
    on_train_begin, on_epoch_begin, on_batch_end, on_epoch_end, on_train_end : callable, optional
        Functions with the signatures of the :class:`Callback` hooks.

    Examples
    --------
    >>> from skalign.engine import LambdaCallback
    >>> cb = LambdaCallback(on_epoch_end=lambda trainer, record: None)
    """

    def __init__(self, **hooks: Any) -> None:
        names = {"on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end"}
        for name, fn in hooks.items():
            if name not in names:
                raise ValueError(f"unknown hook {name!r}; expected one of {sorted(names)}.")
            setattr(self, name, fn)


class ProgressBar(Callback):
    """Text progress: one line per epoch, and a bar over the steps.

    Parameters
    ----------
    verbose : int, default=1
        ``1`` prints one line per epoch (loss, figures, time, video pairs
        (or videos) a second, and the time left at the mean pace of the
        epochs so far); ``2`` also redraws a bar after every step.
    stream : file-like, default=sys.stderr
        Where to write.
    width : int, default=30
        Width of the bar in characters.

    Examples
    --------
    >>> import io
    >>> from skalign.engine import ProgressBar
    >>> out = io.StringIO()
    >>> bar = ProgressBar(verbose=1, stream=out)
    >>> class T: max_epochs = 3; steps_per_epoch_ = 2; rank = 0; batch_size = 4; pairs = True
    >>> bar.on_epoch_end(T(), {"epoch": 1, "loss": 0.5, "n_steps": 2, "duration": 0.1})
    >>> out.getvalue().strip()
    'epoch 1/3  loss=0.5000  (0.1s, 80.0 pairs/s, eta 0.2s)'
    """

    def __init__(self, verbose: int = 1, stream: TextIO | None = None, width: int = 30) -> None:
        self.verbose = int(verbose)
        self.stream = stream
        self.width = int(width)
        self._step = 0
        self._spent = 0.0
        self._epochs_seen = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        self._step = 0
        self._epoch = epoch

    def on_batch_end(self, trainer: Trainer, *, batch: Any, loss: Any, figures: dict[str, Any]) -> None:
        self._step += 1
        if self.verbose < 2 or trainer.rank != 0:
            return
        total = max(int(trainer.steps_per_epoch_), 1)
        done = int(self.width * self._step / total)
        bar = "#" * done + "." * (self.width - done)
        self._out().write(
            f"\repoch {self._epoch}/{trainer.max_epochs} [{bar}] "
            f"{self._step}/{total} loss={float(loss):.4f}"
        )
        self._out().flush()

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.verbose < 1 or trainer.rank != 0:
            return
        skip = {"epoch", "loss", "n_steps", "duration"}
        extra = "".join(
            f"  {k}={v:.4f}" for k, v in record.items()
            if k not in skip and isinstance(v, float)
        )
        lead = "\r" if self.verbose >= 2 else ""
        pad = " " * (self.width + 30) if self.verbose >= 2 else ""
        self._spent += float(record["duration"])
        self._epochs_seen += 1
        left = int(trainer.max_epochs) - int(record["epoch"])
        eta = f", eta {_seconds(left * self._spent / self._epochs_seen)}" if left > 0 else ""
        rate = ""
        items = int(record.get("n_steps", 0)) * int(getattr(trainer, "batch_size", 0))
        if items and record["duration"] > 0:
            unit = "pairs" if getattr(trainer, "pairs", True) else "videos"
            rate = f", {items / record['duration']:.1f} {unit}/s"
        self._out().write(
            f"{lead}{pad}{lead}epoch {record['epoch']}/{trainer.max_epochs}  "
            f"loss={record['loss']:.4f}{extra}  ({record['duration']:.1f}s{rate}{eta})\n"
        )
        self._out().flush()

